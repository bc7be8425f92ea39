/* SPDX-License-Identifier: MIT */
/*
 * test_codec.c - unit tests for src/codec.c: spec parsing and formatting,
 * round trips for every codec and a range of zstd levels, incompressible
 * input, and corrupted input (must fail with -EIO, never overrun: run under
 * ASan).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "zramfs/codec.h"
#include "zramfs/mem.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define BIG (1u << 20)

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

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

/* Text-like data: compresses well but not trivially. */
static void fill_text(uint8_t *p, size_t n)
{
	static const char *const words[] = {"zram ", "chunk ", "arena ",    "lz4 ",
					    "zstd ", "fuse ",  "compress ", "page "};

	for (size_t i = 0; i < n;) {
		const char *w = words[rng() % 8];
		size_t l = strlen(w);

		l = l < n - i ? l : n - i;
		memcpy(p + i, w, l);
		i += l;
	}
}

static void test_parse(void **state)
{
	struct zr_codec_spec s = {99, 99};

	assert_int_equal(zr_codec_parse("none", &s), 0);
	assert_int_equal(s.id, ZR_CODEC_NONE);
	assert_int_equal(zr_codec_parse("lz4", &s), 0);
	assert_int_equal(s.id, ZR_CODEC_LZ4);
	assert_int_equal(s.level, 0);
	assert_int_equal(zr_codec_parse("zstd", &s), 0);
	assert_int_equal(s.id, ZR_CODEC_ZSTD);
	assert_int_equal(s.level, ZR_ZSTD_LEVEL_DEFAULT);
	assert_int_equal(zr_codec_parse("zstd:1", &s), 0);
	assert_int_equal(s.level, 1);
	assert_int_equal(zr_codec_parse("zstd:19", &s), 0);
	assert_int_equal(s.level, 19);
	assert_int_equal(zr_codec_parse("lz4hc", &s), 0);
	assert_int_equal(s.id, ZR_CODEC_LZ4);
	assert_int_equal(s.level, ZR_LZ4HC_LEVEL_DEFAULT);
	assert_int_equal(zr_codec_parse("lz4hc:12", &s), 0);
	assert_int_equal(s.level, 12);
}

static void test_parse_bad(void **state)
{
	static const char *const bad[] = {"",
					  "lz",
					  "lz4 ",
					  "LZ4",
					  "zstd:",
					  "zstd:0",
					  "zstd:20",
					  "zstd:-1",
					  "zstd:+3",
					  "zstd:3x",
					  "zstd:99999999999",
					  "zstd3",
					  "lz4hc:",
					  "lz4hc:0",
					  "lz4hc:13",
					  "lz4hc2",
					  "lz4:2",
					  "gzip",
					  "none:1"};
	struct zr_codec_spec s = {7, 7};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(zr_codec_parse(bad[i], &s), -EINVAL);
		assert_int_equal(s.id, 7); /* untouched */
		assert_int_equal(s.level, 7);
	}
	assert_int_equal(zr_codec_parse(NULL, &s), -EINVAL);
}

static void test_format(void **state)
{
	static const char *const specs[] = {"none", "lz4", "lz4hc:1", "lz4hc:12", "zstd:1",
					    "zstd:3", "zstd:19"};
	char buf[ZR_CODEC_SPEC_MAX];
	struct zr_codec_spec s;

	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		assert_int_equal(zr_codec_parse(specs[i], &s), 0);
		assert_int_equal(zr_codec_format(s, buf, sizeof(buf)), (int)strlen(specs[i]));
		assert_string_equal(buf, specs[i]);
	}
	assert_int_equal(zr_codec_parse("zstd", &s), 0);
	zr_codec_format(s, buf, sizeof(buf));
	assert_string_equal(buf, "zstd:3");
	assert_string_equal(zr_codec_name(ZR_CODEC_LZ4), "lz4");
	assert_string_equal(zr_codec_name(ZR_CODEC_COUNT), "?");
}

static void round_trip(struct zr_codec_spec spec, const uint8_t *src, size_t len)
{
	struct zr_codec_ctx *ctx = zr_codec_ctx_get();
	size_t cap = zr_codec_bound(len);
	uint8_t *c = malloc(cap), *d = malloc(len);
	ssize_t n;

	assert_non_null(ctx);
	assert_non_null(c);
	assert_non_null(d);
	n = zr_codec_compress(ctx, spec, src, len, c, cap);
	assert_true(n > 0);
	assert_true((size_t)n <= cap);
	assert_int_equal(zr_codec_decompress(ctx, spec.id, c, (size_t)n, d, len), 0);
	assert_memory_equal(src, d, len);
	zr_codec_ctx_put(ctx);
	free(c);
	free(d);
}

