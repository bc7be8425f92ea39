/* SPDX-License-Identifier: MIT */
/*
 * pool.c - worker threads and a bounded, batched job queue
 * (see include/zramfs/pool.h).
 *
 * State, all under the pool's one mutex:
 *
 *	head/tail   FIFO of queued jobs, linked through zr_job.next
 *	queued      jobs in the FIFO
 *	running     jobs taken by workers and not yet finished
 *	awake       workers not parked on the idle stack
 *	idle        stack of parked workers, each waiting on its own condvar
 *
 * Invariants: queued + running <= capacity (a re-queue keeps the sum);
 * awake + |idle| == workers.
 *
 * Waking.  A worker parks only when the queue is empty.  A submit wakes a
 * parked worker only while queued > awake * batch, i.e. while the awake
 * workers, each taking up to `batch` jobs on their next turn, would leave
 * jobs behind.  The waker pops the worker off the idle stack and sets its
 * flag before signalling its private condvar, so the count of awake workers
 * is exact at once (no second submit wakes a second worker for the same
 * work) and spurious wake-ups are harmless (the flag is the condition).
 *
 * Taking.  An awake worker takes min(batch, its fair share of the queue)
 * jobs, runs their callbacks with no lock held, then puts back the jobs
 * that asked to be re-queued and takes the next batch.
 *
 * Shutdown: destroy sets stop and wakes every parked worker; a worker exits
 * only when it sees stop with an empty queue, so pending jobs all run.
 */
#include "zramfs/pool.h"
#include "zramfs/mem.h"

#include <assert.h>
#include <pthread.h>
#include <stddef.h>

struct worker {
	struct zr_pool *p;
	pthread_t thread;
	pthread_cond_t cv;	  /* signalled by whoever sets woken */
	bool woken;		  /* true once taken off the idle stack */
	struct worker *next_idle; /* idle stack link */
};

struct zr_pool {
	pthread_mutex_t lock;
	pthread_cond_t room_cv;	  /* submitters waiting for capacity */
	pthread_cond_t idle_cv;	  /* drainers: queued == running == 0 */
	struct zr_job *head;	  /* FIFO of queued jobs */
	struct zr_job *tail;
	uint64_t queued;
	uint64_t running;
	unsigned awake;		  /* workers not on the idle stack */
	struct worker *idle;	  /* parked workers */
	bool stop;		  /* destroy: exit once the queue is empty */
	unsigned nworkers;
	unsigned batch;
	unsigned capacity;
	uint64_t done;
	uint64_t requeued;
	uint64_t wakeups;
	uint64_t submit_waits;
	struct worker w[];
};

/* Append the chain first..last (n jobs).  Lock held. */
static void append(struct zr_pool *p, struct zr_job *first, struct zr_job *last, unsigned n)
{
	last->next = NULL;
	if (p->tail)
		p->tail->next = first;
	else
		p->head = first;
	p->tail = last;
	p->queued += n;
}

/* Wake one parked worker.  Lock held, idle stack non-empty. */
static void wake_one(struct zr_pool *p)
{
	struct worker *w = p->idle;

	p->idle = w->next_idle;
	w->woken = true;
	p->awake++;
	p->wakeups++;
	pthread_cond_signal(&w->cv);
}

/* Wake workers while the awake ones would leave queued jobs behind. */
static void wake_as_needed(struct zr_pool *p)
{
	while (p->idle && p->queued > (uint64_t)p->awake * p->batch)
		wake_one(p);
}

/* Park the calling worker until a submit (or destroy) wakes it. */
static void park(struct zr_pool *p, struct worker *w)
{
	w->woken = false;
	w->next_idle = p->idle;
	p->idle = w;
	p->awake--;
	while (!w->woken)
		pthread_cond_wait(&w->cv, &p->lock);
}

/* Take up to a fair share of the queue, at most batch jobs. */
static struct zr_job *take(struct zr_pool *p, unsigned *n)
{
	uint64_t share = (p->queued + p->awake - 1) / p->awake;
	struct zr_job *first = p->head, *j = first;
	unsigned k = (unsigned)(share < p->batch ? share : p->batch);

	assert(k >= 1 && k <= p->queued);
	for (unsigned i = 1; i < k; i++)
		j = j->next;
	p->head = j->next;
	if (!p->head)
		p->tail = NULL;
	j->next = NULL;
	p->queued -= k;
	p->running += k;
	*n = k;
	return first;
}

/* Run a taken chain; returns the jobs to re-queue (count in *nre). */
static struct zr_job *run_chain(struct zr_job *j, struct zr_job **re_last, unsigned *nre)
{
	struct zr_job *re = NULL, *next;

