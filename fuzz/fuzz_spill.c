/* SPDX-License-Identifier: MIT */
/*
 * fuzz_spill.c - libFuzzer: a spill extent read back from a damaged file
 * is either the exact bytes written or -EIO; never a crash, an overrun, or
 * wrong bytes passed off as good.
 *
 * Each input opens a fresh spill file (O_TMPFILE in $ZR_FUZZ_SPILL_DIR,
 * default /dev/shm, else /tmp: nothing is left behind) and runs a program:
 * each op byte picks write extent / free extent / overwrite file bytes with
 * input bytes / flip a bit / copy one extent over another / copy a block /
 * truncate the file / read an extent / read with a wrong length or at a
 * wrong location / inject a read or write fault / set the limit; operands
 * follow.  Damage goes straight to the file through zr_spill_fd(), so it
 * hits headers (magic, length, hash) and payloads alike.  A model keeps
 * every live extent's location, length and bytes, and whether damage
 * touched it since it was written.  Checked on every read:
 *   - an untouched extent reads back exactly (no false -EIO: the allocator
 *     never overlaps extents, a free never punches a live one);
 *   - a touched one reads back exactly or fails with -EIO; if it "succeeds"
 *     with other bytes, the hash field on disk must have been rewritten
 *     (a forgery from input bytes, which a 64-bit checksum does not claim
 *     to stop: libFuzzer's comparison tracing can supply the hash); with
 *     the original hash field it would be a collision: abort;
 *   - a wrong length at an untouched extent is -EIO; an injected fault is
 *     -EIO; nothing else is ever returned;
 *   - the stats count exactly the reads, failures, writes and live bytes.
 */
#include "zramfs/spill.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXLIVE 64
/* Payloads up to 128 KiB: beyond a 64 KiB chunk's worst case (1 MiB
 * chunks spill too, but size adds nothing the bit patterns do not). */
#define MAXLEN	(1u << 17)
#define SPAN(e) ((uint64_t)ZR_SPILL_HDR + (e)->len)

struct ext {
	uint32_t loc;
	uint32_t len;
	int dirty; /* damage may have touched it since it was written */
	uint8_t *bytes;
};

struct run {
	struct zr_spill *sp;
	int fd;
	struct ext ev[MAXLIVE];
	unsigned n;
	int limited; /* a limit was set: writes may be -ENOSPC */
	uint64_t reads, fails, writes, wfails;
	const uint8_t *d; /* the rest of the program */
	size_t left;
};

static void check(int ok)
{
	if (!ok)
		abort();
}

static uint8_t next(struct run *r)
{
	if (!r->left)
		return 0;
	r->left--;
	return *r->d++;
}

static uint32_t next24(struct run *r)
{
	uint32_t v = next(r);

	v = v << 8 | next(r);
	return v << 8 | next(r);
}

static off_t file_size(struct run *r)
{
	struct stat st;

	check(!fstat(r->fd, &st));
	return st.st_size;
}

static uint64_t ext_off(const struct ext *e)
{
	return (uint64_t)e->loc << ZR_SPILL_BLOCK_SHIFT;
}

/* Marks the extents whose bytes [off, off + n) touches. */
static void touch(struct run *r, uint64_t off, uint64_t n)
{
	for (unsigned i = 0; i < r->n; i++) {
		struct ext *e = &r->ev[i];

		if (off < ext_off(e) + SPAN(e) && ext_off(e) < off + n)
			e->dirty = 1;
	}
}

/* Lengths around the block edge (496 + 16 = 512) and up to MAXLEN. */
static uint32_t pick_len(struct run *r)
{
	uint8_t m = next(r);
	uint32_t v = next(r);

	v = v << 8 | next(r);

	switch (m & 3) {
	case 0:
		return 1 + v % 1100;
	case 1:
		return ZR_SPILL_BLOCK - ZR_SPILL_HDR - 2 + v % 5 + (m >> 2) * ZR_SPILL_BLOCK;
	case 2:
		return 1 + v % 20000;
	default:
		return 1 + ((v << 1 | (m >> 7)) % MAXLEN);
	}
}