static void test_round_trips(void **state)
{
	static const size_t sizes[] = {1, 7, 100, 4096, 65536, BIG};
	uint8_t *text = malloc(BIG), *rnd = malloc(BIG);
	struct zr_codec_spec lz4 = {ZR_CODEC_LZ4, 0};

	fill_text(text, BIG);
	fill_random(rnd, BIG);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		round_trip(lz4, text, sizes[i]);
		round_trip(lz4, rnd, sizes[i]);
		for (unsigned lvl = ZR_LZ4HC_LEVEL_MIN; lvl <= ZR_LZ4HC_LEVEL_MAX; lvl += 5) {
			struct zr_codec_spec hc = {ZR_CODEC_LZ4, (uint8_t)lvl};

			if (sizes[i] == BIG && lvl > 2)
				continue; /* slow under sanitizers, adds nothing */
			round_trip(hc, text, sizes[i]);
			round_trip(hc, rnd, sizes[i]);
		}
		for (unsigned lvl = ZR_ZSTD_LEVEL_MIN; lvl <= ZR_ZSTD_LEVEL_MAX; lvl += 6) {
			struct zr_codec_spec z = {ZR_CODEC_ZSTD, (uint8_t)lvl};

			if (sizes[i] == BIG && lvl > 7)
				continue; /* slow under sanitizers, adds nothing */
			round_trip(z, text, sizes[i]);
			round_trip(z, rnd, sizes[i]);
		}
	}
	free(text);
	free(rnd);
}

static void test_compresses(void **state)
{
	struct zr_codec_ctx *ctx = zr_codec_ctx_get();
	struct zr_codec_spec specs[] = {{ZR_CODEC_LZ4, 0}, {ZR_CODEC_ZSTD, 3}};
	size_t cap = zr_codec_bound(65536);
	uint8_t *src = malloc(65536), *dst = malloc(cap);

	fill_text(src, 65536);
	for (size_t i = 0; i < 2; i++) {
		ssize_t n = zr_codec_compress(ctx, specs[i], src, 65536, dst, cap);

		assert_true(n > 0 && n < 65536 / 2);
	}
	zr_codec_ctx_put(ctx);
	free(src);
	free(dst);
}

/* Random data with dst capped below the input size: 0, no overrun. */
static void test_incompressible(void **state)
{
	struct zr_codec_ctx *ctx = zr_codec_ctx_get();
	struct zr_codec_spec specs[] = {{ZR_CODEC_LZ4, 0}, {ZR_CODEC_ZSTD, 1}, {ZR_CODEC_ZSTD, 9}};
	const size_t len = 65536, cap = len - len / 8;
	uint8_t *src = malloc(len), *dst = malloc(cap);

	fill_random(src, len);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(zr_codec_compress(ctx, specs[i], src, len, dst, cap), 0);
	zr_codec_ctx_put(ctx);
	free(src);
	free(dst);
}

static void test_bad_args(void **state)
{
	struct zr_codec_ctx *ctx = zr_codec_ctx_get();
	struct zr_codec_spec none = {ZR_CODEC_NONE, 0}, badz = {ZR_CODEC_ZSTD, 0},
			     lz4 = {ZR_CODEC_LZ4, 0};
	uint8_t src[64] = {0}, dst[256];

	assert_int_equal(zr_codec_compress(ctx, none, src, 64, dst, 256), -EINVAL);
	assert_int_equal(zr_codec_compress(ctx, badz, src, 64, dst, 256), -EINVAL);
	assert_int_equal(zr_codec_compress(ctx, lz4, src, 0, dst, 256), -EINVAL);
	assert_int_equal(zr_codec_decompress(ctx, ZR_CODEC_NONE, src, 64, dst, 64), -EIO);
	assert_int_equal(zr_codec_decompress(ctx, 9, src, 64, dst, 64), -EIO);
	assert_true(zr_codec_bound(65536) >= 65536);
	zr_codec_ctx_put(ctx);
}

