/* SPDX-License-Identifier: MIT */
/*
 * opts.c - zramfs mount options (see include/zramfs/opts.h).
 *
 * One table lists every option with its parser; zr_opts_is_ours() and
 * zr_opts_apply() both read it, so an option cannot be known to one and not
 * the other.  Every parser validates fully: a value is either accepted whole
 * or the mount stops with a message naming the option.
 */
#include "zramfs/opts.h"
#include "zramfs/chunk.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef int (*opt_parser)(struct zr_opts *o, const char *val, uint64_t ram,
			  char *err, size_t errlen);

struct opt_desc {
	const char *key;
	int needs_value;
	opt_parser parse;
};

int zr_parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned shift = 0;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	default: break;
	}
	if (shift && (!strcmp(end, "i") || !strcmp(end, "iB")))
		end += strlen(end);
	if (!strcmp(end, "B") || !strcmp(end, "b"))
		end++;
	if (*end)
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

static int parse_uint(const char *s, int base, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!s || !*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, base);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static uint64_t percent_of(uint64_t total, uint64_t pct)
{
	return (uint64_t)((unsigned __int128)total * pct / 100);
}

static int fail(char *err, size_t errlen, const char *key, const char *val,
		const char *why)
{
	snprintf(err, errlen, "invalid option '%s=%s': %s", key, val ? val : "",
		 why);
	return -EINVAL;
}

static int opt_size(struct zr_opts *o, const char *val, uint64_t ram,
		    char *err, size_t errlen)
{
	size_t n = strlen(val);
	uint64_t v;

	if (n > 1 && val[n - 1] == '%') {
		char num[32];

		if (n - 1 >= sizeof(num))
			return fail(err, errlen, "size", val, "bad percentage");
		memcpy(num, val, n - 1);
		num[n - 1] = 0;
		if (parse_uint(num, 10, 1000, &v) || v == 0)
			return fail(err, errlen, "size", val,
				    "percentage must be 1..1000");
		o->size = percent_of(ram, v);
		return 0;
	}
	if (zr_parse_size(val, &v) || v == 0)
		return fail(err, errlen, "size", val,
			    "expected a size like 512M, 4G or 50%");
	o->size = v;
	return 0;
}

static int opt_nr_inodes(struct zr_opts *o, const char *val, uint64_t ram,
			 char *err, size_t errlen)
{
	uint64_t v;

	if (zr_parse_size(val, &v))
		return fail(err, errlen, "nr_inodes", val, "expected a number");
	o->nr_inodes = v;
	return 0;
}

int zr_parse_chunk_shift(const char *s, unsigned *shift)
{
	uint64_t v;

	if (zr_parse_size(s, &v) || v == 0 || (v & (v - 1)))
		return -EINVAL;
	if (__builtin_ctzll(v) < ZR_CHUNK_SHIFT_MIN || __builtin_ctzll(v) > ZR_CHUNK_SHIFT_MAX)
		return -EINVAL;
	*shift = (unsigned)__builtin_ctzll(v);
	return 0;
}

static int opt_chunk(struct zr_opts *o, const char *val, uint64_t ram,
		     char *err, size_t errlen)
{
	if (zr_parse_chunk_shift(val, &o->chunk_shift))
		return fail(err, errlen, "chunk", val,
			    "expected a power of two from 4K to 1M");
	return 0;
}

static int opt_comp(struct zr_opts *o, const char *val, uint64_t ram,
		    char *err, size_t errlen)
{
	if (zr_codec_parse(val, &o->codec))
		return fail(err, errlen, "comp", val,
			    "expected lz4, lz4hc, lz4hc:1..12, zstd, zstd:1..19 or none");
	return 0;
}

static int opt_mode(struct zr_opts *o, const char *val, uint64_t ram,
		    char *err, size_t errlen)
{
	uint64_t v;

	if (parse_uint(val, 8, 07777, &v))
		return fail(err, errlen, "mode", val,
			    "expected octal permission bits, e.g. 1777");
	o->root_mode = (mode_t)v;
	return 0;
}

static int opt_uid(struct zr_opts *o, const char *val, uint64_t ram,
		   char *err, size_t errlen)
{
	uint64_t v;

	if (parse_uint(val, 10, UINT32_MAX - 1, &v))
		return fail(err, errlen, "uid", val, "expected a numeric uid");
	o->root_uid = (uid_t)v;
	return 0;
}

