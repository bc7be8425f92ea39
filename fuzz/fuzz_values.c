/* SPDX-License-Identifier: MIT */
/*
 * fuzz_values.c - libFuzzer: the values written to the control and policy
 * xattrs (user.zramfs.mem_limit, .comp, .recompress, .chunk, .writeback,
 * .compact) are accepted whole or rejected, never a crash or an overrun.
 *
 * The input is one xattr value: arbitrary bytes, NULs included, with or
 * without a trailing newline.  It goes through the framing src/fs_xattr.c
 * applies before any parser sees it (zr_ctl_string() into a bounded C
 * string, zr_ctl_is() for the keyword controls; src/ctl.c), then through
 * the library parsers those controls call: zr_parse_size (mem_limit),
 * zr_codec_parse (comp, recompress), zr_parse_chunk_shift (chunk), and the
 * policy word packing of include/zramfs/ctl.h.
 *
 * The same bytes, cut at the first NUL, also go to the parsers unbounded
 * (as -o options reach them).  Checked:
 *   - zr_ctl_string() accepts exactly the 1..31-byte NUL-free values (after
 *     dropping one trailing newline) and copies them unchanged;
 *   - zr_parse_size() agrees with an independent model of its grammar and
 *     its decimal output parses back to the same number;
 *   - an accepted codec spec is in range, formats to fewer than
 *     ZR_CODEC_SPEC_MAX bytes, parses back to the same spec and survives
 *     the directory policy word; a rejected one leaves *out untouched;
 *   - an accepted chunk shift is 12..20, is exactly what zr_parse_size()
 *     read, formats ("4K".."1M") and packs into the policy word and back.
 */
#include "zramfs/chunk.h"
#include "zramfs/codec.h"
#include "zramfs/ctl.h"
#include "zramfs/opts.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if (!ok)
		abort();
}

/* The grammar zr_parse_size() implements, written without strtoull:
 * digits, then an optional unit (k m g t, either case) optionally followed
 * by "i" or "iB", then an optional "B" or "b". */
static int model_size(const char *s, uint64_t *out)
{
	static const char units[] = "kKmMgGtT";
	const char *u;
	unsigned shift = 0;
	uint64_t v = 0;
	int over = 0;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		unsigned d = (unsigned)(*s - '0');

		if (v > (UINT64_MAX - d) / 10)
			over = 1;
		v = v * 10 + d;
	}
	if (*s && (u = strchr(units, *s))) {
		shift = 10 * (1 + (unsigned)(u - units) / 2);
		s++;
		if (!strcmp(s, "i") || !strcmp(s, "iB"))
			s += strlen(s);
	}
	if (!strcmp(s, "B") || !strcmp(s, "b"))
		s++;
	if (*s || over || (shift && v > UINT64_MAX >> shift))
		return -1;
	*out = v << shift;
	return 0;
}

static void fuzz_size(const char *s)
{
	uint64_t v = 0x5a5a5a5a5a5a5a5aULL, m = 0, back = 0;
	char buf[32];
	int r = zr_parse_size(s, &v);

	check(!r == !model_size(s, &m));
	if (r) {
		check(v == 0x5a5a5a5a5a5a5a5aULL);
		return;
	}
	check(v == m);
	/* what reading user.zramfs.mem_limit prints must be writable back */
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	check(!zr_parse_size(buf, &back) && back == v);
	if (v && !(v & 1023)) {
		snprintf(buf, sizeof(buf), "%lluK", (unsigned long long)(v >> 10));
		check(!zr_parse_size(buf, &back) && back == v);
	}
}

