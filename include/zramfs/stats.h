/* SPDX-License-Identifier: MIT */
/*
 * stats.h - the text served by the user.zramfs.stats attribute.
 *
 * The fs layer gathers a snapshot from the modules (each counter read from
 * its owner); this module only derives the totals and formats "key value"
 * lines, bytes as plain integers, so it can be tested without a mount.
 */
#ifndef ZRAMFS_STATS_H
#define ZRAMFS_STATS_H

#include "zramfs/arena.h"
#include "zramfs/chunk.h"
#include "zramfs/fault.h"
#include "zramfs/ns.h"
#include "zramfs/spill.h"

#include <stddef.h>
#include <stdint.h>

struct zr_stats_global {
	struct zr_store_stats store;
	struct zr_arena_stats arena;
	struct zr_ns_stats ns;
	struct zr_spill_stats spill;
	int has_spill;			/* -o spill=: the spill keys are shown */
	int has_faults;			/* a FAULT=1 build: the fault keys are shown */
	uint64_t faults[ZR_FAULT_COUNT];	/* zr_fault_count() per point */
	uint64_t heap_bytes;	/* zr_mem_meta_bytes(): inodes, tables, buffers */
	uint64_t size_limit;	/* -o size */
	unsigned chunk_size;
	struct zr_codec_spec codec;
};

/* A directory's figures: zr_ns_du() totals whose fig[] slots hold the sums
 * of zr_stats_add_file() over the regular files below it. */
enum zr_stats_fig {
	ZR_FIG_SIZE,		/* st_size */
	ZR_FIG_ORIG,		/* orig_data_size */
	ZR_FIG_COMPR,		/* compr_data_size */
	ZR_FIG_CHUNKS,
	ZR_FIG_SAME,
	ZR_FIG_HUGE,
	ZR_FIG_COMPRESSED,
	ZR_FIG_COUNT
};
_Static_assert(ZR_FIG_COUNT <= ZR_DU_FIGURES, "zr_ns_du() has room for the figures");

/* zr_stats_add_file(): adds one file's figures into fig (a zr_du_fn body). */
void zr_stats_add_file(const struct zr_fdata_stats *f, uint64_t fig[ZR_DU_FIGURES]);

/* zr_stats_mem_used_total(): every byte held for data: arena mappings and
 * metadata plus the counted heap (inodes, chunk tables, codec contexts,
 * request buffers). */
uint64_t zr_stats_mem_used_total(const struct zr_stats_global *g);

/* zr_stats_format_global() / zr_stats_format_file(): write the text into
 * buf (NUL-terminated, truncated to size).  Return the full length the text
 * needs, excluding the NUL (so size 0 probes). */
size_t zr_stats_format_global(const struct zr_stats_global *g, char *buf, size_t size);
size_t zr_stats_format_file(const struct zr_fdata_stats *f, char *buf, size_t size);

/* zr_stats_format_tree(): the same for a directory's subtree totals. */
size_t zr_stats_format_tree(const struct zr_ns_du *du, char *buf, size_t size);

#endif /* ZRAMFS_STATS_H */
