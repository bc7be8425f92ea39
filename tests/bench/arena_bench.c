/* SPDX-License-Identifier: MIT */
/*
 * arena_bench.c - what the arena costs on real data, beside glibc malloc.
 *
 *   arena_bench [-t SECONDS] DIR...
 *
 * For every DIR and codec (lz4, zstd level 3): every regular file is cut
 * into 64 KiB chunks (the last one its real length) and compressed; a
 * chunk that does not compress below 7/8 is stored raw.  Every object goes
 * into the arena, then:
 *   load    all objects stored
 *   churn   the objects of a random half of the files freed, while a
 *           simulated housekeeping thread polls zr_arena_should_compact()
 *           every 64 files and compacts when it says so (max and end)
 *   compact one explicit zr_arena_compact()
 * and prints mem_used_total / compr_data_size, where mem_used_total =
 * mapped_bytes + meta_bytes and compr_data_size = requested_bytes.  The
 * same object stream (sizes, order, frees) is replayed against glibc
 * malloc: held = mallinfo2 arena + hblkhd, and RSS growth, at the same
 * points (malloc_trim(0) standing in for compaction).  Then alloc+free
 * throughput per thread with the measured size distribution, arena vs
 * malloc, without and with writing the object.
 *
 * Build: see tests/bench/arena_bench.sh.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "zramfs/arena.h"

#include <fcntl.h>
#include <ftw.h>
#include <lz4.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zstd.h>

#define CHUNK		(64u << 10)	/* zramfs chunk size */
#define MAX_OBJ		((1u << 20) + 4096)
#define POLL_FILES	64		/* housekeeping poll every N files freed */
#define RING		16384		/* live objects per throughput thread */

struct file { uint32_t first, n; };

static struct {
	uint32_t	*size;		/* object sizes, in load order */
	zr_handle_t	*h;
	void		**mp;		/* malloc replay pointers */
	size_t		nobj, cap;
	struct file	*files;
	size_t		nfiles, fcap;
	uint64_t	raw_bytes;	/* uncompressed */
} S;

static int codec;			/* 0 lz4, 1 zstd-3 */
static struct zr_arena *A;
static ZSTD_CCtx *zctx;
static char *inbuf, *outbuf;
static size_t outcap;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long rss(void)
{
	long p = 0, r = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%ld %ld", &p, &r) != 2)
			r = 0;
		fclose(f);
	}
	return r * 4096;
}

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (!p) {
		perror("realloc");
		exit(1);
	}
	return p;
}

static void store(const char *src, uint32_t len)
{
	zr_handle_t h;

	if (S.nobj == S.cap) {
		S.cap = S.cap ? S.cap * 2 : 65536;
		S.size = xrealloc(S.size, S.cap * sizeof(*S.size));
		S.h = xrealloc(S.h, S.cap * sizeof(*S.h));
	}
	if (zr_arena_alloc(A, len, &h)) {
		fprintf(stderr, "arena alloc failed\n");
		exit(1);
	}
	zr_arena_write(A, h, src, len);
	S.size[S.nobj] = len;
	S.h[S.nobj++] = h;
}

static uint32_t compress_chunk(const char *src, uint32_t len)
{
	size_t n;

	if (codec == 0)
		n = (size_t)LZ4_compress_default(src, outbuf, (int)len, (int)outcap);
	else
		n = ZSTD_compressCCtx(zctx, outbuf, outcap, src, len, 3);
	if (!n || ZSTD_isError(n) || n >= (size_t)len * 7 / 8)
		return 0;
	return (uint32_t)n;
}

static int add_file(const char *path, const struct stat *sb, int type, struct FTW *fw __attribute__((unused)))
{
	int fd;
	ssize_t got;
	struct file f;

	if (type != FTW_F || !S_ISREG(sb->st_mode))
		return 0;
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	f.first = (uint32_t)S.nobj;
	while ((got = read(fd, inbuf, CHUNK)) > 0) {
		uint32_t c = compress_chunk(inbuf, (uint32_t)got);

		store(c ? outbuf : inbuf, c ? c : (uint32_t)got);
		S.raw_bytes += (uint64_t)got;
	}
	close(fd);
	f.n = (uint32_t)(S.nobj - f.first);
	if (S.nfiles == S.fcap) {
		S.fcap = S.fcap ? S.fcap * 2 : 8192;
		S.files = xrealloc(S.files, S.fcap * sizeof(*S.files));
	}
	S.files[S.nfiles++] = f;
	return 0;
}

