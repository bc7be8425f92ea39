/* SPDX-License-Identifier: MIT */
/* test_malloc_tune.c - the GLIBC_TUNABLES value the daemon re-executes with
 * (the re-exec itself and its effect on RSS: t_stats rm_returns_ram). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "zramfs/malloc_tune.h"

static void test_unset_or_empty(void **state)
{
	char out[128];

	assert_int_equal(zr_malloc_tunables(NULL, out, sizeof(out)), 1);
	assert_string_equal(out, "glibc.malloc.tcache_count=0");
	assert_int_equal(zr_malloc_tunables("", out, sizeof(out)), 1);
	assert_string_equal(out, "glibc.malloc.tcache_count=0");
}

static void test_appends_to_the_users(void **state)
{
	char out[128];

	assert_int_equal(zr_malloc_tunables("glibc.malloc.arena_max=2", out, sizeof(out)), 1);
	assert_string_equal(out, "glibc.malloc.arena_max=2:glibc.malloc.tcache_count=0");
}

/* Set already (by our exec, or by the user): no exec, whatever the value. */
static void test_already_set(void **state)
{
	char out[128] = "untouched";

	assert_int_equal(zr_malloc_tunables("glibc.malloc.tcache_count=0", out, sizeof(out)), 0);
	assert_int_equal(zr_malloc_tunables("a=1:glibc.malloc.tcache_count=7", out, sizeof(out)), 0);
	assert_string_equal(out, "untouched");
}

static void test_too_long(void **state)
{
	char out[64];

	/* 27 characters and the NUL: one byte short, then just enough */
	assert_int_equal(zr_malloc_tunables(NULL, out, 27), -1);
	assert_int_equal(zr_malloc_tunables(NULL, out, 28), 1);
	assert_int_equal(zr_malloc_tunables("glibc.malloc.arena_max=2", out, 28), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unset_or_empty),
		cmocka_unit_test(test_appends_to_the_users),
		cmocka_unit_test(test_already_set),
		cmocka_unit_test(test_too_long),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
