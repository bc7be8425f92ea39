/* SPDX-License-Identifier: MIT */
/* fuzz_opts.c - libFuzzer: any option string is accepted whole or rejected
 * with a message; never a crash, never a half-applied option. */
#include "zramfs/opts.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct zr_opts o, before;
	char *kv = malloc(size + 1);
	char err[256];

	if (!kv)
		return 0;
	memcpy(kv, data, size);
	kv[size] = 0;
	zr_opts_defaults(&o, 1ULL << 33, 0, 0);
	before = o;
	if (zr_opts_apply(&o, kv, 1ULL << 33, err, sizeof(err))) {
		assert(memchr(err, 0, sizeof(err)));
		assert(!memcmp(&o, &before, sizeof(o)));
	} else {
		assert(o.chunk_shift >= 12 && o.chunk_shift <= 20);
		assert(o.size > 0);
	}
	free(kv);
	return 0;
}
