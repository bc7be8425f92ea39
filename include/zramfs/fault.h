/* SPDX-License-Identifier: MIT */
/*
 * fault.h - fault injection for test builds (make FAULT=1).
 *
 * A fault point is a place where a real failure can happen (the OS
 * refusing memory, a codec error, a failed pread/pwrite).  zr_fault(p) at
 * that place says whether this call should fail; the caller then takes
 * exactly the path the real failure would take.  Each point has a rate
 * (0..1) set once at start-up from a spec string (the daemon reads it from
 * the environment variable ZRAMFS_FAULTS):
 *
 *	arena_alloc=0.01,codec_compress=0.05,spill_read=0.02,seed=42
 *
 * Points not named have rate 0 (never fire); seed (default 1) makes a run
 * repeatable as far as thread scheduling allows.
 *
 * Compiled in only when ZR_FAULT_INJECTION is defined.  Otherwise
 * zr_fault() is an inline `false` (no cost in release builds),
 * zr_fault_setup() fails with "fault injection not compiled in", and every
 * count is 0.
 *
 * Thread safety: zr_fault() may be called from any thread at any time; it
 * draws from a thread-local xorshift generator (seeded from the seed and
 * the thread's arrival number) and counts fires in relaxed atomics.
 * zr_fault_setup() may run concurrently with it (tests), though a thread
 * keeps its old stream until its next call.
 */
#ifndef ZRAMFS_FAULT_H
#define ZRAMFS_FAULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum zr_fault_point {
	ZR_FAULT_ARENA_ALLOC,		/* zr_arena_alloc(): -ENOMEM */
	ZR_FAULT_CODEC_COMPRESS,	/* zr_codec_compress(): -EIO */
	ZR_FAULT_CODEC_DECOMPRESS,	/* zr_codec_decompress(): -EIO */
	ZR_FAULT_SPILL_READ,		/* zr_spill_read(): pread fails, EIO */
	ZR_FAULT_SPILL_WRITE,		/* zr_spill_write(): pwrite fails, EIO */
	ZR_FAULT_STAGE_ALLOC,		/* a staging buffer's malloc: NULL */
	ZR_FAULT_COUNT
};

#ifdef ZR_FAULT_INJECTION
#define ZR_FAULT_ENABLED 1
/* zr_fault(): true when this call at point p should fail (counted). */
bool zr_fault(enum zr_fault_point p);
#else
#define ZR_FAULT_ENABLED 0
static inline bool zr_fault(enum zr_fault_point p)
{
	(void)p;
	return false;
}
#endif

/* zr_fault_setup(): parse spec ("name=RATE,...,seed=N"; RATE a decimal in
 * 0..1; "" sets every rate to 0) and make it the configuration: every
 * point not named gets rate 0, the counters restart at 0.  Returns 0, or
 * -EINVAL (unknown name, bad rate or seed: err says which, nothing
 * changed), -ENOTSUP (not compiled in).  err (errlen bytes, may be NULL)
 * gets the message. */
int zr_fault_setup(const char *spec, char *err, size_t errlen);

/* zr_fault_name(): "arena_alloc", "codec_compress", ... ; "?" if out of
 * range.  The stats print "fault_<name>". */
const char *zr_fault_name(enum zr_fault_point p);

/* zr_fault_count(): faults injected at p since the last setup. */
uint64_t zr_fault_count(enum zr_fault_point p);

/* zr_fault_total(): faults injected at every point since the last setup. */
uint64_t zr_fault_total(void);

#endif /* ZRAMFS_FAULT_H */
