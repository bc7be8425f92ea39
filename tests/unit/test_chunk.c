/* SPDX-License-Identifier: MIT */
/*
 * test_chunk.c - unit tests for src/chunk.c: round trips at 4 KiB and
 * 64 KiB chunks in every chunk state, partial and unaligned writes, EOF
 * tails, punch/zero/allocate, seek, the size limit, EFBIG, copy, counters,
 * per-file codecs, a randomized model test and a threaded test (TSan).
 *
 * Every test ends by destroying its files and checking that all the store's
 * counters are back to 0 and the arena holds nothing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "zramfs/chunk.h"
#include "zramfs/mem.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#define KIB 1024u
#define MIB (1024u * 1024u)

/* ---------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------- */

struct env {
	struct zr_arena *arena;
	struct zr_store *store;
};

static const struct zr_codec_spec LZ4 = {ZR_CODEC_LZ4, 0};
static const struct zr_codec_spec ZSTD = {ZR_CODEC_ZSTD, 3};
static const struct zr_codec_spec NONE = {ZR_CODEC_NONE, 0};

static int quick(void)
{
	const char *q = getenv("ZR_TEST_QUICK");

	return q && *q && *q != '0';
}

static __thread uint64_t rng_state = 0x243f6a8885a308d3ULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void fill_random(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rng();
}

static void fill_text(uint8_t *p, size_t n)
{
	static const char *const words[] = {"alpha ",	   "beta ",  "gamma ", "delta ",
					    "compressed ", "chunk ", "zram\n", "fuse "};

	for (size_t i = 0; i < n;) {
		const char *w = words[rng() % 8];
		size_t l = strlen(w);

		l = l < n - i ? l : n - i;
		memcpy(p + i, w, l);
		i += l;
	}
}

static void fill_word(uint8_t *p, size_t n, uint64_t word)
{
	for (size_t i = 0; i < n; i++)
		p[i] = ((const uint8_t *)&word)[i % 8];
}

/* Compression workers of the stores env_new() makes: each test group runs
 * once inline (0) and once with workers. */
static unsigned g_workers;

static struct env env_new(unsigned shift, struct zr_codec_spec codec, uint64_t limit)
{
	struct zr_arena_config ac = {.max_object = MIB, .cap_bytes = 0};
	struct env e;
	struct zr_store_config sc;

	e.arena = zr_arena_create(&ac);
	assert_non_null(e.arena);
	sc = (struct zr_store_config){shift, codec, limit, e.arena, g_workers, 0, NULL, 0, 0, false, {{0, 0}}, 0, false};
	e.store = zr_store_create(&sc);
	assert_non_null(e.store);
	assert_int_equal(zr_store_start(e.store), 0);
	return e;
}

/* sstats() / astats(): figures after the workers are done. */
static void sstats(struct zr_store *s, struct zr_store_stats *st)
{
	zr_store_sync(s);
	zr_store_get_stats(s, st);
}

static void astats(struct env *e, struct zr_arena_stats *as)
{
	zr_store_sync(e->store);
	zr_arena_get_stats(e->arena, as);
}

/* check_consistent(): the store's view of the arena matches the arena's. */
static void check_consistent(struct env *e)
{
	struct zr_store_stats st;
	struct zr_arena_stats as;

	sstats(e->store, &st);
	zr_arena_get_stats(e->arena, &as);
	assert_int_equal(as.requested_bytes, st.compr_data_size);
	assert_int_equal(st.dirty_chunks, 0);
	assert_int_equal(as.objects, st.huge_chunks + st.compressed_chunks);
	assert_int_equal(st.chunks, st.same_chunks + st.huge_chunks + st.compressed_chunks);
	assert_int_equal(st.staging_bytes, 0);
}

/* env_free(): every file must be gone; all counters back to 0. */
static void env_free(struct env *e)
{
	struct zr_store_stats st;
	struct zr_arena_stats as;

	check_consistent(e);
	sstats(e->store, &st);
	zr_arena_get_stats(e->arena, &as);
	assert_int_equal(st.orig_data_size, 0);
	assert_int_equal(st.compr_data_size, 0);
	assert_int_equal(st.chunks, 0);
	assert_int_equal(st.same_chunks, 0);
	assert_int_equal(st.huge_chunks, 0);
	assert_int_equal(st.compressed_chunks, 0);
	assert_int_equal(st.table_bytes, 0);
	assert_int_equal(as.objects, 0);
	assert_int_equal(as.requested_bytes, 0);
	zr_store_destroy(e->store);
	zr_arena_destroy(e->arena);
}

static void wr(struct zr_fdata *f, const void *buf, size_t len, uint64_t off)
{
	assert_int_equal(zr_fdata_write(f, buf, len, off), (ssize_t)len);
}

/* expect(): the file's content equals model[0..size). */
static void expect(struct zr_fdata *f, const uint8_t *model, uint64_t size)
{
	uint8_t *buf = malloc(size + 1);

	assert_non_null(buf);
	assert_int_equal(zr_fdata_size(f), size);
	assert_int_equal(zr_fdata_read(f, buf, size + 1, 0), (ssize_t)size);
	assert_memory_equal(buf, model, size);
	free(buf);
}

static void expect_zero(struct zr_fdata *f, uint64_t off, size_t len)
{
	uint8_t *buf = malloc(len), *z = calloc(1, len);

	assert_int_equal(zr_fdata_read(f, buf, len, off), (ssize_t)len);
	assert_memory_equal(buf, z, len);
	free(buf);
	free(z);
}

static struct zr_fdata_stats fstats(struct zr_fdata *f)
{
	struct zr_fdata_stats st;

	assert_int_equal(zr_fdata_sync(f), 0);
	zr_fdata_get_stats(f, &st);
	return st;
}

/* ---------------------------------------------------------------------
 * Round trips and states
 * ------------------------------------------------------------------- */

static void roundtrip_states(unsigned shift)
{
	struct env e = env_new(shift, LZ4, 0);
	struct zr_fdata *f = zr_fdata_create(e.store);
	size_t cs = 1u << shift, size = 6 * cs;
	uint8_t *m = calloc(1, size);
	struct zr_fdata_stats st;

	/* chunk 0 text, 1 random, 2 zeros, 3 a word pattern, 4 hole, 5 text */
	fill_text(m, cs);
	fill_random(m + cs, cs);
	fill_word(m + 3 * cs, cs, 0x0123456789abcdefULL);
	fill_text(m + 5 * cs, cs);
	for (int i = 0; i < 6; i++)
		if (i != 4)
			wr(f, m + i * cs, cs, (uint64_t)i * cs);
	expect(f, m, size);
	st = fstats(f);
	assert_int_equal(st.chunks, 5);
	assert_int_equal(st.compressed_chunks, 2);
	assert_int_equal(st.huge_chunks, 1);
	assert_int_equal(st.same_chunks, 2);
	assert_int_equal(st.orig_bytes, 5 * cs);
	assert_int_equal(zr_fdata_stored_bytes(f), 5 * cs);
	assert_int_equal(st.chunk_size, cs);
	assert_true(st.compr_bytes < 2 * cs + cs / 2 + cs);
	check_consistent(&e);
	/* Unaligned reads of every state, across chunk borders. */
	for (int t = 0; t < 200; t++) {
		size_t off = rng() % size, len = rng() % (2 * cs + 1);
		uint8_t *buf = malloc(len + 1);
		size_t want = len < size - off ? len : size - off;

		assert_int_equal(zr_fdata_read(f, buf, len, off), (ssize_t)want);
		assert_memory_equal(buf, m + off, want);
		free(buf);
	}
	/* Past EOF. */
	assert_int_equal(zr_fdata_read(f, m, 10, size), 0);
	assert_int_equal(zr_fdata_read(f, m, 10, size + 100), 0);
	zr_fdata_destroy(f);
	free(m);
	env_free(&e);
}

static void test_roundtrip_4k(void **state)
{
	roundtrip_states(12);
}

static void test_roundtrip_64k(void **state)
{
	roundtrip_states(16);
}

static void test_roundtrip_1m(void **state)
{
	roundtrip_states(20);
}

/* codec none: everything raw except same-filled chunks. */
static void test_codec_none(void **state)
{
	struct env e = env_new(12, NONE, 0);
	struct zr_fdata *f = zr_fdata_create(e.store);
	uint8_t m[3 * 4096] = {0};

	fill_text(m, 4096);
	fill_word(m + 4096, 4096, 0x4141414141414141ULL);
	wr(f, m, sizeof(m), 0);
	expect(f, m, sizeof(m));
	assert_int_equal(fstats(f).huge_chunks, 1);
	assert_int_equal(fstats(f).same_chunks, 2);
	zr_fdata_destroy(f);
	env_free(&e);
}

