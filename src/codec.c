/* SPDX-License-Identifier: MIT */
/*
 * codec.c - lz4 and zstd behind one interface (see include/zramfs/codec.h).
 *
 * Contexts live in one pool: a use takes one (zr_codec_ctx_get) and gives
 * it back (zr_codec_ctx_put), so zr_codec_trim() can free those not in use
 * once the daemon is idle; per-thread contexts could only be freed by their
 * thread, and libfuse's threads may sleep in read() for hours.  A zstd
 * compression context is created per level on demand and kept: a context
 * used at several levels (per-file policy) keeps one per level.
 */
#include "zramfs/codec.h"
#include "zramfs/fault.h"
#include "zramfs/lifo.h"
#include "zramfs/mem.h"

#include <errno.h>
#include <lz4.h>
#include <lz4hc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zdict.h>
#include <zstd.h>
#include <zstd_errors.h>

struct zr_codec_ctx {
	struct zr_lifo_node node;		/* in the pool; first: see lifo.h */
	ZSTD_CCtx *zc[ZR_ZSTD_LEVEL_MAX + 1];	/* per level, created on demand */
	size_t zc_bytes[ZR_ZSTD_LEVEL_MAX + 1];	/* counted size of each */
	ZSTD_DCtx *zd;				/* created on first decompress */
	size_t zd_bytes;
	LZ4_stream_t lz4;			/* lz4's hash table, reset per call */
	void *lz4hc;				/* lz4hc's state, on first need */
	ZSTD_CCtx *zdc;				/* zstd against a dictionary: */
	uint64_t zdc_serial;			/* loaded: this dictionary, */
	unsigned zdc_level;			/* at this level */
	size_t zdc_bytes;
	LZ4_streamHC_t *lz4d;			/* lz4hc with a dictionary */
	uint64_t lz4d_serial;			/* loaded, copied per call */
	unsigned lz4d_level;
};

/* lz4 finds matches at most this far back, so a longer dictionary is
 * wasted. */
#define LZ4_DICT_MAX (64u << 10)

struct zr_codec_dict {
	uint64_t serial;	/* unique in the process: a context's loaded
				 * dictionary is known by it, never by address */
	uint8_t id;
	size_t len;
	size_t counted;		/* given to zr_mem_account() beyond buf */
	ZSTD_DDict *ddict;	/* zstd: digested once, for every decoder */
	uint8_t buf[];
};

static _Atomic uint64_t dict_serial;

/* The pool, LIFO so the context used last (cache-warm) goes out first. */
static struct zr_lifo ctx_pool = ZR_LIFO_INIT;

static const char *const codec_names[ZR_CODEC_COUNT] = {
	[ZR_CODEC_NONE] = "none",
	[ZR_CODEC_LZ4] = "lz4",
	[ZR_CODEC_ZSTD] = "zstd",
};

const char *zr_codec_name(unsigned id)
{
	return id < ZR_CODEC_COUNT ? codec_names[id] : "?";
}

static int parse_level(const char *s, long min, long max, uint8_t *level)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*level = (uint8_t)v;
	return 0;
}

/* The spec names: "NAME" gives the default level, "NAME:N" (only where
 * max > 0) a level in [min, max].  A spec with level 0 is the family
 * without levels of its id (lz4 or none). */
static const struct codec_family {
	const char *name;
	uint8_t id, level_default, level_min, level_max;
} families[] = {
	{ "none", ZR_CODEC_NONE, 0, 0, 0 },
	{ "lz4", ZR_CODEC_LZ4, 0, 0, 0 },
	{ "lz4hc", ZR_CODEC_LZ4, ZR_LZ4HC_LEVEL_DEFAULT, ZR_LZ4HC_LEVEL_MIN, ZR_LZ4HC_LEVEL_MAX },
	{ "zstd", ZR_CODEC_ZSTD, ZR_ZSTD_LEVEL_DEFAULT, ZR_ZSTD_LEVEL_MIN, ZR_ZSTD_LEVEL_MAX },
};

/* family_of(): the family spec belongs to, or NULL if its level is out of
 * that family's range. */