static int opt_gid(struct zr_opts *o, const char *val, uint64_t ram,
		   char *err, size_t errlen)
{
	uint64_t v;

	if (parse_uint(val, 10, UINT32_MAX - 1, &v))
		return fail(err, errlen, "gid", val, "expected a numeric gid");
	o->root_gid = (gid_t)v;
	return 0;
}

static int opt_bool(int *dst, const char *key, const char *val, char *err,
		    size_t errlen)
{
	if (!strcmp(val, "1") || !strcmp(val, "yes") || !strcmp(val, "on"))
		*dst = 1;
	else if (!strcmp(val, "0") || !strcmp(val, "no") || !strcmp(val, "off"))
		*dst = 0;
	else
		return fail(err, errlen, key, val, "expected 1/0, yes/no or on/off");
	return 0;
}

static int opt_wbcache(struct zr_opts *o, const char *val, uint64_t ram,
		       char *err, size_t errlen)
{
	return opt_bool(&o->writeback_cache, "wbcache", val, err, errlen);
}

/* "mlock" alone means mlock=1. */
static int opt_mlock(struct zr_opts *o, const char *val, uint64_t ram,
		     char *err, size_t errlen)
{
	return opt_bool(&o->mlock, "mlock", *val ? val : "1", err, errlen);
}

/* set_count(): *dst = val, a decimal count in [min, max]; else the
 * option fails with why. */
static int set_count(unsigned *dst, const char *key, const char *val, uint64_t min,
		     uint64_t max, const char *why, char *err, size_t errlen)
{
	uint64_t v;

	if (parse_uint(val, 10, max, &v) || v < min)
		return fail(err, errlen, key, val, why);
	*dst = (unsigned)v;
	return 0;
}

static int opt_max_threads(struct zr_opts *o, const char *val, uint64_t ram,
			   char *err, size_t errlen)
{
	return set_count(&o->max_threads, "max_threads", val, 2, 1024, "expected 2..1024",
			 err, errlen);
}

static int opt_max_background(struct zr_opts *o, const char *val, uint64_t ram,
			      char *err, size_t errlen)
{
	return set_count(&o->max_background, "max_background", val, 1, 65535,
			 "expected 1..65535", err, errlen);
}

static int opt_workers(struct zr_opts *o, const char *val, uint64_t ram,
		       char *err, size_t errlen)
{
	return set_count(&o->workers, "workers", val, 0, ZR_MAX_WORKERS, "expected 0..256",
			 err, errlen);
}

static int opt_staging(struct zr_opts *o, const char *val, uint64_t ram,
		       char *err, size_t errlen)
{
	uint64_t v;

	if (zr_parse_size(val, &v) || v < (1u << ZR_CHUNK_SHIFT_MAX) || v > (1ULL << 40))
		return fail(err, errlen, "staging", val, "expected a size from 1M to 1T");
	o->staging = v;
	return 0;
}

static int opt_spill(struct zr_opts *o, const char *val, uint64_t ram,
		     char *err, size_t errlen)
{
	if (strlen(val) >= sizeof(o->spill_dir))
		return fail(err, errlen, "spill", val, "path too long");
	strcpy(o->spill_dir, val);
	return 0;
}

static int opt_mem_limit(struct zr_opts *o, const char *val, uint64_t ram,
			 char *err, size_t errlen)
{
	uint64_t v;

	if (zr_parse_size(val, &v) || (v && v < (4u << 20)))
		return fail(err, errlen, "mem_limit", val, "expected 0 (none) or a size >= 4M");
	o->mem_limit = v;
	return 0;
}

static int opt_spill_limit(struct zr_opts *o, const char *val, uint64_t ram,
			   char *err, size_t errlen)
{
	uint64_t v;

	if (zr_parse_size(val, &v) || v > ((uint64_t)UINT32_MAX << 9))
		return fail(err, errlen, "spill_limit", val, "expected 0 (none) or a size up to 2T");
	o->spill_limit = v;
	return 0;
}

static int opt_idle(struct zr_opts *o, const char *val, uint64_t ram,
		    char *err, size_t errlen)
{
	return set_count(&o->idle, "idle", val, 0, 1u << 30, "expected seconds, 0 = off",
			 err, errlen);
}

