/* SPDX-License-Identifier: MIT */
/*
 * codec.h - the compression algorithms zramfs can store chunks with.
 *
 * A codec spec names an algorithm and, for zstd, a level ("lz4", "zstd",
 * "zstd:9", "none").  Compression needs state (a zstd context, lz4's hash
 * table): zr_codec_ctx_get() takes a context from a pool shared by all
 * threads (made on first need) and zr_codec_ctx_put() gives it back, so the
 * request path does not allocate once the pool is warm, and
 * zr_codec_trim() frees the pooled contexts when the daemon is idle.
 *
 * Knows nothing of files, chunks or FUSE.
 */
#ifndef ZRAMFS_CODEC_H
#define ZRAMFS_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum zr_codec_id {
	ZR_CODEC_NONE = 0,	/* store raw */
	ZR_CODEC_LZ4 = 1,
	ZR_CODEC_ZSTD = 2,
	ZR_CODEC_COUNT
};

#define ZR_ZSTD_LEVEL_MIN 1
#define ZR_ZSTD_LEVEL_MAX 19	/* 20..22 need a huge window: pointless for <=1 MiB chunks */
#define ZR_ZSTD_LEVEL_DEFAULT 3

/* lz4hc:N - the lz4 block format (same decoder, same id in a chunk) made by
 * lz4's high-compression search: on the Linux tree, level 2 is 15 % smaller
 * than lz4 at about half its speed; past 4 it gains < 1 % for 2-6x the
 * time.  Level 0 in a spec is plain (fast) lz4. */
#define ZR_LZ4HC_LEVEL_MIN 1
#define ZR_LZ4HC_LEVEL_MAX 12
#define ZR_LZ4HC_LEVEL_DEFAULT 2

/* Longest spec string zr_codec_format() writes, with its NUL. */
#define ZR_CODEC_SPEC_MAX 16

struct zr_codec_spec {
	uint8_t id;	/* enum zr_codec_id */
	uint8_t level;	/* zstd level; lz4: 0 fast, else lz4hc level; none: 0 */
};

/* zr_codec_parse(): parse "none", "lz4", "lz4hc", "lz4hc:N", "zstd" or
 * "zstd:N".
 * Returns 0 and fills *out, or -EINVAL (and *out untouched). */
int zr_codec_parse(const char *s, struct zr_codec_spec *out);

/* zr_codec_spec_valid(): a known codec with a level in its range (the
 * specs zr_codec_parse() can return). */
bool zr_codec_spec_valid(struct zr_codec_spec spec);

/* zr_codec_format(): writes the canonical spec ("zstd:3", "lz4hc:2") into
 * buf.
 * Returns the string length (< ZR_CODEC_SPEC_MAX). */
int zr_codec_format(struct zr_codec_spec spec, char *buf, size_t size);

/* Idle recompression's automatic choice: for chunks coded with lz4 (fast),
 * lz4hc at ZR_RECOMP_LZ4HC_LEVEL; with zstd, ZR_RECOMP_ZSTD_LEVEL: the same
 * decoders, so reads cost the same.  Measured on the linux-6.1 tree in
 * 64 KiB chunks, one thread here: lz4 402 MiB; lz4hc:2 333 (185 MB/s),
 * :4 325 (141 MB/s), :9 321 (64 MB/s); zstd:3 260; zstd:6 240 (119 MB/s),
 * :9 237 (69 MB/s).  A codec already at or above the level gets none. */
#define ZR_RECOMP_LZ4HC_LEVEL 4
#define ZR_RECOMP_ZSTD_LEVEL 6

/* zr_codec_recomp_auto(): out[id] = the stronger codec for chunks coded
 * with codec id, given the mount's codec (none for ZR_CODEC_NONE). */
void zr_codec_recomp_auto(struct zr_codec_spec mount, struct zr_codec_spec out[ZR_CODEC_COUNT]);

/* zr_codec_name(): "none", "lz4" or "zstd" for an id; "?" otherwise. */
const char *zr_codec_name(unsigned id);

/* zr_codec_bound(): the dst capacity that lets any codec compress len
 * bytes without failing for lack of room. */
size_t zr_codec_bound(size_t len);

struct zr_codec_ctx;

/* zr_codec_ctx_get(): a codec context for the caller alone until it calls
 * zr_codec_ctx_put() (its memory is counted with zr_mem_account()).  NULL
 * on ENOMEM. */
struct zr_codec_ctx *zr_codec_ctx_get(void);
void zr_codec_ctx_put(struct zr_codec_ctx *ctx);	/* NULL: no-op */

