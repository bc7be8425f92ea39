/* SPDX-License-Identifier: MIT */
/* fuzz_codec.c - libFuzzer: decoding corrupted chunks must fail cleanly,
 * never read or write out of bounds (ASan watches), and valid data must
 * round-trip.  Input: 1 byte codec selector, 2 bytes output length, the rest
 * is fed to the decoder as a compressed chunk and also compressed itself.
 *
 * Debian's liblz4/libzstd are not instrumented: ASan does not see their
 * own accesses and libFuzzer gets no coverage from inside them.  So the
 * decoder's output buffer is followed by a canary that must survive, and
 * its input ends where a PROT_NONE page begins (an overread faults). */
#include "zramfs/codec.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define CANARY 64

/* A copy of the input that ends exactly at a PROT_NONE page. */
static const unsigned char *guarded_copy(const unsigned char *data, size_t len)
{
	static unsigned char *map;
	static size_t map_len;
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	size_t need = (len + pg - 1) / pg * pg + pg;

	if (map)
		munmap(map, map_len);
	map = mmap(NULL, need, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert(map != MAP_FAILED);
	map_len = need;
	mprotect(map + need - pg, pg, PROT_NONE);
	memcpy(map + need - pg - len, data, len);
	return map + need - pg - len;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct zr_codec_ctx *ctx = zr_codec_ctx_get();
	struct zr_codec_spec spec;
	size_t out_len, body_len, cap;
	unsigned char *out, *comp;
	ssize_t c;

	if (size < 4 || !ctx)
		return 0;
	spec.id = (data[0] & 1) ? ZR_CODEC_ZSTD : ZR_CODEC_LZ4;
	spec.level = spec.id == ZR_CODEC_ZSTD ? 1 + data[0] % 19 : 0;
	out_len = 1 + ((size_t)data[1] << 8 | data[2]);
	data += 3;
	body_len = size - 3;
	out = malloc(out_len + CANARY);
	cap = zr_codec_bound(body_len);
	comp = malloc(cap);
	if (!out || !comp)
		goto out;
	/* Arbitrary bytes as a compressed chunk: any result but a crash, and
	 * nothing written past out_len. */
	memset(out + out_len, 0xa5, CANARY);
	(void)zr_codec_decompress(ctx, spec.id, guarded_copy(data, body_len), body_len,
				  out, out_len);
	for (size_t i = 0; i < CANARY; i++)
		assert(out[out_len + i] == 0xa5);
	/* And a real round trip. */
	c = zr_codec_compress(ctx, spec, data, body_len, comp, cap);
	assert(c > 0);
	free(out);
	out = malloc(body_len);
	assert(out);
	assert(zr_codec_decompress(ctx, spec.id, comp, (size_t)c, out, body_len) == 0);
	assert(!memcmp(out, data, body_len));
	/* A truncated compressed chunk must be rejected. */
	if (c > 1)
		assert(zr_codec_decompress(ctx, spec.id, comp, (size_t)c - 1, out,
					   body_len) != 0 ||
		       !memcmp(out, data, body_len));
out:
	free(out);
	free(comp);
	return 0;
}
