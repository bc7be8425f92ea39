/* SPDX-License-Identifier: MIT */
/*
 * test_writeback.c - the writeback tier in src/chunk.c: chunks written
 * back to a spill read back identical in every state; overwrite,
 * truncate, punch and destroy free their extents; cold-chunk selection by
 * access tick; corrupt extents give -EIO for that chunk only; mem_limit
 * pressure; writeback racing with readers and writers (TSan).
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
	struct zr_spill *spill;
	struct zr_store *store;
};

static unsigned g_workers;

static struct env env_new(uint64_t mem_limit, unsigned idle)
{
	struct zr_arena_config ac = {.max_object = MIB, .cap_bytes = 0};
	struct zr_store_config sc = {
	    .chunk_shift = 16, .codec = {ZR_CODEC_LZ4, 0}, .workers = g_workers,
	    .mem_limit = mem_limit, .idle = idle};
	struct env e;

	e.arena = zr_arena_create(&ac);
	assert_non_null(e.arena);
	assert_int_equal(zr_spill_open("/var/tmp", 0, &e.spill), 0);
	sc.arena = e.arena;
	sc.spill = e.spill;
	e.store = zr_store_create(&sc);
	assert_non_null(e.store);
	assert_int_equal(zr_store_start(e.store), 0);
	return e;
}

static void env_free(struct env *e)
{
	struct zr_store_stats st;
	struct zr_spill_stats sp;
	struct zr_arena_stats as;

	zr_store_sync(e->store);
	zr_store_get_stats(e->store, &st);
	assert_int_equal(st.chunks, 0);
	assert_int_equal(st.spilled_chunks, 0);
	assert_int_equal(st.spill_bytes, 0);
	zr_store_destroy(e->store);
	zr_arena_get_stats(e->arena, &as);
	assert_int_equal(as.objects, 0);
	zr_spill_get_stats(e->spill, &sp);
	assert_int_equal(sp.extents, 0);
	assert_int_equal(sp.bytes, 0);
	assert_int_equal(sp.file_bytes, 0);
	zr_spill_close(e->spill);
	zr_arena_destroy(e->arena);
}

static __thread uint64_t rng_state = 0x243f6a8885a308d3ULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Text-like (compresses), random (raw) and same-filled stretches. */
static void fill_mixed(uint8_t *p, size_t n)
{
	static const char *const w[] = {"alpha ", "beta ", "zram\n", "chunk "};

	for (size_t i = 0; i < n; i++) {
		size_t blk = i / (64 * KIB);

		if (blk % 3 == 0)
			p[i] = (uint8_t)w[(i / 6) % 4][i % 5];
		else if (blk % 3 == 1)
			p[i] = (uint8_t)rng();
		else
			p[i] = 0x5a;
	}
}

static void check_file(struct zr_fdata *f, const uint8_t *want, size_t n)
{
	uint8_t *got = malloc(n + 1);

	assert_non_null(got);
	assert_int_equal(zr_fdata_read(f, got, n + 1, 0), (ssize_t)n);
	assert_memory_equal(got, want, n);
	/* unaligned pieces across chunk edges */
	for (size_t off = 1000; off + 5000 < n; off += 70001) {
		assert_int_equal(zr_fdata_read(f, got, 5000, off), 5000);
		assert_memory_equal(got, want + off, 5000);
	}
	free(got);
}

