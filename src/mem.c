/* SPDX-License-Identifier: MIT */
/*
 * mem.c - counted heap allocation (see include/zramfs/mem.h).
 *
 * The counter tracks malloc_usable_size() of live blocks, so it includes the
 * allocator's rounding but not its per-block header (16 bytes on glibc);
 * that header is counted too, as MALLOC_HEADER, to keep the figure close to
 * what RSS shows for many small objects.
 */
#include "zramfs/mem.h"

#include <malloc.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* glibc keeps one size word before each chunk and aligns to 16 bytes: the
 * usable size already includes the alignment slack, the header does not. */
#define MALLOC_HEADER 8

/* Trim once this much heap has been freed since the last trim: large enough
 * that malloc_trim (which walks the heap) stays rare during a long `rm -rf`,
 * small enough that it gives memory back as it goes.  Whatever is left below
 * the threshold is trimmed as soon as frees stop for one call (one
 * housekeeping tick), so an idle daemon keeps no freed heap resident. */
#define TRIM_THRESHOLD (4u << 20)

static _Atomic int64_t meta_bytes;
static _Atomic uint64_t freed_since_trim;

static void count_alloc(void *p)
{
	if (p)
		atomic_fetch_add_explicit(&meta_bytes,
					  (int64_t)(malloc_usable_size(p) + MALLOC_HEADER),
					  memory_order_relaxed);
}

static void count_free(void *p)
{
	size_t n;

	if (!p)
		return;
	n = malloc_usable_size(p) + MALLOC_HEADER;
	atomic_fetch_sub_explicit(&meta_bytes, (int64_t)n, memory_order_relaxed);
	atomic_fetch_add_explicit(&freed_since_trim, n, memory_order_relaxed);
}

void *zr_malloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	count_alloc(p);
	return p;
}

void *zr_calloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

	count_alloc(p);
	return p;
}

void *zr_realloc(void *ptr, size_t size)
{
	size_t old = ptr ? malloc_usable_size(ptr) + MALLOC_HEADER : 0;
	void *p = realloc(ptr, size ? size : 1);

	if (!p)
		return NULL;	/* ptr is untouched and still counted */
	atomic_fetch_add_explicit(&meta_bytes,
				  (int64_t)(malloc_usable_size(p) + MALLOC_HEADER) -
					  (int64_t)old,
				  memory_order_relaxed);
	return p;
}

void zr_free(void *ptr)
{
	count_free(ptr);
	free(ptr);
}

char *zr_strdup(const char *s)
{
	return zr_memdup(s, strlen(s) + 1);
}

void *zr_memdup(const void *src, size_t len)
{
	void *p = zr_malloc(len);

	if (p && len)
		memcpy(p, src, len);
	return p;
}

uint64_t zr_mem_meta_bytes(void)
{
	int64_t v = atomic_load_explicit(&meta_bytes, memory_order_relaxed);

	return v > 0 ? (uint64_t)v : 0;
}

void zr_mem_account(int64_t delta)
{
	atomic_fetch_add_explicit(&meta_bytes, delta, memory_order_relaxed);
}

void zr_mem_trim(uint64_t other_heap)
{
	/* Housekeeper-only state: the freed count and other_heap at the
	 * previous call. */
	static uint64_t seen, other_seen;
	uint64_t freed;
	int quiet;

	/* The arena frees its span headers with free(): after a delete they
	 * can be most of the freed heap, and without this no trim came
	 * (4-7 MiB kept after `rm -rf` in one bench run of three). */
	if (other_heap < other_seen)
		atomic_fetch_add_explicit(&freed_since_trim, other_seen - other_heap,
					  memory_order_relaxed);
	other_seen = other_heap;
	freed = atomic_load_explicit(&freed_since_trim, memory_order_relaxed);
	quiet = freed == seen;

	seen = freed;
	if (!freed || (freed < TRIM_THRESHOLD && !quiet))
		return;
	atomic_fetch_sub_explicit(&freed_since_trim, freed, memory_order_relaxed);
	seen = 0;
	malloc_trim(0);
}
