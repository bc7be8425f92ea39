/* SPDX-License-Identifier: MIT */
/*
 * test_arena.c - the compressed-object arena: every size class, a random
 * alloc/free/compact sequence checked against a model, handles across
 * moves, pins, the cap, and the accounting (down to ~0 after freeing).
 * ZR_TEST_QUICK=1 (valgrind) shrinks the iteration counts.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "zramfs/arena.h"
#include "rss.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MIB		(1u << 20)
#define MAX_OBJ		(MIB + 4096)	/* 1 MiB raw chunks plus slack */
#define DIRTY_SLACK	(4u << 20)	/* arena's reuse cache bound (DIRTY_MIN) */

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#else
#define SANITIZED 0
#endif

/* Valgrind (ZR_TEST_QUICK=1) and sanitizers: fewer iterations. */
static int quick(void)
{
	const char *q = getenv("ZR_TEST_QUICK");

	return SANITIZED || (q && *q && *q != '0');
}

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Pattern: word i of an object is seed * K ^ i, so a moved or mixed-up
 * object shows; word-wise so that sanitizer builds stay quick. */
static uint64_t pat(uint32_t seed, size_t i)
{
	return (seed * 0x9e3779b97f4a7c15ull) ^ (i * 0x100000001b3ull);
}

static void fill(uint8_t *buf, size_t len, uint32_t seed)
{
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		uint64_t w = pat(seed, i / 8);

		memcpy(buf + i, &w, 8);
	}
	for (; i < len; i++)
		buf[i] = (uint8_t)pat(seed, i);
}

static int check(const uint8_t *buf, size_t len, uint32_t seed)
{
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		uint64_t w = pat(seed, i / 8);

		if (memcmp(buf + i, &w, 8))
			return 0;
	}
	for (; i < len; i++)
		if (buf[i] != (uint8_t)pat(seed, i))
			return 0;
	return 1;
}

static uint8_t scratch[MAX_OBJ];

static zr_handle_t put(struct zr_arena *a, size_t len, uint32_t seed)
{
	zr_handle_t h = 0;

	assert_int_equal(zr_arena_alloc(a, len, &h), 0);
	assert_true(h != ZR_HANDLE_NONE);
	fill(scratch, len, seed);
	zr_arena_write(a, h, scratch, len);
	return h;
}

static void verify(struct zr_arena *a, zr_handle_t h, size_t len, uint32_t seed)
{
	const uint8_t *p;

	assert_int_equal(zr_arena_size(a, h), len);
	p = zr_arena_read_begin(a, h);
	assert_non_null(p);
	assert_true(check(p, len, seed));
	zr_arena_read_end(a, h);
}

static struct zr_arena *mk(size_t max, uint64_t cap)
{
	struct zr_arena_config cfg = { .max_object = max, .cap_bytes = cap };
	struct zr_arena *a = zr_arena_create(&cfg);

	assert_non_null(a);
	return a;
}

static void stats_sane(struct zr_arena *a, struct zr_arena_stats *st)
{
	uint64_t sum = 0;

	zr_arena_get_stats(a, st);
	for (int g = 0; g < ZR_ARENA_FULLNESS_GROUPS; g++)
		sum += st->spans_by_fullness[g];
	assert_int_equal(sum, st->spans);
	assert_true(st->object_bytes >= st->requested_bytes);
	assert_true(st->requested_bytes >= st->objects);
	assert_true(st->mapped_bytes % 4096 == 0);
	assert_true(st->meta_bytes > 0);
}

/* After freeing everything: nothing mapped but the bounded reuse cache,
 * and nothing at all after a compaction. */
static void assert_drained(struct zr_arena *a)
{
	struct zr_arena_stats st;

	stats_sane(a, &st);
	assert_int_equal(st.objects, 0);
	assert_int_equal(st.requested_bytes, 0);
	assert_int_equal(st.object_bytes, 0);
	assert_true(st.mapped_bytes <= DIRTY_SLACK + 4096);
	zr_arena_compact(a);
	stats_sane(a, &st);
	assert_int_equal(st.mapped_bytes, 0);
	assert_int_equal(st.spans, 0);
}

