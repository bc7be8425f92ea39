/* SPDX-License-Identifier: MIT */
/* test_spill.c - the spill extent store: alloc/free/reuse, limit, corrupt
 * extents, hole punching, bad directories. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "zramfs/spill.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *dir(void)
{
	return "/var/tmp";
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	uint32_t x = seed * 2654435761u + 1;

	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		p[i] = (uint8_t)(x >> 16);
	}
}

static void test_roundtrip_reuse(void **state)
{
	struct zr_spill *sp;
	struct zr_spill_stats st;
	static uint8_t a[70000], b[70000];
	uint32_t loc[8];

	assert_int_equal(zr_spill_open(dir(), 0, &sp), 0);
	for (unsigned i = 0; i < 8; i++) {
		fill(a, 1000 + i * 5000, i);
		assert_int_equal(zr_spill_write(sp, a, 1000 + i * 5000, &loc[i]), 0);
	}
	for (unsigned i = 0; i < 8; i++) {
		fill(a, 1000 + i * 5000, i);
		assert_int_equal(zr_spill_read(sp, loc[i], b, 1000 + i * 5000), 0);
		assert_memory_equal(a, b, 1000 + i * 5000);
	}
	zr_spill_get_stats(sp, &st);
	assert_int_equal(st.extents, 8);
	assert_int_equal(st.writes, 8);
	assert_int_equal(st.reads, 8);
	/* Free extent 2 (11000 B): an extent of that size fits in its place. */
	zr_spill_free(sp, loc[2], 11000);
	fill(a, 10000, 99);
	assert_int_equal(zr_spill_write(sp, a, 10000, &loc[2]), 0);
	assert_true(loc[2] < loc[3]);
	assert_int_equal(zr_spill_read(sp, loc[2], b, 10000), 0);
	assert_memory_equal(a, b, 10000);
	/* Neighbours untouched. */
	fill(a, 16000, 3);
	assert_int_equal(zr_spill_read(sp, loc[3], b, 16000), 0);
	assert_memory_equal(a, b, 16000);
	zr_spill_free(sp, loc[2], 10000);
	for (unsigned i = 0; i < 8; i++)
		if (i != 2)
			zr_spill_free(sp, loc[i], 1000 + i * 5000);
	zr_spill_get_stats(sp, &st);
	assert_int_equal(st.extents, 0);
	assert_int_equal(st.bytes, 0);
	assert_int_equal(st.file_bytes, 0);
	zr_spill_close(sp);
}

static void test_limit(void **state)
{
	struct zr_spill *sp;
	struct zr_spill_stats st;
	static uint8_t a[4000];
	uint32_t loc[4];

	assert_int_equal(zr_spill_open(dir(), 3 * 4096, &sp), 0);
	fill(a, sizeof(a), 1);
	for (int i = 0; i < 3; i++)
		assert_int_equal(zr_spill_write(sp, a, 4000, &loc[i]), 0);
	assert_int_equal(zr_spill_write(sp, a, 4000, &loc[3]), -ENOSPC);
	zr_spill_get_stats(sp, &st);
	assert_int_equal(st.failed_writes, 1);
	zr_spill_free(sp, loc[1], 4000);
	assert_int_equal(zr_spill_write(sp, a, 4000, &loc[3]), 0);
	assert_int_equal(loc[3], loc[1]);
	zr_spill_set_limit(sp, 0);
	assert_int_equal(zr_spill_write(sp, a, 4000, &loc[1]), 0);
	zr_spill_close(sp);
}

static void test_corrupt(void **state)
{
	struct zr_spill *sp;
	struct zr_spill_stats st;
	static uint8_t a[9000], b[9000];
	uint32_t loc, loc2;
	uint8_t x;
	off_t off;

	assert_int_equal(zr_spill_open(dir(), 0, &sp), 0);
	fill(a, sizeof(a), 7);
	assert_int_equal(zr_spill_write(sp, a, 5000, &loc2), 0);
	assert_int_equal(zr_spill_write(sp, a, 9000, &loc), 0);
	/* Wrong length, wrong place. */
	assert_int_equal(zr_spill_read(sp, loc, b, 8999), -EIO);
	assert_int_equal(zr_spill_read(sp, loc + 1, b, 9000), -EIO);
	/* A flipped payload byte. */
	off = ((off_t)loc << ZR_SPILL_BLOCK_SHIFT) + ZR_SPILL_HDR + 4321;
	assert_int_equal(pread(zr_spill_fd(sp), &x, 1, off), 1);
	x ^= 0x10;
	assert_int_equal(pwrite(zr_spill_fd(sp), &x, 1, off), 1);
	assert_int_equal(zr_spill_read(sp, loc, b, 9000), -EIO);
	/* A broken header. */
	off = (off_t)loc2 << ZR_SPILL_BLOCK_SHIFT;
	assert_int_equal(pwrite(zr_spill_fd(sp), "XXXX", 4, off), 4);
	assert_int_equal(zr_spill_read(sp, loc2, b, 5000), -EIO);
	/* Truncated file: short read. */
	assert_int_equal(ftruncate(zr_spill_fd(sp), ((off_t)loc << ZR_SPILL_BLOCK_SHIFT) + 100), 0);
	assert_int_equal(zr_spill_read(sp, loc, b, 9000), -EIO);
	zr_spill_get_stats(sp, &st);
	assert_int_equal(st.failed_reads, 5);
	assert_int_equal(st.reads, 0);
	zr_spill_close(sp);
}

