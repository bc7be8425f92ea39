/* SPDX-License-Identifier: MIT */
/*
 * chunk.h - file data: a table of fixed-size chunks, each stored compressed
 * in the arena, as a same-filled word, raw, or not at all (a hole).
 *
 * A zr_store is the shared part (arena, defaults, logical size limit, global
 * counters); a zr_fdata is one regular file's data.  The chunk states and
 * their transitions are documented in src/chunk.c.
 *
 * Locking: each zr_fdata has its own rwlock: reads share it; writes,
 * truncate, punch and fallocate take it exclusively.  The store's counters
 * are atomics.  zr_fdata_size() is a lock-free atomic read.
 *
 * Workers: with zr_store_config.workers > 0 and after zr_store_start(), a
 * write copies its chunks into staging buffers and returns; the store's
 * worker pool compresses them in the background (src/chunk.c explains the
 * protocol).  Reads always see the newest bytes.  zr_fdata_sync() and
 * zr_store_sync() wait for that work; stats are exact only after a sync.
 *
 * Errors are negative errno values.  Knows nothing of FUSE or paths.
 */
#ifndef ZRAMFS_CHUNK_H
#define ZRAMFS_CHUNK_H

#include "zramfs/arena.h"
#include "zramfs/codec.h"

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define ZR_CHUNK_SHIFT_MIN 12	/* 4 KiB */
#define ZR_CHUNK_SHIFT_MAX 20	/* 1 MiB */

/* Largest file size: 2^44 bytes (16 TiB).  Past it writes, truncate and
 * fallocate fail with -EFBIG. */
#define ZR_MAX_FILE_SIZE (1ULL << 44)

/* Default staging bound (uncompressed chunks waiting for a worker): 16 MiB
 * is 256 chunks of 64 KiB, 16 FUSE write requests, ~35 ms of zstd:3 for
 * two workers here: enough to keep them busy.  Measured (448 MiB of the
 * linux tar, zstd:3, 2 workers, tests/bench/stream.sh): 4M 500 MB/s (720
 * writer waits), 16M 515 MB/s (140), 64M 457 MB/s (32) and 10% more
 * daemon CPU: every stage is first-touched (page faults) and falls out of
 * the cache before its worker reads it.  The daemon uses min(this, RAM/64). */
#define ZR_STAGING_DEFAULT (16ULL << 20)

struct zr_store_config {
	unsigned chunk_shift;		/* log2(chunk size) for new files */
	struct zr_codec_spec codec;	/* default codec for new files */
	uint64_t size_limit;		/* logical bytes (holes excluded); 0 = none */
	struct zr_arena *arena;		/* shared, owned by the caller */
	unsigned workers;		/* compression threads; 0 = inline */
	uint64_t staging_bytes;		/* staging bound; 0 = ZR_STAGING_DEFAULT */
	struct zr_spill *spill;		/* writeback tier; NULL = off (owned by
					 * the caller, outlives the store) */
	uint64_t mem_limit;		/* RAM budget for arena + staging that the
					 * writeback keeps below; 0 = none */
	unsigned idle;			/* write back chunks idle this long, s */
	bool reserve_staging;		/* allocate and touch every staging
					 * buffer at start, keep them (swap) */
	struct zr_codec_spec recomp[ZR_CODEC_COUNT]; /* idle recompression:
					 * the stronger codec for chunks coded
					 * with each codec id; none = leave them
					 * (zr_codec_recomp_auto() picks these) */
	unsigned recomp_idle;		/* recompress chunks idle this long, s,
					 * in a background thread; 0 = only on
					 * zr_store_recompress() */
	bool recomp_dict;		/* the recompression codes against a
					 * dictionary trained on the store's
					 * data (see chunk.c, "Dictionaries") */
};

