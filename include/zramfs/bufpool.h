/* SPDX-License-Identifier: MIT */
/*
 * bufpool.h - a small pool of equal-sized scratch buffers shared by threads.
 *
 * Per-thread buffers cost size x threads for as long as the threads live;
 * a shared pool costs size x (requests in flight), and zr_bufpool_trim()
 * gives every idle buffer back when the pool was not used since the last
 * trim, so an idle mount returns to its baseline.  Buffers are counted
 * through mem.h.
 *
 * Locking: one mutex around a short stack of free buffers.
 */
#ifndef ZRAMFS_BUFPOOL_H
#define ZRAMFS_BUFPOOL_H

#include <stddef.h>

struct zr_bufpool;

/* zr_bufpool_create(): buffers of buf_size bytes; at most max_free are kept
 * when returned.  NULL on ENOMEM. */
struct zr_bufpool *zr_bufpool_create(size_t buf_size, unsigned max_free);
void zr_bufpool_destroy(struct zr_bufpool *p);

/* zr_bufpool_get(): a buffer of buf_size bytes (contents undefined), or
 * NULL on ENOMEM.  zr_bufpool_put() returns it. */
void *zr_bufpool_get(struct zr_bufpool *p);
void zr_bufpool_put(struct zr_bufpool *p, void *buf);

/* zr_bufpool_trim(): free the idle buffers if no get happened since the
 * previous trim.  Returns the number freed. */
unsigned zr_bufpool_trim(struct zr_bufpool *p);

/* zr_bufpool_size(): the buffer size. */
size_t zr_bufpool_size(const struct zr_bufpool *p);

#endif /* ZRAMFS_BUFPOOL_H */