static void op_write(struct run *r, int fault)
{
	uint32_t len = pick_len(r), loc = 0;
	uint8_t seed = next(r);
	struct ext *e = &r->ev[r->n];
	int err;

	if (r->n == MAXLIVE)
		return;
	e->bytes = malloc(len);
	check(e->bytes != NULL);
	for (uint32_t i = 0; i < len; i++)
		e->bytes[i] = (uint8_t)(seed + i * 31 + (i >> 9) * 7);
	if (fault)
		zr_spill_set_fault(r->sp, ZR_SPILL_FAULT_WRITE, 1);
	err = zr_spill_write(r->sp, e->bytes, len, &loc);
	zr_spill_set_fault(r->sp, ZR_SPILL_FAULT_WRITE, 0);
	if (err) {
		/* the limit is checked before the (injected) pwrite */
		check((err == -ENOSPC && r->limited) || (err == -EIO && fault));
		r->wfails++;
		free(e->bytes);
		return;
	}
	check(!fault);
	r->writes++;
	e->loc = loc;
	e->len = len;
	e->dirty = 0;
	/* no live extent may overlap the new one */
	for (unsigned i = 0; i < r->n; i++)
		check(ext_off(&r->ev[i]) + SPAN(&r->ev[i]) <= ext_off(e) ||
		      ext_off(e) + SPAN(e) <= ext_off(&r->ev[i]));
	r->n++;
}

static void op_free(struct run *r, uint8_t k)
{
	struct ext *e;

	if (!r->n)
		return;
	e = &r->ev[k % r->n];
	zr_spill_free(r->sp, e->loc, e->len);
	free(e->bytes);
	*e = r->ev[--r->n];
}

/* Reads e back and judges the answer. */
static void verify(struct run *r, const struct ext *e, int fault)
{
	uint8_t *buf = malloc(e->len);
	uint64_t hash;
	int err;

	check(buf != NULL);
	if (fault)
		zr_spill_set_fault(r->sp, ZR_SPILL_FAULT_READ, 1);
	err = zr_spill_read(r->sp, e->loc, buf, e->len);
	zr_spill_set_fault(r->sp, ZR_SPILL_FAULT_READ, 0);
	if (err) {
		check(err == -EIO && (e->dirty || fault));
		r->fails++;
	} else {
		check(!fault);
		r->reads++;
		if (memcmp(buf, e->bytes, e->len)) {
			/* wrong bytes accepted: only if the hash was forged */
			check(e->dirty);
			check(pread(r->fd, &hash, 8, (off_t)ext_off(e) + 8) == 8);
			check(hash !=
			      zr_spill_hash(e->bytes, e->len, (uint64_t)e->loc << 32 | e->len));
		}
	}
	free(buf);
}

/* A read with the wrong length, or at a location no extent starts at. */
static void op_misread(struct run *r, uint8_t k, uint8_t how)
{
	const struct ext *e;
	uint32_t loc, len;
	int delta = (how & 0x7f) - 64 ? (how & 0x7f) - 64 : 1; /* -64..63, never 0 */
	uint8_t *buf;
	int err;

	if (!r->n)
		return;
	e = &r->ev[k % r->n];
	loc = e->loc;
	len = e->len;
	if (how & 0x80)
		len = (uint32_t)((int64_t)len + delta);
	else
		loc = (uint32_t)((int64_t)loc + delta % 4);
	if (!len || len > MAXLEN + 128)
		return;
	for (unsigned i = 0; i < r->n; i++)
		if (loc == r->ev[i].loc && !(how & 0x80))
			return; /* another live extent: an ordinary read */
	buf = malloc(len);
	check(buf != NULL);
	err = zr_spill_read(r->sp, loc, buf, len);
	check(err == 0 || err == -EIO);
	/* A wrong length at an intact extent never passes; a wrong place
	 * may hold a freed extent's stale bytes (the caller's to avoid). */
	if (how & 0x80)
		check(err == -EIO || e->dirty);
	if (err)
		r->fails++;
	else
		r->reads++;
	free(buf);
}

/* Overwrite up to 32 bytes anywhere (up to 1 KiB past the end) with input. */
static void op_overwrite(struct run *r)
{
	uint64_t off = next24(r) % ((uint64_t)file_size(r) + 1024);
	uint8_t n = 1 + next(r) % 32, buf[32];

	for (unsigned i = 0; i < n; i++)
		buf[i] = next(r);
	check(pwrite(r->fd, buf, n, (off_t)off) == n);
	touch(r, off, n);
}

static void op_flip(struct run *r)
{
	uint64_t fs = (uint64_t)file_size(r), off;
	uint8_t bit = next(r), b;

	off = next24(r) % (fs ? fs : 1);
	if (pread(r->fd, &b, 1, (off_t)off) != 1)
		return;
	b ^= (uint8_t)(1u << (bit & 7));
	check(pwrite(r->fd, &b, 1, (off_t)off) == 1);
	touch(r, off, 1);
}