static void test_all_states(void **state)
{
	struct env e = env_new(0, 0);
	size_t n = 2 * MIB + 12345;
	uint8_t *d = malloc(n);
	struct zr_fdata *f = zr_fdata_create(e.store);
	struct zr_store_stats st;
	struct zr_spill_stats sp;
	struct zr_fdata_stats fs;
	struct zr_arena_stats as;

	fill_mixed(d, n);
	assert_int_equal(zr_fdata_write(f, d, n, 0), (ssize_t)n);
	assert_true(zr_store_writeback(e.store, ZR_WB_ALL) > 0);
	zr_store_get_stats(e.store, &st);
	zr_fdata_get_stats(f, &fs);
	assert_int_equal(st.compressed_chunks + st.huge_chunks, 0);
	assert_true(st.spilled_chunks > 0);
	assert_int_equal(fs.spilled_chunks, st.spilled_chunks);
	assert_int_equal(st.compr_data_size, 0);
	zr_arena_get_stats(e.arena, &as);
	assert_int_equal(as.objects, 0);
	zr_spill_get_stats(e.spill, &sp);
	assert_int_equal(sp.bytes, st.spill_bytes);
	assert_int_equal(sp.extents, st.spilled_chunks);
	/* one read of each chunk: read from the spill, nothing promoted */
	{
		uint8_t *got = malloc(n);

		assert_int_equal(zr_fdata_read(f, got, n, 0), (ssize_t)n);
		assert_memory_equal(got, d, n);
		free(got);
	}
	zr_store_get_stats(e.store, &st);
	assert_int_equal(st.promoted_chunks, 0);
	/* again: nothing left to write back */
	assert_int_equal(zr_store_writeback(e.store, ZR_WB_ALL), 0);
	/* read again: hot, promoted (no mem_limit: always room) */
	check_file(f, d, n);
	zr_store_get_stats(e.store, &st);
	assert_true(st.promoted_chunks > 0);
	assert_true(st.compressed_chunks + st.huge_chunks > 0);
	zr_spill_get_stats(e.spill, &sp);
	assert_int_equal(sp.extents, st.spilled_chunks);
	check_file(f, d, n);
	assert_true(zr_store_writeback(e.store, ZR_WB_ALL) > 0);

	/* overwrite inside spilled chunks, truncate into one, punch one */
	memset(d + 100000, 'x', 3000);
	assert_int_equal(zr_fdata_write(f, d + 100000, 3000, 100000), 3000);
	check_file(f, d, n);
	assert_int_equal(zr_fdata_truncate(f, n - 40000), 0);
	n -= 40000;
	check_file(f, d, n);
	assert_int_equal(zr_fdata_punch_hole(f, 200000, 150000), 0);
	memset(d + 200000, 0, 150000);
	check_file(f, d, n);
	zr_store_sync(e.store);
	zr_store_get_stats(e.store, &st);
	zr_spill_get_stats(e.spill, &sp);
	assert_int_equal(sp.extents, st.spilled_chunks);
	assert_int_equal(sp.bytes, st.spill_bytes);
	/* huge only */
	zr_fdata_destroy(f);
	f = zr_fdata_create(e.store);
	fill_mixed(d, n);
	assert_int_equal(zr_fdata_write(f, d, n, 0), (ssize_t)n);
	assert_true(zr_store_writeback(e.store, ZR_WB_HUGE) > 0);
	zr_store_get_stats(e.store, &st);
	assert_int_equal(st.huge_chunks, 0);
	assert_true(st.compressed_chunks > 0);
	check_file(f, d, n);
	zr_fdata_destroy(f);
	free(d);
	env_free(&e);
}

static void test_cold_selection(void **state)
{
	struct env e = env_new(0, 5);
	uint8_t d[256 * KIB], got[64 * KIB];
	struct zr_fdata *a = zr_fdata_create(e.store), *b = zr_fdata_create(e.store);
	struct zr_fdata_stats fa, fb;

	fill_mixed(d, sizeof(d));
	assert_int_equal(zr_fdata_write(a, d, sizeof(d), 0), (ssize_t)sizeof(d));
	zr_store_sync(e.store);
	for (int i = 0; i < 10; i++)
		zr_store_tick(e.store);
	/* a's chunk 2 is read again: hot */
	assert_int_equal(zr_fdata_read(a, got, sizeof(got), 128 * KIB), (ssize_t)sizeof(got));
	assert_int_equal(zr_fdata_write(b, d, sizeof(d), 0), (ssize_t)sizeof(d));
	zr_store_writeback(e.store, ZR_WB_IDLE);
	zr_fdata_get_stats(a, &fa);
	zr_fdata_get_stats(b, &fb);
	/* a: 4 chunks, chunk 2 SAME-filled (0x5a) never spills; chunk 2 is
	 * same anyway, so read chunk 0 too */
	assert_int_equal(fb.spilled_chunks, 0);
	assert_true(fa.spilled_chunks >= 1);
	assert_int_equal(zr_fdata_read(a, got, sizeof(got), 0), (ssize_t)sizeof(got));
	assert_memory_equal(got, d, sizeof(got));
	zr_fdata_destroy(a);
	zr_fdata_destroy(b);
	env_free(&e);
}

