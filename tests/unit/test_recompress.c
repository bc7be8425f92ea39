/* SPDX-License-Identifier: MIT */
/*
 * test_recompress.c - the idle recompression in src/chunk.c: idle chunks
 * are re-encoded once with the stronger codec and read back identical; the
 * stats count what was saved; a rewritten chunk is a candidate again; the
 * background thread does the same unasked; off means -ENODEV; recompression
 * racing with readers, writers, punch and destroy (TSan); the dictionary:
 * trained once enough data waits, smaller, read back (also from the spill
 * file), and trained while other threads race.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "zramfs/chunk.h"
#include "zramfs/spill.h"
#include "race_io.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KIB 1024u
#define MIB (1024u * 1024u)

struct env {
	struct zr_arena *arena;
	struct zr_store *store;
};

static unsigned g_workers;
static bool g_dict;		/* env_new(): with recomp_dict */
static struct zr_spill *g_spill; /* env_new(): with this spill */

static struct env env_new(struct zr_codec_spec codec, bool recomp, unsigned recomp_idle)
{
	struct zr_arena_config ac = {.max_object = MIB, .cap_bytes = 0};
	struct zr_store_config sc = {
	    .chunk_shift = 16, .codec = codec, .workers = g_workers, .recomp_idle = recomp_idle,
	    .recomp_dict = g_dict, .spill = g_spill};
	struct env e;

	if (recomp)
		zr_codec_recomp_auto(codec, sc.recomp);
	e.arena = zr_arena_create(&ac);
	assert_non_null(e.arena);
	sc.arena = e.arena;
	e.store = zr_store_create(&sc);
	assert_non_null(e.store);
	assert_int_equal(zr_store_start(e.store), 0);
	return e;
}

static void env_free(struct env *e)
{
	struct zr_store_stats st;
	struct zr_arena_stats as;

	zr_store_sync(e->store);
	zr_store_get_stats(e->store, &st);
	assert_int_equal(st.chunks, 0);
	assert_int_equal(st.recompress_pending, 0);
	zr_store_destroy(e->store);
	zr_arena_get_stats(e->arena, &as);
	assert_int_equal(as.objects, 0);
	zr_arena_destroy(e->arena);
}

static __thread uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Source-like text: words from a small vocabulary in random order, which
 * fast lz4 compresses and lz4hc / higher zstd levels compress better. */
static void fill_text(uint8_t *p, size_t n)
{
	static const char *const w[] = {
	    "static ", "int ", "return ", "struct ", "zr_chunk ", "(void)", "{\n\t",
	    "}\n", "if (", "ret", " = ", ";\n", "pthread_rwlock_", "unlock", "->", "idx",
	    "uint64_t ", "spill", "compress", "arena"};
	size_t i = 0;

	while (i < n) {
		const char *s = w[rng() % (sizeof(w) / sizeof(w[0]))];

		for (; *s && i < n; s++)
			p[i++] = (uint8_t)*s;
	}
}

static void check_file(struct zr_fdata *f, const uint8_t *want, size_t n)
{
	uint8_t *got = malloc(n + 1);

	assert_non_null(got);
	assert_int_equal(zr_fdata_read(f, got, n + 1, 0), (ssize_t)n);
	assert_memory_equal(got, want, n);
	free(got);
}

static struct zr_fdata *text_file(struct env *e, uint8_t **data, size_t n)
{
	struct zr_fdata *f = zr_fdata_create(e->store);

	assert_non_null(f);
	*data = malloc(n);
	assert_non_null(*data);
	fill_text(*data, n);
	assert_int_equal(zr_fdata_write(f, *data, n, 0), (ssize_t)n);
	zr_store_sync(e->store);
	return f;
}