static const struct codec_family *family_of(struct zr_codec_spec spec)
{
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		const struct codec_family *f = &families[i];

		if (f->id == spec.id && (f->level_max > 0) == (spec.level > 0))
			return spec.level <= f->level_max && spec.level >= f->level_min ? f : NULL;
	}
	return NULL;
}

bool zr_codec_spec_valid(struct zr_codec_spec spec)
{
	return family_of(spec) != NULL;
}

int zr_codec_parse(const char *s, struct zr_codec_spec *out)
{
	if (!s)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		const struct codec_family *f = &families[i];
		size_t n = strlen(f->name);
		struct zr_codec_spec spec = { f->id, f->level_default };

		if (strncmp(s, f->name, n))
			continue;
		if (s[n] == ':' && f->level_max > 0 &&
		    parse_level(s + n + 1, f->level_min, f->level_max, &spec.level))
			return -EINVAL;
		if (s[n] != '\0' && (s[n] != ':' || f->level_max == 0))
			continue;	/* "lz4hc" seen from "lz4", or "none:1" */
		*out = spec;
		return 0;
	}
	return -EINVAL;
}

int zr_codec_format(struct zr_codec_spec spec, char *buf, size_t size)
{
	const struct codec_family *f = family_of(spec);

	if (!f)
		return snprintf(buf, size, "?");
	if (f->level_max > 0)
		return snprintf(buf, size, "%s:%u", f->name, spec.level);
	return snprintf(buf, size, "%s", f->name);
}

void zr_codec_recomp_auto(struct zr_codec_spec mount, struct zr_codec_spec out[ZR_CODEC_COUNT])
{
	memset(out, 0, sizeof(out[0]) * ZR_CODEC_COUNT);
	if (!(mount.id == ZR_CODEC_LZ4 && mount.level >= ZR_RECOMP_LZ4HC_LEVEL))
		out[ZR_CODEC_LZ4] = (struct zr_codec_spec){ZR_CODEC_LZ4, ZR_RECOMP_LZ4HC_LEVEL};
	if (!(mount.id == ZR_CODEC_ZSTD && mount.level >= ZR_RECOMP_ZSTD_LEVEL))
		out[ZR_CODEC_ZSTD] = (struct zr_codec_spec){ZR_CODEC_ZSTD, ZR_RECOMP_ZSTD_LEVEL};
}

size_t zr_codec_bound(size_t len)
{
	size_t a = (size_t)LZ4_compressBound((int)len);
	size_t b = ZSTD_compressBound(len);

	return a > b ? a : b;
}

static void ctx_destroy(struct zr_codec_ctx *ctx)
{
	int64_t held = (int64_t)ctx->zd_bytes;

	for (int i = 0; i <= ZR_ZSTD_LEVEL_MAX; i++) {
		ZSTD_freeCCtx(ctx->zc[i]);
		held += (int64_t)ctx->zc_bytes[i];
	}
	ZSTD_freeDCtx(ctx->zd);
	ZSTD_freeCCtx(ctx->zdc);
	held += (int64_t)ctx->zdc_bytes;
	zr_free(ctx->lz4d);
	zr_free(ctx->lz4hc);
	zr_mem_account(-held);
	zr_free(ctx);
}

struct zr_codec_ctx *zr_codec_ctx_get(void)
{
	struct zr_codec_ctx *ctx = (struct zr_codec_ctx *)zr_lifo_pop(&ctx_pool);

	return ctx ? ctx : zr_calloc(1, sizeof(*ctx));
}

void zr_codec_ctx_put(struct zr_codec_ctx *ctx)
{
	if (ctx)
		zr_lifo_push(&ctx_pool, &ctx->node);
}

void zr_codec_trim(void)
{
	struct zr_lifo_node *n, *next;

	for (n = zr_lifo_take_all(&ctx_pool); n; n = next) {
		next = n->next;
		ctx_destroy((struct zr_codec_ctx *)n);
	}
}

/* No frame checksum or content size: the chunk record already holds both
 * lengths, and 4+ bytes per small chunk add up.  No dictionary id either:
 * the record says which dictionary. */