static void fuzz_codec(const char *s)
{
	struct zr_codec_spec spec = {0xee, 0xee}, back = {0, 0}, pol;
	char buf[ZR_CODEC_SPEC_MAX + 8];
	uint32_t policy;
	int n;

	if (zr_codec_parse(s, &spec)) {
		check(spec.id == 0xee && spec.level == 0xee);
		return;
	}
	check(spec.id < ZR_CODEC_COUNT);
	if (spec.id == ZR_CODEC_ZSTD)
		check(spec.level >= ZR_ZSTD_LEVEL_MIN && spec.level <= ZR_ZSTD_LEVEL_MAX);
	else
		check(spec.level == 0);
	memset(buf, 0x7f, sizeof(buf));
	n = zr_codec_format(spec, buf, ZR_CODEC_SPEC_MAX);
	check(n > 0 && n < ZR_CODEC_SPEC_MAX && buf[n] == 0 && buf[ZR_CODEC_SPEC_MAX] == 0x7f);
	check(!zr_codec_parse(buf, &back) && back.id == spec.id && back.level == spec.level);
	/* a directory's policy word, as apply_comp() packs it and
	 * format_control() / zr_fs_inherit_policy() unpack it */
	policy = ZR_POLICY_CODEC | (uint32_t)spec.id << 8 | spec.level;
	check((policy & ~ZR_POLICY_CODEC_MASK) == 0);
	pol = (struct zr_codec_spec){.id = (uint8_t)(policy >> 8), .level = (uint8_t)policy};
	check(pol.id == spec.id && pol.level == spec.level);
}

static void fuzz_chunk(const char *s)
{
	unsigned shift = 0xeeu, back = 0;
	uint64_t v = 0;
	uint32_t policy;
	char buf[16];
	int pow2;

	pow2 = !zr_parse_size(s, &v) && v && !(v & (v - 1)) && v >= 1u << ZR_CHUNK_SHIFT_MIN &&
	       v <= 1u << ZR_CHUNK_SHIFT_MAX;
	if (zr_parse_chunk_shift(s, &shift)) {
		check(!pow2 && shift == 0xeeu);
		return;
	}
	check(pow2 && shift >= ZR_CHUNK_SHIFT_MIN && shift <= ZR_CHUNK_SHIFT_MAX);
	check(v == 1ULL << shift);
	check(zr_ctl_format_chunk(shift, buf, sizeof(buf)) < (int)sizeof(buf));
	check(!zr_parse_chunk_shift(buf, &back) && back == shift);
	/* apply_chunk() packs it, format_chunk() unpacks it */
	policy = ZR_POLICY_CHUNK | shift << ZR_POLICY_CHUNK_SHIFT;
	check((policy & ~ZR_POLICY_CHUNK_MASK) == 0);
	check(((policy >> ZR_POLICY_CHUNK_SHIFT) & 0x1f) == shift);
}

/* The framing: what zr_ctl_string() and zr_ctl_is() make of the bytes. */
static void fuzz_framing(const char *value, size_t size)
{
	static const char *const words[] = {"idle", "huge", "all", "1"};
	char s[ZR_CONTROL_VALUE_MAX];
	size_t n = size && value[size - 1] == '\n' ? size - 1 : size;
	int ok = n >= 1 && n < sizeof(s) && !memchr(value, 0, n);

	memset(s, 0x7f, sizeof(s));
	check((zr_ctl_string(value, size, s, sizeof(s)) == 0) == ok);
	if (ok) {
		check(strlen(s) == n && !memcmp(s, value, n));
		/* set_mem_limit, set_comp / recompress, set_chunk */
		fuzz_size(s);
		fuzz_codec(s);
		fuzz_chunk(s);
	}
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		size_t w = strlen(words[i]);

		check(zr_ctl_is(value, size, words[i]) == (n == w && !memcmp(value, words[i], w)));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A heap copy of exactly size bytes, so ASan sees any overread. */
	char *value = malloc(size ? size : 1);
	char *str = malloc(size + 1);

	if (!value || !str)
		abort();
	memcpy(value, data, size);
	fuzz_framing(value, size);
	/* Unbounded, up to the first NUL: the -o path to the same parsers. */
	memcpy(str, data, size);
	str[size] = 0;
	fuzz_size(str);
	fuzz_codec(str);
	fuzz_chunk(str);
	free(value);
	free(str);
	return 0;
}
