/* SPDX-License-Identifier: MIT */
/* test_fault.c - fault injection: spec parsing, rates 0 and 1, counters,
 * per-thread streams; in a build without ZR_FAULT_INJECTION, the "not
 * compiled in" answers.  The same file runs in both builds (make unit,
 * make FAULT=1 unit). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "zramfs/fault.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#define DRAWS 10000

static void test_names(void **state)
{
	assert_string_equal(zr_fault_name(ZR_FAULT_ARENA_ALLOC), "arena_alloc");
	assert_string_equal(zr_fault_name(ZR_FAULT_CODEC_COMPRESS), "codec_compress");
	assert_string_equal(zr_fault_name(ZR_FAULT_CODEC_DECOMPRESS), "codec_decompress");
	assert_string_equal(zr_fault_name(ZR_FAULT_SPILL_READ), "spill_read");
	assert_string_equal(zr_fault_name(ZR_FAULT_SPILL_WRITE), "spill_write");
	assert_string_equal(zr_fault_name(ZR_FAULT_STAGE_ALLOC), "stage_alloc");
	assert_string_equal(zr_fault_name(ZR_FAULT_COUNT), "?");
}

#ifndef ZR_FAULT_INJECTION

static void test_not_compiled_in(void **state)
{
	char err[128] = "";

	assert_int_equal(ZR_FAULT_ENABLED, 0);
	assert_int_equal(zr_fault_setup("arena_alloc=1", err, sizeof(err)), -ENOTSUP);
	assert_non_null(strstr(err, "not compiled in"));
	assert_int_equal(zr_fault_setup("", NULL, 0), -ENOTSUP);
	for (int i = 0; i < DRAWS; i++)
		assert_false(zr_fault(ZR_FAULT_ARENA_ALLOC));
	assert_int_equal(zr_fault_count(ZR_FAULT_ARENA_ALLOC), 0);
	assert_int_equal(zr_fault_total(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_not_compiled_in),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

#else /* ZR_FAULT_INJECTION */

static void reset(void)
{
	assert_int_equal(zr_fault_setup("", NULL, 0), 0);
}

static void expect_bad(const char *spec, const char *msg)
{
	char err[128] = "";

	assert_int_equal(zr_fault_setup(spec, err, sizeof(err)), -EINVAL);
	if (!strstr(err, msg))
		fail_msg("spec '%s': message '%s' does not say '%s'", spec, err, msg);
}

static void test_parse(void **state)
{
	char err[128] = "";

	assert_int_equal(ZR_FAULT_ENABLED, 1);
	assert_int_equal(zr_fault_setup("arena_alloc=0.01,codec_compress=0.05,"
					"codec_decompress=0,spill_read=0.02,spill_write=1,"
					"stage_alloc=0.1,seed=42", err, sizeof(err)), 0);
	assert_int_equal(zr_fault_setup("", err, sizeof(err)), 0);
	assert_int_equal(zr_fault_setup("seed=7", NULL, 0), 0);
	assert_int_equal(zr_fault_setup("spill_read=1e-3,,stage_alloc=1.0", NULL, 0), 0);
	expect_bad("bogus=1", "unknown fault point 'bogus'");
	expect_bad("arena_alloc=0.1,arena=0.1", "unknown fault point 'arena'");
	expect_bad("arena_alloc=1.5", "bad rate '1.5' for arena_alloc");
	expect_bad("arena_alloc=-0.1", "bad rate '-0.1' for arena_alloc");
	expect_bad("arena_alloc=", "bad rate '' for arena_alloc");
	expect_bad("arena_alloc=0.1x", "bad rate '0.1x'");
	expect_bad("arena_alloc=nan", "bad rate 'nan'");
	expect_bad("arena_alloc=0x1p-2", "bad rate '0x1p-2'");
	expect_bad("arena_alloc", "want name=rate");
	expect_bad("seed=x", "bad seed 'x'");
	expect_bad("seed=-1", "bad seed '-1'");
	reset();
}