/* Idle chunks only; each once; smaller objects; identical data. */
static void check_codec(struct zr_codec_spec codec)
{
	struct env e = env_new(codec, true, 0);
	static const size_t n = MIB + 3000; /* a short last chunk too */
	struct zr_store_stats a, b;
	uint8_t *d;
	struct zr_fdata *f = text_file(&e, &d, n);

	zr_store_get_stats(e.store, &a);
	assert_int_equal(a.compressed_chunks, 17);
	assert_int_equal(a.recompress_pending, 17);
	/* written now: not idle for 1 s yet */
	assert_int_equal(zr_store_recompress(e.store, false), 0);
	zr_store_tick(e.store);
	assert_int_equal(zr_store_recompress(e.store, false), 17);
	zr_store_get_stats(e.store, &b);
	assert_int_equal(b.recompress_pending, 0);
	assert_int_equal(b.recompressed_chunks, 17);
	assert_true(b.compr_data_size < a.compr_data_size);
	assert_int_equal(b.recompress_saved_bytes, a.compr_data_size - b.compr_data_size);
	assert_int_equal(b.orig_data_size, a.orig_data_size);
	check_file(f, d, n);
	/* tried once: nothing more to do */
	assert_int_equal(zr_store_recompress(e.store, true), 0);
	zr_fdata_destroy(f);
	free(d);
	env_free(&e);
}

static void test_lz4_to_lz4hc(void **state)
{
	check_codec((struct zr_codec_spec){ZR_CODEC_LZ4, 0});
}

static void test_zstd_to_higher(void **state)
{
	check_codec((struct zr_codec_spec){ZR_CODEC_ZSTD, 1});
}

/* A rewritten chunk is a new record: a candidate again. */
static void test_rewrite_is_candidate(void **state)
{
	struct env e = env_new((struct zr_codec_spec){ZR_CODEC_LZ4, 0}, true, 0);
	static const size_t n = 4 * 64 * KIB;
	struct zr_store_stats st;
	uint8_t *d;
	struct zr_fdata *f = text_file(&e, &d, n);

	assert_int_equal(zr_store_recompress(e.store, true), 4);
	fill_text(d + 64 * KIB, 64 * KIB);
	assert_int_equal(zr_fdata_write(f, d + 64 * KIB, 64 * KIB, 64 * KIB), (ssize_t)(64 * KIB));
	zr_store_sync(e.store);
	zr_store_get_stats(e.store, &st);
	assert_int_equal(st.recompress_pending, 1);
	assert_int_equal(zr_store_recompress(e.store, true), 1);
	check_file(f, d, n);
	/* truncating away a recompressed chunk frees it (env_free counts) */
	assert_int_equal(zr_fdata_truncate(f, 64 * KIB), 0);
	zr_fdata_destroy(f);
	free(d);
	env_free(&e);
}

/* A chunk the stronger codec cannot shrink is kept and not tried again;
 * raw and same-filled chunks are never candidates. */
static void test_incompressible_kept(void **state)
{
	struct env e = env_new((struct zr_codec_spec){ZR_CODEC_LZ4, 0}, true, 0);
	static const size_t n = 3 * 64 * KIB;
	struct zr_store_stats a, b;
	struct zr_fdata *f = zr_fdata_create(e.store);
	uint8_t *d = malloc(n);

	assert_non_null(d);
	for (size_t i = 0; i < 64 * KIB; i++)	/* random: raw */
		d[i] = (uint8_t)rng();
	memset(d + 64 * KIB, 7, 64 * KIB);	/* same-filled */
	for (size_t i = 128 * KIB; i < n; i++)	/* runs lz4 already codes well */
		d[i] = (uint8_t)(i / 4096);
	assert_int_equal(zr_fdata_write(f, d, n, 0), (ssize_t)n);
	zr_store_sync(e.store);
	zr_store_get_stats(e.store, &a);
	assert_int_equal(a.recompress_pending, a.compressed_chunks);
	(void)zr_store_recompress(e.store, true);
	zr_store_get_stats(e.store, &b);
	assert_int_equal(b.recompress_pending, 0);
	assert_true(b.compr_data_size <= a.compr_data_size);
	assert_int_equal(b.huge_chunks, a.huge_chunks);
	assert_int_equal(b.same_chunks, a.same_chunks);
	check_file(f, d, n);
	zr_fdata_destroy(f);
	free(d);
	env_free(&e);
}