static void test_create_bad(void **state)
{
	struct zr_arena_config cfg = { .max_object = 0 };

	assert_null(zr_arena_create(&cfg));
	cfg.max_object = 64 * MIB;
	assert_null(zr_arena_create(&cfg));
	assert_null(zr_arena_create(NULL));
	zr_arena_destroy(NULL);
}

static void test_invalid_sizes(void **state)
{
	struct zr_arena *a = mk(65536, 0);
	struct zr_arena_stats st;
	zr_handle_t h = 0;

	assert_int_equal(zr_arena_alloc(a, 0, &h), -EINVAL);
	assert_int_equal(zr_arena_alloc(a, 65537, &h), -EINVAL);
	assert_int_equal(zr_arena_alloc(a, 65536, &h), 0);
	zr_arena_free(a, h);
	zr_arena_free(a, ZR_HANDLE_NONE);
	zr_arena_get_stats(a, &st);
	assert_int_equal(st.alloc_failures, 0);
	assert_drained(a);
	zr_arena_destroy(a);
}

/* The next size to try: every class is hit (steps below half a class step). */
static size_t next_size(size_t s)
{
	return s < 4096 ? s + 7 : s + s / 160;
}

static void test_every_class(void **state)
{
	struct zr_arena *a = mk(MAX_OBJ, 0);
	struct zr_arena_stats st;
	zr_handle_t h[3];
	size_t s;

	for (s = 1; s <= MAX_OBJ; s = next_size(s) > MAX_OBJ && s < MAX_OBJ ?
				       MAX_OBJ : next_size(s)) {
		for (int i = 0; i < 3; i++)
			h[i] = put(a, s, (uint32_t)(s + i));
		zr_arena_get_stats(a, &st);
		/* rounding: <= 15 bytes small, < 1/64 large */
		assert_true(st.object_bytes - st.requested_bytes <=
			    3 * (s <= 4096 ? 15 : s / 64 + 1));
		for (int i = 0; i < 3; i++)
			verify(a, h[i], s, (uint32_t)(s + i));
		for (int i = 0; i < 3; i++)
			zr_arena_free(a, h[i]);
	}
	/* exact 1 MiB (raw chunk) wastes nothing */
	zr_arena_compact(a);
	h[0] = put(a, MIB, 7);
	zr_arena_get_stats(a, &st);
	assert_int_equal(st.object_bytes, MIB);
	assert_int_equal(st.mapped_bytes, MIB);
	zr_arena_free(a, h[0]);
	assert_drained(a);
	zr_arena_destroy(a);
}

struct mobj {
	zr_handle_t	h;
	uint32_t	len;
	uint32_t	seed;
};

static size_t rand_size(uint64_t *r)
{
	switch (rng_next(r) % 8) {
	case 0:
		return 1 + rng_next(r) % 256;
	case 1:
	case 2:
		return 1 + rng_next(r) % 4096;
	case 7:
		return rng_next(r) % 16 ? 1 + rng_next(r) % 200000 : MIB;
	default:
		return 1000 + rng_next(r) % 60000;
	}
}

static void model_check_all(struct zr_arena *a, struct mobj *m, size_t n)
{
	struct zr_arena_stats st;
	uint64_t req = 0;

	for (size_t i = 0; i < n; i++) {
		verify(a, m[i].h, m[i].len, m[i].seed);
		req += m[i].len;
	}
	stats_sane(a, &st);
	assert_int_equal(st.objects, n);
	assert_int_equal(st.requested_bytes, req);
	assert_true(st.mapped_bytes + 4096 >= req / 2);
}