/* A 3 KiB file costs a 3 KiB-ish object, not a 64 KiB one. */
static void test_small_file(void **state)
{
	struct env e = env_new(16, LZ4, 0);
	struct zr_fdata *f = zr_fdata_create(e.store);
	uint8_t m[3000], tiny[3] = {'a', 'b', 'c'};
	struct zr_store_stats st;

	fill_random(m, sizeof(m));
	wr(f, m, sizeof(m), 0);
	expect(f, m, sizeof(m));
	assert_int_equal(fstats(f).orig_bytes, 3000);
	assert_int_equal(fstats(f).compr_bytes, 3000); /* raw */
	sstats(e.store, &st);
	assert_true(st.table_bytes <= 64);
	/* Tiny file, then appends growing the one chunk. */
	zr_fdata_truncate(f, 0);
	assert_int_equal(fstats(f).chunks, 0);
	wr(f, tiny, 3, 0);
	wr(f, m, 100, 3);
	memmove(m + 3, m, 100);
	memcpy(m, tiny, 3);
	expect(f, m, 103);
	assert_int_equal(fstats(f).orig_bytes, 103);
	zr_fdata_destroy(f);
	env_free(&e);
}

static void test_partial_overwrite(void **state)
{
	struct env e = env_new(12, LZ4, 0);
	struct zr_fdata *f = zr_fdata_create(e.store);
	size_t size = 5 * 4096;
	uint8_t *m = malloc(size), p[9000];

	fill_text(m, size);
	wr(f, m, size, 0);
	/* Small patches inside one chunk, across borders, random and zero. */
	fill_random(p, sizeof(p));
	wr(f, p, 10, 100);
	memcpy(m + 100, p, 10);
	wr(f, p, 5000, 4000);
	memcpy(m + 4000, p, 5000);
	memset(p, 0, 300);
	wr(f, p, 300, 4096 * 3 - 150);
	memset(m + 4096 * 3 - 150, 0, 300);
	expect(f, m, size);
	/* Overwrite of a same chunk, partially. */
	memset(m, 0x55, 4096);
	wr(f, m, 4096, 0);
	assert_int_equal(fstats(f).same_chunks, 1);
	wr(f, "xyz", 3, 17);
	memcpy(m + 17, "xyz", 3);
	expect(f, m, size);
	zr_fdata_destroy(f);
	free(m);
	env_free(&e);
}

/* Write past EOF leaves a zero gap; writes that start mid-chunk in a hole. */
static void test_unaligned_extend(void **state)
{
	struct env e = env_new(12, ZSTD, 0);
	struct zr_fdata *f = zr_fdata_create(e.store);
	uint8_t m[40000] = {0}, p[7000];

	fill_text(p, sizeof(p));
	wr(f, p, 7000, 30000);
	memcpy(m + 30000, p, 7000);
	expect(f, m, 37000);
	assert_int_equal(fstats(f).chunks, 3); /* chunks 7, 8, 9 */
	wr(f, p, 1, 39999);
	m[39999] = p[0];
	expect(f, m, 40000);
	assert_int_equal(zr_fdata_seek(f, 0, 0), 28672);
	zr_fdata_destroy(f);
	env_free(&e);
}

/* ---------------------------------------------------------------------
 * Truncate, punch, zero, allocate, seek
 * ------------------------------------------------------------------- */

static void tail_case(unsigned shift, void (*fill)(uint8_t *, size_t))
{
	struct env e = env_new(shift, LZ4, 0);
	struct zr_fdata *f = zr_fdata_create(e.store);
	size_t cs = 1u << shift, size = 3 * cs;
	uint8_t *m = calloc(1, 4 * cs);

	fill(m, size);
	wr(f, m, size, 0);
	/* Down into the middle of chunk 1, then back up. */
	assert_int_equal(zr_fdata_truncate(f, cs + 100), 0);
	assert_int_equal(fstats(f).orig_bytes, cs + 100);
	assert_int_equal(zr_fdata_truncate(f, 4 * cs), 0);
	memset(m + cs + 100, 0, 3 * cs - 100);
	expect(f, m, 4 * cs);
	expect_zero(f, cs + 100, 2 * cs);
	/* A write after the grow keeps the zeros between. */
	wr(f, "Q", 1, 2 * cs - 1);
	m[2 * cs - 1] = 'Q';
	expect(f, m, 4 * cs);
	/* Down to a chunk border, and to 0. */
	assert_int_equal(zr_fdata_truncate(f, cs), 0);
	assert_int_equal(fstats(f).chunks, 1);
	assert_int_equal(zr_fdata_truncate(f, 0), 0);
	assert_int_equal(fstats(f).chunks, 0);
	assert_int_equal(zr_fdata_truncate(f, 5), 0);
	expect_zero(f, 0, 5);
	zr_fdata_destroy(f);
	free(m);
	env_free(&e);
}

static void fill_pattern(uint8_t *p, size_t n)
{
	fill_word(p, n, 0x1122334455667788ULL);
}

static void test_eof_tail(void **state)
{
	tail_case(12, fill_text);
	tail_case(12, fill_random);
	tail_case(16, fill_pattern);
	tail_case(16, fill_text);
}

static void test_punch(void **state)
{
	struct env e = env_new(12, LZ4, 0);
	struct zr_fdata *f = zr_fdata_create(e.store);
	size_t size = 8 * 4096;
	uint8_t *m = malloc(size);

	fill_text(m, size);
	wr(f, m, size, 0);
	/* Whole chunks 2..3 plus partial 1 and 4. */
	assert_int_equal(zr_fdata_punch_hole(f, 4096 + 1000, 3 * 4096), 0);
	memset(m + 4096 + 1000, 0, 3 * 4096);
	expect(f, m, size);
	assert_int_equal(fstats(f).chunks, 6);
	assert_int_equal(zr_fdata_seek(f, 4096, 1), 2 * 4096);
	assert_int_equal(zr_fdata_seek(f, 2 * 4096, 0), 4 * 4096);
	/* The tail of chunk 1 was punched: its ulen shrank. */
	assert_int_equal(fstats(f).orig_bytes, 5 * 4096 + 1000);
	/* Punching what remains of chunk 1 makes it a hole. */
	assert_int_equal(zr_fdata_punch_hole(f, 4096, 1000), 0);
	memset(m + 4096, 0, 1000);
	assert_int_equal(fstats(f).chunks, 5);
	/* Zeroing the rest of chunk 4 piecewise ends in a hole too. */
	assert_int_equal(zr_fdata_punch_hole(f, 4 * 4096 + 2000, 2096), 0);
	assert_int_equal(zr_fdata_punch_hole(f, 4 * 4096, 2000), 0);
	memset(m + 4 * 4096, 0, 4096);
	assert_int_equal(fstats(f).chunks, 4);
	expect(f, m, size);
	/* Past EOF and zero length: nothing, size unchanged. */
	assert_int_equal(zr_fdata_punch_hole(f, size, 4096), 0);
	assert_int_equal(zr_fdata_punch_hole(f, 0, 0), 0);
	assert_int_equal(zr_fdata_punch_hole(f, size - 10, UINT64_MAX - size), 0);
	memset(m + size - 10, 0, 10);
	expect(f, m, size);
	check_consistent(&e);
	/* Everything. */
	assert_int_equal(zr_fdata_punch_hole(f, 0, size), 0);
	assert_int_equal(fstats(f).chunks, 0);
	assert_int_equal(zr_fdata_size(f), size);
	assert_int_equal(zr_fdata_seek(f, 0, 0), -ENXIO);
	zr_fdata_destroy(f);
	free(m);
	env_free(&e);
}