/* "auto" (the default) picks by the chunk's codec; "off" or "none" turns
 * it off; a codec applies to every compressed chunk. */
static int opt_recompress(struct zr_opts *o, const char *val, uint64_t ram,
			  char *err, size_t errlen)
{
	struct zr_codec_spec spec = {0};
	bool is_auto = !strcmp(val, "auto");

	/* fast lz4 again cannot make a chunk smaller */
	if (!is_auto && strcmp(val, "off") &&
	    (zr_codec_parse(val, &spec) || (spec.id == ZR_CODEC_LZ4 && !spec.level)))
		return fail(err, errlen, "recompress", val,
			    "expected auto, off, lz4hc:1..12 or zstd:1..19");
	o->recomp_auto = is_auto;
	o->recomp = spec;
	return 0;
}

static int opt_recompress_idle(struct zr_opts *o, const char *val, uint64_t ram,
			       char *err, size_t errlen)
{
	return set_count(&o->recomp_idle, "recompress_idle", val, 0, 1u << 30,
			 "expected seconds, 0 = only when asked", err, errlen);
}

static int opt_recompress_dict(struct zr_opts *o, const char *val, uint64_t ram,
			       char *err, size_t errlen)
{
	return opt_bool(&o->recomp_dict, "recompress_dict", val, err, errlen);
}

static int opt_read_ahead(struct zr_opts *o, const char *val, uint64_t ram,
			  char *err, size_t errlen)
{
	uint64_t v;

	if (zr_parse_size(val, &v) || v > ZR_MAX_READ_AHEAD || (v & 4095))
		return fail(err, errlen, "read_ahead", val,
			    "expected 0 (kernel default) or a multiple of 4K up to 64M");
	o->read_ahead = v;
	return 0;
}

static const struct opt_desc opt_table[] = {
	{ "size", 1, opt_size },
	{ "nr_inodes", 1, opt_nr_inodes },
	{ "chunk", 1, opt_chunk },
	{ "comp", 1, opt_comp },
	{ "mode", 1, opt_mode },
	{ "uid", 1, opt_uid },
	{ "gid", 1, opt_gid },
	{ "wbcache", 1, opt_wbcache },
	{ "mlock", 0, opt_mlock },
	{ "max_threads", 1, opt_max_threads },
	{ "max_background", 1, opt_max_background },
	{ "workers", 1, opt_workers },
	{ "staging", 1, opt_staging },
	{ "spill", 1, opt_spill },
	{ "mem_limit", 1, opt_mem_limit },
	{ "spill_limit", 1, opt_spill_limit },
	{ "idle", 1, opt_idle },
	{ "read_ahead", 1, opt_read_ahead },
	{ "recompress", 1, opt_recompress },
	{ "recompress_idle", 1, opt_recompress_idle },
	{ "recompress_dict", 1, opt_recompress_dict },
};

static const struct opt_desc *find_opt(const char *kv)
{
	size_t klen = strcspn(kv, "=");

	for (size_t i = 0; i < sizeof(opt_table) / sizeof(opt_table[0]); i++)
		if (strlen(opt_table[i].key) == klen &&
		    !strncmp(opt_table[i].key, kv, klen))
			return &opt_table[i];
	return NULL;
}

int zr_opts_is_ours(const char *kv)
{
	return find_opt(kv) != NULL;
}

int zr_opts_apply(struct zr_opts *o, const char *kv, uint64_t ram_bytes,
		  char *err, size_t errlen)
{
	const struct opt_desc *d = find_opt(kv);
	const char *eq = strchr(kv, '=');

	if (!d) {
		snprintf(err, errlen, "unknown option '%s'", kv);
		return -EINVAL;
	}
	if (d->needs_value && (!eq || !eq[1])) {
		snprintf(err, errlen, "option '%s' needs a value (%s=...)", kv,
			 d->key);
		return -EINVAL;
	}
	return d->parse(o, eq ? eq + 1 : "", ram_bytes, err, errlen);
}

unsigned zr_default_max_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > ZR_MIN_MAX_THREADS ? (unsigned)n : ZR_MIN_MAX_THREADS;
}

