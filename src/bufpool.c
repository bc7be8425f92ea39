/* SPDX-License-Identifier: MIT */
/*
 * bufpool.c - shared scratch buffers (see include/zramfs/bufpool.h).
 *
 * Invariant: nfree <= max_free; every buffer in free[] is owned by the pool,
 * every other buffer the pool made is owned by exactly one caller.
 */
#include "zramfs/bufpool.h"
#include "zramfs/mem.h"

#include <pthread.h>

struct zr_bufpool {
	pthread_mutex_t lock;	/* guards everything below */
	size_t buf_size;
	unsigned max_free;
	unsigned nfree;
	int used;		/* a get happened since the last trim */
	void *free[];		/* max_free slots */
};

struct zr_bufpool *zr_bufpool_create(size_t buf_size, unsigned max_free)
{
	struct zr_bufpool *p = zr_calloc(1, sizeof(*p) + max_free * sizeof(void *));

	if (!p)
		return NULL;
	pthread_mutex_init(&p->lock, NULL);
	p->buf_size = buf_size;
	p->max_free = max_free;
	return p;
}

void zr_bufpool_destroy(struct zr_bufpool *p)
{
	if (!p)
		return;
	for (unsigned i = 0; i < p->nfree; i++)
		zr_free(p->free[i]);
	pthread_mutex_destroy(&p->lock);
	zr_free(p);
}

void *zr_bufpool_get(struct zr_bufpool *p)
{
	void *buf = NULL;

	pthread_mutex_lock(&p->lock);
	p->used = 1;
	if (p->nfree)
		buf = p->free[--p->nfree];
	pthread_mutex_unlock(&p->lock);
	return buf ? buf : zr_malloc(p->buf_size);
}

void zr_bufpool_put(struct zr_bufpool *p, void *buf)
{
	if (!buf)
		return;
	pthread_mutex_lock(&p->lock);
	if (p->nfree < p->max_free) {
		p->free[p->nfree++] = buf;
		buf = NULL;
	}
	pthread_mutex_unlock(&p->lock);
	zr_free(buf);	/* more in flight than we keep: let it go */
}

unsigned zr_bufpool_trim(struct zr_bufpool *p)
{
	void *victims[64];
	unsigned n = 0;

	pthread_mutex_lock(&p->lock);
	if (!p->used) {
		while (p->nfree && n < sizeof(victims) / sizeof(victims[0]))
			victims[n++] = p->free[--p->nfree];
	}
	p->used = 0;
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < n; i++)
		zr_free(victims[i]);
	return n;
}

size_t zr_bufpool_size(const struct zr_bufpool *p)
{
	return p->buf_size;
}