static void test_zero_range(void **state)
{
	struct env e = env_new(12, LZ4, 0);
	struct zr_fdata *f = zr_fdata_create(e.store);
	size_t size = 6 * 4096;
	uint8_t *m = calloc(1, 10 * 4096);

	fill_random(m, size);
	wr(f, m, size, 0);
	assert_int_equal(zr_fdata_zero_range(f, 4096 - 10, 2 * 4096 + 20, 0), 0);
	memset(m + 4096 - 10, 0, 2 * 4096 + 20);
	expect(f, m, size);
	assert_int_equal(fstats(f).same_chunks, 2);
	assert_int_equal(fstats(f).chunks, 6);
	/* Extending, and keep_size. */
	assert_int_equal(zr_fdata_zero_range(f, size + 4096, 4096, 1), 0);
	assert_int_equal(zr_fdata_size(f), size);
	assert_int_equal(zr_fdata_zero_range(f, size + 4096, 4096 + 7, 0), 0);
	assert_int_equal(zr_fdata_size(f), size + 2 * 4096 + 7);
	expect(f, m, size + 2 * 4096 + 7);
	/* Zero chunks are allocated: data for SEEK_DATA. */
	assert_int_equal(zr_fdata_seek(f, size, 0), size + 4096);
	assert_int_equal(zr_fdata_seek(f, size, 1), size);
	assert_int_equal(zr_fdata_zero_range(f, UINT64_MAX - 5, 10, 0), -EFBIG);
	check_consistent(&e);
	zr_fdata_destroy(f);
	free(m);
	env_free(&e);
}

static void test_allocate(void **state)
{
	struct env e = env_new(12, LZ4, 10 * 4096);
	struct zr_fdata *f = zr_fdata_create(e.store);
	uint8_t m[12 * 4096] = {0};
	struct zr_store_stats st;

	fill_text(m + 4096, 4096);
	wr(f, m + 4096, 4096, 4096);
	assert_int_equal(zr_fdata_allocate(f, 0, 3 * 4096 + 5, 1), 0);
	assert_int_equal(zr_fdata_size(f), 2 * 4096); /* keep_size */
	assert_int_equal(zr_fdata_allocate(f, 0, 3 * 4096 + 5, 0), 0);
	assert_int_equal(zr_fdata_size(f), 3 * 4096 + 5);
	expect(f, m, 3 * 4096 + 5);
	assert_int_equal(fstats(f).chunks, 4);
	assert_int_equal(fstats(f).orig_bytes, 3 * 4096 + 5);
	assert_int_equal(zr_fdata_seek(f, 0, 1), 3 * 4096 + 5);
	/* Over the limit: -ENOSPC and nothing changed. */
	sstats(e.store, &st);
	assert_int_equal(zr_fdata_allocate(f, 0, 12 * 4096, 0), -ENOSPC);
	assert_int_equal(zr_fdata_size(f), 3 * 4096 + 5);
	assert_int_equal(fstats(f).chunks, 4);
	{
		struct zr_store_stats st2;

		sstats(e.store, &st2);
		assert_int_equal(st2.orig_data_size, st.orig_data_size);
		assert_int_equal(st2.enospc_events, st.enospc_events + 1);
	}
	/* Allocated chunks can be written without running out. */
	assert_int_equal(zr_fdata_allocate(f, 0, 10 * 4096, 0), 0);
	sstats(e.store, &st);
	assert_int_equal(st.orig_data_size, 10 * 4096);
	fill_random(m, 4096);
	wr(f, m, 4096, 9 * 4096);
	assert_int_equal(zr_fdata_allocate(f, 0, 12 * 4096, 0), -ENOSPC);
	assert_int_equal(zr_fdata_allocate(f, UINT64_MAX, 1, 0), -EFBIG);
	zr_fdata_destroy(f);
	env_free(&e);
}

static void test_seek(void **state)
{
	struct env e = env_new(12, LZ4, 0);
	struct zr_fdata *f = zr_fdata_create(e.store);
	uint8_t b[100];

	memset(b, 'x', sizeof(b));
	assert_int_equal(zr_fdata_seek(f, 0, 0), -ENXIO);
	assert_int_equal(zr_fdata_seek(f, 0, 1), -ENXIO);
	assert_int_equal(zr_fdata_truncate(f, 1ULL << 40), 0);
	wr(f, b, 100, 5 * 4096 + 10);
	wr(f, b, 100, (1ULL << 36) + 1);
	assert_int_equal(zr_fdata_seek(f, 0, 0), 5 * 4096);
	assert_int_equal(zr_fdata_seek(f, 5 * 4096 + 50, 0), 5 * 4096 + 50);
	assert_int_equal(zr_fdata_seek(f, 0, 1), 0);
	assert_int_equal(zr_fdata_seek(f, 5 * 4096 + 50, 1), 6 * 4096);
	assert_int_equal(zr_fdata_seek(f, 6 * 4096, 0), 1ULL << 36);
	assert_int_equal(zr_fdata_seek(f, (1ULL << 36) + 4096, 0), -ENXIO);
	assert_int_equal(zr_fdata_seek(f, (1ULL << 36) + 4096, 1), (1ULL << 36) + 4096);
	assert_int_equal(zr_fdata_seek(f, 1ULL << 40, 1), -ENXIO);
	/* Implicit hole at EOF: a file ending in data. */
	assert_int_equal(zr_fdata_truncate(f, (1ULL << 36) + 50), 0);
	assert_int_equal(zr_fdata_seek(f, 1ULL << 36, 1), (1ULL << 36) + 50);
	zr_fdata_destroy(f);
	env_free(&e);
}

/* A huge sparse file costs (nearly) no table. */
static void test_sparse_table(void **state)
{
	struct env e = env_new(12, LZ4, 0);
	struct zr_fdata *f = zr_fdata_create(e.store);
	struct zr_store_stats st;
	uint8_t b[4096];

	fill_text(b, sizeof(b));
	assert_int_equal(zr_fdata_truncate(f, ZR_MAX_FILE_SIZE), 0);
	sstats(e.store, &st);
	assert_int_equal(st.table_bytes, 0);
	wr(f, b, 4096, ZR_MAX_FILE_SIZE - 4096);
	wr(f, b, 4096, 0);
	wr(f, b, 4096, 1ULL << 30);
	sstats(e.store, &st);
	assert_true(st.table_bytes < 16 * KIB);
	assert_int_equal(zr_fdata_seek(f, 4096, 0), 1ULL << 30);
	assert_int_equal(zr_fdata_seek(f, (1ULL << 30) + 1, 0), (1ULL << 30) + 1);
	assert_int_equal(zr_fdata_seek(f, (1ULL << 30) + 4096, 0), ZR_MAX_FILE_SIZE - 4096);
	expect_zero(f, ZR_MAX_FILE_SIZE - 8192, 4096);
	assert_int_equal(zr_fdata_punch_hole(f, 0, ZR_MAX_FILE_SIZE), 0);
	sstats(e.store, &st);
	assert_int_equal(st.table_bytes, 0);
	assert_int_equal(st.chunks, 0);
	zr_fdata_destroy(f);
	env_free(&e);
}

/* ---------------------------------------------------------------------
 * Limits
 * ------------------------------------------------------------------- */

static void test_enospc(void **state)
{
	struct env e = env_new(12, LZ4, 5 * 4096);
	struct zr_fdata *f = zr_fdata_create(e.store), *g = zr_fdata_create(e.store);
	uint8_t m[8 * 4096], old[8 * 4096];
	struct zr_store_stats st;
	ssize_t n;

	fill_text(m, sizeof(m));
	wr(f, m, 3 * 4096, 0);
	memcpy(old, m, 3 * 4096);
	/* Second file: 2 chunks fit, the third fails: short write. */
	n = zr_fdata_write(g, m, 3 * 4096, 0);
	assert_int_equal(n, 2 * 4096);
	assert_int_equal(zr_fdata_size(g), 2 * 4096);
	assert_int_equal(zr_fdata_write(g, m, 100, 2 * 4096), -ENOSPC);
	assert_int_equal(zr_fdata_size(g), 2 * 4096);
	sstats(e.store, &st);
	assert_int_equal(st.orig_data_size, 5 * 4096);
	assert_int_equal(st.enospc_events, 2);
	assert_int_equal(st.failed_writes, 2);
	/* Overwrites that do not grow the stored size still work. */
	fill_random(m, 4096);
	wr(f, m, 4096, 0);
	memcpy(old, m, 4096);
	expect(f, old, 3 * 4096);
	/* zero_range over the limit: nothing changed. */
	assert_int_equal(zr_fdata_zero_range(g, 0, 8 * 4096, 0), -ENOSPC);
	assert_int_equal(zr_fdata_size(g), 2 * 4096);
	sstats(e.store, &st);
	assert_int_equal(st.orig_data_size, 5 * 4096);
	/* Freeing space lets writes through again. */
	assert_int_equal(zr_store_size_limit(e.store), 5 * 4096);
	assert_int_equal(zr_fdata_punch_hole(f, 0, 4096), 0);
	wr(g, m, 100, 2 * 4096);
	zr_store_set_size_limit(e.store, 0);
	wr(g, m, sizeof(m), 4096);
	zr_fdata_destroy(f);
	zr_fdata_destroy(g);
	env_free(&e);
}