/* Decode into a heap buffer of exactly dst_len so ASan catches overruns;
 * the compressed copy too is exactly clen bytes. */
static void corrupt_one(struct zr_codec_spec spec)
{
	struct zr_codec_ctx *ctx = zr_codec_ctx_get();
	const size_t len = 16384;
	size_t cap = zr_codec_bound(len);
	uint8_t *src = malloc(len), *c = malloc(cap), *d = malloc(len);
	ssize_t n;

	fill_text(src, len);
	n = zr_codec_compress(ctx, spec, src, len, c, cap);
	assert_true(n > 8);
	for (int t = 0; t < 300; t++) {
		size_t clen = (size_t)n;
		uint8_t *bad;

		if (t % 3 == 0)
			clen = 1 + rng() % (size_t)n; /* truncated */
		bad = malloc(clen);
		memcpy(bad, c, clen);
		for (int k = 0; k < 1 + t % 4; k++)
			bad[rng() % clen] ^= (uint8_t)(1 + rng() % 255);
		int r = zr_codec_decompress(ctx, spec.id, bad, clen, d, len);

		assert_true(r == 0 || r == -EIO);
		free(bad);
	}
	/* Wrong expected length: never "succeeds". */
	assert_int_equal(zr_codec_decompress(ctx, spec.id, c, (size_t)n, d, len - 1), -EIO);
	uint8_t *bigger = malloc(len + 1);
	assert_int_equal(zr_codec_decompress(ctx, spec.id, c, (size_t)n, bigger, len + 1), -EIO);
	free(bigger);
	/* Garbage. */
	fill_random(c, 512);
	assert_int_equal(zr_codec_decompress(ctx, spec.id, c, 512, d, len), -EIO);
	zr_codec_ctx_put(ctx);
	free(src);
	free(c);
	free(d);
}

static void test_corrupt(void **state)
{
	corrupt_one((struct zr_codec_spec){ZR_CODEC_LZ4, 0});
	corrupt_one((struct zr_codec_spec){ZR_CODEC_ZSTD, 3});
}

/* lz4hc writes lz4's format (the lz4 decoder reads it) and compresses
 * text smaller than fast lz4. */
static void test_lz4hc(void **state)
{
	struct zr_codec_ctx *ctx = zr_codec_ctx_get();
	struct zr_codec_spec fast = {ZR_CODEC_LZ4, 0}, hc = {ZR_CODEC_LZ4, 4},
			     bad = {ZR_CODEC_LZ4, ZR_LZ4HC_LEVEL_MAX + 1};
	size_t cap = zr_codec_bound(65536);
	uint8_t *src = malloc(65536), *c = malloc(cap), *d = malloc(65536);
	ssize_t nf, nh;

	fill_text(src, 65536);
	nf = zr_codec_compress(ctx, fast, src, 65536, c, cap);
	nh = zr_codec_compress(ctx, hc, src, 65536, c, cap);
	assert_true(nf > 0 && nh > 0 && nh < nf);
	assert_int_equal(zr_codec_decompress(ctx, ZR_CODEC_LZ4, c, (size_t)nh, d, 65536), 0);
	assert_memory_equal(src, d, 65536);
	assert_int_equal(zr_codec_compress(ctx, bad, src, 65536, c, cap), -EINVAL);
	zr_codec_ctx_put(ctx);
	free(src);
	free(c);
	free(d);
}

/* The pool: a context put back is the next one out (LIFO, warm), two
 * taken at once are distinct, and a trim frees the pooled ones with their
 * counted memory (a zstd context is hundreds of KiB). */
static void test_pool(void **state)
{
	struct zr_codec_spec z = {ZR_CODEC_ZSTD, 3};
	uint64_t base;
	uint8_t src[4096], dst[8192];
	struct zr_codec_ctx *a, *b;

	zr_codec_trim();
	base = zr_mem_meta_bytes();
	a = zr_codec_ctx_get();
	b = zr_codec_ctx_get();
	assert_non_null(a);
	assert_non_null(b);
	assert_ptr_not_equal(a, b);
	fill_text(src, sizeof(src));
	assert_true(zr_codec_compress(a, z, src, sizeof(src), dst, sizeof(dst)) > 0);
	assert_true(zr_mem_meta_bytes() > base + 100000);
	zr_codec_ctx_put(a);
	zr_codec_ctx_put(b);
	assert_ptr_equal(zr_codec_ctx_get(), b);
	zr_codec_ctx_put(b);
	zr_codec_trim();
	assert_int_equal(zr_mem_meta_bytes(), base);
	zr_codec_ctx_put(NULL);
}