static void test_read_keeps_hot(void **state)
{
	struct env e = env_new(0, 5);
	uint8_t d[128 * KIB], got[64 * KIB];
	struct zr_fdata *a = zr_fdata_create(e.store);
	struct zr_fdata_stats fa;

	for (size_t i = 0; i < sizeof(d); i++)
		d[i] = (uint8_t)("hot and cold "[i % 13]);
	assert_int_equal(zr_fdata_write(a, d, sizeof(d), 0), (ssize_t)sizeof(d));
	zr_store_sync(e.store);
	for (int i = 0; i < 10; i++)
		zr_store_tick(e.store);
	assert_int_equal(zr_fdata_read(a, got, 100, 64 * KIB + 7), 100);
	zr_store_writeback(e.store, ZR_WB_IDLE);
	zr_fdata_get_stats(a, &fa);
	assert_int_equal(fa.spilled_chunks, 1); /* chunk 0 only */
	zr_fdata_destroy(a);
	env_free(&e);
}

static void test_corrupt_extent(void **state)
{
	struct env e = env_new(0, 0);
	uint8_t d[256 * KIB], got[64 * KIB];
	struct zr_fdata *a = zr_fdata_create(e.store);
	struct zr_store_stats st;
	struct zr_spill_stats sp;
	uint8_t x = 0;

	for (size_t i = 0; i < sizeof(d); i++)
		d[i] = (uint8_t)rng();
	assert_int_equal(zr_fdata_write(a, d, sizeof(d), 0), (ssize_t)sizeof(d));
	assert_int_equal(zr_store_writeback(e.store, ZR_WB_ALL), 4);
	/* the extents follow each other: corrupt a byte in the second */
	assert_int_equal(pread(zr_spill_fd(e.spill), &x, 1, 64 * KIB + 1024), 1);
	x ^= 1;
	assert_int_equal(pwrite(zr_spill_fd(e.spill), &x, 1, 64 * KIB + 1024), 1);
	assert_int_equal(zr_fdata_read(a, got, sizeof(got), 64 * KIB), -EIO);
	assert_int_equal(zr_fdata_read(a, got, sizeof(got), 0), (ssize_t)sizeof(got));
	assert_memory_equal(got, d, sizeof(got));
	assert_int_equal(zr_fdata_read(a, got, sizeof(got), 128 * KIB), (ssize_t)sizeof(got));
	assert_memory_equal(got, d + 128 * KIB, sizeof(got));
	zr_store_get_stats(e.store, &st);
	zr_spill_get_stats(e.spill, &sp);
	assert_int_equal(st.failed_reads, 1);
	assert_int_equal(sp.failed_reads, 1);
	/* overwriting the bad chunk heals it */
	assert_int_equal(zr_fdata_write(a, d + 64 * KIB, 64 * KIB, 64 * KIB), 64 * KIB);
	assert_int_equal(zr_fdata_read(a, got, sizeof(got), 64 * KIB), (ssize_t)sizeof(got));
	assert_memory_equal(got, d + 64 * KIB, sizeof(got));
	zr_fdata_destroy(a);
	env_free(&e);
}

/* Injected spill faults: a failed write leaves the chunk in RAM (counted);
 * a failed read is EIO for that chunk only; everything else reads fine. */
static void test_faults(void **state)
{
	struct env e = env_new(0, 0);
	uint8_t d[256 * KIB], got[256 * KIB];
	struct zr_fdata *a = zr_fdata_create(e.store), *b = zr_fdata_create(e.store);
	struct zr_store_stats st;
	struct zr_spill_stats sp;

	for (size_t i = 0; i < sizeof(d); i++)
		d[i] = (uint8_t)("fault injection "[i % 16]);
	assert_int_equal(zr_fdata_write(a, d, sizeof(d), 0), (ssize_t)sizeof(d));
	assert_int_equal(zr_fdata_write(b, d, sizeof(d), 0), (ssize_t)sizeof(d));
	zr_spill_set_fault(e.spill, ZR_SPILL_FAULT_WRITE, -1);
	assert_int_equal(zr_store_writeback(e.store, ZR_WB_ALL), -EIO);
	zr_spill_set_fault(e.spill, ZR_SPILL_FAULT_WRITE, 0);
	zr_store_get_stats(e.store, &st);
	zr_spill_get_stats(e.spill, &sp);
	assert_int_equal(st.spilled_chunks, 0);
	assert_int_equal(st.compressed_chunks, 8);
	assert_true(sp.failed_writes > 0);
	assert_int_equal(sp.extents, 0);
	assert_int_equal(sp.file_bytes, 0);
	assert_int_equal(zr_fdata_read(a, got, sizeof(got), 0), (ssize_t)sizeof(got));
	assert_memory_equal(got, d, sizeof(d));
	/* now spill everything; one read fails: EIO for that read only */
	assert_int_equal(zr_store_writeback(e.store, ZR_WB_ALL), 8);
	zr_spill_set_fault(e.spill, ZR_SPILL_FAULT_READ, 1);
	assert_int_equal(zr_fdata_read(a, got, 64 * KIB, 0), -EIO);
	assert_int_equal(zr_fdata_read(a, got, sizeof(got), 0), (ssize_t)sizeof(got));
	assert_memory_equal(got, d, sizeof(d));
	assert_int_equal(zr_fdata_read(b, got, sizeof(got), 0), (ssize_t)sizeof(got));
	assert_memory_equal(got, d, sizeof(d));
	zr_store_get_stats(e.store, &st);
	zr_spill_get_stats(e.spill, &sp);
	assert_int_equal(st.failed_reads, 1);
	assert_int_equal(sp.failed_reads, 1);
	zr_fdata_destroy(a);
	zr_fdata_destroy(b);
	env_free(&e);
}