static void test_random_model(void **state)
{
	size_t cap = 1000, n = 0, ops = quick() ? 3000 : 20000;
	struct mobj *m = calloc(cap, sizeof(*m));
	struct zr_arena *a = mk(MAX_OBJ, 0);
	struct zr_arena_stats st;
	uint64_t r = 0x9e3779b97f4a7c15ull;

	assert_non_null(m);
	for (size_t op = 0; op < ops; op++) {
		uint64_t x = rng_next(&r) % 1000;

		if (n < cap && (x < 550 || n == 0)) {
			m[n].len = (uint32_t)rand_size(&r);
			m[n].seed = (uint32_t)rng_next(&r);
			m[n].h = put(a, m[n].len, m[n].seed);
			n++;
		} else if (x < 997) {
			size_t i = rng_next(&r) % n;

			verify(a, m[i].h, m[i].len, m[i].seed);
			zr_arena_free(a, m[i].h);
			m[i] = m[--n];
		} else {
			zr_arena_compact(a);
			model_check_all(a, m, n);
		}
	}
	/* free three quarters, compact, everything must still be intact */
	while (n > cap / 8) {
		size_t i = rng_next(&r) % n;

		zr_arena_free(a, m[i].h);
		m[i] = m[--n];
	}
	zr_arena_compact(a);
	model_check_all(a, m, n);
	stats_sane(a, &st);
	assert_true(st.objects_moved > 0);
	assert_true(st.compactions > 0);
	while (n)
		zr_arena_free(a, m[--n].h);
	assert_drained(a);
	zr_arena_destroy(a);
	free(m);
}

/* Fill one class, free most objects: compaction moves the rest, handles
 * stay valid, a pinned object stays put, emptied spans are released. */
static void test_compact_moves(void **state)
{
	enum { N = 4000, LEN = 3000 };
	zr_handle_t *h = calloc(N, sizeof(*h));
	struct zr_arena *a = mk(65536, 0);
	struct zr_arena_stats before, after;
	const void *pinned;
	uint64_t rel;

	assert_non_null(h);
	for (int i = 0; i < N; i++)
		h[i] = put(a, LEN, (uint32_t)i);
	for (int i = 0; i < N; i++)
		if (i % 10)
			zr_arena_free(a, h[i]);
	pinned = zr_arena_read_begin(a, h[N - 10]);
	stats_sane(a, &before);
	assert_true(zr_arena_should_compact(a));
	rel = zr_arena_compact(a);
	stats_sane(a, &after);
	assert_true(rel > 0);
	assert_true(after.mapped_bytes < before.mapped_bytes / 2);
	assert_int_equal(after.bytes_released - before.bytes_released, rel);
	assert_true(after.objects_moved > before.objects_moved);
	assert_true(after.mapped_bytes <= after.object_bytes + after.object_bytes / 10 + 8192);
	assert_ptr_equal(zr_arena_read_begin(a, h[N - 10]), pinned);
	zr_arena_read_end(a, h[N - 10]);
	zr_arena_read_end(a, h[N - 10]);
	assert_false(zr_arena_should_compact(a));
	for (int i = 0; i < N; i += 10)
		verify(a, h[i], LEN, (uint32_t)i);
	for (int i = 0; i < N; i += 10)
		zr_arena_free(a, h[i]);
	assert_drained(a);
	zr_arena_destroy(a);
	free(h);
}

static void test_handles_reused(void **state)
{
	enum { N = 5000 };
	zr_handle_t *h = calloc(N, sizeof(*h));
	struct zr_arena *a = mk(65536, 0);
	zr_handle_t max = 0;

	assert_non_null(h);
	for (int i = 0; i < N; i++)
		h[i] = put(a, 100, (uint32_t)i);
	for (int i = 0; i < N; i++)
		zr_arena_free(a, h[i]);
	for (int i = 0; i < N; i++) {
		h[i] = put(a, 200, (uint32_t)i);
		max = h[i] > max ? h[i] : max;
	}
	assert_true(max <= N);
	for (int i = 0; i < N; i++)
		zr_arena_free(a, h[i]);
	assert_drained(a);
	zr_arena_destroy(a);
	free(h);
}

/* Once everything is freed the handle table goes (its metadata bytes with
 * it) and numbering starts again at 1; while one handle lives, nothing. */