/* Arena refusals (here: objects above max_object) fail the chunk and keep
 * its old contents; earlier chunks of the write stay written. */
static void test_arena_failure(void **state)
{
	struct zr_arena_config ac = {.max_object = 2048, .cap_bytes = 0};
	struct env e;
	struct zr_store_config sc;
	struct zr_fdata *f;
	uint8_t m[3 * 4096], p[2 * 4096];
	struct zr_store_stats st, st2;

	e.arena = zr_arena_create(&ac);
	sc = (struct zr_store_config){12, LZ4, 0, e.arena, 0, 0, NULL, 0, 0, false, {{0, 0}}, 0, false}; /* inline */
	e.store = zr_store_create(&sc);
	f = zr_fdata_create(e.store);
	fill_text(m, sizeof(m));
	wr(f, m, sizeof(m), 0);
	sstats(e.store, &st);
	fill_text(p, 4096);
	fill_random(p + 4096, 4096);
	assert_int_equal(zr_fdata_write(f, p, 2 * 4096, 0), 4096);
	memcpy(m, p, 4096);
	expect(f, m, sizeof(m));
	assert_int_equal(zr_fdata_write(f, p + 4096, 4096, 4096), -ENOMEM);
	assert_int_equal(zr_fdata_write(f, p + 4096, 3000, 4096 + 50), -ENOMEM);
	expect(f, m, sizeof(m));
	/* Appending a chunk that cannot be stored leaves the size alone. */
	assert_int_equal(zr_fdata_write(f, p + 4096, 4096, sizeof(m)), -ENOMEM);
	assert_int_equal(zr_fdata_size(f), sizeof(m));
	sstats(e.store, &st2);
	assert_int_equal(st2.failed_writes, st.failed_writes + 4);
	assert_int_equal(st2.enospc_events, 0);
	assert_int_equal(st2.orig_data_size, sizeof(m));
	check_consistent(&e);
	zr_fdata_destroy(f);
	env_free(&e);
}

/* The arena's cap: -ENOSPC, counted, nothing changed. */
static void test_arena_cap(void **state)
{
	struct env e;
	struct zr_fdata *f;
	uint8_t m[2 * 4096], p[4096];
	struct zr_store_stats st;
	struct zr_arena_stats as;

	if (g_workers)
		skip(); /* errors come at sync: test_worker_failure */
	e = env_new(12, LZ4, 0);
	f = zr_fdata_create(e.store);
	fill_text(m, sizeof(m));
	wr(f, m, sizeof(m), 0);
	astats(&e, &as);
	zr_arena_set_cap(e.arena, 1);
	fill_random(p, sizeof(p));
	assert_int_equal(zr_fdata_write(f, p, 4096, 4096 * 10), -ENOSPC);
	assert_int_equal(zr_fdata_write(f, p, 100, 4096 + 5), -ENOSPC);
	expect(f, m, sizeof(m));
	sstats(e.store, &st);
	assert_int_equal(st.enospc_events, 2);
	assert_int_equal(st.orig_data_size, sizeof(m));
	/* Same-filled chunks need no arena memory. */
	memset(p, 7, sizeof(p));
	wr(f, p, 4096, 4096);
	zr_arena_set_cap(e.arena, 0);
	zr_fdata_destroy(f);
	env_free(&e);
}

static void test_efbig(void **state)
{
	struct env e = env_new(12, LZ4, 0);
	struct zr_fdata *f = zr_fdata_create(e.store);
	uint8_t b[8192] = {1};

	assert_int_equal(zr_fdata_write(f, b, 1, ZR_MAX_FILE_SIZE), -EFBIG);
	assert_int_equal(zr_fdata_write(f, b, 1, UINT64_MAX - 1), -EFBIG);
	assert_int_equal(zr_fdata_truncate(f, ZR_MAX_FILE_SIZE + 1), -EFBIG);
	assert_int_equal(zr_fdata_truncate(f, ZR_MAX_FILE_SIZE), 0);
	/* Straddling the maximum: short write up to it. */
	assert_int_equal(zr_fdata_write(f, b, 8192, ZR_MAX_FILE_SIZE - 100), 100);
	assert_int_equal(zr_fdata_size(f), ZR_MAX_FILE_SIZE);
	assert_int_equal(zr_fdata_allocate(f, ZR_MAX_FILE_SIZE, 1, 0), -EFBIG);
	zr_fdata_destroy(f);
	env_free(&e);
}

static void test_bad_config(void **state)
{
	struct zr_arena_config ac = {.max_object = MIB, .cap_bytes = 0};
	struct zr_arena *a = zr_arena_create(&ac);
	struct zr_store_config c = {11, LZ4, 0, a, 0, 0, NULL, 0, 0, false, {{0, 0}}, 0, false};

	assert_null(zr_store_create(&c));
	c.chunk_shift = 21;
	assert_null(zr_store_create(&c));
	c.chunk_shift = 12;
	c.arena = NULL;
	assert_null(zr_store_create(&c));
	c.arena = a;
	c.codec = (struct zr_codec_spec){ZR_CODEC_ZSTD, 0};
	assert_null(zr_store_create(&c));
	assert_null(zr_store_create(NULL));
	zr_arena_destroy(a);
}

/* ---------------------------------------------------------------------
 * Copy
 * ------------------------------------------------------------------- */

static void test_copy(void **state)
{
	struct env e = env_new(12, LZ4, 0);
	struct zr_fdata *s = zr_fdata_create(e.store), *d = zr_fdata_create(e.store);
	size_t size = 6 * 4096 + 300;
	uint8_t *m = calloc(1, 16 * 4096), *dm = calloc(1, 16 * 4096);
	struct zr_arena_stats a0, a1;

	fill_text(m, size);
	fill_random(m + 4096, 4096);
	memset(m + 2 * 4096, 0, 4096);
	wr(s, m, size, 0);
	assert_int_equal(zr_fdata_punch_hole(s, 3 * 4096, 4096), 0);
	memset(m + 3 * 4096, 0, 4096);
	/* Aligned, whole chunks: records cloned. */
	fill_random(dm, 8 * 4096);
	wr(d, dm, 8 * 4096, 0);
	astats(&e, &a0);
	assert_int_equal(zr_fdata_copy(d, 4096, s, 0, 10 * 4096), (ssize_t)size);
	memcpy(dm + 4096, m, size);
	expect(d, dm, 8 * 4096);
	astats(&e, &a1);
	assert_true(a1.objects <= a0.objects + 2);
	assert_int_equal(zr_fdata_seek(d, 4 * 4096, 1), 4 * 4096); /* hole copied */
	check_consistent(&e);
	/* Unaligned. */
	assert_int_equal(zr_fdata_copy(d, 12345, s, 777, 3 * 4096), 3 * 4096);
	memcpy(dm + 12345, m + 777, 3 * 4096);
	expect(d, dm, 8 * 4096);
	/* Past the destination's EOF: grows it. */
	assert_int_equal(zr_fdata_copy(d, 9 * 4096, s, 4096, 2 * 4096), 2 * 4096);
	memcpy(dm + 9 * 4096, m + 4096, 2 * 4096);
	expect(d, dm, 11 * 4096);
	/* Same file, non-overlapping, both ways; overlapping: -EINVAL. */
	assert_int_equal(zr_fdata_copy(d, 0, d, 5 * 4096, 4096 + 10), 4096 + 10);
	memmove(dm, dm + 5 * 4096, 4096 + 10);
	assert_int_equal(zr_fdata_copy(d, 6 * 4096 + 1, d, 100, 4000), 4000);
	memmove(dm + 6 * 4096 + 1, dm + 100, 4000);
	expect(d, dm, 11 * 4096);
	assert_int_equal(zr_fdata_copy(d, 100, d, 50, 100), -EINVAL);
	/* Source EOF: short, and 0 past it. */
	assert_int_equal(zr_fdata_copy(d, 0, s, size - 10, 100), 10);
	memcpy(dm, m + size - 10, 10);
	assert_int_equal(zr_fdata_copy(d, 0, s, size, 100), 0);
	expect(d, dm, 11 * 4096);
	/* Tail chunk of the source cloned at the end of the destination. */
	assert_int_equal(zr_fdata_truncate(d, 0), 0);
	assert_int_equal(zr_fdata_copy(d, 0, s, 0, size), (ssize_t)size);
	expect(d, m, size);
	assert_int_equal(fstats(d).orig_bytes, fstats(s).orig_bytes);
	assert_int_equal(fstats(d).compr_bytes, fstats(s).compr_bytes);
	/* Destination with a different chunk size: through the buffer. */
	zr_fdata_destroy(s);
	zr_fdata_destroy(d);
	free(m);
	free(dm);
	env_free(&e);
}