static double ratio(void)
{
	struct zr_arena_stats st;

	zr_arena_get_stats(A, &st);
	return (double)(st.mapped_bytes + st.meta_bytes) / (double)st.requested_bytes;
}

static uint64_t requested(void)
{
	struct zr_arena_stats st;

	zr_arena_get_stats(A, &st);
	return st.requested_bytes;
}

static void shuffle_files(void)
{
	uint64_t r = 0x5eed;

	for (size_t i = S.nfiles; i > 1; i--) {
		size_t j = rng_next(&r) % i;
		struct file t = S.files[i - 1];

		S.files[i - 1] = S.files[j];
		S.files[j] = t;
	}
}

struct points { double load, churn_max, churn_end, compact; long rss_load, rss_compact; int autos; };

/* Free the first half of the (shuffled) files; poll like housekeeping. */
static void churn_arena(struct points *p, int housekeeping)
{
	p->churn_max = ratio();
	for (size_t i = 0; i < S.nfiles / 2; i++) {
		for (uint32_t k = 0; k < S.files[i].n; k++)
			zr_arena_free(A, S.h[S.files[i].first + k]);
		if (!housekeeping || i % POLL_FILES)
			continue;
		double r = ratio();

		p->churn_max = r > p->churn_max ? r : p->churn_max;
		if (zr_arena_should_compact(A)) {
			zr_arena_compact(A);
			p->autos++;
		}
	}
	p->churn_end = ratio();
	p->churn_max = p->churn_end > p->churn_max ? p->churn_end : p->churn_max;
}

static void free_rest_arena(void)
{
	for (size_t i = S.nfiles / 2; i < S.nfiles; i++)
		for (uint32_t k = 0; k < S.files[i].n; k++)
			zr_arena_free(A, S.h[S.files[i].first + k]);
}

static struct zr_arena *new_arena(void)
{
	struct zr_arena_config cfg = { .max_object = MAX_OBJ };
	struct zr_arena *a = zr_arena_create(&cfg);

	if (!a) {
		fprintf(stderr, "arena create failed\n");
		exit(1);
	}
	return a;
}

/* The same stream of sizes (written with a pattern) into a fresh arena,
 * churned with no housekeeping at all: the worst case between polls. */
static double replay_arena_no_hk(void)
{
	struct points p = { 0 };
	double r;

	A = new_arena();
	memset(inbuf, 0x5a, CHUNK);
	for (size_t i = 0; i < S.nobj; i++) {
		if (zr_arena_alloc(A, S.size[i], &S.h[i]))
			exit(1);
		zr_arena_write(A, S.h[i], inbuf, S.size[i]);
	}
	churn_arena(&p, 0);
	r = p.churn_end;
	free_rest_arena();
	zr_arena_destroy(A);
	return r;
}

static uint64_t malloc_held(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.arena + mi.hblkhd;
}

struct mpoints { double load, churn, trim, rload, rchurn, rtrim; };

static void replay_malloc(struct mpoints *m, uint64_t req_all, uint64_t req_half)
{
	uint64_t h0;
	long r0;

	S.mp = xrealloc(S.mp, S.nobj * sizeof(void *));
	malloc_trim(0);
	h0 = malloc_held();
	r0 = rss();
	for (size_t i = 0; i < S.nobj; i++) {
		S.mp[i] = malloc(S.size[i]);
		memset(S.mp[i], 0x5a, S.size[i]);
	}
	m->load = (double)(malloc_held() - h0) / req_all;
	m->rload = (double)(rss() - r0) / req_all;
	for (size_t i = 0; i < S.nfiles / 2; i++)
		for (uint32_t k = 0; k < S.files[i].n; k++)
			free(S.mp[S.files[i].first + k]);
	m->churn = (double)(malloc_held() - h0) / req_half;
	m->rchurn = (double)(rss() - r0) / req_half;
	malloc_trim(0);
	m->trim = (double)(malloc_held() - h0) / req_half;
	m->rtrim = (double)(rss() - r0) / req_half;
	for (size_t i = S.nfiles / 2; i < S.nfiles; i++)
		for (uint32_t k = 0; k < S.files[i].n; k++)
			free(S.mp[S.files[i].first + k]);
	malloc_trim(0);
}