struct zr_store_stats {
	uint64_t orig_data_size;	/* logical bytes stored, holes excluded */
	uint64_t compr_data_size;	/* bytes of arena objects (requested sizes) */
	uint64_t chunks;		/* non-hole chunks */
	uint64_t same_chunks;		/* stored as one repeated word */
	uint64_t huge_chunks;		/* stored raw: did not compress enough */
	uint64_t compressed_chunks;	/* stored compressed */
	uint64_t table_bytes;		/* chunk-table metadata */
	uint64_t failed_reads;		/* reads that returned -EIO */
	uint64_t failed_writes;		/* writes that failed (any error) */
	uint64_t enospc_events;		/* writes refused for lack of space */
	uint64_t dirty_chunks;		/* in staging, not yet compressed */
	uint64_t staging_bytes;		/* staging buffers allocated (in use or free) */
	uint64_t staging_limit;		/* their bound */
	uint64_t writer_waits;		/* writes that waited for a free buffer */
	unsigned workers;		/* running compression threads */
	uint64_t pool_queued;		/* chunks waiting for a worker */
	uint64_t pool_running;		/* chunks being compressed */
	uint64_t pool_jobs_done;	/* chunks the workers finished */
	uint64_t pool_wakeups;		/* sleeping workers woken */
	uint64_t spilled_chunks;	/* written back to the spill file */
	uint64_t spill_bytes;		/* their compressed bytes on disk */
	uint64_t promoted_chunks;	/* spilled chunks brought back to RAM */
	uint64_t mem_limit;		/* current RAM budget; 0 = none */
	uint64_t recompress_pending;	/* compressed chunks not yet tried by the
					 * idle recompression (0 when it is off) */
	uint64_t recompressed_chunks;	/* re-encoded smaller by it */
	uint64_t recompress_saved_bytes; /* arena bytes that saved */
	uint64_t dict_bytes;		/* memory of the trained dictionaries */
};

struct zr_fdata_stats {
	uint64_t size;			/* file size */
	uint64_t orig_bytes;		/* logical bytes stored, holes excluded */
	uint64_t compr_bytes;		/* arena bytes of its chunks */
	uint64_t chunks;		/* non-hole chunks */
	uint64_t same_chunks;
	uint64_t huge_chunks;
	uint64_t compressed_chunks;
	uint64_t spilled_chunks;
	unsigned chunk_size;
	struct zr_codec_spec codec;
};

/* zr_store_create(): NULL on ENOMEM or a bad config. */
struct zr_store *zr_store_create(const struct zr_store_config *cfg);
void zr_store_destroy(struct zr_store *s);

/* zr_store_start(): start the worker threads (none when workers is 0).
 * Call after any fork (fuse_daemonize).  Until then, and in inline mode,
 * writes compress in the calling thread.  0, or -EAGAIN when the threads
 * cannot be created (the store stays usable, inline). */
int zr_store_start(struct zr_store *s);

/* zr_store_sync(): wait until every chunk staged at the call has been
 * compressed (or failed), then, when nothing is queued, free the unused
 * staging buffers, so the stats are exact when no write races with it
 * (writes racing with it cannot keep it waiting: see zr_pool_drain()).  zr_store_destroy() does the same; every zr_fdata must be
 * destroyed before it. */
void zr_store_sync(struct zr_store *s);

/* zr_store_trim_idle(): free the unused staging buffers, and the scratch
 * buffers and codec contexts not in use (process-wide pools), when no write
 * has taken a stage since the previous call and nothing is queued, without
 * waiting for anything; never with reserved staging (-o mlock).  Called
 * periodically (the daemon's housekeeping tick), so a write burst keeps its
 * buffers and an idle store gives them back within two calls; stats
 * readers and fsync need not come by. */
void zr_store_trim_idle(struct zr_store *s);

/* zr_store_get_stats(): counters summed over all files. */
void zr_store_get_stats(struct zr_store *s, struct zr_store_stats *st);

/* zr_store_set_size_limit(): change the logical limit (0 = none). */
void zr_store_set_size_limit(struct zr_store *s, uint64_t limit);
uint64_t zr_store_size_limit(struct zr_store *s);