static void test_copy_shifts(void **state)
{
	struct env e = env_new(12, LZ4, 0), e2 = env_new(16, ZSTD, 0);
	struct zr_fdata *s = zr_fdata_create(e.store), *d = zr_fdata_create(e2.store);
	uint8_t *m = malloc(200000);

	fill_text(m, 200000);
	wr(s, m, 200000, 0);
	assert_int_equal(zr_fdata_copy(d, 0, s, 0, 200000), 200000);
	expect(d, m, 200000);
	assert_int_equal(zr_fdata_copy(s, 0, d, 65536, 65536), 65536);
	memcpy(m, m + 65536, 65536);
	expect(s, m, 200000);
	zr_fdata_destroy(s);
	zr_fdata_destroy(d);
	free(m);
	env_free(&e);
	env_free(&e2);
}

/* A per-file chunk size: set while empty, refused once data is stored or
 * above the store's; small random writes land in 4K chunks, copies
 * between the two sizes keep the bytes, punching one page frees it. */
static void test_file_chunk_shift(void **state)
{
	struct env e = env_new(16, LZ4, 0);
	struct zr_fdata *small = zr_fdata_create(e.store), *big = zr_fdata_create(e.store);
	struct zr_store_stats st;
	uint8_t *m = calloc(1, 262144);

	assert_int_equal(zr_fdata_set_chunk_shift(small, 17), -EINVAL);
	assert_int_equal(zr_fdata_set_chunk_shift(small, 11), -EINVAL);
	assert_int_equal(zr_fdata_set_chunk_shift(small, 12), 0);
	assert_int_equal(zr_fdata_chunk_shift(small), 12);
	assert_int_equal(zr_fdata_chunk_shift(big), 16);
	fill_text(m + 8192, 4096);
	fill_text(m + 200704, 4096);
	wr(small, m + 8192, 4096, 8192);
	wr(small, m + 200704, 4096, 200704);
	assert_int_equal(zr_fdata_truncate(small, 262144), 0);
	sstats(e.store, &st);
	assert_int_equal(st.compressed_chunks + st.huge_chunks, 2);
	expect(small, m, 262144);
	assert_int_equal(zr_fdata_set_chunk_shift(small, 16), -EBUSY);
	assert_int_equal(zr_fdata_copy(big, 0, small, 0, 262144), 262144);
	expect(big, m, 262144);
	assert_int_equal(zr_fdata_punch_hole(small, 8192, 4096), 0);
	memset(m + 8192, 0, 4096);
	expect(small, m, 262144);
	sstats(e.store, &st);
	assert_int_equal(st.orig_data_size, 4096 + 65536 * 4);
	assert_int_equal(zr_fdata_truncate(small, 0), 0);
	assert_int_equal(zr_fdata_set_chunk_shift(small, 14), 0);
	zr_fdata_destroy(small);
	zr_fdata_destroy(big);
	free(m);
	check_consistent(&e);
	env_free(&e);
}

/* ---------------------------------------------------------------------
 * Codec policy and counters
 * ------------------------------------------------------------------- */

/* recompress: stored chunks shrink under a stronger codec, contents and
 * holes stay, raw and same chunks are left alone, figures stay exact. */
static void test_recompress(void **state)
{
	struct env e = env_new(16, LZ4, 0);
	struct zr_fdata *f = zr_fdata_create(e.store);
	const size_t cs = 65536, n = 6 * cs;
	uint8_t *m = calloc(1, n);
	struct zr_codec_spec z19 = {ZR_CODEC_ZSTD, 19};
	uint64_t before, saved;

	fill_text(m, 3 * cs);			/* chunks 0-2: text */
	fill_random(m + 3 * cs, cs);		/* chunk 3: raw */
	fill_word(m + 4 * cs, cs, 0x2a2a2a2a2a2a2a2aULL); /* 4: same */
	wr(f, m, 5 * cs, 0);
	assert_int_equal(zr_fdata_truncate(f, n), 0); /* chunk 5: hole */
	zr_fdata_sync(f);
	before = fstats(f).compr_bytes;
	assert_int_equal(zr_fdata_recompress(f, NONE, &saved), -EINVAL);
	assert_int_equal(zr_fdata_recompress(f, z19, &saved), 0);
	assert_true(saved > 0);
	assert_int_equal(fstats(f).compr_bytes, before - saved);
	assert_int_equal(fstats(f).compressed_chunks, 3);
	assert_int_equal(fstats(f).huge_chunks, 1);
	assert_int_equal(fstats(f).same_chunks, 1);
	assert_int_equal(zr_fdata_get_codec(f).id, ZR_CODEC_ZSTD);
	assert_int_equal(zr_fdata_seek(f, 5 * cs, 1), (int64_t)(5 * cs));
	expect(f, m, n);
	/* again with the same codec: nothing left to gain */
	assert_int_equal(zr_fdata_recompress(f, z19, &saved), 0);
	assert_int_equal(saved, 0);
	expect(f, m, n);
	check_consistent(&e);
	zr_fdata_destroy(f);
	free(m);
	env_free(&e);
}

static void test_codec_switch(void **state)
{
	struct env e = env_new(16, ZSTD, 0);
	struct zr_fdata *f = zr_fdata_create(e.store);
	uint8_t *m = malloc(4 * 65536);
	struct zr_codec_spec c;

	fill_text(m, 4 * 65536);
	c = zr_fdata_get_codec(f);
	assert_int_equal(c.id, ZR_CODEC_ZSTD);
	assert_int_equal(c.level, 3);
	wr(f, m, 2 * 65536, 0);
	zr_fdata_set_codec(f, LZ4);
	assert_int_equal(zr_fdata_get_codec(f).id, ZR_CODEC_LZ4);
	wr(f, m + 2 * 65536, 65536, 2 * 65536);
	zr_fdata_set_codec(f, NONE);
	wr(f, m + 3 * 65536, 65536, 3 * 65536);
	expect(f, m, 4 * 65536);
	assert_int_equal(fstats(f).compressed_chunks, 3);
	assert_int_equal(fstats(f).huge_chunks, 1);
	/* RMW of a zstd chunk under codec none. */
	wr(f, "hello", 5, 1000);
	memcpy(m + 1000, "hello", 5);
	expect(f, m, 4 * 65536);
	assert_int_equal(fstats(f).codec.id, ZR_CODEC_NONE);
	zr_fdata_destroy(f);
	free(m);
	env_free(&e);
}

static void test_stats(void **state)
{
	struct env e = env_new(12, LZ4, 0);
	struct zr_fdata *f[4];
	uint8_t b[3 * 4096];
	struct zr_store_stats st;
	uint64_t orig = 0, compr = 0;

	for (int i = 0; i < 4; i++) {
		f[i] = zr_fdata_create(e.store);
		fill_text(b, 4096);
		fill_random(b + 4096, 4096);
		memset(b + 8192, i, 4096);
		wr(f[i], b, sizeof(b) - (size_t)i * 1000, (uint64_t)i * 10000);
	}
	sstats(e.store, &st);
	for (int i = 0; i < 4; i++) {
		orig += fstats(f[i]).orig_bytes;
		compr += fstats(f[i]).compr_bytes;
	}
	assert_int_equal(st.orig_data_size, orig);
	assert_int_equal(st.compr_data_size, compr);
	assert_true(st.table_bytes > 0);
	check_consistent(&e);
	for (int i = 0; i < 4; i++)
		zr_fdata_destroy(f[i]);
	zr_fdata_destroy(NULL);
	env_free(&e);
}

/* ---------------------------------------------------------------------
 * Randomized model test
 * ------------------------------------------------------------------- */

struct model {
	uint8_t *buf;
	uint64_t size, cap;
};

static void model_grow(struct model *m, uint64_t size)
{
	assert_true(size <= m->cap);
	if (size > m->size)
		memset(m->buf + m->size, 0, size - m->size);
	m->size = size;
}

