/* SPDX-License-Identifier: MIT */
/*
 * mem.h - counted heap allocation for zramfs metadata.
 *
 * Every byte the daemon holds for data must show up in mem_used_total.
 * Inodes, directory entries, chunk tables, xattrs and buffers are small heap
 * objects; allocating them through these wrappers keeps a process-wide
 * counter of their usable size (malloc_usable_size, so allocator rounding is
 * counted too).  The arena (compressed data) keeps its own exact accounting.
 *
 * Locking: the counter is a relaxed atomic; the functions are thread-safe.
 */
#ifndef ZRAMFS_MEM_H
#define ZRAMFS_MEM_H

#include <stddef.h>
#include <stdint.h>

/* zr_malloc() / zr_calloc() / zr_realloc(): as malloc(3) and friends, but
 * counted.  Return NULL on failure (errno ENOMEM); never abort. */
void *zr_malloc(size_t size);
void *zr_calloc(size_t nmemb, size_t size);
void *zr_realloc(void *ptr, size_t size);

/* zr_free(): frees memory from the functions above; NULL is ignored. */
void zr_free(void *ptr);

/* zr_strdup() / zr_memdup(): counted copies; NULL on ENOMEM. */
char *zr_strdup(const char *s);
void *zr_memdup(const void *src, size_t len);

/* zr_mem_meta_bytes(): bytes currently held through the functions above. */
uint64_t zr_mem_meta_bytes(void);

/* zr_mem_account(): add (delta > 0) or remove (delta < 0) bytes held by
 * memory not allocated here (e.g. a codec context sized by its library). */
void zr_mem_account(int64_t delta);

/* zr_mem_trim(): give freed heap memory back to the OS (malloc_trim) when
 * enough has been freed since the last trim, or when anything has and no
 * more was freed since the previous call; cheap when there is nothing to
 * do.  other_heap is heap memory another module allocates and counts
 * itself (the arena's metadata): a drop since the previous call counts as
 * freed too.  Called by one thread (the daemon's housekeeping, once a
 * tick), never on the request path. */
void zr_mem_trim(uint64_t other_heap);

#endif /* ZRAMFS_MEM_H */
