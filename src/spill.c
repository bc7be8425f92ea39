/* SPDX-License-Identifier: MIT */
/*
 * spill.c - the spill file as an extent store (see include/zramfs/spill.h).
 *
 * Layout: extent = header (16 B: magic, payload length, hash) + payload,
 * rounded up to ZR_SPILL_BLOCK.  Its location is its first block number.
 * The hash covers the location, the length and the payload, so a read of
 * the wrong place, a short read, or flipped bits all give -EIO.
 *
 * Allocator: a bitmap of blocks up to hi (the high-water mark; the file
 * never has extents past it), grown by doubling.  First fit from a
 * roving cursor (next fit), then from 0, then at hi if the limit allows.
 * A free clears the bits, lowers hi when the run reaches it, and punches
 * the whole 4 KiB pages of the merged free run (FALLOC_FL_PUNCH_HOLE) under
 * the allocator lock, so a punch can never hit a block re-allocated and
 * written meanwhile.
 */
#include "zramfs/spill.h"
#include "zramfs/fault.h"
#include "zramfs/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define SPILL_MAGIC 0x4c50535au /* "ZSPL" */
#define PAGE_BLOCKS (4096u >> ZR_SPILL_BLOCK_SHIFT)
#define MAX_PAYLOAD (1u << 24)

struct spill_hdr {
	uint32_t magic;
	uint32_t len;
	uint64_t hash;
};
_Static_assert(sizeof(struct spill_hdr) == ZR_SPILL_HDR, "spill header size");

struct zr_spill {
	int fd;
	pthread_mutex_t lock; /* the allocator fields */
	uint64_t *bits;	      /* 1 = used */
	uint64_t cap;	      /* bits allocated (multiple of 64) */
	uint64_t hi;	      /* blocks below the high-water mark */
	uint64_t cursor;      /* next-fit start */
	uint64_t limit_blocks;
	uint64_t extents, bytes;
	_Atomic uint64_t reads, writes, written, failed_writes, failed_reads;
	atomic_int logged; /* a write error was logged */
	atomic_int fault[2]; /* injected failures left (tests); < 0: all */
};

/* fault_hit(): whether an injected failure applies to this call. */
static bool fault_hit(struct zr_spill *sp, enum zr_spill_fault which)
{
	int n = atomic_load_explicit(&sp->fault[which], memory_order_relaxed);

	while (n > 0 && !atomic_compare_exchange_weak(&sp->fault[which], &n, n - 1))
		;
	return n != 0;
}

uint64_t zr_spill_hash(const void *p, size_t len, uint64_t seed)
{
	const uint64_t k1 = 0x9e3779b97f4a7c15ULL, k2 = 0xc2b2ae3d27d4eb4fULL;
	const uint8_t *b = p;
	uint64_t h = seed ^ (len * k1), w;

	for (; len >= 8; len -= 8, b += 8) {
		memcpy(&w, b, 8);
		h ^= w * k2;
		h = (h << 31 | h >> 33) * k1;
	}
	w = 0;
	memcpy(&w, b, len);
	h ^= w * k2;
	h ^= h >> 29;
	h *= k1;
	h ^= h >> 32;
	return h;
}

static inline int bit_get(const struct zr_spill *sp, uint64_t i)
{
	return (sp->bits[i >> 6] >> (i & 63)) & 1;
}

static void bits_set(struct zr_spill *sp, uint64_t a, uint64_t n, int v)
{
	for (uint64_t i = a; i < a + n; i++) {
		if (v)
			sp->bits[i >> 6] |= 1ULL << (i & 63);
		else
			sp->bits[i >> 6] &= ~(1ULL << (i & 63));
	}
}

/* find_run(): first run of n free blocks starting in [from, to) and
 * ending at or before to; UINT64_MAX if none. */
static uint64_t find_run(const struct zr_spill *sp, uint64_t from, uint64_t to, uint64_t n)
{
	uint64_t i = from, run = 0;

	while (i < to) {
		if ((i & 63) == 0 && run == 0 && sp->bits[i >> 6] == UINT64_MAX) {
			i += 64;
			continue;
		}
		if (bit_get(sp, i)) {
			run = 0;
		} else if (++run == n) {
			return i + 1 - n;
		}
		i++;
	}
	return UINT64_MAX;
}