static void test_punch(void **state)
{
	struct zr_spill *sp;
	struct zr_spill_stats st;
	static uint8_t a[30000];
	uint32_t loc[64];
	uint64_t full;

	assert_int_equal(zr_spill_open(dir(), 0, &sp), 0);
	for (int i = 0; i < 64; i++) {
		fill(a, sizeof(a), (unsigned)i);
		assert_int_equal(zr_spill_write(sp, a, 3000 + (uint32_t)i * 400, &loc[i]), 0);
	}
	assert_int_equal(fsync(zr_spill_fd(sp)), 0);
	zr_spill_get_stats(sp, &st);
	full = st.file_bytes;
	assert_true(full >= st.bytes);
	/* Free every other extent: the pages only they cover are punched. */
	for (int i = 0; i < 64; i += 2)
		zr_spill_free(sp, loc[i], 3000 + (uint32_t)i * 400);
	zr_spill_get_stats(sp, &st);
	assert_true(st.file_bytes < full);
	/* Free the rest: nothing stays allocated, shared pages included. */
	for (int i = 1; i < 64; i += 2)
		zr_spill_free(sp, loc[i], 3000 + (uint32_t)i * 400);
	zr_spill_get_stats(sp, &st);
	assert_int_equal(st.file_bytes, 0);
	assert_int_equal(st.bytes, 0);
	zr_spill_close(sp);
}

static void test_bad_dir(void **state)
{
	struct zr_spill *sp;
	char tmpl[] = "/var/tmp/zr-spill-test.XXXXXX";
	char path[64];

	assert_int_equal(zr_spill_open("/nonexistent/zr-spill", 0, &sp), -ENOENT);
	assert_int_equal(zr_spill_open("/etc/passwd", 0, &sp), -ENOTDIR);
	assert_non_null(mkdtemp(tmpl));
	assert_int_equal(zr_spill_open(tmpl, 0, &sp), 0);
	zr_spill_close(sp);
	/* Nothing left behind in the directory. */
	snprintf(path, sizeof(path), "%s", tmpl);
	assert_int_equal(rmdir(path), 0);
}

struct thr {
	struct zr_spill *sp;
	unsigned seed;
	int ok;
};

static void *worker(void *arg)
{
	struct thr *t = arg;
	uint8_t a[5000], b[5000];
	uint32_t loc;

	t->ok = 1;
	for (int i = 0; i < 300; i++) {
		uint32_t len = 100 + (t->seed * 31 + (unsigned)i * 17) % 4900;

		fill(a, len, t->seed + (unsigned)i);
		if (zr_spill_write(t->sp, a, len, &loc) ||
		    zr_spill_read(t->sp, loc, b, len) || memcmp(a, b, len))
			t->ok = 0;
		zr_spill_free(t->sp, loc, len);
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct zr_spill *sp;
	struct zr_spill_stats st;
	pthread_t th[4];
	struct thr t[4];

	assert_int_equal(zr_spill_open(dir(), 0, &sp), 0);
	for (unsigned i = 0; i < 4; i++) {
		t[i] = (struct thr){.sp = sp, .seed = i};
		pthread_create(&th[i], NULL, worker, &t[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_true(t[i].ok);
	}
	zr_spill_get_stats(sp, &st);
	assert_int_equal(st.extents, 0);
	assert_int_equal(st.file_bytes, 0);
	zr_spill_close(sp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_reuse),
		cmocka_unit_test(test_limit),
		cmocka_unit_test(test_corrupt),
		cmocka_unit_test(test_punch),
		cmocka_unit_test(test_bad_dir),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