static void zstd_set_params(ZSTD_CCtx *zc, unsigned level)
{
	ZSTD_CCtx_setParameter(zc, ZSTD_c_compressionLevel, (int)level);
	ZSTD_CCtx_setParameter(zc, ZSTD_c_checksumFlag, 0);
	ZSTD_CCtx_setParameter(zc, ZSTD_c_contentSizeFlag, 0);
	ZSTD_CCtx_setParameter(zc, ZSTD_c_dictIDFlag, 0);
}

static ZSTD_CCtx *zstd_cctx(struct zr_codec_ctx *ctx, unsigned level)
{
	ZSTD_CCtx *zc = ctx->zc[level];

	if (zc)
		return zc;
	zc = ZSTD_createCCtx();
	if (!zc)
		return NULL;
	zstd_set_params(zc, level);
	ctx->zc[level] = zc;
	return zc;
}

/* recount_cctx(): contexts grow on first use at a size: bring zc's share
 * of the counted memory (*counted) to what it holds now. */
static void recount_cctx(ZSTD_CCtx *zc, size_t *counted)
{
	size_t now = ZSTD_sizeof_CCtx(zc);

	zr_mem_account((int64_t)now - (int64_t)*counted);
	*counted = now;
}

static void *lz4hc_state(struct zr_codec_ctx *ctx)
{
	if (!ctx->lz4hc)
		ctx->lz4hc = zr_malloc((size_t)LZ4_sizeofStateHC());
	return ctx->lz4hc;
}

static int lz4_cap(size_t cap)
{
	return (int)(cap > INT32_MAX ? INT32_MAX : cap);
}

static ssize_t lz4hc_compress(struct zr_codec_ctx *ctx, unsigned level, const void *src,
			      size_t len, void *dst, size_t dst_cap)
{
	void *st = lz4hc_state(ctx);

	if (!st)
		return -ENOMEM;
	/* 0 = did not fit; the state is initialised by the call */
	return LZ4_compress_HC_extStateHC(st, src, dst, (int)len, lz4_cap(dst_cap), (int)level);
}

/* lz4hc_dict_stream(): the context's lz4hc stream loaded with d at level.
 * Loading 64 KiB into lz4hc's chains costs about as much as coding a
 * chunk (measured: the tree's recompression took 3.6x as long loading it
 * per chunk), so it is loaded once and the loaded stream copied per call,
 * as lz4hc.h suggests; it points into d->buf, which outlives every use
 * (the serial check reloads it for another dictionary). */
static const LZ4_streamHC_t *lz4hc_dict_stream(struct zr_codec_ctx *ctx, unsigned level,
					       const struct zr_codec_dict *d)
{
	if (ctx->lz4d && ctx->lz4d_serial == d->serial && ctx->lz4d_level == level)
		return ctx->lz4d;
	if (!ctx->lz4d)
		ctx->lz4d = zr_malloc(sizeof(*ctx->lz4d));
	if (!ctx->lz4d || !LZ4_initStreamHC(ctx->lz4d, sizeof(*ctx->lz4d)))
		return NULL;
	LZ4_resetStreamHC_fast(ctx->lz4d, (int)level);
	LZ4_loadDictHC(ctx->lz4d, (const char *)d->buf, (int)d->len);
	ctx->lz4d_serial = d->serial;
	ctx->lz4d_level = level;
	return ctx->lz4d;
}

/* lz4_compress_dict(): lz4 (level 0: loads the dictionary per call, it
 * only hashes it) or lz4hc against a dictionary. */
static ssize_t lz4_compress_dict(struct zr_codec_ctx *ctx, unsigned level,
				 const struct zr_codec_dict *d, const void *src, size_t len,
				 void *dst, size_t dst_cap)
{
	const LZ4_streamHC_t *loaded;
	LZ4_streamHC_t *hc;

	if (!level) {
		LZ4_loadDict(&ctx->lz4, (const char *)d->buf, (int)d->len);
		return LZ4_compress_fast_continue(&ctx->lz4, src, dst, (int)len,
						  lz4_cap(dst_cap), 1);
	}
	loaded = lz4hc_dict_stream(ctx, level, d);
	hc = lz4hc_state(ctx);
	if (!loaded || !hc)
		return -ENOMEM;
	memcpy(hc, loaded, sizeof(*hc));
	return LZ4_compress_HC_continue(hc, src, dst, (int)len, lz4_cap(dst_cap));
}

