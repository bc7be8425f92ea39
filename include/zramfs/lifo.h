/* SPDX-License-Identifier: MIT */
/*
 * lifo.h - a mutex-protected intrusive stack: the pools of scratch buffers
 * (chunk.c) and codec contexts (codec.c).  A record embeds a struct
 * zr_lifo_node as its first member, so a node pointer converts back to the
 * record with a cast.  LIFO so that the record used last, still warm in the
 * cache, is the next one handed out; zr_lifo_take_all() empties the stack
 * in one step for a trim that frees the records outside the lock.
 */
#ifndef ZRAMFS_LIFO_H
#define ZRAMFS_LIFO_H

#include <pthread.h>
#include <stddef.h>

struct zr_lifo_node {
	struct zr_lifo_node *next;
};

struct zr_lifo {
	pthread_mutex_t lock;		/* head and every next below it */
	struct zr_lifo_node *head;
};

#define ZR_LIFO_INIT { PTHREAD_MUTEX_INITIALIZER, NULL }

/* zr_lifo_pop(): the top record, or NULL when empty. */
static inline struct zr_lifo_node *zr_lifo_pop(struct zr_lifo *l)
{
	struct zr_lifo_node *n;

	pthread_mutex_lock(&l->lock);
	n = l->head;
	if (n)
		l->head = n->next;
	pthread_mutex_unlock(&l->lock);
	return n;
}

static inline void zr_lifo_push(struct zr_lifo *l, struct zr_lifo_node *n)
{
	pthread_mutex_lock(&l->lock);
	n->next = l->head;
	l->head = n;
	pthread_mutex_unlock(&l->lock);
}

/* zr_lifo_take_all(): every record, as a list linked by next; the stack is
 * left empty. */
static inline struct zr_lifo_node *zr_lifo_take_all(struct zr_lifo *l)
{
	struct zr_lifo_node *n;

	pthread_mutex_lock(&l->lock);
	n = l->head;
	l->head = NULL;
	pthread_mutex_unlock(&l->lock);
	return n;
}

#endif /* ZRAMFS_LIFO_H */