static void test_off(void **state)
{
	struct env e = env_new((struct zr_codec_spec){ZR_CODEC_LZ4, 0}, false, 10);
	struct zr_store_stats st;
	uint8_t *d;
	struct zr_fdata *f = text_file(&e, &d, 256 * KIB);

	assert_int_equal(zr_store_recompress(e.store, true), -ENODEV);
	zr_store_get_stats(e.store, &st);
	assert_int_equal(st.recompress_pending, 0);
	assert_int_equal(st.recompressed_chunks, 0);
	zr_fdata_destroy(f);
	free(d);
	env_free(&e);
}

/* The background thread recompresses idle chunks unasked (it advances the
 * clock itself: no spill here).  Waits up to 20 s for it. */
static void test_background(void **state)
{
	struct env e = env_new((struct zr_codec_spec){ZR_CODEC_LZ4, 0}, true, 1);
	static const size_t n = 512 * KIB;
	struct zr_store_stats st;
	uint8_t *d;
	struct zr_fdata *f = text_file(&e, &d, n);

	for (int i = 0; i < 200; i++) {
		zr_store_get_stats(e.store, &st);
		if (!st.recompress_pending)
			break;
		usleep(100000);
	}
	assert_int_equal(st.recompress_pending, 0);
	assert_int_equal(st.recompressed_chunks, 8);
	check_file(f, d, n);
	zr_fdata_destroy(f);
	free(d);
	env_free(&e);
}

static void rc_fill(uint8_t *p, size_t n, int id)
{
	fill_text(p, n);
}

struct racer {
	struct env *e;
	int id;
	atomic_int *stop;
};

static void *race_recompress(void *arg)
{
	struct racer *r = arg;

	while (!atomic_load(r->stop)) {
		zr_store_tick(r->e->store);
		(void)zr_store_recompress(r->e->store, r->id % 2);
	}
	return NULL;
}

/* race(): two threads asking for recompression (and the background
 * thread) against three doing writes, punches, reads and destroys of
 * their own files, first written with fill. */