/* zstd_dict_cctx(): the context's zstd compressor loaded with d at level.
 * It keeps d digested (a copy: d may be freed while the context lives on)
 * until asked for another dictionary or level. */
static ZSTD_CCtx *zstd_dict_cctx(struct zr_codec_ctx *ctx, unsigned level,
				 const struct zr_codec_dict *d)
{
	ZSTD_CCtx *zc = ctx->zdc;

	if (zc && ctx->zdc_serial == d->serial && ctx->zdc_level == level)
		return zc;
	if (!zc)
		zc = ctx->zdc = ZSTD_createCCtx();
	if (!zc)
		return NULL;
	ctx->zdc_serial = 0;
	ZSTD_CCtx_reset(zc, ZSTD_reset_session_and_parameters);
	zstd_set_params(zc, level);
	if (ZSTD_isError(ZSTD_CCtx_loadDictionary(zc, d->buf, d->len)))
		return NULL;
	ctx->zdc_serial = d->serial;
	ctx->zdc_level = level;
	return zc;
}

static ssize_t zstd_compress(struct zr_codec_ctx *ctx, unsigned level,
			     const struct zr_codec_dict *d, const void *src, size_t len,
			     void *dst, size_t cap)
{
	ZSTD_CCtx *zc;
	size_t r;

	if (level < ZR_ZSTD_LEVEL_MIN || level > ZR_ZSTD_LEVEL_MAX)
		return -EINVAL;
	zc = d ? zstd_dict_cctx(ctx, level, d) : zstd_cctx(ctx, level);
	if (!zc)
		return -ENOMEM;
	r = ZSTD_compress2(zc, dst, cap, src, len);
	if (d)
		recount_cctx(zc, &ctx->zdc_bytes);
	else if (ctx->zc_bytes[level] == 0 || ZSTD_isError(r))
		recount_cctx(zc, &ctx->zc_bytes[level]);
	if (ZSTD_isError(r))
		return ZSTD_getErrorCode(r) == ZSTD_error_dstSize_tooSmall ? 0 : -EIO;
	return (ssize_t)r;
}

ssize_t zr_codec_compress_dict(struct zr_codec_ctx *ctx, struct zr_codec_spec spec,
			       const struct zr_codec_dict *dict, const void *src, size_t len,
			       void *dst, size_t dst_cap)
{
	if (len == 0 || len > (size_t)LZ4_MAX_INPUT_SIZE || (dict && dict->id != spec.id))
		return -EINVAL;
	if (zr_fault(ZR_FAULT_CODEC_COMPRESS))
		return -EIO;	/* as a library error */
	switch (spec.id) {
	case ZR_CODEC_LZ4:
		if (spec.level > ZR_LZ4HC_LEVEL_MAX)
			return -EINVAL;
		if (dict)
			return lz4_compress_dict(ctx, spec.level, dict, src, len, dst, dst_cap);
		if (spec.level)
			return lz4hc_compress(ctx, spec.level, src, len, dst, dst_cap);
		/* 0 = did not fit */
		return LZ4_compress_fast_extState(&ctx->lz4, src, dst, (int)len,
						  lz4_cap(dst_cap), 1);
	case ZR_CODEC_ZSTD:
		return zstd_compress(ctx, spec.level, dict, src, len, dst, dst_cap);
	default:
		return -EINVAL;
	}
}

static int zstd_decompress(struct zr_codec_ctx *ctx, const struct zr_codec_dict *d,
			   const void *src, size_t clen, void *dst, size_t dst_len)
{
	size_t r;

	if (!ctx->zd) {
		ctx->zd = ZSTD_createDCtx();
		if (!ctx->zd)
			return -ENOMEM;
		ctx->zd_bytes = ZSTD_sizeof_DCtx(ctx->zd);
		zr_mem_account((int64_t)ctx->zd_bytes);
	}
	r = d ? ZSTD_decompress_usingDDict(ctx->zd, dst, dst_len, src, clen, d->ddict)
	      : ZSTD_decompressDCtx(ctx->zd, dst, dst_len, src, clen);
	if (ZSTD_isError(r) || r != dst_len)
		return -EIO;
	return 0;
}