/* In a child, so every replay starts from a fresh glibc heap. */
static void replay_malloc_forked(struct mpoints *m, uint64_t req_all, uint64_t req_half)
{
	int fd[2];
	pid_t pid;

	memset(m, 0, sizeof(*m));
	if (pipe(fd))
		return;
	pid = fork();
	if (pid == 0) {
		replay_malloc(m, req_all, req_half);
		if (write(fd[1], m, sizeof(*m)) != sizeof(*m))
			_exit(1);
		_exit(0);
	}
	if (pid > 0 && read(fd[0], m, sizeof(*m)) != sizeof(*m))
		memset(m, 0, sizeof(*m));
	waitpid(pid, NULL, 0);
	close(fd[0]);
	close(fd[1]);
}

static void run_tree(const char *dir)
{
	struct points p = { 0 };
	struct mpoints m;
	uint64_t req_all, req_half;
	double t0, no_hk;
	long r0;

	S.nobj = S.nfiles = 0;
	S.raw_bytes = 0;
	A = new_arena();
	r0 = rss();
	t0 = now();
	nftw(dir, add_file, 64, FTW_PHYS);
	req_all = requested();
	p.load = ratio();
	p.rss_load = rss() - r0;
	fprintf(stderr, "  %s %s: %zu files, %zu objects, %.1f MiB -> %.1f MiB in %.1f s\n",
		dir, codec ? "zstd-3" : "lz4", S.nfiles, S.nobj, S.raw_bytes / 1048576.0,
		req_all / 1048576.0, now() - t0);
	shuffle_files();
	churn_arena(&p, 1);
	req_half = requested();
	zr_arena_compact(A);
	p.compact = ratio();
	p.rss_compact = rss() - r0;
	{
		struct zr_arena_stats st;

		zr_arena_get_stats(A, &st);
		fprintf(stderr, "    after compaction: requested %.2f MiB, rounding %.2f MiB, "
			"partial pages %.2f MiB, meta %.2f MiB, %llu spans, RSS growth / ours %.3f\n",
			st.requested_bytes / 1048576.0,
			(st.object_bytes - st.requested_bytes) / 1048576.0,
			((double)st.mapped_bytes - st.object_bytes) / 1048576.0,
			st.meta_bytes / 1048576.0, (unsigned long long)st.spans,
			(double)p.rss_compact / (st.mapped_bytes + st.meta_bytes));
	}
	free_rest_arena();
	zr_arena_destroy(A);
	no_hk = replay_arena_no_hk();
	replay_malloc_forked(&m, req_all, req_half);
	printf("%-12s %-6s %7.1f %7.1f | %5.3f %5.3f %5.3f %5.3f %3d %5.3f | %5.3f %5.3f %5.3f | %5.3f %5.3f %5.3f | %5.3f\n",
	       strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir, codec ? "zstd-3" : "lz4",
	       S.raw_bytes / 1048576.0, req_all / 1048576.0,
	       p.load, p.churn_max, p.churn_end, p.compact, p.autos, no_hk,
	       m.load, m.churn, m.trim, m.rload, m.rchurn, m.rtrim,
	       (double)p.rss_load / req_all);
	fflush(stdout);
}

/* ------------------------------------------------------------------------
 * Throughput
 * ------------------------------------------------------------------------ */

struct tput { int arena, touch; long ops; double secs; uint32_t *sizes; size_t n; };