static void rand_data(uint8_t *p, size_t n)
{
	switch (rng() % 4) {
	case 0:
		fill_random(p, n);
		break;
	case 1:
		fill_text(p, n);
		break;
	case 2:
		memset(p, 0, n);
		break;
	default:
		fill_word(p, n, rng() % 3 ? rng() : 0x2020202020202020ULL);
		break;
	}
}

static void model_op(struct zr_fdata *f, struct model *m, uint8_t *tmp, unsigned cs)
{
	uint64_t off = rng() % (m->cap - 1), len = 1 + rng() % (rng() % 4 ? cs + cs / 2 : 4 * cs);
	uint64_t end;

	if (off + len > m->cap)
		len = m->cap - off;
	end = off + len;
	switch (rng() % 10) {
	case 0:
	case 1:
	case 2:
		if (rng() % 3 == 0) { /* chunk aligned, whole chunks */
			off &= ~(uint64_t)(cs - 1);
			len = (1 + rng() % 3) * cs;
			if (off + len > m->cap)
				len = m->cap - off;
			end = off + len;
		}
		rand_data(tmp, len);
		wr(f, tmp, len, off);
		model_grow(m, end > m->size ? end : m->size);
		memcpy(m->buf + off, tmp, len);
		break;
	case 3:
		off = rng() % 2 ? off : (rng() % (m->size + 1));
		assert_int_equal(zr_fdata_truncate(f, off), 0);
		if (off < m->size)
			m->size = off;
		else
			model_grow(m, off);
		break;
	case 4:
		assert_int_equal(zr_fdata_punch_hole(f, off, len), 0);
		if (off < m->size)
			memset(m->buf + off, 0, (end < m->size ? end : m->size) - off);
		break;
	case 5: {
		int keep = rng() % 2;

		assert_int_equal(zr_fdata_zero_range(f, off, len, keep), 0);
		if (!keep && end > m->size)
			model_grow(m, end);
		if (off < m->size)
			memset(m->buf + off, 0, (end < m->size ? end : m->size) - off);
		break;
	}
	case 6: {
		int keep = rng() % 2;

		assert_int_equal(zr_fdata_allocate(f, off, len, keep), 0);
		if (!keep && end > m->size)
			model_grow(m, end);
		break;
	}
	case 7: {
		uint64_t src = rng() % (m->size + 1), n;
		ssize_t r;

		if (rng() % 2) {
			src &= ~(uint64_t)(cs - 1);
			off &= ~(uint64_t)(cs - 1);
		}
		if (off + len > m->cap)
			len = m->cap - off;
		n = src < m->size ? (len < m->size - src ? len : m->size - src) : 0;
		r = zr_fdata_copy(f, off, f, src, len);
		if (n && src < off + n && off < src + n) {
			assert_int_equal(r, -EINVAL);
			break;
		}
		assert_int_equal(r, (ssize_t)n);
		if (n) {
			memmove(m->buf + off, m->buf + src, n); /* no overlap */
			if (off + n > m->size) {
				uint64_t old = m->size;

				m->size = off + n;
				if (old < off)
					memset(m->buf + old, 0, off - old);
			}
		}
		break;
	}
	case 8: {
		static const struct zr_codec_spec specs[] = {
		    {ZR_CODEC_LZ4, 0}, {ZR_CODEC_ZSTD, 1}, {ZR_CODEC_NONE, 0}};

		zr_fdata_set_codec(f, specs[rng() % 3]);
		break;
	}
	default: {
		int64_t r;
		int hole;

		if (!m->size)
			break;
		off = rng() % m->size;
		hole = (int)(rng() % 2);
		r = zr_fdata_seek(f, off, hole);
		if (!hole && r == -ENXIO)
			break; /* no data after off */
		assert_true(r >= (int64_t)off && r <= (int64_t)m->size);
		/* Data before the hole/data found reads as data/zeros. */
		if (!hole)
			assert_true(r < (int64_t)m->size);
		break;
	}
	}
}

static void model_run(unsigned shift, unsigned chunks, int iters)
{
	struct env e = env_new(shift, LZ4, 0);
	struct zr_fdata *f = zr_fdata_create(e.store);
	unsigned cs = 1u << shift;
	struct model m = {.cap = (uint64_t)chunks * cs};
	uint8_t *tmp = malloc(m.cap), *rd = malloc(m.cap + 1);

	m.buf = calloc(1, m.cap);
	if (getenv("ZR_TEST_SEED")) /* reproduce or widen: any nonzero number */
		rng_state = strtoull(getenv("ZR_TEST_SEED"), NULL, 0) | 1;
	for (int it = 0; it < iters; it++) {
		struct zr_store_stats st;

		model_op(f, &m, tmp, cs);
		assert_int_equal(zr_fdata_size(f), m.size);
		assert_int_equal(zr_fdata_read(f, rd, m.cap + 1, 0), (ssize_t)m.size);
		if (memcmp(rd, m.buf, m.size)) {
			for (uint64_t i = 0; i < m.size; i++)
				if (rd[i] != m.buf[i])
					fail_msg("iter %d: first difference at %llu", it,
						 (unsigned long long)i);
		}
		sstats(e.store, &st);
		assert_int_equal(st.orig_data_size, zr_fdata_stored_bytes(f));
		assert_true(st.orig_data_size <= m.size);
		check_consistent(&e);
	}
	zr_fdata_destroy(f);
	free(tmp);
	free(rd);
	free(m.buf);
	env_free(&e);
}

static void test_model_4k(void **state)
{
	model_run(12, 24, quick() ? 300 : 3000);
}

static void test_model_64k(void **state)
{
	model_run(16, 6, quick() ? 100 : 600);
}

/* ---------------------------------------------------------------------
 * Threads
 * ------------------------------------------------------------------- */

#define T_BLOCK	 4096u
#define T_BLOCKS 32u

struct tshared {
	struct env *e;
	struct zr_fdata *shared;
	int iters;
	int id;
};

/* A self-checking block: tag in the first 8 bytes, content derived from it. */
static void make_block(uint8_t *b, uint64_t tag)
{
	uint64_t s = tag * 0x9e3779b97f4a7c15ULL + 1;

	memcpy(b, &tag, 8);
	if (tag % 3 == 0) {
		memset(b + 8, (int)(tag & 0xff), T_BLOCK - 8);
		return;
	}
	for (unsigned i = 8; i < T_BLOCK; i++) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		b[i] = tag % 3 == 1 ? (uint8_t)s : (uint8_t)('a' + s % 4);
	}
}

static int check_block(const uint8_t *b)
{
	uint8_t want[T_BLOCK];
	uint64_t tag;
	static const uint8_t zero[T_BLOCK];

	if (!memcmp(b, zero, T_BLOCK))
		return 1; /* not yet written */
	memcpy(&tag, b, 8);
	make_block(want, tag);
	return !memcmp(want, b, T_BLOCK);
}

static void *writer(void *arg)
{
	struct tshared *t = arg;
	struct zr_fdata *own = zr_fdata_create(t->e->store);
	uint8_t b[T_BLOCK], r[T_BLOCK];

	rng_state ^= (uint64_t)(t->id + 1) * 0x1234567ULL;
	for (int i = 0; i < t->iters; i++) {
		uint64_t tag = rng() | 1, blk = rng() % T_BLOCKS;

		make_block(b, tag);
		if (zr_fdata_write(t->shared, b, T_BLOCK, blk * T_BLOCK) != T_BLOCK)
			abort();
		if (zr_fdata_write(own, b, T_BLOCK, blk * T_BLOCK) != T_BLOCK)
			abort();
		if (zr_fdata_read(own, r, T_BLOCK, blk * T_BLOCK) != T_BLOCK ||
		    memcmp(r, b, T_BLOCK))
			abort();
		if (i % 16 == 0)
			zr_fdata_punch_hole(own, (rng() % T_BLOCKS) * T_BLOCK, T_BLOCK);
		if (i % 32 == 0) {
			zr_fdata_set_codec(t->shared, i % 64 ? LZ4 : ZSTD);
			zr_fdata_copy(own, 0, t->shared, 0, 2 * T_BLOCK);
		}
	}
	zr_fdata_destroy(own);
	return NULL;
}