/* zr_fdata_create(): an empty file using the store's defaults.  NULL on
 * ENOMEM. */
struct zr_fdata *zr_fdata_create(struct zr_store *s);

/* zr_fdata_destroy(): frees every chunk and the table; updates counters.
 * Work queued for the file is discarded (it waits for a worker that has
 * the file's data in hand). */
void zr_fdata_destroy(struct zr_fdata *f);

/* zr_fdata_size(): current file size. */
uint64_t zr_fdata_size(struct zr_fdata *f);

/* zr_fdata_stored_bytes(): logical bytes in non-hole chunks (for st_blocks). */
uint64_t zr_fdata_stored_bytes(struct zr_fdata *f);

/* zr_fdata_read(): copy up to len bytes at off into buf; holes read as
 * zeros.  Returns bytes read (0 at or past EOF, short at EOF) or -EIO if a
 * chunk in the range cannot be decoded (counted in failed_reads). */
ssize_t zr_fdata_read(struct zr_fdata *f, void *buf, size_t len, uint64_t off);

/* zr_fdata_write(): write len bytes at off, growing the file as needed.
 * Returns len, a short count if a later chunk failed, or -ENOSPC (size
 * limit or arena cap), -EFBIG (past ZR_MAX_FILE_SIZE), -ENOMEM.  A failed
 * chunk keeps its previous contents. */
ssize_t zr_fdata_write(struct zr_fdata *f, const void *buf, size_t len, uint64_t off);

/* zr_fdata_sync(): wait until the file's staged chunks are compressed and
 * stored.  Returns 0, or the error (-ENOSPC, -ENOMEM) a worker met storing
 * one of them since the last sync; such a chunk keeps its data in staging
 * (reads see it) and is retried on its next write.  As fsync(2) after a
 * writeback error, the error is reported once. */
int zr_fdata_sync(struct zr_fdata *f);

/* zr_fdata_truncate(): set the size; chunks past it are freed, the new last
 * chunk's tail is zeroed.  -EFBIG past the maximum. */
int zr_fdata_truncate(struct zr_fdata *f, uint64_t size);

/* zr_fdata_punch_hole(): zero [off, off+len) without changing the size;
 * whole chunks in the range become holes (memory freed at once). */
int zr_fdata_punch_hole(struct zr_fdata *f, uint64_t off, uint64_t len);

/* zr_fdata_zero_range(): like punch, but the range reads as allocated zeros
 * (same-filled chunks); extends the size unless keep_size. */
int zr_fdata_zero_range(struct zr_fdata *f, uint64_t off, uint64_t len, int keep_size);

/* zr_fdata_allocate(): fallocate's default mode: holes in the range become
 * allocated zero chunks (counted against the size limit, so later writes
 * there cannot fail for space); data is kept; extends the size unless
 * keep_size.  -ENOSPC if the limit would be passed (nothing changed). */
int zr_fdata_allocate(struct zr_fdata *f, uint64_t off, uint64_t len, int keep_size);

/* zr_fdata_seek_data(): lseek SEEK_DATA (hole == 0) or SEEK_HOLE (hole != 0)
 * from off.  Returns the offset, or -ENXIO at or past EOF. */
int64_t zr_fdata_seek(struct zr_fdata *f, uint64_t off, int hole);

/* zr_fdata_copy(): copy_file_range from src to dst (may be the same file;
 * overlapping ranges in one file are -EINVAL).  Returns bytes copied
 * (short at src EOF) or a negative errno as zr_fdata_write. */
ssize_t zr_fdata_copy(struct zr_fdata *dst, uint64_t dst_off,
		      struct zr_fdata *src, uint64_t src_off, size_t len);

/* zr_fdata_set_codec() / zr_fdata_get_codec(): codec for future writes. */
void zr_fdata_set_codec(struct zr_fdata *f, struct zr_codec_spec spec);
struct zr_codec_spec zr_fdata_get_codec(struct zr_fdata *f);

