/* SPDX-License-Identifier: MIT */
/*
 * test_arena_stress.c - the arena under concurrency: worker threads
 * alloc/write/read-verify/free their own objects and all read a shared set
 * of objects (several pins on one object at once), while another thread
 * compacts in a loop and polls stats.  Meant to run under TSan too.
 * ZR_TEST_QUICK=1 shortens the run.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "zramfs/arena.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NTHREADS	4
#define NSHARED		64	/* objects every thread reads */
#define NOWN		300	/* live objects per worker */
#define MAX_OBJ		(256u << 10)

struct obj {
	zr_handle_t	h;
	uint32_t	len;
	uint32_t	seed;
};

static struct zr_arena *arena;
static struct obj shared[NSHARED];
static atomic_int stop;
static atomic_long bad;

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void fill(uint8_t *buf, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(seed + i * 7);
}

static int check(const uint8_t *p, size_t len, uint32_t seed)
{
	/* first, last and a stride of bytes: enough to catch a bad move */
	for (size_t i = 0; i < len; i += 61)
		if (p[i] != (uint8_t)(seed + i * 7))
			return 0;
	return p[len - 1] == (uint8_t)(seed + (len - 1) * 7);
}

static size_t rand_len(uint64_t *r)
{
	uint64_t x = rng_next(r);

	return x % 4 ? 1 + x % 6000 : 1 + (x >> 8) % MAX_OBJ;
}

static int make(struct obj *o, uint64_t *r, uint8_t *buf)
{
	o->len = (uint32_t)rand_len(r);
	o->seed = (uint32_t)rng_next(r);
	if (zr_arena_alloc(arena, o->len, &o->h))
		return -1;
	fill(buf, o->len, o->seed);
	zr_arena_write(arena, o->h, buf, o->len);
	return 0;
}

static void read_check(const struct obj *o)
{
	const uint8_t *p = zr_arena_read_begin(arena, o->h);

	if (!check(p, o->len, o->seed))
		atomic_fetch_add(&bad, 1);
	zr_arena_read_end(arena, o->h);
}

static void *worker(void *arg)
{
	uint64_t r = 0x1234567ull * (uintptr_t)arg + 1;
	struct obj *own = calloc(NOWN, sizeof(*own));
	uint8_t *buf = malloc(MAX_OBJ);
	size_t n = 0;

	while (own && buf && !atomic_load(&stop)) {
		uint64_t x = rng_next(&r) % 10;

		if (x < 4 && n < NOWN) {
			n += !make(&own[n], &r, buf);
		} else if (x < 7 && n) {
			size_t i = rng_next(&r) % n;

			read_check(&own[i]);
			zr_arena_free(arena, own[i].h);
			own[i] = own[--n];
		} else if (x < 9 && n) {
			read_check(&own[rng_next(&r) % n]);
		} else {
			read_check(&shared[rng_next(&r) % NSHARED]);
		}
	}
	while (own && n)
		zr_arena_free(arena, own[--n].h);
	free(own);
	free(buf);
	return NULL;
}

static void *compactor(void *arg)
{
	struct zr_arena_stats st;
	long *passes = arg;

	while (!atomic_load(&stop)) {
		if (zr_arena_should_compact(arena) || *passes % 2 == 0)
			zr_arena_compact(arena);
		zr_arena_get_stats(arena, &st);
		(*passes)++;
	}
	return NULL;
}

static void test_concurrent(void **state)
{
	struct zr_arena_config cfg = { .max_object = MAX_OBJ };
	const char *q = getenv("ZR_TEST_QUICK");
	struct timespec ts = { .tv_sec = q && *q == '1' ? 1 : 4 };
	pthread_t t[NTHREADS], ct;
	struct zr_arena_stats st;
	uint8_t *buf = malloc(MAX_OBJ);
	uint64_t r = 99;
	long passes = 0;

	arena = zr_arena_create(&cfg);
	assert_non_null(arena);
	assert_non_null(buf);
	for (int i = 0; i < NSHARED; i++)
		assert_int_equal(make(&shared[i], &r, buf), 0);
	for (long i = 0; i < NTHREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, worker, (void *)(i + 1)), 0);
	assert_int_equal(pthread_create(&ct, NULL, compactor, &passes), 0);
	nanosleep(&ts, NULL);
	atomic_store(&stop, 1);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	pthread_join(ct, NULL);
	assert_int_equal(atomic_load(&bad), 0);
	assert_true(passes > 0);
	for (int i = 0; i < NSHARED; i++) {
		read_check(&shared[i]);
		zr_arena_free(arena, shared[i].h);
	}
	assert_int_equal(atomic_load(&bad), 0);
	zr_arena_get_stats(arena, &st);
	assert_int_equal(st.objects, 0);
	assert_true(st.objects_moved > 0);
	zr_arena_compact(arena);
	zr_arena_get_stats(arena, &st);
	assert_int_equal(st.mapped_bytes, 0);
	assert_int_equal(st.spans, 0);
	zr_arena_destroy(arena);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_concurrent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
