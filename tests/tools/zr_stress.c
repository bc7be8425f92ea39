/*
 * zr_stress - multi-process data stress of a filesystem against a model
 * copy on another one (tests/integration/t_stress.sh).
 *
 *   zr_stress ZDIR TDIR SEED PROCS OPS FILES
 *
 * Phase 1 (model): PROCS processes each do OPS random operations on FILES
 * shared files: pwrite of overlapping ranges, pread, ftruncate, punch hole,
 * fallocate, fsync.  Each operation is applied to ZDIR/fN (the filesystem
 * under test, opened O_DIRECT when it allows, so reads and writes reach the
 * daemon rather than the page cache) and TDIR/fN (the model, e.g. tmpfs)
 * under an flock on the model file, so both see the same order; reads are
 * compared at once.  Different files are worked on concurrently.
 *
 * Phase 2 (no lock): the processes hammer the same chunks of ZDIR/h at the
 * same time, each owning every PROCS-th 4 KiB slot and rewriting its slots
 * with a rising tag; afterwards every slot must hold its owner's last tag.
 *
 * Exit: 0 all verified; 1 a mismatch (message on stderr); 2 usage or a
 * syscall failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define SPAN	  (4u << 20)   /* files live in the first 4 MiB */
#define MAX_IO	  (300u << 10) /* an I/O covers up to ~5 chunks of 64 KiB */
#define SLOT	  4096u
#define H_SLOTS	  256u	       /* phase 2: 1 MiB, 16 chunks of 64 KiB */
#define H_ROUNDS  60u

static uint64_t rs;

static uint64_t rnd(void)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return rs;
}

static void die(const char *what, const char *path)
{
	fprintf(stderr, "zr_stress: %s %s: %s\n", what, path ? path : "", strerror(errno));
	exit(2);
}

/* Text-like data (compressible, not same-filled), some zero runs. */
static void fill(uint8_t *b, size_t n, uint64_t tag)
{
	static const char words[] = "chunk arena zstd lz4 staging worker punch hole\n";

	if (tag % 5 == 0) {
		memset(b, 0, n);
		return;
	}
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(words[(i + tag) % (sizeof(words) - 1)] ^ ((i / 512 + tag) & 7));
}

static int open2(const char *dir, const char *name, int direct)
{
	char p[4096];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	fd = open(p, O_RDWR | O_CREAT | (direct ? O_DIRECT : 0), 0644);
	if (fd < 0 && direct)
		fd = open(p, O_RDWR | O_CREAT, 0644);
	if (fd < 0)
		die("open", p);
	return fd;
}

static void full_pwrite(int fd, const void *b, size_t n, off_t off)
{
	if (pwrite(fd, b, n, off) != (ssize_t)n)
		die("pwrite", NULL);
}

static ssize_t full_pread(int fd, void *b, size_t n, off_t off)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = pread(fd, (char *)b + done, n - done, off + (off_t)done);

		if (r < 0)
			die("pread", NULL);
		if (r == 0)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

static void compare(int zfd, int tfd, uint64_t off, size_t n, uint8_t *a, uint8_t *b,
		    const char *name, unsigned proc, unsigned op)
{
	ssize_t za = full_pread(zfd, a, n, (off_t)off), tb = full_pread(tfd, b, n, (off_t)off);

	if (za != tb || memcmp(a, b, (size_t)za)) {
		fprintf(stderr, "zr_stress: %s differs at %llu+%zu (proc %u op %u: %zd vs %zd)\n",
			name, (unsigned long long)off, n, proc, op, za, tb);
		exit(1);
	}
}

static void one_op(int zfd, int tfd, uint8_t *buf, uint8_t *a, uint8_t *b, const char *name,
		   unsigned proc, unsigned op)
{
	uint64_t off = rnd() % SPAN, len = 1 + rnd() % MAX_IO;
	unsigned kind = (unsigned)(rnd() % 100);
	int mode;

	if (kind < 45) {
		fill(buf, len, rnd());
		full_pwrite(zfd, buf, len, (off_t)off);
		full_pwrite(tfd, buf, len, (off_t)off);
	} else if (kind < 70) {
		compare(zfd, tfd, off, len, a, b, name, proc, op);
	} else if (kind < 78) {
		off = rnd() % (SPAN + SPAN / 4);
		if (ftruncate(zfd, (off_t)off) || ftruncate(tfd, (off_t)off))
			die("ftruncate", name);
	} else if (kind < 94) {
		/* tmpfs (the model) has no ZERO_RANGE: punch, or allocate */
		mode = kind < 88 ? FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE : 0;
		if (fallocate(zfd, mode, (off_t)off, (off_t)len) ||
		    fallocate(tfd, mode, (off_t)off, (off_t)len))
			die("fallocate", name);
	} else {
		if (fsync(zfd))
			die("fsync", name);
	}
}