/* zr_codec_trim(): free the pooled contexts (none in use is touched). */
void zr_codec_trim(void);

/*
 * A dictionary trained on samples of a mount's own data.  Small chunks
 * (most files of a source tree are one small chunk) compress badly alone:
 * every one starts with no history and, for zstd, its own entropy tables.
 * Coded against a dictionary of what the mount's chunks have in common,
 * they shrink a lot.  Measured on the linux-6.1 tree in 64 KiB chunks, a
 * dictionary trained on 16 MiB of samples: zstd:6 240 -> 217 MiB, lz4hc:4
 * 325 -> 282 MiB, at about 1.2x the coding time for zstd and 2.4x for
 * lz4hc (the whole recompression of the tree); decoding costs the same.
 * zstd keeps the trainer's whole output (<= ZR_DICT_MAX); lz4 the last
 * 64 KiB of its content (lz4 matches reach no further back).  Immutable
 * once made and shared by all threads; a chunk coded against it can be
 * decoded only with it.
 */
struct zr_codec_dict;

#define ZR_DICT_MAX (112u << 10)

/* zr_codec_dict_train(): a dictionary for codec id (lz4 or zstd) from n
 * samples stored back to back in samples, sizes[i] bytes each.  Its memory
 * is counted with zr_mem_account(); training itself briefly takes about
 * 13 MiB more than the samples (zstd's trainer).
 * Returns 0 and *out, -ENOMEM, or -EINVAL (a codec without dictionaries,
 * or samples the trainer cannot use: too few, too alike). */
int zr_codec_dict_train(unsigned id, const void *samples, const size_t *sizes, unsigned n,
			struct zr_codec_dict **out);
void zr_codec_dict_free(struct zr_codec_dict *d);	/* NULL: no-op */
/* zr_codec_dict_bytes(): the memory d holds (counted). */
size_t zr_codec_dict_bytes(const struct zr_codec_dict *d);
/* zr_codec_dict_id(): the codec d is for. */
unsigned zr_codec_dict_id(const struct zr_codec_dict *d);

/* zr_codec_compress_dict(): compress len bytes of src into dst (dst_cap
 * bytes), against dict when it is not NULL (dict must be for spec.id).
 * Returns the compressed length (> 0), 0 when the output would not fit in
 * dst_cap (the caller treats the data as incompressible), or -EINVAL for
 * ZR_CODEC_NONE / a bad spec, -ENOMEM, -EIO on a library error.  Never
 * writes outside dst[0 .. dst_cap). */
ssize_t zr_codec_compress_dict(struct zr_codec_ctx *ctx, struct zr_codec_spec spec,
			       const struct zr_codec_dict *dict, const void *src, size_t len,
			       void *dst, size_t dst_cap);

/* zr_codec_decompress_dict(): decompress clen bytes of src (compressed with
 * codec id, against dict when it is not NULL) into exactly dst_len bytes at
 * dst.  Returns 0, -ENOMEM, or -EIO when the input is corrupt or does not
 * decode to exactly dst_len bytes.  Never reads past src[clen) nor writes
 * outside dst[0 .. dst_len). */
int zr_codec_decompress_dict(struct zr_codec_ctx *ctx, unsigned id,
			     const struct zr_codec_dict *dict, const void *src, size_t clen,
			     void *dst, size_t dst_len);

/* zr_codec_decompress_head(): as zr_codec_decompress_dict() for a chunk
 * that decodes to dst_len bytes, but only its first want bytes (want <=
 * dst_len) must come out right: lz4 stops there (a random 4 KiB read of a
 * 64 KiB chunk decodes half of it on average); zstd decodes everything.
 * Bytes of dst past want are unspecified.  -EIO if the input does not give
 * want bytes. */
int zr_codec_decompress_head(struct zr_codec_ctx *ctx, unsigned id,
			     const struct zr_codec_dict *dict, const void *src, size_t clen,
			     void *dst, size_t want, size_t dst_len);

/* Without a dictionary. */
static inline ssize_t zr_codec_compress(struct zr_codec_ctx *ctx, struct zr_codec_spec spec,
					const void *src, size_t len, void *dst, size_t dst_cap)
{
	return zr_codec_compress_dict(ctx, spec, NULL, src, len, dst, dst_cap);
}

static inline int zr_codec_decompress(struct zr_codec_ctx *ctx, unsigned id, const void *src,
				      size_t clen, void *dst, size_t dst_len)
{
	return zr_codec_decompress_dict(ctx, id, NULL, src, clen, dst, dst_len);
}

#endif /* ZRAMFS_CODEC_H */