void zr_opts_defaults(struct zr_opts *o, uint64_t ram_bytes, uid_t uid, gid_t gid)
{
	memset(o, 0, sizeof(*o));
	o->size = percent_of(ram_bytes, ZR_DEFAULT_SIZE_PERCENT);
	o->nr_inodes = ram_bytes / ZR_DEFAULT_BYTES_PER_INODE;
	o->chunk_shift = ZR_DEFAULT_CHUNK_SHIFT;
	o->codec.id = ZR_CODEC_LZ4;
	o->root_mode = 0755;
	o->root_uid = uid;
	o->root_gid = gid;
	o->writeback_cache = 1;
	o->read_ahead = ZR_DEFAULT_READ_AHEAD;
	o->recomp_auto = true;
	o->recomp_idle = ZR_DEFAULT_RECOMP_IDLE;
	o->recomp_dict = 1;
	o->max_threads = zr_default_max_threads();
	o->max_background = ZR_DEFAULT_MAX_BACKGROUND;
	o->workers = zr_default_workers();
	o->staging = ram_bytes / ZR_STAGING_RAM_DIV < ZR_STAGING_DEFAULT
			     ? ram_bytes / ZR_STAGING_RAM_DIV
			     : ZR_STAGING_DEFAULT;
	if (o->staging < (1u << ZR_CHUNK_SHIFT_MAX))
		o->staging = 1u << ZR_CHUNK_SHIFT_MAX;
}

void zr_opts_recomp(const struct zr_opts *o, struct zr_codec_spec out[ZR_CODEC_COUNT])
{
	if (o->recomp_auto) {
		zr_codec_recomp_auto(o->codec, out);
		return;
	}
	for (unsigned i = 0; i < ZR_CODEC_COUNT; i++)
		out[i] = o->recomp;
	out[ZR_CODEC_NONE] = (struct zr_codec_spec){0};
}

unsigned zr_default_workers(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		return 1;
	return n > ZR_MAX_WORKERS ? ZR_MAX_WORKERS : (unsigned)n;
}

const char *zr_opts_help(void)
{
	return "zramfs options:\n"
	       "    -o size=SIZE           logical size limit (K/M/G/T or N% of RAM; default 50%)\n"
	       "    -o nr_inodes=N         maximum number of inodes (default: RAM / 8K)\n"
	       "    -o chunk=SIZE          chunk size, power of two 4K..1M (default 64K)\n"
	       "    -o comp=CODEC          lz4 (default), lz4hc[:1..12], zstd[:1..19], none\n"
	       "    -o mode=OCTAL          permissions of the root directory (default 755)\n"
	       "    -o uid=N,gid=N         owner of the root directory (default: caller)\n"
	       "    -o wbcache=0|1         kernel writeback cache (default 1)\n"
	       "    -o read_ahead=SIZE     read-ahead of the mount (root; default 1M,\n"
	       "                           0 = the kernel's 128K)\n"
	       "    -o mlock               lock the daemon in RAM (for swap files; root)\n"
	       "    -o max_threads=N       FUSE worker threads (default: online CPUs, >= 2)\n"
	       "    -o max_background=N    in-flight background requests (default 64)\n"
	       "    -o workers=N           compression threads, 0 = compress inline\n"
	       "                           (default: online CPUs)\n"
	       "    -o staging=SIZE        bound on uncompressed data waiting for them\n"
	       "                           (default 16M, at most RAM/64)\n"
	       "    -o mem_limit=SIZE      RAM budget for data (arena + staging); without\n"
	       "                           spill=, writes past it fail with ENOSPC\n"
	       "    -o spill=DIR           write cold chunks back to a file in DIR\n"
	       "    -o spill_limit=SIZE    most disk the spill file may use (default: none)\n"
	       "    -o idle=SECONDS        write back chunks idle that long (0 = off)\n"
	       "    -o recompress=CODEC    recompress idle chunks with a stronger codec:\n"
	       "                           auto (default: lz4 -> lz4hc:4, zstd -> zstd:6),\n"
	       "                           off, lz4hc:N or zstd:N\n"
	       "    -o recompress_idle=SECONDS  after that long untouched (default 10;\n"
	       "                           0 = only when asked)\n"
	       "    -o recompress_dict=0|1 recompress against a dictionary trained on\n"
	       "                           the mount's data (default 1)\n";
}