int zr_codec_decompress_head(struct zr_codec_ctx *ctx, unsigned id,
			     const struct zr_codec_dict *dict, const void *src, size_t clen,
			     void *dst, size_t want, size_t dst_len)
{
	const char *dbuf = dict ? (const char *)dict->buf : NULL;
	int dlen = dict ? (int)dict->len : 0, r;

	if (clen > (size_t)INT32_MAX || dst_len > (size_t)INT32_MAX || (dict && dict->id != id))
		return -EIO;
	if (zr_fault(ZR_FAULT_CODEC_DECOMPRESS))
		return -EIO;	/* as corrupt input */
	switch (id) {
	case ZR_CODEC_LZ4:
		if (want < dst_len) {
			/* clen is the block's exact size: lz4 stops at want */
			r = dict ? LZ4_decompress_safe_partial_usingDict(src, dst, (int)clen,
					(int)want, (int)dst_len, dbuf, dlen)
				 : LZ4_decompress_safe_partial(src, dst, (int)clen, (int)want,
							       (int)dst_len);
			return r == (int)want ? 0 : -EIO;
		}
		r = dict ? LZ4_decompress_safe_usingDict(src, dst, (int)clen, (int)dst_len,
							 dbuf, dlen)
			 : LZ4_decompress_safe(src, dst, (int)clen, (int)dst_len);
		return r == (int)dst_len ? 0 : -EIO;
	case ZR_CODEC_ZSTD:
		return zstd_decompress(ctx, dict, src, clen, dst, dst_len);
	default:
		return -EIO;
	}
}

int zr_codec_decompress_dict(struct zr_codec_ctx *ctx, unsigned id,
			     const struct zr_codec_dict *dict, const void *src, size_t clen,
			     void *dst, size_t dst_len)
{
	return zr_codec_decompress_head(ctx, id, dict, src, clen, dst, dst_len, dst_len);
}

/* ---------------------------------------------------------------------
 * Dictionaries
 * ------------------------------------------------------------------- */

int zr_codec_dict_train(unsigned id, const void *samples, const size_t *sizes, unsigned n,
			struct zr_codec_dict **out)
{
	uint8_t *raw;
	size_t len, keep;
	struct zr_codec_dict *d;

	if (id != ZR_CODEC_LZ4 && id != ZR_CODEC_ZSTD)
		return -EINVAL;
	raw = zr_malloc(ZR_DICT_MAX);
	if (!raw)
		return -ENOMEM;
	len = ZDICT_trainFromBuffer(raw, ZR_DICT_MAX, samples, sizes, n);
	if (ZDICT_isError(len)) {
		zr_free(raw);
		return ZSTD_getErrorCode(len) == ZSTD_error_memory_allocation ? -ENOMEM : -EINVAL;
	}
	/* lz4: the content, at the end of the trainer's output */
	keep = id == ZR_CODEC_LZ4 && len > LZ4_DICT_MAX ? LZ4_DICT_MAX : len;
	d = zr_malloc(sizeof(*d) + keep);
	if (d) {
		memset(d, 0, sizeof(*d));
		memcpy(d->buf, raw + len - keep, keep);
	}
	zr_free(raw);
	if (!d)
		return -ENOMEM;
	d->id = (uint8_t)id;
	d->len = keep;
	d->serial = atomic_fetch_add_explicit(&dict_serial, 1, memory_order_relaxed) + 1;
	if (id == ZR_CODEC_ZSTD) {
		d->ddict = ZSTD_createDDict(d->buf, d->len); /* its own copy */
		if (!d->ddict) {
			zr_free(d);
			return -ENOMEM;
		}
		d->counted = ZSTD_sizeof_DDict(d->ddict);
		zr_mem_account((int64_t)d->counted);
	}
	*out = d;
	return 0;
}

void zr_codec_dict_free(struct zr_codec_dict *d)
{
	if (!d)
		return;
	ZSTD_freeDDict(d->ddict);
	zr_mem_account(-(int64_t)d->counted);
	zr_free(d);
}

size_t zr_codec_dict_bytes(const struct zr_codec_dict *d)
{
	return d ? sizeof(*d) + d->len + d->counted : 0;
}

unsigned zr_codec_dict_id(const struct zr_codec_dict *d)
{
	return d->id;
}
