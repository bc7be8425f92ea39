/* SPDX-License-Identifier: MIT */
/*
 * chunksize.c - how chunk size trades ratio against speed on real data.
 *
 * Reads every regular file under DIR into memory, then for each chunk size
 * cuts each file into chunks (the last one at its real length, as zramfs
 * stores it), compresses them with the given codec and decompresses them
 * back, and prints ratio and single-core MB/s both ways, plus the cost of a
 * 4 KiB random overwrite (decode + encode of one chunk).
 *
 * usage: chunksize DIR CODEC [MAX_MB]      e.g. chunksize /usr/include lz4
 */
#include "zramfs/codec.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct file { char *data; size_t len; };
static struct file *files;
static size_t nfiles, capfiles, total, max_total;

static int add(const char *path, const struct stat *st, int type, struct FTW *f)
{
	int fd;

	if (type != FTW_F || !S_ISREG(st->st_mode) || st->st_size == 0 ||
	    total >= max_total)
		return 0;
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	if (nfiles == capfiles) {
		capfiles = capfiles ? capfiles * 2 : 4096;
		files = realloc(files, capfiles * sizeof(*files));
	}
	files[nfiles].data = malloc((size_t)st->st_size);
	files[nfiles].len = (size_t)read(fd, files[nfiles].data, (size_t)st->st_size);
	total += files[nfiles].len;
	nfiles++;
	close(fd);
	return 0;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct zr_codec_spec spec;
	struct zr_codec_ctx *ctx = zr_codec_ctx_get();
	size_t cap = zr_codec_bound(1 << 20);
	char *comp = malloc(cap), *out = malloc(1 << 20);

	if (argc < 3 || zr_codec_parse(argv[2], &spec) || spec.id == ZR_CODEC_NONE) {
		fprintf(stderr, "usage: chunksize DIR lz4|zstd:N [MAX_MB]\n");
		return 2;
	}
	max_total = (argc > 3 ? strtoull(argv[3], NULL, 10) : 512) << 20;
	nftw(argv[1], add, 64, FTW_PHYS);
	printf("%zu files, %.1f MiB, codec %s\n", nfiles, total / 1048576.0, argv[2]);
	printf("%8s %7s %9s %9s %12s\n", "chunk", "ratio", "comp_MB/s", "dec_MB/s", "rmw_4K_us");
	for (size_t cs = 4096; cs <= (1 << 20); cs *= 2) {
		size_t csum = 0, nchunks = 0;
		double t0 = now(), tc, td = 0;

		for (size_t i = 0; i < nfiles; i++)
			for (size_t off = 0; off < files[i].len; off += cs) {
				size_t n = files[i].len - off < cs ? files[i].len - off : cs;
				ssize_t c = zr_codec_compress(ctx, spec, files[i].data + off, n, comp, n - n / 8);
				csum += c > 0 ? (size_t)c : n;	/* raw when > 7/8 */
				nchunks++;
				if (c > 0) {
					double d0 = now();
					zr_codec_decompress(ctx, spec.id, comp, (size_t)c, out, n);
					td += now() - d0;
				}
			}
		tc = now() - t0 - td;
		printf("%7zuK %7.2f %9.0f %9.0f %12.1f\n", cs >> 10, (double)total / csum,
		       total / tc / 1e6, total / td / 1e6,
		       /* a 4K overwrite of a full chunk: decode + encode cs bytes */
		       (cs / (total / tc) + cs / (total / td)) * 1e6);
	}
	return 0;
}
