/* SPDX-License-Identifier: MIT */
/* test_bufpool.c - reuse, bound on kept buffers, trimming when idle. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "zramfs/bufpool.h"
#include "zramfs/mem.h"

#include <pthread.h>
#include <string.h>

static void test_reuse_and_trim(void **state)
{
	uint64_t base = zr_mem_meta_bytes();
	struct zr_bufpool *p = zr_bufpool_create(4096, 2);
	void *a = zr_bufpool_get(p), *b = zr_bufpool_get(p), *c = zr_bufpool_get(p);

	assert_non_null(a);
	memset(a, 1, 4096);
	zr_bufpool_put(p, a);
	zr_bufpool_put(p, b);
	zr_bufpool_put(p, c);			/* third is freed: max_free 2 */
	assert_ptr_equal(zr_bufpool_get(p), b);	/* LIFO reuse */
	zr_bufpool_put(p, b);
	assert_int_equal(zr_bufpool_trim(p), 0);	/* used since last trim */
	assert_int_equal(zr_bufpool_trim(p), 2);	/* idle: all freed */
	assert_int_equal(zr_bufpool_trim(p), 0);
	zr_bufpool_destroy(p);
	assert_int_equal(zr_mem_meta_bytes(), base);
}

static void *hammer(void *arg)
{
	struct zr_bufpool *p = arg;

	for (int i = 0; i < 20000; i++) {
		unsigned char *b = zr_bufpool_get(p);

		b[0] = (unsigned char)i;
		b[4095] = (unsigned char)i;
		assert_int_equal(b[0], b[4095]);
		zr_bufpool_put(p, b);
	}
	return NULL;
}

static void test_threads(void **state)
{
	uint64_t base = zr_mem_meta_bytes();
	struct zr_bufpool *p = zr_bufpool_create(4096, 4);
	pthread_t t[4];

	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, hammer, p);
	for (int i = 0; i < 4; i++) {
		zr_bufpool_trim(p);
		pthread_join(t[i], NULL);
	}
	zr_bufpool_destroy(p);
	assert_int_equal(zr_mem_meta_bytes(), base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reuse_and_trim),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
