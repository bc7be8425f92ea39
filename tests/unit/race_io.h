/* SPDX-License-Identifier: MIT */
/*
 * race_io.h - the file load the background-work race tests run against
 * (test_writeback, test_recompress): one thread, its own file, a mix of
 * whole and partial writes, punches and syncs, each followed by a full
 * read checked against a copy.  Header-only; include after cmocka.h and
 * zramfs/chunk.h.
 */
#ifndef ZRAMFS_TEST_RACE_IO_H
#define ZRAMFS_TEST_RACE_IO_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define RACE_IO_BYTES (512u * 1024u)

struct race_io {
	struct zr_store *store;
	int id;
	void (*fill)(uint8_t *p, size_t n, int id);   /* the first contents */
	void (*change)(uint8_t *p, size_t n, int id); /* new bytes over old */
	int ok; /* out: 1 if every read matched */
};

static __thread uint64_t race_rng_state = 0x853c49e6748fea9bULL;

static uint64_t race_rng(void)
{
	race_rng_state ^= race_rng_state << 13;
	race_rng_state ^= race_rng_state >> 7;
	race_rng_state ^= race_rng_state << 17;
	return race_rng_state;
}

/* One step: it % 8 == 0 rewrites all, 5 punches, 6 syncs, else a partial
 * write.  Returns 0 if the call failed. */
static int race_io_step(struct race_io *r, struct zr_fdata *f, uint8_t *d, int it)
{
	const size_t n = RACE_IO_BYTES;
	size_t off = (race_rng() % n) & ~(size_t)1023, len = 1 + race_rng() % 100000;

	if (off + len > n)
		len = n - off;
	switch (it % 8) {
	case 0:
		return zr_fdata_write(f, d, n, 0) == (ssize_t)n;
	case 5:
		memset(d + off, 0, len);
		return zr_fdata_punch_hole(f, off, len) == 0;
	case 6:
		return zr_fdata_sync(f) == 0;
	default:
		r->change(d + off, len, r->id);
		return zr_fdata_write(f, d + off, len, off) == (ssize_t)len;
	}
}

static void *race_io_main(void *arg)
{
	struct race_io *r = arg;
	struct zr_fdata *f = zr_fdata_create(r->store);
	uint8_t *d = malloc(RACE_IO_BYTES), *got = malloc(RACE_IO_BYTES);

	r->ok = f && d && got;
	if (r->ok)
		r->fill(d, RACE_IO_BYTES, r->id);
	for (int it = 0; it < 40 && r->ok; it++) {
		r->ok = race_io_step(r, f, d, it);
		if (zr_fdata_read(f, got, RACE_IO_BYTES, 0) != (ssize_t)RACE_IO_BYTES ||
		    memcmp(got, d, RACE_IO_BYTES))
			r->ok = 0;
	}
	zr_fdata_destroy(f);
	free(d);
	free(got);
	return NULL;
}

#endif /* ZRAMFS_TEST_RACE_IO_H */
