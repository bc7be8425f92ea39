/* SPDX-License-Identifier: MIT */
/*
 * malloc_tune.h - make glibc's malloc hand freed memory back to the system,
 * so that deleting files returns the daemon's RSS to an empty mount's.
 * Why each setting is needed is in src/malloc_tune.c.
 */
#ifndef ZRAMFS_MALLOC_TUNE_H
#define ZRAMFS_MALLOC_TUNE_H

#include <stddef.h>

/* The glibc tunable that turns the per-thread cache off. */
#define ZR_TCACHE_TUNABLE "glibc.malloc.tcache_count="

/* zr_malloc_tunables(): the GLIBC_TUNABLES value to run with, given the
 * current one (NULL when unset): cur with the tcache turned off appended.
 * Returns 1 and writes out when a re-exec is needed, 0 when cur already
 * sets the tcache (our earlier exec, or the user's own choice), -1 when out
 * is too small. */
int zr_malloc_tunables(const char *cur, char *out, size_t outlen);

/* zr_malloc_tune(): first thing in main(), before any thread: re-executes
 * the daemon (/proc/self/exe, same argv) with the tcache off unless it
 * already is, then sets the mmap/trim thresholds and one arena.  If the
 * exec fails, carries on as is: only memory held after deletes is at stake. */
void zr_malloc_tune(char *argv[]);

#endif /* ZRAMFS_MALLOC_TUNE_H */