static void test_release_handles(void **state)
{
	enum { N = 5000 };
	zr_handle_t *h = calloc(N, sizeof(*h));
	struct zr_arena *a = mk(65536, 0);
	struct zr_arena_stats before, full, after;

	assert_non_null(h);
	zr_arena_get_stats(a, &before);
	assert_int_equal(zr_arena_release_handles(a), 0);	/* none ever used */
	for (int i = 0; i < N; i++)
		h[i] = put(a, 100, (uint32_t)i);
	zr_arena_get_stats(a, &full);
	for (int i = 1; i < N; i++)
		zr_arena_free(a, h[i]);
	assert_int_equal(zr_arena_release_handles(a), 0);	/* h[0] lives */
	verify(a, h[0], 100, 0);
	zr_arena_free(a, h[0]);
	assert_true(zr_arena_release_handles(a) >= N * 24);
	zr_arena_compact(a);
	zr_arena_get_stats(a, &after);
	assert_true(full.meta_bytes - after.meta_bytes >= N * 24);
	assert_int_equal(after.meta_bytes, before.meta_bytes);
	assert_int_equal(zr_arena_release_handles(a), 0);	/* already done */
	for (int i = 0; i < N; i++) {	/* the table grows again from 1 */
		h[i] = put(a, 300, (uint32_t)i + 7);
		assert_int_equal(h[i], (zr_handle_t)i + 1);
	}
	for (int i = 0; i < N; i++)
		verify(a, h[i], 300, (uint32_t)i + 7);
	for (int i = 0; i < N; i++)
		zr_arena_free(a, h[i]);
	assert_drained(a);
	zr_arena_destroy(a);
	free(h);
}

static void test_cap(void **state)
{
	struct zr_arena *a = mk(MAX_OBJ, 8 * MIB);
	struct zr_arena_stats st;
	zr_handle_t h[512], x = 0;
	int n = 0, err = 0;

	while (n < 512 && !(err = zr_arena_alloc(a, 65536, &h[n])))
		zr_arena_write(a, h[n++], scratch, 65536);
	assert_int_equal(err, -ENOSPC);
	assert_true(n > 64);
	stats_sane(a, &st);
	assert_true(st.mapped_bytes + st.meta_bytes <= 8 * MIB);
	assert_int_equal(st.alloc_failures, 1);
	assert_int_equal(st.cap_bytes, 8 * MIB);
	assert_int_equal(zr_arena_alloc(a, MIB, &x), -ENOSPC);
	zr_arena_free(a, h[--n]);
	assert_int_equal(zr_arena_alloc(a, 65536, &h[n]), 0);
	n++;
	zr_arena_set_cap(a, 0);
	assert_int_equal(zr_arena_alloc(a, MIB, &x), 0);
	zr_arena_set_cap(a, 1);	/* below current use: existing objects stay */
	assert_int_equal(zr_arena_alloc(a, 10, &h[n]), -ENOSPC);
	zr_arena_free(a, x);
	while (n)
		zr_arena_free(a, h[--n]);
	zr_arena_get_stats(a, &st);
	assert_int_equal(st.alloc_failures, 3);
	zr_arena_set_cap(a, 0);
	assert_drained(a);
	zr_arena_destroy(a);
}

/* zr_arena_trim_idle(): the reuse cache goes once it has stood still for
 * one call; while frees and allocations move it, it stays; never with a
 * reserve budget. */
static void test_trim_idle(void **state)
{
	enum { N = 32, OBJ = 64 * 1024 };
	zr_handle_t h[N];
	struct zr_arena *a = mk(MAX_OBJ, 0);
	struct zr_arena_stats st;

	for (int i = 0; i < N; i++)
		h[i] = put(a, OBJ, (uint32_t)i);
	for (int i = 0; i < N; i++)
		zr_arena_free(a, h[i]);
	assert_int_equal(zr_arena_trim_idle(a), 0);	/* first sight */
	h[0] = put(a, OBJ, 1);				/* the cache moves */
	assert_int_equal(zr_arena_trim_idle(a), 0);
	zr_arena_reserve(a, OBJ, 1);			/* a reserve keeps it */
	assert_int_equal(zr_arena_trim_idle(a), 0);
	zr_arena_reserve(a, OBJ, 0);
	assert_true(zr_arena_trim_idle(a) >= (uint64_t)(N - 2) * OBJ);
	stats_sane(a, &st);
	assert_true(st.mapped_bytes <= 2 * OBJ);	/* the live object's span */
	verify(a, h[0], OBJ, 1);
	zr_arena_free(a, h[0]);
	zr_arena_compact(a);
	assert_drained(a);
	zr_arena_destroy(a);
}

/* At the cap, the reuse cache gives way: spans emptied by frees keep
 * their pages (dirty), yet an allocation of another class that needs new
 * pages gets them instead of -ENOSPC. */