/* Small records that share a preamble, as a source tree's files share
 * licence headers and idioms: what a dictionary is for. */
#define REC 4096
#define NREC 256

/* zr_codec_decompress_head(): the first want bytes come out right and
 * nothing is written past dst_len (ASan would see it); lz4 input too short
 * to give them is -EIO; zstd decodes everything. */
static void test_decompress_head(void **state)
{
	static const size_t wants[] = {1, 4096, 30000, 65535, 65536};
	enum { LEN = 65536 };
	struct zr_codec_ctx *ctx = zr_codec_ctx_get();
	size_t cap = zr_codec_bound(LEN);
	uint8_t *src = malloc(LEN), *c = malloc(cap), *d = malloc(LEN);
	ssize_t n;

	assert_non_null(ctx);
	assert_true(src && c && d);
	fill_text(src, LEN);
	n = zr_codec_compress(ctx, (struct zr_codec_spec){ZR_CODEC_LZ4, 0}, src, LEN, c, cap);
	assert_true(n > 0);
	for (size_t i = 0; i < sizeof(wants) / sizeof(wants[0]); i++) {
		memset(d, 0xaa, LEN);
		assert_int_equal(zr_codec_decompress_head(ctx, ZR_CODEC_LZ4, NULL, c, (size_t)n,
							  d, wants[i], LEN), 0);
		assert_memory_equal(d, src, wants[i]);
	}
	assert_int_equal(zr_codec_decompress_head(ctx, ZR_CODEC_LZ4, NULL, c, (size_t)n / 2,
						  d, LEN - 1, LEN), -EIO);
	n = zr_codec_compress(ctx, (struct zr_codec_spec){ZR_CODEC_ZSTD, 1}, src, LEN, c, cap);
	assert_true(n > 0);
	memset(d, 0xaa, LEN);
	assert_int_equal(zr_codec_decompress_head(ctx, ZR_CODEC_ZSTD, NULL, c, (size_t)n,
						  d, 100, LEN), 0);
	assert_memory_equal(d, src, LEN);
	zr_codec_ctx_put(ctx);
	free(src);
	free(c);
	free(d);
}

static void fill_records(uint8_t *p, size_t n, uint64_t seed)
{
	uint8_t preamble[1024];

	rng_state = 0x51ed;
	fill_random(preamble, sizeof(preamble));
	rng_state = seed;
	for (size_t i = 0; i < n; i++) {
		memcpy(p + i * REC, preamble, sizeof(preamble));
		fill_text(p + i * REC + sizeof(preamble), REC - sizeof(preamble));
	}
}

static struct zr_codec_dict *train(unsigned id, uint64_t seed)
{
	uint8_t *samples = malloc((size_t)NREC * REC);
	size_t sizes[NREC];
	struct zr_codec_dict *d = NULL;

	fill_records(samples, NREC, seed);
	for (size_t i = 0; i < NREC; i++)
		sizes[i] = REC;
	assert_int_equal(zr_codec_dict_train(id, samples, sizes, NREC, &d), 0);
	assert_non_null(d);
	assert_int_equal(zr_codec_dict_id(d), id);
	assert_true(zr_codec_dict_bytes(d) > 1024);
	free(samples);
	return d;
}

/* One record not among the samples: smaller with the dictionary, decodes
 * only with it, and never with another codec's. */
static void dict_round_trip(struct zr_codec_ctx *ctx, struct zr_codec_spec spec,
			    const struct zr_codec_dict *d, const struct zr_codec_dict *other)
{
	uint8_t src[REC], plain[REC], with[2 * REC], without[2 * REC];
	ssize_t n, m;

	fill_records(src, 1, 777);
	n = zr_codec_compress_dict(ctx, spec, d, src, REC, with, sizeof(with));
	m = zr_codec_compress(ctx, spec, src, REC, without, sizeof(without));
	assert_true(n > 0 && m > 0);
	assert_true(n < m - 512); /* the preamble comes from the dictionary */
	assert_int_equal(zr_codec_decompress_dict(ctx, spec.id, d, with, (size_t)n, plain, REC), 0);
	assert_memory_equal(plain, src, REC);
	memset(plain, 0, REC);
	assert_int_equal(zr_codec_decompress_head(ctx, spec.id, d, with, (size_t)n, plain,
						  REC / 2, REC), 0);
	assert_memory_equal(plain, src, REC / 2);
	assert_int_equal(zr_codec_decompress(ctx, spec.id, with, (size_t)n, plain, REC), -EIO);
	assert_int_equal(zr_codec_decompress_dict(ctx, spec.id, other, with, (size_t)n, plain, REC),
			 -EIO);
	assert_int_equal(zr_codec_compress_dict(ctx, spec, other, src, REC, with, sizeof(with)),
			 -EINVAL);
}