static void *tput_thread(void *arg)
{
	struct tput *t = arg;
	zr_handle_t *hr = calloc(RING, sizeof(*hr));
	void **pr = calloc(RING, sizeof(*pr));
	uint64_t r = 0x9e37 + (uintptr_t)t;
	double t0 = now();

	for (long op = 0; op < t->ops; op++) {
		size_t i = rng_next(&r) % RING;
		uint32_t len = t->sizes[rng_next(&r) % t->n];

		if (t->arena) {
			zr_arena_free(A, hr[i]);
			if (zr_arena_alloc(A, len, &hr[i]))
				exit(1);
			if (t->touch)
				zr_arena_write(A, hr[i], inbuf, len);
		} else {
			free(pr[i]);
			pr[i] = malloc(len);
			if (t->touch)
				memcpy(pr[i], inbuf, len);
		}
	}
	t->secs = now() - t0;
	for (size_t i = 0; i < RING; i++) {
		if (t->arena)
			zr_arena_free(A, hr[i]);
		else
			free(pr[i]);
	}
	free(hr);
	free(pr);
	return NULL;
}

static double tput_run(int arena, int touch, int nthreads, long ops)
{
	pthread_t th[8];
	struct tput t[8];
	double sum = 0;

	if (arena)
		A = new_arena();
	for (int i = 0; i < nthreads; i++) {
		t[i] = (struct tput){ arena, touch, ops, 0, S.size, S.nobj };
		pthread_create(&th[i], NULL, tput_thread, &t[i]);
	}
	for (int i = 0; i < nthreads; i++) {
		pthread_join(th[i], NULL);
		sum += ops / t[i].secs;
	}
	if (arena)
		zr_arena_destroy(A);
	malloc_trim(0);
	return sum / nthreads;
}

static void throughput(void)
{
	printf("\nalloc+free throughput per thread (Mops/s), sizes from the last stream (%zu objects), ring of %d live objects per thread\n",
	       S.nobj, RING);
	printf("%-8s %-7s %10s %10s %8s\n", "threads", "write", "arena", "malloc", "ratio");
	for (int touch = getenv("ARENA_BENCH_WRITE_ONLY") ? 1 : 0; touch < 2; touch++) {
		for (int nt = 1; nt <= 2; nt++) {
			long ops = touch ? 300000 : 3000000;
			double x = tput_run(1, touch, nt, ops);
			double y = tput_run(0, touch, nt, ops);

			printf("%-8d %-7s %10.2f %10.2f %8.2f\n", nt, touch ? "yes" : "no",
			       x / 1e6, y / 1e6, x / y);
		}
	}
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s DIR...\n", argv[0]);
		return 2;
	}
	inbuf = malloc(CHUNK);
	outcap = ZSTD_compressBound(CHUNK) > (size_t)LZ4_compressBound(CHUNK) ?
		 ZSTD_compressBound(CHUNK) : (size_t)LZ4_compressBound(CHUNK);
	outbuf = malloc(outcap);
	zctx = ZSTD_createCCtx();
	memset(inbuf, 'x', CHUNK);	/* warm the zstd context: not ours to count */
	ZSTD_compressCCtx(zctx, outbuf, outcap, inbuf, CHUNK, 3);
	printf("ratio = mem_used_total / compr_data_size.  arena: (mapped+meta)/requested at load,\n"
	       "max during churn (housekeeping polls every %d files), end of churn, after compaction,\n"
	       "auto compactions, and end of churn with no housekeeping; malloc: mallinfo2 arena+hblkhd\n"
	       "and RSS growth at load, after the frees, after malloc_trim(0); last column: RSS growth / requested at load.\n",
	       POLL_FILES);
	printf("%-12s %-6s %7s %7s | %-39s | %-17s | %-17s | %s\n", "tree", "codec", "rawMiB", "cmpMiB",
	       "arena: load chmax chend compct auto no-hk", "malloc: ld ch trim",
	       "mallocRSS ld ch tr", "RSS");
	for (int i = 1; i < argc; i++) {
		for (codec = 0; codec < 2; codec++)
			if (!getenv("ARENA_BENCH_TPUT_ONLY"))
				run_tree(argv[i]);
	}
	if (getenv("ARENA_BENCH_TPUT_ONLY")) {
		A = new_arena();
		nftw(argv[1], add_file, 64, FTW_PHYS);
		zr_arena_destroy(A);
	}
	throughput();
	ZSTD_freeCCtx(zctx);
	return 0;
}
