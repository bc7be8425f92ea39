/* SPDX-License-Identifier: MIT */
/*
 * test_pool.c - unit tests for src/pool.c: every job runs exactly once,
 * re-queues, batching and the wake-up rule (a trickle wakes no second
 * worker), the capacity bound under many producers, drain, and shutdown
 * with work pending.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "zramfs/pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct tjob {
	struct zr_job job;		/* first */
	_Atomic unsigned runs;		/* times the callback ran */
	unsigned requeues;		/* times it still asks to run again */
	useconds_t sleep_us;		/* work it pretends to do */
};

/* A gate a job can wait on, to hold a worker busy. */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static int gate_open = 1;
static int gate_waiting;

static _Atomic int in_flight, max_in_flight;

static bool tjob_fn(struct zr_job *j)
{
	struct tjob *t = (struct tjob *)j;
	int n = atomic_fetch_add(&in_flight, 1) + 1, m = atomic_load(&max_in_flight);

	while (n > m && !atomic_compare_exchange_weak(&max_in_flight, &m, n))
		;
	atomic_fetch_add(&t->runs, 1);
	if (t->sleep_us)
		usleep(t->sleep_us);
	atomic_fetch_sub(&in_flight, 1);
	if (t->requeues) {
		t->requeues--;
		return true;
	}
	return false;
}

static bool gate_fn(struct zr_job *j)
{
	pthread_mutex_lock(&gate_lock);
	gate_waiting++;
	pthread_cond_broadcast(&gate_cv);
	while (!gate_open)
		pthread_cond_wait(&gate_cv, &gate_lock);
	gate_waiting--;
	pthread_mutex_unlock(&gate_lock);
	return tjob_fn(j);
}

static void gate_set(int open)
{
	pthread_mutex_lock(&gate_lock);
	gate_open = open;
	pthread_cond_broadcast(&gate_cv);
	pthread_mutex_unlock(&gate_lock);
}

static void gate_wait_for(int n)
{
	pthread_mutex_lock(&gate_lock);
	while (gate_waiting < n)
		pthread_cond_wait(&gate_cv, &gate_lock);
	pthread_mutex_unlock(&gate_lock);
}

static struct zr_pool *pool_new(unsigned workers, unsigned batch, unsigned cap)
{
	struct zr_pool_config c = {workers, batch, cap};
	struct zr_pool *p = zr_pool_create(&c);

	assert_non_null(p);
	return p;
}

static struct zr_pool_stats pstats(struct zr_pool *p)
{
	struct zr_pool_stats st;

	zr_pool_get_stats(p, &st);
	return st;
}

static void submit_one(struct zr_pool *p, struct tjob *t, zr_job_fn fn)
{
	t->job.fn = fn;
	zr_pool_submit(p, &t->job, 1);
}

static void test_bad_config(void **state)
{
	struct zr_pool_config c = {0, 1, 1};

	assert_null(zr_pool_create(&c));
	c = (struct zr_pool_config){ZR_POOL_MAX_WORKERS + 1, 1, 1};
	assert_null(zr_pool_create(&c));
	c = (struct zr_pool_config){1, 0, 1};
	assert_null(zr_pool_create(&c));
	c = (struct zr_pool_config){1, 1, 0};
	assert_null(zr_pool_create(&c));
	assert_null(zr_pool_create(NULL));
	zr_pool_destroy(NULL);
}

/* Chains of jobs, some re-queued: each runs 1 + requeues times. */
static void test_run_and_requeue(void **state)
{
	enum { N = 500 };
	struct zr_pool *p = pool_new(3, 4, N);
	struct tjob *t = calloc(N, sizeof(*t));
	struct zr_pool_stats st;

	for (int i = 0; i < N; i++) {
		t[i].job.fn = tjob_fn;
		t[i].requeues = i % 7 == 0 ? 3 : 0;
		t[i].job.next = i % 10 == 9 ? NULL : &t[i + 1].job;
	}
	for (int i = 0; i < N; i += 10)
		zr_pool_submit(p, &t[i].job, 10);
	zr_pool_drain(p);
	for (int i = 0; i < N; i++)
		assert_int_equal(t[i].runs, i % 7 == 0 ? 4 : 1);
	st = pstats(p);
	assert_int_equal(st.done, N);
	assert_int_equal(st.requeued, 3 * ((N + 6) / 7));
	assert_int_equal(st.queued, 0);
	assert_int_equal(st.running, 0);
	zr_pool_destroy(p);
	free(t);
}

/* Wake-up rule: with one worker busy, up to `batch` queued jobs wake no
 * one; one more wakes exactly one; a slow trickle (one job at a time,
 * each done before the next) keeps waking at most one worker per job and
 * never a second one for the same job. */