static void test_dict(void **state)
{
	struct zr_codec_ctx *ctx;
	struct zr_codec_dict *z, *l;
	uint64_t base;

	zr_codec_trim();
	base = zr_mem_meta_bytes();
	z = train(ZR_CODEC_ZSTD, 1);
	l = train(ZR_CODEC_LZ4, 1);
	ctx = zr_codec_ctx_get();
	dict_round_trip(ctx, (struct zr_codec_spec){ZR_CODEC_ZSTD, 6}, z, l);
	dict_round_trip(ctx, (struct zr_codec_spec){ZR_CODEC_ZSTD, 1}, z, l);
	dict_round_trip(ctx, (struct zr_codec_spec){ZR_CODEC_LZ4, 4}, l, z);
	dict_round_trip(ctx, (struct zr_codec_spec){ZR_CODEC_LZ4, 0}, l, z);
	zr_codec_ctx_put(ctx);
	zr_codec_dict_free(z);
	zr_codec_dict_free(l);
	zr_codec_trim();
	assert_int_equal(zr_mem_meta_bytes(), base);
	zr_codec_dict_free(NULL);
}

/* A context that coded against a dictionary since freed must not use what
 * it loaded from it for a new one (which malloc may place at the same
 * address): data coded against the new one decodes with it. */
static void test_dict_replaced(void **state)
{
	struct zr_codec_spec specs[] = {{ZR_CODEC_ZSTD, 6}, {ZR_CODEC_LZ4, 4}};
	uint8_t src[REC], plain[REC], out[2 * REC];

	fill_records(src, 1, 99);
	for (size_t i = 0; i < 2; i++) {
		struct zr_codec_ctx *ctx = zr_codec_ctx_get();
		struct zr_codec_dict *a = train(specs[i].id, 1), *b;
		ssize_t n;

		assert_true(zr_codec_compress_dict(ctx, specs[i], a, src, REC, out, sizeof(out)) > 0);
		zr_codec_dict_free(a);
		b = train(specs[i].id, 2); /* other samples, other content */
		n = zr_codec_compress_dict(ctx, specs[i], b, src, REC, out, sizeof(out));
		assert_true(n > 0);
		assert_int_equal(zr_codec_decompress_dict(ctx, specs[i].id, b, out, (size_t)n,
							  plain, REC), 0);
		assert_memory_equal(plain, src, REC);
		zr_codec_ctx_put(ctx);
		zr_codec_dict_free(b);
	}
}

/* Training refuses what it cannot use, and codecs without dictionaries. */
static void test_dict_bad(void **state)
{
	uint8_t samples[64];
	size_t sizes[2] = {32, 32};
	struct zr_codec_dict *d = NULL;

	fill_text(samples, sizeof(samples));
	assert_int_equal(zr_codec_dict_train(ZR_CODEC_ZSTD, samples, sizes, 2, &d), -EINVAL);
	assert_int_equal(zr_codec_dict_train(ZR_CODEC_NONE, samples, sizes, 2, &d), -EINVAL);
	assert_null(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),      cmocka_unit_test(test_parse_bad),
	    cmocka_unit_test(test_format),     cmocka_unit_test(test_round_trips),
	    cmocka_unit_test(test_compresses), cmocka_unit_test(test_incompressible),
	    cmocka_unit_test(test_bad_args),   cmocka_unit_test(test_corrupt),
	    cmocka_unit_test(test_lz4hc),       cmocka_unit_test(test_pool),
	    cmocka_unit_test(test_dict),       cmocka_unit_test(test_dict_replaced),
	    cmocka_unit_test(test_dict_bad),
	    cmocka_unit_test(test_decompress_head),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