static void model_proc(const char *zdir, const char *tdir, unsigned proc, unsigned ops,
		       unsigned files)
{
	uint8_t *buf, *a, *b;
	char name[32];
	int zfd[64], tfd[64];

	if (posix_memalign((void **)&buf, 4096, MAX_IO) || posix_memalign((void **)&a, 4096, MAX_IO) ||
	    posix_memalign((void **)&b, 4096, MAX_IO))
		die("malloc", NULL);
	for (unsigned i = 0; i < files; i++) {
		snprintf(name, sizeof(name), "f%u", i);
		zfd[i] = open2(zdir, name, proc % 2 == 0);
		tfd[i] = open2(tdir, name, 0);
	}
	for (unsigned op = 0; op < ops; op++) {
		unsigned i = (unsigned)(rnd() % files);

		snprintf(name, sizeof(name), "f%u", i);
		if (flock(tfd[i], LOCK_EX))
			die("flock", name);
		one_op(zfd[i], tfd[i], buf, a, b, name, proc, op);
		if (flock(tfd[i], LOCK_UN))
			die("flock", name);
	}
	exit(0);
}

static void hammer_fill(uint8_t *b, unsigned slot, unsigned round)
{
	for (unsigned i = 0; i < SLOT; i += 4) {
		uint32_t v = slot * 0x01000193u ^ round * 0x9e3779b9u ^ i;

		memcpy(b + i, &v, 4);
	}
}

static void hammer_proc(const char *zdir, unsigned proc, unsigned procs)
{
	uint8_t *b;
	int fd = open2(zdir, "h", 1);

	if (posix_memalign((void **)&b, 4096, SLOT))
		die("malloc", NULL);
	for (unsigned r = 1; r <= H_ROUNDS; r++) {
		for (unsigned s = proc; s < H_SLOTS; s += procs) {
			hammer_fill(b, s, r);
			full_pwrite(fd, b, SLOT, (off_t)s * SLOT);
		}
		if (r % 20 == 0 && fsync(fd))
			die("fsync", "h");
	}
	exit(0);
}

static int wait_all(unsigned n)
{
	int st, bad = 0;

	for (unsigned i = 0; i < n; i++) {
		if (wait(&st) < 0)
			die("wait", NULL);
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			bad = WIFEXITED(st) ? WEXITSTATUS(st) : 2;
	}
	return bad;
}

static int spawn(unsigned n, void (*fn)(unsigned, void *), void *arg, uint64_t seed)
{
	for (unsigned p = 0; p < n; p++) {
		pid_t pid = fork();

		if (pid < 0)
			die("fork", NULL);
		if (pid == 0) {
			rs = seed * 0x9e3779b97f4a7c15ULL + p + 1;
			fn(p, arg);
		}
	}
	return wait_all(n);
}

struct args {
	const char *zdir, *tdir;
	unsigned procs, ops, files;
};

static void run_model(unsigned p, void *v)
{
	struct args *a = v;

	model_proc(a->zdir, a->tdir, p, a->ops, a->files);
}

static void run_hammer(unsigned p, void *v)
{
	struct args *a = v;

	hammer_proc(a->zdir, p, a->procs);
}

static int check_files(struct args *a, uint8_t *x, uint8_t *y)
{
	char name[32];

	for (unsigned i = 0; i < a->files; i++) {
		int zfd, tfd;
		struct stat zs, ts;

		snprintf(name, sizeof(name), "f%u", i);
		zfd = open2(a->zdir, name, 1);
		tfd = open2(a->tdir, name, 0);
		if (fstat(zfd, &zs) || fstat(tfd, &ts))
			die("fstat", name);
		if (zs.st_size != ts.st_size) {
			fprintf(stderr, "zr_stress: %s size %lld vs %lld\n", name,
				(long long)zs.st_size, (long long)ts.st_size);
			return 1;
		}
		for (off_t off = 0; off < zs.st_size; off += MAX_IO)
			compare(zfd, tfd, (uint64_t)off, MAX_IO, x, y, name, 999, 0);
		close(zfd);
		close(tfd);
	}
	return 0;
}

static int check_hammer(struct args *a, uint8_t *x, uint8_t *y)
{
	int fd = open2(a->zdir, "h", 1);

	if (fsync(fd))
		die("fsync", "h");
	for (unsigned s = 0; s < H_SLOTS; s++) {
		hammer_fill(y, s, H_ROUNDS);
		if (full_pread(fd, x, SLOT, (off_t)s * SLOT) != SLOT || memcmp(x, y, SLOT)) {
			fprintf(stderr, "zr_stress: h slot %u lost its last write\n", s);
			return 1;
		}
	}
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	struct args a;
	uint8_t *x, *y;
	uint64_t seed;
	int r;

	if (argc != 7) {
		fprintf(stderr, "usage: zr_stress ZDIR TDIR SEED PROCS OPS FILES\n");
		return 2;
	}
	a = (struct args){argv[1], argv[2], (unsigned)atoi(argv[4]), (unsigned)atoi(argv[5]),
			  (unsigned)atoi(argv[6])};
	seed = strtoull(argv[3], NULL, 0);
	if (!a.procs || a.procs > 64 || !a.files || a.files > 64) {
		fprintf(stderr, "zr_stress: 1..64 processes and files\n");
		return 2;
	}
	if (posix_memalign((void **)&x, 4096, MAX_IO) || posix_memalign((void **)&y, 4096, MAX_IO))
		die("malloc", NULL);
	r = spawn(a.procs, run_model, &a, seed);
	if (!r)
		r = check_files(&a, x, y);
	if (!r)
		r = spawn(a.procs, run_hammer, &a, seed);
	if (!r)
		r = check_hammer(&a, x, y);
	if (!r)
		printf("OK\n");
	return r;
}
