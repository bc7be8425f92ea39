/* SPDX-License-Identifier: MIT */
/* test_mem.c - counted allocation: the counter follows every call. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "zramfs/mem.h"
#include "rss.h"

#include <stdlib.h>
#include <string.h>

static void test_counting(void **state)
{
	uint64_t base = zr_mem_meta_bytes();
	char *a = zr_malloc(100);
	char *b;

	assert_non_null(a);
	assert_true(zr_mem_meta_bytes() >= base + 100);
	a = zr_realloc(a, 10000);
	assert_non_null(a);
	assert_true(zr_mem_meta_bytes() >= base + 10000);
	b = zr_strdup("hello");
	assert_string_equal(b, "hello");
	zr_free(a);
	zr_free(b);
	zr_free(NULL);
	assert_int_equal(zr_mem_meta_bytes(), base);
	zr_mem_account(4096);
	assert_int_equal(zr_mem_meta_bytes(), base + 4096);
	zr_mem_account(-4096);
	assert_int_equal(zr_mem_meta_bytes(), base);
}

static void test_calloc_memdup(void **state)
{
	uint64_t base = zr_mem_meta_bytes();
	int *z = zr_calloc(64, sizeof(int));
	char *d = zr_memdup("abc", 3);

	for (int i = 0; i < 64; i++)
		assert_int_equal(z[i], 0);
	assert_memory_equal(d, "abc", 3);
	zr_free(z);
	zr_free(d);
	zr_mem_trim(0);
	assert_int_equal(zr_mem_meta_bytes(), base);
}

/* Heap freed by another module (plain free(), counted by that module and
 * passed as other_heap) is trimmed once other_heap drops: 8 MiB of small
 * blocks freed under a live one leave RSS until then. */
static void test_trim_other_heap(void **state)
{
	enum { N = 2048, SZ = 4000 };
	static char *blk[N];
	char *pin;
	long before, after;

	if (rss_unreliable())
		skip();
	zr_mem_trim(64u << 20);
	zr_mem_trim(64u << 20);	/* nothing pending now */
	for (int i = 0; i < N; i++) {
		blk[i] = malloc(SZ);
		assert_non_null(blk[i]);
		memset(blk[i], 1, SZ);
	}
	pin = malloc(SZ);	/* above them: no trim at the top */
	assert_non_null(pin);
	for (int i = 0; i < N; i++)
		free(blk[i]);
	before = rss_bytes();
	zr_mem_trim(64u << 20);
	assert_true(rss_bytes() > before - (1L << 20));	/* no signal, no trim */
	zr_mem_trim((64u << 20) - N * SZ);
	after = rss_bytes();
	assert_true(after < before - (4L << 20));
	free(pin);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counting),
		cmocka_unit_test(test_calloc_memdup),
		cmocka_unit_test(test_trim_other_heap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