	*nre = 0;
	*re_last = NULL;
	for (; j; j = next) {
		next = j->next;
		if (!j->fn(j))
			continue;	/* done: j may be gone already */
		j->next = NULL;
		if (*re_last)
			(*re_last)->next = j;
		else
			re = j;
		*re_last = j;
		(*nre)++;
	}
	return re;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct zr_pool *p = w->p;
	struct zr_job *chain, *re, *re_last;
	unsigned n, nre;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		if (!p->queued) {
			if (p->stop)
				break;
			park(p, w);
			continue;
		}
		chain = take(p, &n);
		pthread_mutex_unlock(&p->lock);
		re = run_chain(chain, &re_last, &nre);
		pthread_mutex_lock(&p->lock);
		if (re)
			append(p, re, re_last, nre);
		p->running -= n;
		p->done += n - nre;
		p->requeued += nre;
		if (n > nre) {
			pthread_cond_broadcast(&p->room_cv);
			pthread_cond_broadcast(&p->idle_cv); /* drain counts done */
		}
	}
	p->awake--;
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static void stop_workers(struct zr_pool *p, unsigned started)
{
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	while (p->idle)
		wake_one(p);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < started; i++)
		pthread_join(p->w[i].thread, NULL);
}

static void pool_free(struct zr_pool *p)
{
	for (unsigned i = 0; i < p->nworkers; i++)
		pthread_cond_destroy(&p->w[i].cv);
	pthread_cond_destroy(&p->idle_cv);
	pthread_cond_destroy(&p->room_cv);
	pthread_mutex_destroy(&p->lock);
	zr_free(p);
}

struct zr_pool *zr_pool_create(const struct zr_pool_config *cfg)
{
	struct zr_pool *p;
	unsigned i;

	if (!cfg || cfg->workers < 1 || cfg->workers > ZR_POOL_MAX_WORKERS || cfg->batch < 1 ||
	    cfg->capacity < 1)
		return NULL;
	p = zr_calloc(1, sizeof(*p) + cfg->workers * sizeof(struct worker));
	if (!p)
		return NULL;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->room_cv, NULL);
	pthread_cond_init(&p->idle_cv, NULL);
	p->nworkers = cfg->workers;
	p->batch = cfg->batch;
	p->capacity = cfg->capacity;
	p->awake = cfg->workers; /* each parks itself on its first look */
	for (i = 0; i < cfg->workers; i++) {
		p->w[i].p = p;
		pthread_cond_init(&p->w[i].cv, NULL);
	}
	for (i = 0; i < cfg->workers; i++) {
		if (pthread_create(&p->w[i].thread, NULL, worker_main, &p->w[i]))
			break;
	}
	if (i < cfg->workers) {
		pthread_mutex_lock(&p->lock);
		p->awake -= cfg->workers - i; /* never started */
		pthread_mutex_unlock(&p->lock);
		stop_workers(p, i);
		pool_free(p);
		return NULL;
	}
	return p;
}

void zr_pool_destroy(struct zr_pool *p)
{
	if (!p)
		return;
	stop_workers(p, p->nworkers);
	assert(!p->queued && !p->running && !p->awake);
	pool_free(p);
}

void zr_pool_submit(struct zr_pool *p, struct zr_job *first, unsigned n)
{
	struct zr_job *last = first;

	assert(n >= 1 && n <= p->capacity);
	for (unsigned i = 1; i < n; i++)
		last = last->next;
	pthread_mutex_lock(&p->lock);
	if (p->queued + p->running + n > p->capacity) {
		p->submit_waits++;
		do
			pthread_cond_wait(&p->room_cv, &p->lock);
		while (p->queued + p->running + n > p->capacity);
	}
	append(p, first, last, n);
	wake_as_needed(p);
	pthread_mutex_unlock(&p->lock);
}

void zr_pool_drain(struct zr_pool *p)
{
	uint64_t target;

	pthread_mutex_lock(&p->lock);
	target = p->done + p->queued + p->running;
	while ((p->queued || p->running) && p->done < target)
		pthread_cond_wait(&p->idle_cv, &p->lock);
	pthread_mutex_unlock(&p->lock);
}

void zr_pool_get_stats(struct zr_pool *p, struct zr_pool_stats *st)
{
	pthread_mutex_lock(&p->lock);
	st->workers = p->nworkers;
	st->queued = p->queued;
	st->running = p->running;
	st->done = p->done;
	st->requeued = p->requeued;
	st->wakeups = p->wakeups;
	st->submit_waits = p->submit_waits;
	pthread_mutex_unlock(&p->lock);
}