/* A bad spec changes nothing: the previous configuration stays. */
static void test_bad_keeps_config(void **state)
{
	assert_int_equal(zr_fault_setup("spill_write=1", NULL, 0), 0);
	assert_int_equal(zr_fault_setup("spill_write=0,bogus=1", NULL, 0), -EINVAL);
	assert_true(zr_fault(ZR_FAULT_SPILL_WRITE));
	assert_int_equal(zr_fault_count(ZR_FAULT_SPILL_WRITE), 1);
	reset();
}

static void test_rate_0_and_1(void **state)
{
	assert_int_equal(zr_fault_setup("arena_alloc=1,codec_compress=0", NULL, 0), 0);
	for (int i = 0; i < DRAWS; i++) {
		assert_true(zr_fault(ZR_FAULT_ARENA_ALLOC));
		assert_false(zr_fault(ZR_FAULT_CODEC_COMPRESS));
		assert_false(zr_fault(ZR_FAULT_STAGE_ALLOC)); /* not named: 0 */
	}
	assert_int_equal(zr_fault_count(ZR_FAULT_ARENA_ALLOC), DRAWS);
	assert_int_equal(zr_fault_count(ZR_FAULT_CODEC_COMPRESS), 0);
	assert_int_equal(zr_fault_count(ZR_FAULT_STAGE_ALLOC), 0);
	assert_int_equal(zr_fault_total(), DRAWS);
	reset();
	assert_int_equal(zr_fault_total(), 0); /* setup restarts the counters */
}

/* A rate fires about that often, the counters count each fire, and the
 * same seed gives the same sequence. */
static void test_rate_counts(void **state)
{
	unsigned hits = 0, again = 0;
	uint8_t seq[DRAWS];

	assert_int_equal(zr_fault_setup("stage_alloc=0.1,spill_read=0.5,seed=42", NULL, 0), 0);
	for (int i = 0; i < DRAWS; i++) {
		seq[i] = zr_fault(ZR_FAULT_STAGE_ALLOC);
		hits += seq[i];
		zr_fault(ZR_FAULT_SPILL_READ);
	}
	assert_int_equal(zr_fault_count(ZR_FAULT_STAGE_ALLOC), hits);
	assert_in_range(hits, DRAWS / 10 - DRAWS / 40, DRAWS / 10 + DRAWS / 40);
	assert_in_range(zr_fault_count(ZR_FAULT_SPILL_READ), DRAWS / 2 - DRAWS / 20,
			DRAWS / 2 + DRAWS / 20);
	assert_int_equal(zr_fault_total(), hits + zr_fault_count(ZR_FAULT_SPILL_READ));
	assert_int_equal(zr_fault_setup("stage_alloc=0.1,spill_read=0.5,seed=42", NULL, 0), 0);
	for (int i = 0; i < DRAWS; i++) {
		again += zr_fault(ZR_FAULT_STAGE_ALLOC) == seq[i];
		zr_fault(ZR_FAULT_SPILL_READ);
	}
	assert_int_equal(again, DRAWS);
	reset();
}

static void *draw_thread(void *arg)
{
	unsigned *hits = arg;

	for (int i = 0; i < DRAWS; i++)
		*hits += zr_fault(ZR_FAULT_CODEC_DECOMPRESS);
	return NULL;
}

/* Threads draw from their own streams; every fire is counted once. */
static void test_threads(void **state)
{
	enum { N = 4 };
	pthread_t t[N];
	unsigned hits[N] = {0}, sum = 0;

	assert_int_equal(zr_fault_setup("codec_decompress=0.25", NULL, 0), 0);
	for (int i = 0; i < N; i++)
		assert_int_equal(pthread_create(&t[i], NULL, draw_thread, &hits[i]), 0);
	for (int i = 0; i < N; i++) {
		pthread_join(t[i], NULL);
		assert_in_range(hits[i], DRAWS / 4 - DRAWS / 20, DRAWS / 4 + DRAWS / 20);
		sum += hits[i];
	}
	assert_int_equal(zr_fault_count(ZR_FAULT_CODEC_DECOMPRESS), sum);
	reset();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_bad_keeps_config),
		cmocka_unit_test(test_rate_0_and_1),
		cmocka_unit_test(test_rate_counts),
		cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

#endif /* ZR_FAULT_INJECTION */
