/* SPDX-License-Identifier: MIT */
/*
 * pool.h - a pool of worker threads running jobs from one bounded queue.
 *
 * A job is a small struct the caller embeds in its own object (no
 * allocation per job); it carries its callback.  Workers take up to `batch`
 * queued jobs at a time.  A sleeping worker is woken only when the queued
 * jobs exceed what the awake workers will take (awake x batch), so a
 * trickle of jobs is handled by one worker without a wake-up per job.
 * Each worker is an ordinary thread: thread-local state (zr_codec_ctx_get(),
 * scratch buffers) is per worker, created once and freed when it exits.
 *
 * The queue holds at most `capacity` jobs (queued plus running); a submit
 * that would pass that waits.  A caller that submits while holding a lock
 * a job needs must size the capacity so that this never happens (zramfs's
 * chunk layer: one job per staging buffer, capacity >= buffers).
 *
 * Knows nothing of chunks, files or FUSE.
 */
#ifndef ZRAMFS_POOL_H
#define ZRAMFS_POOL_H

#include <stdbool.h>
#include <stdint.h>

#define ZR_POOL_MAX_WORKERS 256

struct zr_job;

/* A job's callback runs on a worker with no pool lock held.  It returns
 * false when the job is done (the pool no longer touches it, so the
 * callback may free or reuse it), or true to be queued again at the tail
 * (e.g. its input changed while it ran); a re-queue never waits. */
typedef bool (*zr_job_fn)(struct zr_job *job);

struct zr_job {
	struct zr_job *next;	/* queue link, owned by the pool while queued */
	zr_job_fn fn;		/* set by the caller before submit */
};

struct zr_pool_config {
	unsigned workers;	/* 1 .. ZR_POOL_MAX_WORKERS */
	unsigned batch;		/* jobs a worker takes at once (>= 1) */
	unsigned capacity;	/* most jobs queued + running (>= 1) */
};

struct zr_pool_stats {
	unsigned workers;
	uint64_t queued;	/* jobs waiting now */
	uint64_t running;	/* jobs taken by workers now */
	uint64_t done;		/* callbacks that returned false */
	uint64_t requeued;	/* callbacks that returned true */
	uint64_t wakeups;	/* sleeping workers woken by a submit */
	uint64_t submit_waits;	/* submits that waited for room */
};

/* zr_pool_create(): start the workers.  NULL on a bad config or when a
 * thread cannot be created (no thread is left running then). */
struct zr_pool *zr_pool_create(const struct zr_pool_config *cfg);

/* zr_pool_destroy(): run every job still queued (including re-queues),
 * then stop and join the workers.  No submit may race with it.  NULL is
 * ignored. */
void zr_pool_destroy(struct zr_pool *p);

/* zr_pool_submit(): queue the chain first -> ... -> NULL (n jobs linked
 * through next) in order, waking workers as needed.  Waits while the pool
 * is at capacity.  n must not exceed the capacity. */
void zr_pool_submit(struct zr_pool *p, struct zr_job *first, unsigned n);

/* zr_pool_drain(): wait until the jobs queued or running at the call have
 * finished: returns when the pool is idle, or once as many jobs as there
 * were have finished, so submits racing with it cannot keep it waiting
 * (with a steady stream the count is what is bounded, not the identity of
 * the jobs).  With no concurrent submits the pool is idle on return. */
void zr_pool_drain(struct zr_pool *p);

/* zr_pool_get_stats(): a snapshot of the counters. */
void zr_pool_get_stats(struct zr_pool *p, struct zr_pool_stats *st);

#endif /* ZRAMFS_POOL_H */