static int bits_reserve(struct zr_spill *sp, uint64_t need)
{
	uint64_t ncap = sp->cap ? sp->cap : 4096;
	uint64_t *nb;

	if (need <= sp->cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	nb = zr_realloc(sp->bits, ncap / 8);
	if (!nb)
		return -ENOMEM;
	memset(nb + sp->cap / 64, 0, (ncap - sp->cap) / 8);
	sp->bits = nb;
	sp->cap = ncap;
	return 0;
}

/* alloc_locked(): n blocks, or -ENOSPC / -ENOMEM. */
static int64_t alloc_locked(struct zr_spill *sp, uint64_t n)
{
	uint64_t at = UINT64_MAX;

	if (sp->cursor < sp->hi)
		at = find_run(sp, sp->cursor, sp->hi, n);
	if (at == UINT64_MAX)
		at = find_run(sp, 0, sp->hi, n);
	if (at == UINT64_MAX) {
		if (sp->hi + n > sp->limit_blocks)
			return -ENOSPC;
		if (bits_reserve(sp, sp->hi + n))
			return -ENOMEM;
		at = sp->hi;
		sp->hi += n;
	}
	bits_set(sp, at, n, 1);
	sp->cursor = at + n;
	return (int64_t)at;
}

static void punch(struct zr_spill *sp, uint64_t a, uint64_t b)
{
	a = (a + PAGE_BLOCKS - 1) / PAGE_BLOCKS * PAGE_BLOCKS;
	b = b / PAGE_BLOCKS * PAGE_BLOCKS;
	if (a >= b)
		return;
	/* Best effort: a filesystem without hole punching keeps the space. */
	(void)fallocate(sp->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			(off_t)(a << ZR_SPILL_BLOCK_SHIFT),
			(off_t)((b - a) << ZR_SPILL_BLOCK_SHIFT));
}

static void free_locked(struct zr_spill *sp, uint64_t at, uint64_t n)
{
	uint64_t a = at, b = at + n;

	bits_set(sp, at, n, 0);
	while (a > 0 && !bit_get(sp, a - 1))
		a--;
	while (b < sp->hi && !bit_get(sp, b))
		b++;
	if (b >= sp->hi) {
		/* The run reaches the end: lower the high-water mark and punch
		 * to the end of the file's last page. */
		sp->hi = a;
		b = (b + PAGE_BLOCKS - 1) / PAGE_BLOCKS * PAGE_BLOCKS;
		if (sp->cursor > sp->hi)
			sp->cursor = sp->hi;
	}
	punch(sp, a, b);
}

static uint64_t blocks_for(uint32_t len)
{
	return ((uint64_t)len + ZR_SPILL_HDR + ZR_SPILL_BLOCK - 1) >> ZR_SPILL_BLOCK_SHIFT;
}

static int open_tmp(const char *dir)
{
	struct stat st;
	char path[4096];
	int fd;

	if (stat(dir, &st))
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if (access(dir, W_OK | X_OK))
		return -errno;
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
	if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
		return -errno;
	/* No O_TMPFILE there: create a unique name and unlink it at once. */
	for (int i = 0; i < 100; i++) {
		snprintf(path, sizeof(path), "%s/.zramfs-spill.%d.%d", dir, (int)getpid(), i);
		fd = open(path, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
		if (fd >= 0) {
			unlink(path);
			return fd;
		}
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

int zr_spill_open(const char *dir, uint64_t limit, struct zr_spill **out)
{
	struct zr_spill *sp;
	int fd = open_tmp(dir);

	if (fd < 0)
		return fd;
	sp = zr_calloc(1, sizeof(*sp));
	if (!sp) {
		close(fd);
		return -ENOMEM;
	}
	sp->fd = fd;
	pthread_mutex_init(&sp->lock, NULL);
	zr_spill_set_limit(sp, limit);
	*out = sp;
	return 0;
}

void zr_spill_close(struct zr_spill *sp)
{
	if (!sp)
		return;
	close(sp->fd);
	pthread_mutex_destroy(&sp->lock);
	zr_free(sp->bits);
	zr_free(sp);
}

void zr_spill_set_limit(struct zr_spill *sp, uint64_t limit)
{
	if (!limit || limit > ZR_SPILL_MAX_BYTES)
		limit = ZR_SPILL_MAX_BYTES;
	pthread_mutex_lock(&sp->lock);
	sp->limit_blocks = limit >> ZR_SPILL_BLOCK_SHIFT;
	pthread_mutex_unlock(&sp->lock);
}

int zr_spill_write(struct zr_spill *sp, const void *data, uint32_t len, uint32_t *loc)
{
	struct spill_hdr h = {.magic = SPILL_MAGIC, .len = len};
	uint64_t n = blocks_for(len);
	struct iovec iov[2];
	int64_t at;
	ssize_t w;
	off_t off;

	if (len == 0 || len > MAX_PAYLOAD)
		return -EINVAL;
	pthread_mutex_lock(&sp->lock);
	at = alloc_locked(sp, n);
	pthread_mutex_unlock(&sp->lock);
	if (at < 0) {
		atomic_fetch_add(&sp->failed_writes, 1);
		return (int)at;
	}
	h.hash = zr_spill_hash(data, len, (uint64_t)at << 32 | len);
	iov[0] = (struct iovec){.iov_base = &h, .iov_len = sizeof(h)};
	iov[1] = (struct iovec){.iov_base = (void *)data, .iov_len = len};
	off = (off_t)((uint64_t)at << ZR_SPILL_BLOCK_SHIFT);
	w = fault_hit(sp, ZR_SPILL_FAULT_WRITE) || zr_fault(ZR_FAULT_SPILL_WRITE)
		? (errno = EIO, -1)
		: pwritev(sp->fd, iov, 2, off);
	if (w != (ssize_t)(sizeof(h) + len)) {
		int err = w < 0 ? errno : EIO;

		if (!atomic_exchange(&sp->logged, 1))
			fprintf(stderr, "zramfs: spill write failed: %s (chunks stay in RAM)\n",
				strerror(err));
		atomic_fetch_add(&sp->failed_writes, 1);
		pthread_mutex_lock(&sp->lock);
		free_locked(sp, (uint64_t)at, n);
		pthread_mutex_unlock(&sp->lock);
		return err == ENOSPC || err == EDQUOT ? -ENOSPC : -EIO;
	}
	pthread_mutex_lock(&sp->lock);
	sp->extents++;
	sp->bytes += len;
	pthread_mutex_unlock(&sp->lock);
	atomic_fetch_add(&sp->writes, 1);
	atomic_fetch_add(&sp->written, sizeof(h) + len);
	*loc = (uint32_t)at;
	return 0;
}

int zr_spill_read(struct zr_spill *sp, uint32_t loc, void *buf, uint32_t len)
{
	struct spill_hdr h;
	struct iovec iov[2] = {{.iov_base = &h, .iov_len = sizeof(h)},
			       {.iov_base = buf, .iov_len = len}};
	ssize_t r = fault_hit(sp, ZR_SPILL_FAULT_READ) || zr_fault(ZR_FAULT_SPILL_READ)
			? -1
			: preadv(sp->fd, iov, 2, (off_t)((uint64_t)loc << ZR_SPILL_BLOCK_SHIFT));

	if (r != (ssize_t)(sizeof(h) + len) || h.magic != SPILL_MAGIC || h.len != len ||
	    h.hash != zr_spill_hash(buf, len, (uint64_t)loc << 32 | len)) {
		atomic_fetch_add(&sp->failed_reads, 1);
		return -EIO;
	}
	atomic_fetch_add(&sp->reads, 1);
	return 0;
}

void zr_spill_free(struct zr_spill *sp, uint32_t loc, uint32_t len)
{
	pthread_mutex_lock(&sp->lock);
	free_locked(sp, loc, blocks_for(len));
	sp->extents--;
	sp->bytes -= len;
	pthread_mutex_unlock(&sp->lock);
}

void zr_spill_get_stats(struct zr_spill *sp, struct zr_spill_stats *st)
{
	struct stat sb;

	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&sp->lock);
	st->extents = sp->extents;
	st->bytes = sp->bytes;
	st->limit = sp->limit_blocks << ZR_SPILL_BLOCK_SHIFT;
	pthread_mutex_unlock(&sp->lock);
	if (!fstat(sp->fd, &sb))
		st->file_bytes = (uint64_t)sb.st_blocks * 512;
	st->reads = atomic_load(&sp->reads);
	st->writes = atomic_load(&sp->writes);
	st->written_bytes = atomic_load(&sp->written);
	st->failed_writes = atomic_load(&sp->failed_writes);
	st->failed_reads = atomic_load(&sp->failed_reads);
}

void zr_spill_set_fault(struct zr_spill *sp, enum zr_spill_fault which, int n)
{
	atomic_store(&sp->fault[which], n);
}

int zr_spill_fd(struct zr_spill *sp)
{
	return sp->fd;
}