/* zr_fdata_set_chunk_shift(): the file's chunk size (log2), from
 * ZR_CHUNK_SHIFT_MIN up to the store's; only while the file is empty
 * (size 0, no chunk): -EBUSY otherwise, -EINVAL for a size out of range.
 * Small chunks suit files written in small random pieces (swap: 4 KiB). */
int zr_fdata_set_chunk_shift(struct zr_fdata *f, unsigned shift);
unsigned zr_fdata_chunk_shift(struct zr_fdata *f);

/* zr_fdata_recompress(): set the file's codec to spec and re-encode every
 * stored chunk with it, keeping a new object only where it is smaller (like
 * zram's recompress).  Holds the file's lock one chunk at a time.  *saved
 * gets the bytes of compressed data saved.  0, -EINVAL (spec none), -EIO (a
 * corrupt chunk: the ones before it are done), -ENOMEM, -ENOSPC. */
int zr_fdata_recompress(struct zr_fdata *f, struct zr_codec_spec spec, uint64_t *saved);

/* ---- Writeback tier (store with a spill) ----------------------------
 *
 * Every record carries an access tick from a coarse store clock (seconds
 * since zr_store_start(), advanced by the writeback thread); reads and
 * writes set it.  The writeback thread sweeps the files with a clock hand
 * and writes chunks (COMPRESSED or RAW) to the spill as they are:
 *   - idle: chunks untouched for cfg->idle seconds (when idle > 0);
 *   - pressure: when arena + staging pass 90% of mem_limit, the oldest
 *     first (age >= 64, 16, 4, 1, 0 s) until they are below 80%.
 * Writers wait (no lock held) while above the high watermark and the
 * writeback is making progress. */

enum zr_wb_mode {
	ZR_WB_IDLE,	/* chunks idle for at least the idle setting (or 1 s) */
	ZR_WB_HUGE,	/* raw (incompressible) chunks */
	ZR_WB_ALL,	/* every stored chunk */
};

/* zr_store_writeback(): write back now (the control).  Returns the number
 * of chunks written back, or -ENODEV without a spill, or the spill's error
 * when none could be written. */
int64_t zr_store_writeback(struct zr_store *s, enum zr_wb_mode mode);

/* zr_store_set_mem_limit(): change the RAM budget (0 = none); wakes the
 * writeback thread. */
void zr_store_set_mem_limit(struct zr_store *s, uint64_t limit);
uint64_t zr_store_mem_limit(struct zr_store *s);

/* zr_store_tick(): advance the access clock by one (tests; the writeback
 * thread does it every second). */
void zr_store_tick(struct zr_store *s);

/* ---- Idle recompression -----------------------------------------------
 *
 * With cfg->recomp set, a COMPRESSED chunk untouched for cfg->recomp_idle
 * seconds is re-encoded once, by a background thread at SCHED_IDLE, with
 * the stronger codec for its codec id, and kept only if that is smaller
 * (zram's recompress, automatic).  The thread works only while the store
 * has had no write (zr_fdata_write()) for 2 s.  A chunk is tried once
 * until rewritten.  With cfg->recomp_dict, chunks are coded against a
 * dictionary trained once on samples of the store's candidates.
 * The file's lock is held only to copy the object and to install the
 * result, never while coding (src/chunk.c). */

/* zr_store_recompress(): recompress now, in one thread per compression
 * worker (the caller's and helpers it joins before returning), after
 * training the dictionary if it is due (cfg->recomp_dict): every untried
 * chunk (all) or those idle for recomp_idle seconds (or 1 s).
 * Returns the number re-encoded smaller, -ENODEV when recompression is
 * off, or -ENOSPC / -ENOMEM when none could be stored. */
int64_t zr_store_recompress(struct zr_store *s, bool all);

/* zr_fdata_get_stats(): this file's figures. */
void zr_fdata_get_stats(struct zr_fdata *f, struct zr_fdata_stats *st);

#endif /* ZRAMFS_CHUNK_H */
