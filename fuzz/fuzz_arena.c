/* SPDX-License-Identifier: MIT */
/*
 * fuzz_arena.c - libFuzzer harness for the arena.
 *
 * The input is a program: each op byte picks alloc / free / rewrite /
 * compact / pin-across-compact / set-cap, its operands follow.  A model of
 * every live object (handle, length, fill byte) is checked against the
 * arena after every compaction and at the end; the stats must agree with
 * the model, and everything must be released after the last free.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -D_GNU_SOURCE \
 *         fuzz/fuzz_arena.c src/arena.c -o build/fuzz/fuzz_arena
 */
#include "zramfs/arena.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAXLIVE	256
#define MAXOBJ	((1u << 20) + 4096)

struct live {
	zr_handle_t	h;
	uint32_t	len;
	uint8_t		fill;
};

static struct live lv[MAXLIVE];
static unsigned nlive;
static uint8_t buf[MAXOBJ];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(void)
{
	abort();
}

static void verify(struct zr_arena *a, const struct live *o)
{
	const uint8_t *p = zr_arena_read_begin(a, o->h);

	if (zr_arena_size(a, o->h) != o->len || p[0] != o->fill ||
	    p[o->len - 1] != o->fill || p[o->len / 2] != o->fill)
		die();
	zr_arena_read_end(a, o->h);
}

static void verify_all(struct zr_arena *a)
{
	struct zr_arena_stats st;
	uint64_t req = 0;

	for (unsigned i = 0; i < nlive; i++) {
		verify(a, &lv[i]);
		req += lv[i].len;
	}
	zr_arena_get_stats(a, &st);
	if (st.objects != nlive || st.requested_bytes != req ||
	    st.object_bytes < req)
		die();
}

/* Sizes: mostly small, some around chunk sizes, sometimes exactly 1 MiB. */
static uint32_t op_size(const uint8_t *d)
{
	uint32_t v = (uint32_t)d[0] << 8 | d[1];

	switch (d[0] & 3) {
	case 0:
		return v % 4096;
	case 1:
		return v * 2;
	case 2:
		return v % 7 ? v * 16 : 1u << 20;
	default:
		return v * 17;	/* may exceed max: -EINVAL */
	}
}

static void op_alloc(struct zr_arena *a, const uint8_t *d)
{
	uint32_t len = op_size(d);
	zr_handle_t h;
	int err;

	if (nlive == MAXLIVE)
		return;
	err = zr_arena_alloc(a, len, &h);
	if (!len || len > MAXOBJ) {
		if (err != -EINVAL)
			die();
		return;
	}
	if (err) {
		if (err != -ENOSPC && err != -ENOMEM)
			die();
		return;
	}
	memset(buf, d[1], len);
	zr_arena_write(a, h, buf, len);
	lv[nlive++] = (struct live){ h, len, d[1] };
}

static void op_free(struct zr_arena *a, uint8_t k)
{
	if (!nlive)
		return;
	k %= nlive;
	verify(a, &lv[k]);
	zr_arena_free(a, lv[k].h);
	lv[k] = lv[--nlive];
}

static void op_pinned_compact(struct zr_arena *a, uint8_t k)
{
	const void *p;

	if (!nlive) {
		zr_arena_compact(a);
		return;
	}
	k %= nlive;
	p = zr_arena_read_begin(a, lv[k].h);
	zr_arena_compact(a);
	if (zr_arena_read_begin(a, lv[k].h) != p)
		die();
	zr_arena_read_end(a, lv[k].h);
	zr_arena_read_end(a, lv[k].h);
	verify_all(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct zr_arena_config cfg = { .max_object = MAXOBJ };
	struct zr_arena_stats st;
	struct zr_arena *a = zr_arena_create(&cfg);
	size_t i = 0;

	if (!a)
		die();
	nlive = 0;
	while (i + 3 <= size) {
		const uint8_t *d = data + i;

		i += 3;
		switch (d[0] % 8) {
		case 0: case 1: case 2:
			op_alloc(a, d + 1);
			break;
		case 3: case 4:
			op_free(a, d[1]);
			break;
		case 5:
			zr_arena_compact(a);
			verify_all(a);
			break;
		case 6:
			op_pinned_compact(a, d[1]);
			break;
		default:
			zr_arena_set_cap(a, d[1] ? ((uint64_t)d[1] << 18) : 0);
			break;
		}
	}
	verify_all(a);
	while (nlive)
		op_free(a, 0);
	zr_arena_compact(a);
	zr_arena_get_stats(a, &st);
	if (st.mapped_bytes || st.spans || st.objects || st.requested_bytes)
		die();
	zr_arena_destroy(a);
	return 0;
}
