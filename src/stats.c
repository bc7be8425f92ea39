/* SPDX-License-Identifier: MIT */
/*
 * stats.c - formatting of user.zramfs.stats (see include/zramfs/stats.h).
 *
 * Ratios are printed with two decimals and are 0.00 when the divisor is 0;
 * everything else is an integer (but "comp"), so scripts can parse it with
 * one split.  Three texts: the mount (global counters), a file, and a
 * directory (its subtree's totals, summed by zr_ns_du()).
 */
#include "zramfs/stats.h"

#include <stdarg.h>
#include <stdio.h>

struct out {
	char *buf;
	size_t size;
	size_t len;
};

__attribute__((format(printf, 2, 3)))
static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(o->len < o->size ? o->buf + o->len : NULL,
		      o->len < o->size ? o->size - o->len : 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len += (size_t)n;
}

static void put_u64(struct out *o, const char *key, uint64_t v)
{
	put(o, "%s %llu\n", key, (unsigned long long)v);
}

static void put_ratio(struct out *o, const char *key, uint64_t num, uint64_t den)
{
	uint64_t r = den ? (num * 100 + den / 2) / den : 0;

	put(o, "%s %llu.%02llu\n", key, (unsigned long long)(r / 100),
	    (unsigned long long)(r % 100));
}

/* Chunks by state: the same keys for the mount, a directory and a file. */
static void put_chunks(struct out *o, uint64_t chunks, uint64_t same, uint64_t huge,
		       uint64_t compressed)
{
	put_u64(o, "chunks", chunks);
	put_u64(o, "same_chunks", same);
	put_u64(o, "huge_chunks", huge);
	put_u64(o, "compressed_chunks", compressed);
}

/* Inodes by type: the same keys for the mount and a directory's subtree. */
static void put_tree_counts(struct out *o, uint64_t files, uint64_t dirs,
			    uint64_t symlinks, uint64_t specials)
{
	put_u64(o, "files", files);
	put_u64(o, "dirs", dirs);
	put_u64(o, "symlinks", symlinks);
	put_u64(o, "specials", specials);
}

static size_t finish(struct out *o)
{
	if (o->size && o->len >= o->size)
		o->buf[o->size - 1] = 0;
	return o->len;
}

uint64_t zr_stats_mem_used_total(const struct zr_stats_global *g)
{
	return g->arena.mapped_bytes + g->arena.meta_bytes + g->heap_bytes;
}

static void put_data(struct out *o, const struct zr_stats_global *g)
{
	uint64_t mem = zr_stats_mem_used_total(g);
	char codec[ZR_CODEC_SPEC_MAX];

	zr_codec_format(g->codec, codec, sizeof(codec));
	put_u64(o, "orig_data_size", g->store.orig_data_size);
	put_u64(o, "compr_data_size", g->store.compr_data_size);
	put_u64(o, "mem_used_total", mem);
	put_ratio(o, "compr_ratio", g->store.orig_data_size, g->store.compr_data_size);
	put_ratio(o, "effective_ratio", g->store.orig_data_size, mem);
	put_u64(o, "size_limit", g->size_limit);
	put_u64(o, "chunk_size", g->chunk_size);
	put(o, "comp %s\n", codec);
	put_chunks(o, g->store.chunks, g->store.same_chunks, g->store.huge_chunks,
		   g->store.compressed_chunks);
}

static void put_arena(struct out *o, const struct zr_arena_stats *a)
{
	put_u64(o, "arena_objects", a->objects);
	put_u64(o, "arena_requested_bytes", a->requested_bytes);
	put_u64(o, "arena_object_bytes", a->object_bytes);
	put_u64(o, "arena_mapped_bytes", a->mapped_bytes);
	put_u64(o, "arena_meta_bytes", a->meta_bytes);
	put_u64(o, "arena_spans", a->spans);
	for (int i = 0; i < ZR_ARENA_FULLNESS_GROUPS; i++)
		put(o, "arena_spans_full_%d %llu\n", (i + 1) * 100 / ZR_ARENA_FULLNESS_GROUPS,
		    (unsigned long long)a->spans_by_fullness[i]);
	put_u64(o, "arena_compactions", a->compactions);
	put_u64(o, "arena_objects_moved", a->objects_moved);
	put_u64(o, "arena_bytes_released", a->bytes_released);
	put_u64(o, "arena_alloc_failures", a->alloc_failures);
	put_u64(o, "arena_cap", a->cap_bytes);
}

/* Compression workers and staging (chunk.c's pool). */
static void put_pool(struct out *o, const struct zr_store_stats *s)
{
	put_u64(o, "workers", s->workers);
	put_u64(o, "dirty_chunks", s->dirty_chunks);
	put_u64(o, "staging_bytes", s->staging_bytes);
	put_u64(o, "staging_limit", s->staging_limit);
	put_u64(o, "pool_queued", s->pool_queued);
	put_u64(o, "pool_running", s->pool_running);
	put_u64(o, "pool_jobs_done", s->pool_jobs_done);
	put_u64(o, "pool_wakeups", s->pool_wakeups);
	put_u64(o, "writer_waits", s->writer_waits);
}