static void race(struct env *e, void (*fill)(uint8_t *p, size_t n, int id))
{
	atomic_int stop = 0;
	struct racer rc[2];
	struct race_io io[3];
	pthread_t th[3], rt[2];

	for (int i = 0; i < 2; i++) {
		rc[i] = (struct racer){.e = e, .id = i, .stop = &stop};
		pthread_create(&rt[i], NULL, race_recompress, &rc[i]);
	}
	for (int i = 0; i < 3; i++) {
		io[i] = (struct race_io){.store = e->store, .id = i, .fill = fill, .change = rc_fill};
		pthread_create(&th[i], NULL, race_io_main, &io[i]);
	}
	for (int i = 0; i < 3; i++) {
		pthread_join(th[i], NULL);
		assert_true(io[i].ok);
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(rt[i], NULL);
}

static void test_races(void **state)
{
	struct env e = env_new((struct zr_codec_spec){ZR_CODEC_LZ4, 0}, true, 1);

	race(&e, rc_fill);
	env_free(&e);
}

/* ---------------------------------------------------------------------
 * Dictionaries
 * ------------------------------------------------------------------- */

/* Files like a source tree's: each starts with the same licence-like
 * preamble, then text.  DICT_FILES of them are more than the 16 MiB a
 * dictionary waits for. */
#define DICT_FILES 300
#define DICT_FILE (60 * KIB + 100)

/* The same bytes for the same id. */
static void fill_record(uint8_t *p, size_t n, int id)
{
	rng_state = 0x5eed;
	for (size_t i = 0; i < n && i < 2 * KIB; i++)
		p[i] = (uint8_t)rng();
	rng_state = 0x9e3779b97f4a7c15ULL * (uint64_t)(id + 1);
	if (n > 2 * KIB)
		fill_text(p + 2 * KIB, n - 2 * KIB);
}

struct tree {
	struct zr_fdata *f[DICT_FILES];
	uint8_t *d[DICT_FILES];
};

static void tree_write(struct env *e, struct tree *t)
{
	for (int i = 0; i < DICT_FILES; i++) {
		t->f[i] = zr_fdata_create(e->store);
		t->d[i] = malloc(DICT_FILE);
		assert_non_null(t->f[i]);
		assert_non_null(t->d[i]);
		fill_record(t->d[i], DICT_FILE, i + 1);
		assert_int_equal(zr_fdata_write(t->f[i], t->d[i], DICT_FILE, 0), DICT_FILE);
	}
	zr_store_sync(e->store);
}

static void tree_check_free(struct tree *t)
{
	for (int i = 0; i < DICT_FILES; i++) {
		check_file(t->f[i], t->d[i], DICT_FILE);
		zr_fdata_destroy(t->f[i]);
		free(t->d[i]);
	}
}

/* Two stores, same files, dictionary on and off: the dictionary is made
 * by the first pass, its chunks are smaller, and they read back -- from
 * the arena, and from the spill file once written back. */
static void test_dict(void **state)
{
	struct zr_codec_spec codecs[] = {{ZR_CODEC_ZSTD, 3}, {ZR_CODEC_LZ4, 0}};

	for (size_t c = 0; c < 2; c++) {
		static struct tree with, without;
		struct zr_store_stats a, b;
		struct zr_spill *sp;
		struct env e, plain;

		g_dict = true;
		assert_int_equal(zr_spill_open("/var/tmp", 0, &sp), 0);
		g_spill = sp;
		e = env_new(codecs[c], true, 0);
		g_dict = false;
		g_spill = NULL;
		plain = env_new(codecs[c], true, 0);
		tree_write(&e, &with);
		tree_write(&plain, &without);
		zr_store_get_stats(e.store, &a);
		assert_int_equal(a.dict_bytes, 0);
		assert_int_equal(zr_store_recompress(e.store, true), DICT_FILES);
		assert_int_equal(zr_store_recompress(plain.store, true), DICT_FILES);
		zr_store_get_stats(e.store, &a);
		zr_store_get_stats(plain.store, &b);
		assert_true(a.dict_bytes > 0);
		assert_int_equal(b.dict_bytes, 0);
		/* the 2 KiB preamble, incompressible alone, comes from the
		 * dictionary */
		assert_true(a.compr_data_size + DICT_FILES * KIB < b.compr_data_size);
		assert_int_equal(a.recompress_saved_bytes + a.compr_data_size,
				 b.recompress_saved_bytes + b.compr_data_size);
		tree_check_free(&without);
		env_free(&plain);
		assert_int_equal(zr_store_writeback(e.store, ZR_WB_ALL), DICT_FILES);
		zr_store_get_stats(e.store, &a);
		assert_int_equal(a.spilled_chunks, DICT_FILES);
		tree_check_free(&with);
		env_free(&e);
		zr_spill_close(sp);
	}
}

/* The dictionary trained while files are written, punched, read and
 * destroyed, and recompressed by other threads (TSan). */
static void test_dict_races(void **state)
{
	static struct tree t;
	struct env e;
	struct zr_store_stats st;

	g_dict = true;
	e = env_new((struct zr_codec_spec){ZR_CODEC_ZSTD, 1}, true, 1);
	g_dict = false;
	tree_write(&e, &t);
	race(&e, fill_record);
	zr_store_get_stats(e.store, &st);
	assert_true(st.dict_bytes > 0);
	tree_check_free(&t);
	env_free(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lz4_to_lz4hc),
	    cmocka_unit_test(test_zstd_to_higher),
	    cmocka_unit_test(test_rewrite_is_candidate),
	    cmocka_unit_test(test_incompressible_kept),
	    cmocka_unit_test(test_off),
	    cmocka_unit_test(test_background),
	    cmocka_unit_test(test_races),
	    cmocka_unit_test(test_dict),
	    cmocka_unit_test(test_dict_races),
	};
	int fails = 0;

	g_workers = 0;
	fails += cmocka_run_group_tests_name("recompress, inline", tests, NULL, NULL);
	g_workers = 2;
	fails += cmocka_run_group_tests_name("recompress, 2 workers", tests, NULL, NULL);
	return fails;
}