static void test_cap_purges_cache(void **state)
{
	struct zr_arena *a = mk(MAX_OBJ, 8 * MIB);
	zr_handle_t h[512], y[8];
	int n = 0, err = 0;

	while (n < 512 && !(err = zr_arena_alloc(a, 65536, &h[n])))
		zr_arena_write(a, h[n++], scratch, 65536);
	assert_int_equal(err, -ENOSPC);
	assert_true(n > 16);
	for (int i = 0; i < 8; i++)
		zr_arena_free(a, h[--n]);	/* 512 KiB of empty spans, kept */
	for (int i = 0; i < 8; i++)
		assert_int_equal(zr_arena_alloc(a, 40000, &y[i]), 0);
	for (int i = 0; i < 8; i++)
		zr_arena_free(a, y[i]);
	while (n)
		zr_arena_free(a, h[--n]);
	zr_arena_set_cap(a, 0);
	assert_drained(a);
	zr_arena_destroy(a);
}

/* mapped_bytes follows RSS: growth on write, drop on free. */
static void test_rss_agrees(void **state)
{
	enum { N = 3000 };
	zr_handle_t *h;
	struct zr_arena *a;
	struct zr_arena_stats st;
	long r0, r1, r2;
	uint64_t r = 42;

	if (rss_unreliable())
		skip();
	h = calloc(N, sizeof(*h));
	a = mk(MAX_OBJ, 0);
	assert_non_null(h);
	r0 = rss_bytes();
	for (int i = 0; i < N; i++)
		h[i] = put(a, 2000 + rng_next(&r) % 40000, (uint32_t)i);
	r1 = rss_bytes();
	zr_arena_get_stats(a, &st);
	assert_true(labs((r1 - r0) - (long)st.mapped_bytes) < (long)st.mapped_bytes / 20 + 2 * MIB);
	for (int i = 0; i < N; i++)
		if (i % 2)
			zr_arena_free(a, h[i]);
	zr_arena_compact(a);
	r2 = rss_bytes();
	zr_arena_get_stats(a, &st);
	assert_true(labs((r2 - r0) - (long)st.mapped_bytes) < (long)st.mapped_bytes / 20 + 2 * MIB);
	for (int i = 0; i < N; i += 2)
		zr_arena_free(a, h[i]);
	assert_drained(a);
	assert_true(rss_bytes() - r0 < 2 * MIB);
	zr_arena_destroy(a);
	free(h);
}

/* Of the pages the object at p (len bytes) overlaps, how many are not
 * resident. */
static size_t missing_pages(const void *p, size_t len)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	uintptr_t lo = (uintptr_t)p & ~(pg - 1), hi = ((uintptr_t)p + len + pg - 1) & ~(pg - 1);
	unsigned char vec[64];
	size_t n = (hi - lo) / pg, res = 0;

	assert_true(n <= sizeof(vec));
	assert_int_equal(mincore((void *)lo, hi - lo, vec), 0);
	for (size_t i = 0; i < n; i++)
		res += vec[i] & 1;
	return n - res;
}

/* zr_arena_alloc() faults the object's new pages in with one call
 * (MADV_POPULATE_WRITE), so the write that follows takes no page fault:
 * they are resident before anything is written.  Skipped under valgrind,
 * which does not know the advice, and on kernels before 5.14. */
static void test_alloc_populates(void **state)
{
	struct zr_arena *a;
	zr_handle_t h;
	const void *p;
	void *probe = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int unknown;

	assert_true(probe != MAP_FAILED);
	unknown = madvise(probe, 4096, 23 /* MADV_POPULATE_WRITE */) != 0;
	munmap(probe, 4096);
	if (unknown || getenv("ZR_TEST_QUICK"))
		skip();
	a = mk(MAX_OBJ, 0);
	assert_int_equal(zr_arena_alloc(a, 5 * 4096 + 100, &h), 0);
	p = zr_arena_read_begin(a, h);
	assert_int_equal(missing_pages(p, 5 * 4096 + 100), 0);
	zr_arena_read_end(a, h);
	zr_arena_free(a, h);
	zr_arena_compact(a);
	assert_drained(a);
	zr_arena_destroy(a);
}

/* Spans that empty keep their pages while the dirty total is under its
 * limit: a burst of frees of one-span objects (64 KiB chunks stored raw)
 * followed by as many allocations -- how a chunk rewrite goes, staged
 * first, stored later -- purges nothing and faults nothing in.  Past the
 * limit the spans go, so the cache stays bounded. */