/* Injected faults (FAULT=1 builds only; release builds print no key). */
static void put_faults(struct out *o, const struct zr_stats_global *g)
{
	uint64_t total = 0;

	if (!g->has_faults)
		return;
	for (int i = 0; i < ZR_FAULT_COUNT; i++)
		total += g->faults[i];
	put_u64(o, "faults_injected", total);
	for (int i = 0; i < ZR_FAULT_COUNT; i++)
		put(o, "fault_%s %llu\n", zr_fault_name((enum zr_fault_point)i),
		    (unsigned long long)g->faults[i]);
}

size_t zr_stats_format_global(const struct zr_stats_global *g, char *buf, size_t size)
{
	struct out o = { buf, size, 0 };

	put_data(&o, g);
	put_tree_counts(&o, g->ns.files, g->ns.dirs, g->ns.symlinks, g->ns.specials);
	put_u64(&o, "inodes", g->ns.inodes);
	put_u64(&o, "xattr_bytes", g->ns.xattr_bytes);
	put_u64(&o, "heap_bytes", g->heap_bytes);
	put_u64(&o, "table_bytes", g->store.table_bytes);
	put_arena(&o, &g->arena);
	put_u64(&o, "failed_reads", g->store.failed_reads);
	put_u64(&o, "failed_writes", g->store.failed_writes);
	put_u64(&o, "enospc_events", g->store.enospc_events);
	put_faults(&o, g);
	put_pool(&o, &g->store);
	put_u64(&o, "mem_limit", g->arena.cap_bytes);
	put_u64(&o, "recompress_pending", g->store.recompress_pending);
	put_u64(&o, "recompressed_chunks", g->store.recompressed_chunks);
	put_u64(&o, "recompress_saved_bytes", g->store.recompress_saved_bytes);
	put_u64(&o, "dict_bytes", g->store.dict_bytes);
	if (!g->has_spill) /* zramfs-stat shows "-" for SPILLED without them */
		return finish(&o);
	put_u64(&o, "spilled_chunks", g->store.spilled_chunks);
	put_u64(&o, "spill_bytes", g->store.spill_bytes);
	put_u64(&o, "spill_file_bytes", g->spill.file_bytes);
	put_u64(&o, "spill_limit", g->spill.limit);
	put_u64(&o, "spill_reads", g->spill.reads);
	put_u64(&o, "spill_writes", g->spill.writes);
	put_u64(&o, "spill_written_bytes", g->spill.written_bytes);
	put_u64(&o, "spill_failed_writes", g->spill.failed_writes);
	put_u64(&o, "spill_failed_reads", g->spill.failed_reads);
	put_u64(&o, "promoted_chunks", g->store.promoted_chunks);
	return finish(&o);
}

size_t zr_stats_format_file(const struct zr_fdata_stats *f, char *buf, size_t size)
{
	struct out o = { buf, size, 0 };
	char codec[ZR_CODEC_SPEC_MAX];

	zr_codec_format(f->codec, codec, sizeof(codec));
	put_u64(&o, "size", f->size);
	put_u64(&o, "orig_data_size", f->orig_bytes);
	put_u64(&o, "compr_data_size", f->compr_bytes);
	put_ratio(&o, "compr_ratio", f->orig_bytes, f->compr_bytes);
	put_u64(&o, "chunk_size", f->chunk_size);
	put(&o, "comp %s\n", codec);
	put_chunks(&o, f->chunks, f->same_chunks, f->huge_chunks, f->compressed_chunks);
	return finish(&o);
}

void zr_stats_add_file(const struct zr_fdata_stats *f, uint64_t fig[ZR_DU_FIGURES])
{
	fig[ZR_FIG_SIZE] += f->size;
	fig[ZR_FIG_ORIG] += f->orig_bytes;
	fig[ZR_FIG_COMPR] += f->compr_bytes;
	fig[ZR_FIG_CHUNKS] += f->chunks;
	fig[ZR_FIG_SAME] += f->same_chunks;
	fig[ZR_FIG_HUGE] += f->huge_chunks;
	fig[ZR_FIG_COMPRESSED] += f->compressed_chunks;
}

size_t zr_stats_format_tree(const struct zr_ns_du *du, char *buf, size_t size)
{
	struct out o = { buf, size, 0 };
	const uint64_t *fig = du->fig;

	put_tree_counts(&o, du->files, du->dirs, du->symlinks, du->specials);
	put_u64(&o, "size", fig[ZR_FIG_SIZE]);
	put_u64(&o, "orig_data_size", fig[ZR_FIG_ORIG]);
	put_u64(&o, "compr_data_size", fig[ZR_FIG_COMPR]);
	put_ratio(&o, "compr_ratio", fig[ZR_FIG_ORIG], fig[ZR_FIG_COMPR]);
	put_chunks(&o, fig[ZR_FIG_CHUNKS], fig[ZR_FIG_SAME], fig[ZR_FIG_HUGE],
		   fig[ZR_FIG_COMPRESSED]);
	return finish(&o);
}
