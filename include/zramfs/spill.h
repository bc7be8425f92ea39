/* SPDX-License-Identifier: MIT */
/*
 * spill.h - the writeback tier's spill file: an extent store on disk.
 *
 * One anonymous file (O_TMPFILE in DIR, or created and unlinked at once),
 * mode 0600, holding extents of opaque bytes (compressed chunks, but this
 * module knows nothing of chunks).  Each extent starts with a 16-byte
 * header (magic, payload length, 64-bit hash of the location and payload)
 * and is packed at ZR_SPILL_BLOCK alignment.  Space is managed with a
 * bitmap of blocks; a free clears the extent's bits and punches a hole
 * over every whole filesystem page of the free run around it, so disk use
 * follows the live extents.
 *
 * Thread safety: every function may be called from any thread.  The
 * allocator is under one mutex; pwrite/pread run outside it.  An extent
 * must not be freed while another thread reads it (the caller's lock).
 *
 * Errors are negative errno values; none is fatal.
 */
#ifndef ZRAMFS_SPILL_H
#define ZRAMFS_SPILL_H

#include <stddef.h>
#include <stdint.h>

/* 512 B blocks: a 64 KiB chunk compresses to ~10-25 KiB, so 4 KiB
 * alignment would waste ~2 KiB (10%) per extent, 512 B ~256 B (1%).  The
 * page cache and hole punching still work in 4 KiB pages: a free punches
 * the whole pages of the merged free run, so no page stays allocated once
 * all its extents are gone. */
#define ZR_SPILL_BLOCK_SHIFT 9
#define ZR_SPILL_BLOCK	     (1u << ZR_SPILL_BLOCK_SHIFT)
#define ZR_SPILL_HDR	     16

/* Locations are block numbers in 32 bits: at most 2 TiB of spill. */
#define ZR_SPILL_MAX_BYTES ((uint64_t)UINT32_MAX << ZR_SPILL_BLOCK_SHIFT)

struct zr_spill;

struct zr_spill_stats {
	uint64_t extents;	/* live extents */
	uint64_t bytes;		/* their payload bytes */
	uint64_t file_bytes;	/* disk used by the file (st_blocks * 512) */
	uint64_t limit;		/* spill_limit, bytes */
	uint64_t reads;		/* extents read back */
	uint64_t writes;	/* extents written */
	uint64_t written_bytes; /* bytes passed to pwrite, headers included */
	uint64_t failed_writes; /* pwrite errors or no space */
	uint64_t failed_reads;	/* pread errors, short or corrupt extents */
};

/* zr_spill_open(): the spill file in dir, at most limit bytes (0 = the
 * most, ZR_SPILL_MAX_BYTES).  -ENOENT, -ENOTDIR, -EACCES ... for a bad
 * dir (the caller names it), -ENOMEM. */
int zr_spill_open(const char *dir, uint64_t limit, struct zr_spill **out);
void zr_spill_close(struct zr_spill *sp);

/* zr_spill_write(): store len (1 .. 2^24) bytes; *loc gets the location.
 * -ENOSPC (limit reached), -EIO (pwrite failed; logged once).  Counted. */
int zr_spill_write(struct zr_spill *sp, const void *data, uint32_t len, uint32_t *loc);

/* zr_spill_read(): the len bytes at loc into buf.  -EIO if the read
 * fails, is short, or the header or hash does not match (counted). */
int zr_spill_read(struct zr_spill *sp, uint32_t loc, void *buf, uint32_t len);

/* zr_spill_free(): give the extent back (len as written). */
void zr_spill_free(struct zr_spill *sp, uint32_t loc, uint32_t len);

void zr_spill_set_limit(struct zr_spill *sp, uint64_t limit);
void zr_spill_get_stats(struct zr_spill *sp, struct zr_spill_stats *st);

/* zr_spill_set_fault(): tests: make the next n writes (ZR_SPILL_FAULT_WRITE)
 * or reads (ZR_SPILL_FAULT_READ) fail as if pwrite/pread returned EIO;
 * n < 0: all of them until reset with 0. */
enum zr_spill_fault { ZR_SPILL_FAULT_WRITE, ZR_SPILL_FAULT_READ };
void zr_spill_set_fault(struct zr_spill *sp, enum zr_spill_fault which, int n);

/* zr_spill_fd(): the file descriptor (tests inject faults through it). */
int zr_spill_fd(struct zr_spill *sp);

/* zr_spill_hash(): the extent hash (exported for tests). */
uint64_t zr_spill_hash(const void *p, size_t len, uint64_t seed);

#endif /* ZRAMFS_SPILL_H */