static void test_wakeups(void **state)
{
	enum { BATCH = 4 };
	struct zr_pool *p = pool_new(4, BATCH, 64);
	static struct tjob busy, t[BATCH + 1], tr[50];
	uint64_t w0;

	usleep(20000); /* let the workers park */
	gate_set(0);
	submit_one(p, &busy, gate_fn);
	gate_wait_for(1); /* one worker awake, held */
	w0 = pstats(p).wakeups;
	assert_int_equal(w0, 1);
	for (int i = 0; i < BATCH; i++)
		submit_one(p, &t[i], tjob_fn);
	assert_int_equal(pstats(p).wakeups, w0); /* the busy one will take them */
	submit_one(p, &t[BATCH], tjob_fn);
	assert_int_equal(pstats(p).wakeups, w0 + 1);
	gate_set(1);
	zr_pool_drain(p);
	for (int i = 0; i <= BATCH; i++)
		assert_int_equal(t[i].runs, 1);
	/* Trickle: a job at a time: at most one wake-up per job, and only
	 * ever one worker running. */
	w0 = pstats(p).wakeups;
	atomic_store(&max_in_flight, 0);
	for (int i = 0; i < 50; i++) {
		submit_one(p, &tr[i], tjob_fn);
		zr_pool_drain(p);
	}
	assert_true(pstats(p).wakeups - w0 <= 50);
	assert_int_equal(atomic_load(&max_in_flight), 1);
	zr_pool_destroy(p);
}

/* Batching: a burst is shared out, each take at most `batch` jobs. */
static void test_batches_parallel(void **state)
{
	enum { N = 64 };
	struct zr_pool *p = pool_new(4, 2, N);
	struct tjob *t = calloc(N, sizeof(*t));

	atomic_store(&max_in_flight, 0);
	for (int i = 0; i < N; i++) {
		t[i].job.fn = tjob_fn;
		t[i].sleep_us = 500;
		t[i].job.next = i + 1 < N ? &t[i + 1].job : NULL;
	}
	zr_pool_submit(p, &t[0].job, N);
	zr_pool_drain(p);
	assert_true(atomic_load(&max_in_flight) >= 2); /* more than one worker ran */
	assert_true(atomic_load(&max_in_flight) <= 4);
	for (int i = 0; i < N; i++)
		assert_int_equal(t[i].runs, 1);
	zr_pool_destroy(p);
	free(t);
}

/* Many producers against a small capacity: queued + running never passes
 * it, submits wait, nothing is lost. */
struct producer {
	struct zr_pool *p;
	struct tjob *t;
	int n;
};

static void *producer_main(void *arg)
{
	struct producer *pr = arg;

	for (int i = 0; i < pr->n; i++) {
		pr->t[i].job.fn = tjob_fn;
		pr->t[i].sleep_us = i % 3 == 0 ? 50 : 0;
		zr_pool_submit(pr->p, &pr->t[i].job, 1);
	}
	return NULL;
}

static _Atomic int watching;

static void *watcher_main(void *arg)
{
	struct zr_pool *p = arg;

	while (atomic_load(&watching)) {
		struct zr_pool_stats st = pstats(p);

		assert_true(st.queued + st.running <= 8);
		usleep(50);
	}
	return NULL;
}

static void test_many_producers(void **state)
{
	enum { P = 6, N = 400 };
	struct zr_pool *p = pool_new(3, 2, 8);
	struct producer pr[P];
	pthread_t th[P], wt;

	atomic_store(&watching, 1);
	pthread_create(&wt, NULL, watcher_main, p);
	for (int i = 0; i < P; i++) {
		pr[i] = (struct producer){p, calloc(N, sizeof(struct tjob)), N};
		pthread_create(&th[i], NULL, producer_main, &pr[i]);
	}
	for (int i = 0; i < P; i++)
		pthread_join(th[i], NULL);
	zr_pool_drain(p);
	atomic_store(&watching, 0);
	pthread_join(wt, NULL);
	for (int i = 0; i < P; i++) {
		for (int j = 0; j < N; j++)
			assert_int_equal(pr[i].t[j].runs, 1);
		free(pr[i].t);
	}
	assert_int_equal(pstats(p).done, P * N);
	assert_true(pstats(p).submit_waits > 0);
	zr_pool_destroy(p);
}

/* Shutdown with work pending: every queued job (and its re-queues) runs
 * before destroy returns. */
static void test_shutdown_pending(void **state)
{
	enum { N = 200 };
	struct zr_pool *p = pool_new(2, 4, N);
	struct tjob *t = calloc(N, sizeof(*t));

	for (int i = 0; i < N; i++) {
		t[i].job.fn = tjob_fn;
		t[i].sleep_us = 100;
		t[i].requeues = i % 50 == 0;
		t[i].job.next = i + 1 < N ? &t[i + 1].job : NULL;
	}
	zr_pool_submit(p, &t[0].job, N);
	zr_pool_destroy(p);
	for (int i = 0; i < N; i++)
		assert_int_equal(t[i].runs, 1 + (i % 50 == 0));
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bad_config),
	    cmocka_unit_test(test_run_and_requeue),
	    cmocka_unit_test(test_wakeups),
	    cmocka_unit_test(test_batches_parallel),
	    cmocka_unit_test(test_many_producers),
	    cmocka_unit_test(test_shutdown_pending),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