static void test_pressure(void **state)
{
	struct env e = env_new(4 * MIB, 0);
	size_t n = 24 * MIB;
	uint8_t *d = malloc(n);
	struct zr_fdata *f = zr_fdata_create(e.store);
	struct zr_store_stats st;

	for (size_t i = 0; i < n; i++)
		d[i] = (i / 4096) % 5 == 0 ? (uint8_t)rng() : (uint8_t)("pressure "[i % 9]);
	for (size_t off = 0; off < n; off += MIB)
		assert_int_equal(zr_fdata_write(f, d + off, MIB, off), (ssize_t)MIB);
	zr_store_sync(e.store);
	for (int i = 0; i < 40; i++) { /* the thread runs every 200 ms */
		zr_store_get_stats(e.store, &st);
		if (st.spilled_chunks)
			break;
		usleep(100000);
	}
	assert_true(st.spilled_chunks > 0);
	check_file(f, d, n);
	zr_store_set_mem_limit(e.store, 0);
	assert_int_equal(zr_store_mem_limit(e.store), 0);
	zr_fdata_destroy(f);
	free(d);
	env_free(&e);
}

static void wb_fill(uint8_t *p, size_t n, int id)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)("racing writeback "[(i + (size_t)id) % 17]);
}

static void wb_change(uint8_t *p, size_t n, int id)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(p[i] + 1);
}

struct racer {
	struct env *e;
	atomic_int *stop;
};

static void *race_wb(void *arg)
{
	struct racer *r = arg;

	while (!atomic_load(r->stop))
		zr_store_writeback(r->e->store, ZR_WB_ALL);
	return NULL;
}

static void test_races(void **state)
{
	struct env e = env_new(0, 0);
	atomic_int stop = 0;
	struct racer wb = {.e = &e, .stop = &stop};
	struct race_io io[3];
	pthread_t th[3], wt;

	pthread_create(&wt, NULL, race_wb, &wb);
	for (int i = 0; i < 3; i++) {
		io[i] = (struct race_io){.store = e.store, .id = i, .fill = wb_fill, .change = wb_change};
		pthread_create(&th[i], NULL, race_io_main, &io[i]);
	}
	for (int i = 0; i < 3; i++) {
		pthread_join(th[i], NULL);
		assert_true(io[i].ok);
	}
	atomic_store(&stop, 1);
	pthread_join(wt, NULL);
	env_free(&e);
}

static int set_workers(void **state)
{
	g_workers = (unsigned)(uintptr_t)*state;
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_all_states),
	    cmocka_unit_test(test_cold_selection),
	    cmocka_unit_test(test_read_keeps_hot),
	    cmocka_unit_test(test_corrupt_extent),
	    cmocka_unit_test(test_faults),
	    cmocka_unit_test(test_pressure),
	    cmocka_unit_test(test_races),
	};
	int fails = 0;

	g_workers = 0;
	fails += cmocka_run_group_tests_name("writeback, inline", tests, NULL, NULL);
	g_workers = 2;
	fails += cmocka_run_group_tests_name("writeback, 2 workers", tests, NULL, NULL);
	(void)set_workers;
	return fails;
}