static void test_empty_spans_reused(void **state)
{
	enum { N = 32, OBJ = 64 * 1024, MANY = 3 * DIRTY_SLACK / OBJ };
	zr_handle_t h[MANY];
	struct zr_arena *a = mk(MAX_OBJ, 0);
	struct zr_arena_stats st0, st1;

	for (int i = 0; i < N; i++)
		h[i] = put(a, OBJ, (uint32_t)i);
	stats_sane(a, &st0);
	for (int i = 0; i < N; i++)
		zr_arena_free(a, h[i]);
	for (int i = 0; i < N; i++)
		h[i] = put(a, OBJ, (uint32_t)i + N);
	stats_sane(a, &st1);
	assert_int_equal(st1.bytes_released, st0.bytes_released);
	assert_int_equal(st1.mapped_bytes, st0.mapped_bytes);
	for (int i = 0; i < N; i++)
		verify(a, h[i], OBJ, (uint32_t)i + N);
	for (int i = N; i < MANY; i++)
		h[i] = put(a, OBJ, (uint32_t)i);
	for (int i = 0; i < MANY; i++)
		zr_arena_free(a, h[i]);
	stats_sane(a, &st1);
	assert_true(st1.mapped_bytes <= DIRTY_SLACK);
	zr_arena_compact(a);
	assert_drained(a);
	zr_arena_destroy(a);
}

/* zr_arena_reserve(): resident empty spans, within the budget and busiest
 * class first, in mapped_bytes, used first by allocations (nothing new
 * faulted), kept by frees, released by compaction and refilled by the
 * next call; budget 0 ends it. */
static void test_reserve(void **state)
{
	struct zr_arena *a = mk(MAX_OBJ, 0);
	struct zr_arena_stats st, st2;
	zr_handle_t h[64];
	uint64_t made;

	made = zr_arena_reserve(a, 16384, 64 * MIB);
	zr_arena_get_stats(a, &st);
	assert_true(made > 0 && made <= 64 * MIB);
	assert_int_equal(st.mapped_bytes, made);
	assert_int_equal(st.objects, 0);
	assert_int_equal(zr_arena_reserve(a, 16384, 64 * MIB), 0);	/* already full */
	for (int i = 0; i < 64; i++)
		h[i] = put(a, 100 + (size_t)i * 150, (uint32_t)i);
	zr_arena_get_stats(a, &st2);
	assert_int_equal(st2.mapped_bytes, st.mapped_bytes);	/* no fresh page */
	for (int i = 0; i < 64; i++) {
		verify(a, h[i], 100 + (size_t)i * 150, (uint32_t)i);
		zr_arena_free(a, h[i]);
	}
	zr_arena_get_stats(a, &st2);
	assert_int_equal(st2.mapped_bytes, st.mapped_bytes);	/* kept, not trimmed */
	zr_arena_compact(a);
	zr_arena_get_stats(a, &st2);
	assert_int_equal(st2.mapped_bytes, 0);
	assert_int_equal(zr_arena_reserve(a, 16384, 64 * MIB), made);	/* refilled */
	zr_arena_compact(a);
	made = zr_arena_reserve(a, 65536, 1 * MIB);		/* the budget holds */
	assert_true(made > 0 && made <= 1 * MIB);
	zr_arena_reserve(a, 0, 0);
	zr_arena_compact(a);
	assert_drained(a);
	zr_arena_destroy(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_bad),
		cmocka_unit_test(test_invalid_sizes),
		cmocka_unit_test(test_every_class),
		cmocka_unit_test(test_random_model),
		cmocka_unit_test(test_compact_moves),
		cmocka_unit_test(test_handles_reused),
		cmocka_unit_test(test_release_handles),
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_rss_agrees),
		cmocka_unit_test(test_reserve),
		cmocka_unit_test(test_alloc_populates),
		cmocka_unit_test(test_empty_spans_reused),
		cmocka_unit_test(test_cap_purges_cache),
		cmocka_unit_test(test_trim_idle),
	};

	if (getenv("ZR_TEST_FILTER"))
		cmocka_set_test_filter(getenv("ZR_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