static void *reader(void *arg)
{
	struct tshared *t = arg;
	uint8_t b[2 * T_BLOCK];
	struct zr_fdata_stats st;
	struct zr_store_stats ss;

	rng_state ^= (uint64_t)(t->id + 1) * 0x7654321ULL;
	for (int i = 0; i < t->iters * 2; i++) {
		uint64_t blk = rng() % T_BLOCKS;
		ssize_t n = zr_fdata_read(t->shared, b, 2 * T_BLOCK, blk * T_BLOCK);

		if (n < 0)
			abort();
		for (ssize_t o = 0; o + T_BLOCK <= n; o += T_BLOCK)
			if (!check_block(b + o))
				abort();
		zr_fdata_get_stats(t->shared, &st);
		zr_store_get_stats(t->e->store, &ss);
		(void)zr_fdata_seek(t->shared, blk * T_BLOCK, (int)(i & 1));
		(void)zr_fdata_stored_bytes(t->shared);
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct env e = env_new(12, LZ4, 0);
	struct zr_fdata *shared = zr_fdata_create(e.store);
	enum { NW = 3, NR = 3 };
	pthread_t th[NW + NR];
	struct tshared ts[NW + NR];
	int iters = quick() ? 200 : 2000;

	assert_int_equal(zr_fdata_truncate(shared, T_BLOCKS * T_BLOCK), 0);
	for (int i = 0; i < NW + NR; i++) {
		ts[i] = (struct tshared){&e, shared, iters, i};
		assert_int_equal(pthread_create(&th[i], NULL, i < NW ? writer : reader, &ts[i]), 0);
	}
	for (int i = 0; i < NW + NR; i++)
		pthread_join(th[i], NULL);
	check_consistent(&e);
	zr_fdata_destroy(shared);
	env_free(&e);
}


/* ---------------------------------------------------------------------
 * Workers: staging, versions, races, the staging bound
 * ------------------------------------------------------------------- */

static struct env env_workers(unsigned shift, struct zr_codec_spec codec, unsigned workers,
			      uint64_t staging)
{
	struct zr_arena_config ac = {.max_object = MIB, .cap_bytes = 0};
	struct zr_store_config sc;
	struct env e;

	e.arena = zr_arena_create(&ac);
	assert_non_null(e.arena);
	sc = (struct zr_store_config){shift, codec, 0, e.arena, workers, staging, NULL, 0, 0, false, {{0, 0}}, 0, false};
	e.store = zr_store_create(&sc);
	assert_non_null(e.store);
	assert_int_equal(zr_store_start(e.store), 0);
	return e;
}

/* Reads right after writes (chunks dirty or being compressed) see the
 * newest bytes; after a sync nothing is dirty and the figures add up. */
/* The housekeeping trim: staging buffers stay while writes take them, and
 * go once a call finds no write since the previous one and none queued. */
static void test_trim_idle(void **state)
{
	struct env e = env_workers(16, ZSTD, 2, 2 * MIB);
	struct zr_fdata *f = zr_fdata_create(e.store);
	uint8_t *m = malloc(MIB);
	struct zr_store_stats st;

	fill_text(m, MIB);
	wr(f, m, MIB, 0);
	assert_int_equal(zr_fdata_sync(f), 0);	/* queued: none */
	zr_store_trim_idle(e.store);	/* writes since the last call: kept */
	zr_store_get_stats(e.store, &st);
	assert_true(st.staging_bytes > 0);
	zr_store_trim_idle(e.store);	/* idle for one call: freed */
	zr_store_get_stats(e.store, &st);
	assert_int_equal(st.staging_bytes, 0);
	expect(f, m, MIB);
	zr_fdata_destroy(f);
	free(m);
	env_free(&e);
}

static void test_dirty_reads(void **state)
{
	enum { SIZE = 8 * MIB };
	struct env e = env_workers(16, ZSTD, 2, 2 * MIB);
	struct zr_fdata *f = zr_fdata_create(e.store);
	uint8_t *m = malloc(SIZE), *b = malloc(SIZE);
	struct zr_store_stats st;

	fill_text(m, SIZE);
	for (int round = 0; round < 3; round++) {
		for (uint64_t off = 0; off < SIZE; off += 300 * KIB) {
			size_t n = (size_t)(SIZE - off < 300 * KIB ? SIZE - off : 300 * KIB);

			fill_text(m + off, n / 3);
			wr(f, m + off, n, off);
			assert_int_equal(zr_fdata_read(f, b, n, off), (ssize_t)n);
			assert_memory_equal(b, m + off, n);
		}
		expect(f, m, SIZE);
	}
	assert_int_equal(zr_fdata_sync(f), 0);
	sstats(e.store, &st);
	assert_int_equal(st.dirty_chunks, 0);
	assert_int_equal(st.staging_bytes, 0);
	assert_int_equal(st.chunks, SIZE / 65536);
	assert_int_equal(st.orig_data_size, SIZE);
	assert_true(st.pool_jobs_done >= SIZE / 65536);
	assert_int_equal(st.pool_queued + st.pool_running, 0);
	expect(f, m, SIZE);
	zr_fdata_destroy(f);
	free(m);
	free(b);
	env_free(&e);
}

/* Many threads hammer one chunk while workers compress it: each thread owns
 * a 4 KiB slice and rewrites it with a rising tag; a write is never lost,
 * so the end state is every thread's last write. */
struct hammer {
	struct zr_fdata *f;
	unsigned id, iters;
};

static void hammer_fill(uint8_t *b, unsigned id, unsigned tag)
{
	for (unsigned i = 0; i < 4096; i += 4) {
		uint32_t v = (id << 24) ^ (tag * 2654435761u) ^ (i / 64);

		memcpy(b + i, &v, 4);
	}
}

static void *hammer_main(void *arg)
{
	struct hammer *h = arg;
	uint8_t b[4096];

	for (unsigned t = 1; t <= h->iters; t++) {
		hammer_fill(b, h->id, t);
		assert_int_equal(zr_fdata_write(h->f, b, sizeof(b), h->id * 4096ull), 4096);
	}
	return NULL;
}

static void test_overwrite_during_compress(void **state)
{
	enum { T = 8 };
	struct env e = env_workers(16, ZSTD, 2, 0);
	struct zr_fdata *f = zr_fdata_create(e.store);
	struct hammer h[T];
	pthread_t th[T];
	uint8_t want[4096], got[4096], whole[T * 4096];
	unsigned iters = quick() ? 300 : 3000;

	for (unsigned i = 0; i < T; i++) {
		h[i] = (struct hammer){f, i, iters};
		pthread_create(&th[i], NULL, hammer_main, &h[i]);
	}
	/* Meanwhile: whole-chunk overwrites by this thread, kept below the
	 * slices' final state by writing first. */
	for (unsigned i = 0; i < T; i++)
		pthread_join(th[i], NULL);
	for (unsigned i = 0; i < T; i++) {
		hammer_fill(want, i, iters);
		assert_int_equal(zr_fdata_read(f, got, 4096, i * 4096ull), 4096);
		assert_memory_equal(got, want, 4096);
	}
	assert_int_equal(zr_fdata_sync(f), 0);
	assert_int_equal(zr_fdata_read(f, whole, sizeof(whole), 0), (ssize_t)sizeof(whole));
	for (unsigned i = 0; i < T; i++) {
		hammer_fill(want, i, iters);
		assert_memory_equal(whole + i * 4096, want, 4096);
	}
	/* Serialized last writer of the whole chunk wins. */
	for (unsigned t = 0; t < 200; t++) {
		fill_text(whole, sizeof(whole));
		wr(f, whole, sizeof(whole), 0);
	}
	expect(f, whole, sizeof(whole));
	assert_int_equal(zr_fdata_sync(f), 0);
	expect(f, whole, sizeof(whole));
	zr_fdata_destroy(f);
	env_free(&e);
}

/* Truncate, punch, zero-range and copy race with writers and workers; then
 * files are destroyed with work still queued.  env_free() checks that no
 * object, stage or count is left behind. */
struct racer {
	struct zr_fdata *f;
	unsigned seed, iters, kind;
};

static void *racer_main(void *arg)
{
	struct racer *r = arg;
	uint8_t *b = malloc(256 * KIB);

	rng_state ^= r->seed * 0x9e3779b97f4a7c15ULL;
	fill_text(b, 256 * KIB);
	for (unsigned i = 0; i < r->iters; i++) {
		uint64_t off = rng() % (2 * MIB), len = 1 + rng() % (256 * KIB);

		switch (r->kind == 0 ? 0 : rng() % 4) {
		case 0:
			assert_true(zr_fdata_write(r->f, b, len, off) > 0);
			break;
		case 1:
			assert_int_equal(zr_fdata_truncate(r->f, off), 0);
			break;
		case 2:
			assert_int_equal(zr_fdata_punch_hole(r->f, off, len), 0);
			break;
		default:
			assert_int_equal(zr_fdata_zero_range(r->f, off, len, 1), 0);
			break;
		}
	}
	free(b);
	return NULL;
}

static void test_races(void **state)
{
	enum { R = 4 };
	struct env e = env_workers(16, LZ4, 2, 1 * MIB);
	unsigned iters = quick() ? 100 : 600;

	for (int round = 0; round < 4; round++) {
		struct zr_fdata *f = zr_fdata_create(e.store);
		struct racer r[R];
		pthread_t th[R];
		uint8_t *a = malloc(2 * MIB + 256 * KIB), *b = malloc(2 * MIB + 256 * KIB);
		uint64_t size;

		for (unsigned i = 0; i < R; i++) {
			r[i] = (struct racer){f, i + 1 + round * R, iters, i % 2};
			pthread_create(&th[i], NULL, racer_main, &r[i]);
		}
		for (unsigned i = 0; i < R; i++)
			pthread_join(th[i], NULL);
		/* Reads before and after the sync agree. */
		size = zr_fdata_size(f);
		assert_int_equal(zr_fdata_read(f, a, size, 0), (ssize_t)size);
		if (round % 2)
			assert_int_equal(zr_fdata_sync(f), 0);
		else
			zr_store_sync(e.store);
		assert_int_equal(zr_fdata_read(f, b, size, 0), (ssize_t)size);
		assert_memory_equal(a, b, size);
		check_consistent(&e);
		/* Destroy right after a burst: queued work is discarded. */
		wr(f, a, 2 * MIB, 0);
		zr_fdata_destroy(f);
		free(a);
		free(b);
	}
	env_free(&e);
}

/* Staging never holds more than its bound, writers wait instead of failing,
 * and every byte arrives. */
static _Atomic int watch_staging;

static void *staging_watcher(void *arg)
{
	struct zr_store *s = arg;
	struct zr_store_stats st;

	while (atomic_load(&watch_staging)) {
		zr_store_get_stats(s, &st);
		assert_true(st.staging_bytes <= st.staging_limit + st.staging_limit / 8);
		assert_true(st.dirty_chunks * 65536 <= st.staging_limit);
		usleep(200);
	}
	return NULL;
}

static void test_staging_bound(void **state)
{
	enum { SIZE = 16 * MIB };
	struct env e = env_workers(16, ZSTD, 1, 1 * MIB);
	struct zr_fdata *f = zr_fdata_create(e.store);
	uint8_t *m = malloc(SIZE);
	struct zr_store_stats st;
	pthread_t wt;

	fill_text(m, SIZE);
	atomic_store(&watch_staging, 1);
	pthread_create(&wt, NULL, staging_watcher, e.store);
	for (uint64_t off = 0; off < SIZE; off += MIB)
		wr(f, m + off, MIB, off);
	expect(f, m, SIZE);
	atomic_store(&watch_staging, 0);
	pthread_join(wt, NULL);
	zr_store_get_stats(e.store, &st);
	assert_int_equal(st.staging_limit, 1 * MIB);
	assert_true(st.writer_waits > 0);
	assert_int_equal(zr_fdata_sync(f), 0);
	sstats(e.store, &st);
	assert_int_equal(st.dirty_chunks, 0);
	assert_int_equal(st.staging_bytes, 0);
	expect(f, m, SIZE);
	zr_fdata_destroy(f);
	free(m);
	env_free(&e);
}

/* reserve_staging (-o mlock): every stage exists from the start, in
 * mem_used's staging figure, and stays through syncs and bursts. */
static void test_staging_reserved(void **state)
{
	enum { SIZE = 4 * MIB };
	struct zr_arena_config ac = {.max_object = MIB, .cap_bytes = 0};
	struct zr_store_config sc = {16, LZ4, 0, NULL, 1, 1 * MIB, NULL, 0, 0, true, {{0, 0}}, 0, false};
	struct zr_store_stats st;
	struct env e;
	struct zr_fdata *f;
	uint8_t *m = malloc(SIZE);

	e.arena = zr_arena_create(&ac);
	sc.arena = e.arena;
	e.store = zr_store_create(&sc);
	assert_non_null(e.store);
	zr_store_get_stats(e.store, &st);
	assert_int_equal(st.staging_bytes, 0);	/* not before the start */
	assert_int_equal(zr_store_start(e.store), 0);
	zr_store_get_stats(e.store, &st);
	assert_true(st.staging_bytes >= st.staging_limit);
	f = zr_fdata_create(e.store);
	fill_text(m, SIZE);
	wr(f, m, SIZE, 0);
	expect(f, m, SIZE);
	sstats(e.store, &st);
	assert_true(st.staging_bytes >= st.staging_limit);
	assert_int_equal(st.dirty_chunks, 0);
	expect(f, m, SIZE);
	zr_fdata_destroy(f);
	free(m);
	sstats(e.store, &st);
	assert_int_equal(st.orig_data_size, 0);
	zr_store_destroy(e.store);	/* frees the reserved stages (ASan) */
	zr_arena_destroy(e.arena);
}

/* A worker that cannot store a chunk (arena cap) keeps it dirty and
 * readable, reports the error once at the next sync, and a later write
 * retries it; with every stage stuck, writers fall back to inline. */
static void test_worker_failure(void **state)
{
	struct env e = env_workers(12, LZ4, 1, 1 * MIB);
	struct zr_fdata *f = zr_fdata_create(e.store);
	uint8_t m[8 * 4096];
	struct zr_store_stats st;

	fill_random(m, sizeof(m));
	zr_arena_set_cap(e.arena, 1);
	wr(f, m, sizeof(m), 0);
	assert_int_equal(zr_fdata_sync(f), -ENOSPC);
	assert_int_equal(zr_fdata_sync(f), 0); /* reported once */
	expect(f, m, sizeof(m));
	zr_store_get_stats(e.store, &st);
	assert_true(st.failed_writes > 0);
	assert_int_equal(st.dirty_chunks, 8);
	zr_arena_set_cap(e.arena, 0);
	m[5] ^= 1;
	wr(f, m, 4096, 0); /* retried */
	assert_int_equal(zr_fdata_sync(f), 0);
	zr_store_get_stats(e.store, &st);
	assert_int_equal(st.dirty_chunks, 7);
	assert_int_equal(zr_fdata_truncate(f, 4096), 0); /* frees stuck stages */
	expect(f, m, 4096);
	zr_fdata_destroy(f);
	env_free(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip_4k),
	    cmocka_unit_test(test_roundtrip_64k),
	    cmocka_unit_test(test_roundtrip_1m),
	    cmocka_unit_test(test_codec_none),
	    cmocka_unit_test(test_small_file),
	    cmocka_unit_test(test_partial_overwrite),
	    cmocka_unit_test(test_unaligned_extend),
	    cmocka_unit_test(test_eof_tail),
	    cmocka_unit_test(test_punch),
	    cmocka_unit_test(test_zero_range),
	    cmocka_unit_test(test_allocate),
	    cmocka_unit_test(test_seek),
	    cmocka_unit_test(test_sparse_table),
	    cmocka_unit_test(test_enospc),
	    cmocka_unit_test(test_arena_failure),
	    cmocka_unit_test(test_arena_cap),
	    cmocka_unit_test(test_efbig),
	    cmocka_unit_test(test_bad_config),
	    cmocka_unit_test(test_copy),
	    cmocka_unit_test(test_copy_shifts),
	    cmocka_unit_test(test_file_chunk_shift),
	    cmocka_unit_test(test_staging_reserved),
	    cmocka_unit_test(test_codec_switch),
	    cmocka_unit_test(test_recompress),
	    cmocka_unit_test(test_stats),
	    cmocka_unit_test(test_model_4k),
	    cmocka_unit_test(test_model_64k),
	    cmocka_unit_test(test_threads),
	};

	int failed = cmocka_run_group_tests_name("inline (workers=0)", tests, NULL, NULL);

	const struct CMUnitTest wtests[] = {
	    cmocka_unit_test(test_trim_idle),
	    cmocka_unit_test(test_dirty_reads),
	    cmocka_unit_test(test_overwrite_during_compress),
	    cmocka_unit_test(test_races),
	    cmocka_unit_test(test_staging_bound),
	    cmocka_unit_test(test_worker_failure),
	};

	g_workers = 2;
	failed += cmocka_run_group_tests_name("workers=2", tests, NULL, NULL);
	failed += cmocka_run_group_tests_name("staging and workers", wtests, NULL, NULL);
	return failed;
}