/* Copies one whole extent (header and payload) over another's place. */
static void op_copy_extent(struct run *r, uint8_t a, uint8_t b)
{
	const struct ext *src, *dst;
	uint8_t *buf;
	ssize_t n;

	if (!r->n)
		return;
	src = &r->ev[a % r->n];
	dst = &r->ev[b % r->n];
	buf = malloc(SPAN(src));
	check(buf != NULL);
	n = pread(r->fd, buf, SPAN(src), (off_t)ext_off(src));
	if (n > 0) {
		check(pwrite(r->fd, buf, (size_t)n, (off_t)ext_off(dst)) == n);
		touch(r, ext_off(dst), (uint64_t)n);
	}
	free(buf);
}

/* Copies a block over another (both within the file). */
static void op_copy_block(struct run *r)
{
	uint64_t blocks = ((uint64_t)file_size(r) + ZR_SPILL_BLOCK - 1) >> ZR_SPILL_BLOCK_SHIFT;
	uint8_t buf[ZR_SPILL_BLOCK];
	uint64_t from, to;
	ssize_t n;

	from = next24(r) % (blocks ? blocks : 1);
	to = next24(r) % (blocks ? blocks : 1);
	n = pread(r->fd, buf, sizeof(buf), (off_t)(from << ZR_SPILL_BLOCK_SHIFT));
	if (n <= 0 || from == to)
		return;
	check(pwrite(r->fd, buf, (size_t)n, (off_t)(to << ZR_SPILL_BLOCK_SHIFT)) == n);
	touch(r, to << ZR_SPILL_BLOCK_SHIFT, (uint64_t)n);
}

/* Cuts the file short: the extents past the cut read short. */
static void op_truncate(struct run *r)
{
	uint64_t fs = (uint64_t)file_size(r), at = next24(r) % (fs + 1);

	check(!ftruncate(r->fd, (off_t)at));
	if (at < fs)
		touch(r, at, fs - at);
}

static void op_limit(struct run *r, uint8_t v)
{
	zr_spill_set_limit(r->sp, v ? (uint64_t)v << 14 : 0);
	r->limited |= v != 0;
}

static void step(struct run *r)
{
	uint8_t op = next(r), a, b;

	switch (op % 16) {
	case 0:
	case 1:
	case 2:
	case 3:
		op_write(r, 0);
		break;
	case 4:
		op_free(r, next(r));
		break;
	case 5:
	case 6:
		op_overwrite(r);
		break;
	case 7:
		op_flip(r);
		break;
	case 8:
		a = next(r);
		b = next(r);
		op_copy_extent(r, a, b);
		break;
	case 9:
		op_copy_block(r);
		break;
	case 10:
		op_truncate(r);
		break;
	case 11:
		if (r->n)
			verify(r, &r->ev[next(r) % r->n], 0);
		break;
	case 12:
		a = next(r);
		b = next(r);
		op_misread(r, a, b);
		break;
	case 13:
		if (r->n)
			verify(r, &r->ev[next(r) % r->n], 1);
		break;
	case 14:
		op_write(r, 1);
		break;
	default:
		op_limit(r, next(r));
		break;
	}
}

static const char *spill_dir(void)
{
	const char *d = getenv("ZR_FUZZ_SPILL_DIR");

	if (d && *d)
		return d;
	return access("/dev/shm", W_OK | X_OK) ? "/tmp" : "/dev/shm";
}

static void check_stats(struct run *r)
{
	struct zr_spill_stats st;
	uint64_t bytes = 0;

	for (unsigned i = 0; i < r->n; i++)
		bytes += r->ev[i].len;
	zr_spill_get_stats(r->sp, &st);
	check(st.extents == r->n && st.bytes == bytes);
	check(st.reads == r->reads && st.failed_reads == r->fails);
	check(st.writes == r->writes && st.failed_writes == r->wfails);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct run r;
	uint32_t loc;

	memset(&r, 0, sizeof(r));
	check(!zr_spill_open(spill_dir(), 0, &r.sp));
	r.fd = zr_spill_fd(r.sp);
	check(zr_spill_write(r.sp, "x", 0, &loc) == -EINVAL);
	check(zr_spill_write(r.sp, "x", (1u << 24) + 1, &loc) == -EINVAL);
	r.d = data;
	r.left = size;
	while (r.left)
		step(&r);
	for (unsigned i = 0; i < r.n; i++)
		verify(&r, &r.ev[i], 0);
	check_stats(&r);
	while (r.n)
		op_free(&r, 0);
	check_stats(&r);
	zr_spill_close(r.sp);
	return 0;
}
