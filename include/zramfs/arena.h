/* SPDX-License-Identifier: MIT */
/*
 * arena.h - the allocator for compressed chunks.
 *
 * Objects of 1 byte up to cfg->max_object bytes, addressed by handles that
 * stay valid when compaction moves the object.  Memory comes from large
 * anonymous mappings, packed into spans per size class; emptied spans go
 * back to the OS.  Every byte is accounted (struct zr_arena_stats).
 *
 * Thread safety: every function may be called from any thread at any time,
 * including zr_arena_compact() concurrently with reads, allocs and frees.
 * A handle must not be freed while another thread reads it (the caller's
 * chunk lock guarantees that).
 *
 * Knows nothing of codecs, chunks or FUSE.
 */
#ifndef ZRAMFS_ARENA_H
#define ZRAMFS_ARENA_H

#include <stddef.h>
#include <stdint.h>

/* An object's name.  0 is never a valid handle. */
typedef uint32_t zr_handle_t;
#define ZR_HANDLE_NONE ((zr_handle_t)0)

#define ZR_ARENA_FULLNESS_GROUPS 4	/* spans by fullness: <25%, <50%, <75%, >=75% */

struct zr_arena_config {
	size_t max_object;	/* largest object size; up to 1 MiB (+ slack) */
	uint64_t cap_bytes;	/* hard cap on mapped + meta bytes; 0 = none */
};

struct zr_arena_stats {
	uint64_t objects;		/* live objects */
	uint64_t requested_bytes;	/* sum of requested sizes of live objects */
	uint64_t object_bytes;		/* sum of their size-class sizes */
	uint64_t mapped_bytes;		/* bytes of spans currently mapped (resident or committed) */
	uint64_t meta_bytes;		/* handle table, span headers, class tables */
	uint64_t spans;			/* spans in use */
	uint64_t spans_by_fullness[ZR_ARENA_FULLNESS_GROUPS];
	uint64_t compactions;		/* compaction passes run */
	uint64_t objects_moved;		/* objects migrated by compaction */
	uint64_t bytes_released;	/* span bytes given back to the OS, ever */
	uint64_t alloc_failures;	/* allocations refused (cap or ENOMEM) */
	uint64_t cap_bytes;		/* current cap; 0 = none */
};

/* zr_arena_create(): a new, empty arena.  NULL on ENOMEM or a bad config
 * (max_object == 0 or above the largest supported object). */
struct zr_arena *zr_arena_create(const struct zr_arena_config *cfg);

/* zr_arena_destroy(): unmaps everything.  No handle may be used after. */
void zr_arena_destroy(struct zr_arena *a);

/* zr_arena_alloc(): reserve an object of size bytes (1..max_object).
 * Returns 0 and *out, or -EINVAL (bad size), -ENOSPC (the cap would be
 * exceeded), -ENOMEM (the OS refused memory).  The contents are undefined
 * until zr_arena_write(). */
int zr_arena_alloc(struct zr_arena *a, size_t size, zr_handle_t *out);

/* zr_arena_free(): release an object.  ZR_HANDLE_NONE is ignored. */
void zr_arena_free(struct zr_arena *a, zr_handle_t h);

/* zr_arena_write(): copy len bytes (len <= the allocated size) into the
 * object.  Safe against concurrent compaction. */
void zr_arena_write(struct zr_arena *a, zr_handle_t h, const void *src, size_t len);

/* zr_arena_read_begin(): pin the object and return a pointer to its bytes,
 * contiguous for the allocated size; valid until zr_arena_read_end(h).
 * Compaction never moves a pinned object.  Several threads may pin the same
 * object.  Keep the pin short (one decompress or memcpy). */
const void *zr_arena_read_begin(struct zr_arena *a, zr_handle_t h);
void zr_arena_read_end(struct zr_arena *a, zr_handle_t h);

/* zr_arena_size(): the size the object was allocated with. */
size_t zr_arena_size(struct zr_arena *a, zr_handle_t h);

/* zr_arena_compact(): migrate objects out of sparse spans and release
 * emptied spans.  Returns bytes given back to the OS. */
uint64_t zr_arena_compact(struct zr_arena *a);

/* zr_arena_trim_idle(): give back the reuse cache (dirty pages, emptied
 * spans kept for reuse) once it has not changed since the previous call:
 * the cache serves bursts of frees and allocations, and an arena that has
 * gone still returns it (the daemon's housekeeping calls this every
 * tick).  Not while zr_arena_reserve() holds a budget.  Returns bytes
 * given back. */
uint64_t zr_arena_trim_idle(struct zr_arena *a);

/* zr_arena_reserve(): memory ready before it is needed (swap files: a
 * swap-out must not wait for the page allocator).  Size classes up to upto
 * bytes, the busiest first, get a resident empty span if they have no free
 * resident page, until budget bytes of free resident pages are held; those
 * pages count in mapped_bytes and the dirty-page trim leaves budget bytes
 * alone.  Allocations use them up (and compaction may release them): call
 * it again to refill (the daemon's housekeeping does, every second).
 * budget 0 ends the reserve.  Returns bytes made resident now. */
uint64_t zr_arena_reserve(struct zr_arena *a, size_t upto, uint64_t budget);

/* zr_arena_should_compact(): true when enough space is stranded in
 * partially used spans that a compaction would release a useful amount
 * (the automatic trigger the daemon's housekeeping polls). */
int zr_arena_should_compact(struct zr_arena *a);

/* zr_arena_release_handles(): once every handle is free (everything was
 * deleted), free the handle table (24 bytes per handle ever in use at
 * once) and start numbering from 1 again; otherwise nothing.  A partly
 * emptied table keeps its size, its free entries reused.  Cheap when not
 * empty; the daemon's housekeeping calls it every tick.  Returns the
 * metadata bytes freed. */
uint64_t zr_arena_release_handles(struct zr_arena *a);

/* zr_arena_set_cap(): change the hard cap (0 = none).  Existing objects are
 * kept even if over the new cap; later allocations fail with -ENOSPC. */
void zr_arena_set_cap(struct zr_arena *a, uint64_t cap_bytes);

/* zr_arena_used_bytes(): mapped_bytes + meta_bytes, what the cap counts;
 * two atomic loads (no class lock), for checks on the write path. */
uint64_t zr_arena_used_bytes(struct zr_arena *a);

/* zr_arena_meta_bytes(): meta_bytes alone, without locking (mostly heap:
 * span headers and the handle table's leaves). */
uint64_t zr_arena_meta_bytes(struct zr_arena *a);

/* zr_arena_get_stats(): a consistent-enough snapshot (each counter exact,
 * counters read one after another). */
void zr_arena_get_stats(struct zr_arena *a, struct zr_arena_stats *st);

#endif /* ZRAMFS_ARENA_H */
