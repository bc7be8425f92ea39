/* SPDX-License-Identifier: MIT */
/*
 * fault.c - fault injection for test builds (see include/zramfs/fault.h).
 *
 * A rate is kept as a threshold on 32 random bits: a call fails when the
 * draw is below it, so 0 never fires and 2^32 (rate 1) always does.
 * Thresholds, the seed and the counters are relaxed atomics: setup may
 * race with the fault points (unit tests) without a data race, and the
 * hot path is one relaxed load when a point's rate is 0.
 *
 * Each thread draws from its own xorshift64* state, seeded (splitmix64)
 * from the seed and the thread's arrival number; a setup bumps a
 * generation so every thread reseeds on its next draw.
 *
 * Without ZR_FAULT_INJECTION only the names and the "not compiled in"
 * answers are built.
 */
#include "zramfs/fault.h"
#include "zramfs/mix.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const fault_names[ZR_FAULT_COUNT] = {
	[ZR_FAULT_ARENA_ALLOC] = "arena_alloc",
	[ZR_FAULT_CODEC_COMPRESS] = "codec_compress",
	[ZR_FAULT_CODEC_DECOMPRESS] = "codec_decompress",
	[ZR_FAULT_SPILL_READ] = "spill_read",
	[ZR_FAULT_SPILL_WRITE] = "spill_write",
	[ZR_FAULT_STAGE_ALLOC] = "stage_alloc",
};

const char *zr_fault_name(enum zr_fault_point p)
{
	return (unsigned)p < ZR_FAULT_COUNT ? fault_names[p] : "?";
}

__attribute__((format(printf, 3, 4)))
static void say(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

#ifndef ZR_FAULT_INJECTION

int zr_fault_setup(const char *spec, char *err, size_t errlen)
{
	(void)spec;
	say(err, errlen, "fault injection not compiled in (build with make FAULT=1)");
	return -ENOTSUP;
}

uint64_t zr_fault_count(enum zr_fault_point p)
{
	(void)p;
	return 0;
}

uint64_t zr_fault_total(void)
{
	return 0;
}

#else /* ZR_FAULT_INJECTION */

#define RELAXED	     memory_order_relaxed
#define THRESH_ALWAYS (1ULL << 32)	/* rate 1: every 32-bit draw is below */
#define SEED_DEFAULT 1
#define SPEC_MAX     1024		/* longest spec accepted */

static _Atomic uint64_t thresh[ZR_FAULT_COUNT];
static _Atomic uint64_t fired[ZR_FAULT_COUNT];
static _Atomic uint64_t seed = SEED_DEFAULT;
static _Atomic uint32_t generation = 1;	/* bumped by each setup */
static _Atomic uint64_t threads;	/* arrival numbers */

static _Thread_local uint64_t tl_state;
static _Thread_local uint32_t tl_gen;	/* 0: not seeded yet */

/* draw32(): 32 random bits from this thread's stream. */
static uint32_t draw32(void)
{
	uint32_t gen = atomic_load_explicit(&generation, RELAXED);

	if (tl_gen != gen) {
		uint64_t n = atomic_fetch_add_explicit(&threads, 1, RELAXED);

		tl_state = zr_mix64(atomic_load_explicit(&seed, RELAXED) + n);
		if (!tl_state)
			tl_state = 1;	/* xorshift's one fixed point */
		tl_gen = gen;
	}
	tl_state ^= tl_state >> 12;
	tl_state ^= tl_state << 25;
	tl_state ^= tl_state >> 27;
	return (uint32_t)((tl_state * 0x2545f4914f6cdd1dULL) >> 32);
}

bool zr_fault(enum zr_fault_point p)
{
	uint64_t t = atomic_load_explicit(&thresh[p], RELAXED);

	if (!t || (t < THRESH_ALWAYS && draw32() >= t))
		return false;
	atomic_fetch_add_explicit(&fired[p], 1, RELAXED);
	return true;
}

/* parse_rate(): "0", "0.05", "1", "1e-3": a decimal in [0, 1]. */
static int parse_rate(const char *s, uint64_t *out)
{
	char *end;
	double r;

	if (!*s || strchr(s, 'x') || strchr(s, 'X'))	/* no hex floats */
		return -EINVAL;
	errno = 0;
	r = strtod(s, &end);
	if (errno || *end || !(r >= 0.0 && r <= 1.0))	/* NaN fails too */
		return -EINVAL;
	*out = r >= 1.0 ? THRESH_ALWAYS : (uint64_t)(r * (double)THRESH_ALWAYS);
	if (r > 0.0 && *out == 0)
		*out = 1;	/* a tiny rate still fires sometimes */
	return 0;
}

static int parse_seed(const char *s, uint64_t *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	*out = strtoull(s, &end, 0);
	return errno || *end ? -EINVAL : 0;
}

/* parse_item(): one "name=value" into t[] or *sd. */
static int parse_item(char *item, uint64_t t[ZR_FAULT_COUNT], uint64_t *sd,
		      char *err, size_t errlen)
{
	char *eq = strchr(item, '=');

	if (!eq) {
		say(err, errlen, "'%s': want name=rate", item);
		return -EINVAL;
	}
	*eq = 0;
	if (!strcmp(item, "seed")) {
		if (!parse_seed(eq + 1, sd))
			return 0;
		say(err, errlen, "bad seed '%s'", eq + 1);
		return -EINVAL;
	}
	for (int i = 0; i < ZR_FAULT_COUNT; i++) {
		if (strcmp(item, fault_names[i]))
			continue;
		if (!parse_rate(eq + 1, &t[i]))
			return 0;
		say(err, errlen, "bad rate '%s' for %s (want 0..1)", eq + 1, item);
		return -EINVAL;
	}
	say(err, errlen, "unknown fault point '%s'", item);
	return -EINVAL;
}

int zr_fault_setup(const char *spec, char *err, size_t errlen)
{
	uint64_t t[ZR_FAULT_COUNT] = {0}, sd = SEED_DEFAULT;
	char buf[SPEC_MAX], *item, *save = NULL;

	say(err, errlen, "ok");
	if (!spec || strlen(spec) >= sizeof(buf)) {
		say(err, errlen, "spec missing or longer than %d bytes", SPEC_MAX - 1);
		return -EINVAL;
	}
	strcpy(buf, spec);
	for (item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save))
		if (parse_item(item, t, &sd, err, errlen))
			return -EINVAL;
	atomic_store_explicit(&seed, sd, RELAXED);
	atomic_store_explicit(&threads, 0, RELAXED);
	for (int i = 0; i < ZR_FAULT_COUNT; i++) {
		atomic_store_explicit(&thresh[i], t[i], RELAXED);
		atomic_store_explicit(&fired[i], 0, RELAXED);
	}
	atomic_fetch_add_explicit(&generation, 1, RELAXED);
	return 0;
}

uint64_t zr_fault_count(enum zr_fault_point p)
{
	return (unsigned)p < ZR_FAULT_COUNT ? atomic_load_explicit(&fired[p], RELAXED) : 0;
}

uint64_t zr_fault_total(void)
{
	uint64_t n = 0;

	for (int i = 0; i < ZR_FAULT_COUNT; i++)
		n += atomic_load_explicit(&fired[i], RELAXED);
	return n;
}

#endif /* ZR_FAULT_INJECTION */
