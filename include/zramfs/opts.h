/* SPDX-License-Identifier: MIT */
/*
 * opts.h - zramfs's own mount options: defaults, parsing, validation, help.
 *
 * Options arrive as "key=value" or "key" strings (from -o lists); the ones
 * zramfs does not own are left to libfuse, which rejects unknown ones.  The
 * parser is pure (no FUSE) so it can be unit-tested and fuzzed.
 */
#ifndef ZRAMFS_OPTS_H
#define ZRAMFS_OPTS_H

#include "zramfs/codec.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* 64 KiB: measured on the linux-6.1 tree (README, "Chunk size"): lz4 ratio
 * 3.0 vs 2.7 at 16 KiB, one chunk per 64 KiB of a 1 MiB request, and files
 * below 64 KiB (most of a source tree) are stored at their own length. */
#define ZR_DEFAULT_CHUNK_SHIFT 16

/* Like tmpfs: the logical size limit defaults to half of physical RAM, so
 * even incompressible data can never take more RAM than tmpfs would. */
#define ZR_DEFAULT_SIZE_PERCENT 50

/* Like tmpfs: one inode per two pages of RAM by default. */
#define ZR_DEFAULT_BYTES_PER_INODE 8192

/* FUSE worker threads default to the online CPUs (at least 2): handlers
 * never wait for I/O, so more threads only add cross-CPU wake-ups.
 * Measured untarring drivers/net (3.3k files): 2 threads 2.6-2.9 s,
 * libfuse's 10: 3.3-4.4 s (README, "FUSE options"). */
#define ZR_MIN_MAX_THREADS 2

/* In-flight background requests (readahead, async direct I/O of a loop
 * device); the kernel's default is 12. */
#define ZR_DEFAULT_MAX_BACKGROUND 64

/* Read-ahead set on the mount's backing device (-o read_ahead=): 1 MiB
 * reads a 1 GiB file back about 1.3-1.4x faster than the kernel's 128 KiB
 * (README, "FUSE options"); the cap is what a sane sequential reader could
 * use. */
#define ZR_DEFAULT_READ_AHEAD (1u << 20)
#define ZR_MAX_READ_AHEAD (64u << 20)

/* Idle recompression (-o recompress=, recompress_idle=): a chunk untouched
 * this long is re-encoded once with a stronger codec (codec.h).  Long
 * enough that a build's short-lived objects are gone first, short enough
 * that a tree at rest is compact within a minute. */
#define ZR_DEFAULT_RECOMP_IDLE 10

/* Compression workers: at most this many (-o workers=0..). */
#define ZR_MAX_WORKERS 256

/* Staging defaults to ZR_STAGING_DEFAULT (chunk.h), but at most RAM / 64
 * so a small machine does not hold much of its RAM uncompressed. */
#define ZR_STAGING_RAM_DIV 64

struct zr_opts {
	uint64_t size;			/* logical bytes limit */
	uint64_t nr_inodes;		/* inode limit; 0 = none */
	unsigned chunk_shift;		/* log2 of the chunk size */
	struct zr_codec_spec codec;	/* default codec */
	mode_t root_mode;		/* permission bits of the root */
	uid_t root_uid;
	gid_t root_gid;
	int writeback_cache;		/* kernel writeback cache on (1) / off */
	int mlock;			/* mlockall() the daemon (swap files) */
	unsigned max_threads;
	unsigned max_background;
	unsigned workers;		/* compression threads; 0 = inline */
	uint64_t staging;		/* staging buffer bound, bytes */
	char spill_dir[1024];		/* -o spill=DIR; "" = no writeback tier */
	uint64_t mem_limit;		/* RAM budget (arena + staging); 0 = none */
	uint64_t spill_limit;		/* spill disk bound; 0 = none */
	unsigned idle;			/* idle writeback age, seconds; 0 = off */
	uint64_t read_ahead;		/* bytes; 0 = keep the kernel's */
	bool recomp_auto;		/* recompress=auto (the default) */
	struct zr_codec_spec recomp;	/* else its codec; none = off */
	unsigned recomp_idle;		/* recompress_idle, seconds; 0 = only
					 * on the root's control */
	int recomp_dict;		/* recompress_dict: train and use a
					 * dictionary (1, the default) */
};

/* zr_opts_defaults(): fill *o with the defaults; ram_bytes is physical RAM
 * (for size=N%), uid/gid the mounting user's. */
void zr_opts_defaults(struct zr_opts *o, uint64_t ram_bytes, uid_t uid, gid_t gid);

/* zr_default_max_threads(): online CPUs, at least ZR_MIN_MAX_THREADS. */
unsigned zr_default_max_threads(void);

/* zr_opts_recomp(): the store's recompression codecs (chunk.h) for o. */
void zr_opts_recomp(const struct zr_opts *o, struct zr_codec_spec out[ZR_CODEC_COUNT]);

/* zr_default_workers(): online CPUs (1..ZR_MAX_WORKERS). */
unsigned zr_default_workers(void);

/* zr_opts_is_ours(): true if the "key[=value]" string names a zramfs
 * option (the rest go to libfuse). */
int zr_opts_is_ours(const char *kv);

/* zr_opts_apply(): parse one "key[=value]" option into *o.  Returns 0, or
 * -EINVAL with a one-line message naming the option in err. */
int zr_opts_apply(struct zr_opts *o, const char *kv, uint64_t ram_bytes,
		  char *err, size_t errlen);

/* zr_parse_size(): "123", "64K", "512M", "2G", "1T" (binary units),
 * optionally "B"/"iB" suffixed.  0 or -EINVAL (bad syntax, overflow). */
int zr_parse_size(const char *s, uint64_t *out);

/* zr_parse_chunk_shift(): a chunk size "4K".."1M", a power of two, as
 * log2 into *shift.  0 or -EINVAL. */
int zr_parse_chunk_shift(const char *s, unsigned *shift);

/* zr_opts_help(): the zramfs part of --help. */
const char *zr_opts_help(void);

#endif /* ZRAMFS_OPTS_H */
