/* SPDX-License-Identifier: MIT */
/* test_ctl.c - value framing of the virtual attributes (src/ctl.c). */
#include "zramfs/ctl.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

static void test_string(void **state)
{
	char out[ZR_CONTROL_VALUE_MAX];

	assert_int_equal(zr_ctl_string("512M", 4, out, sizeof(out)), 0);
	assert_string_equal(out, "512M");
	assert_int_equal(zr_ctl_string("lz4\n", 4, out, sizeof(out)), 0);
	assert_string_equal(out, "lz4");
	assert_int_equal(zr_ctl_string("", 0, out, sizeof(out)), -EINVAL);
	assert_int_equal(zr_ctl_string("\n", 1, out, sizeof(out)), -EINVAL);
	assert_int_equal(zr_ctl_string("a\0b", 3, out, sizeof(out)), -EINVAL);
	assert_int_equal(zr_ctl_string("1234567890123456789012345678901", 31, out,
					sizeof(out)), 0);
	assert_int_equal(zr_ctl_string("12345678901234567890123456789012", 32, out,
					sizeof(out)), -EINVAL);
}

static void test_is(void **state)
{
	assert_true(zr_ctl_is("all", 3, "all"));
	assert_true(zr_ctl_is("all\n", 4, "all"));
	assert_false(zr_ctl_is("all\n\n", 5, "all"));
	assert_false(zr_ctl_is("al", 2, "all"));
	assert_false(zr_ctl_is("alll", 4, "all"));
	assert_false(zr_ctl_is("1\0", 2, "1"));
}

static void test_format_chunk(void **state)
{
	char buf[8];

	zr_ctl_format_chunk(12, buf, sizeof(buf));
	assert_string_equal(buf, "4K");
	zr_ctl_format_chunk(16, buf, sizeof(buf));
	assert_string_equal(buf, "64K");
	zr_ctl_format_chunk(20, buf, sizeof(buf));
	assert_string_equal(buf, "1M");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_string),
		cmocka_unit_test(test_is),
		cmocka_unit_test(test_format_chunk),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
