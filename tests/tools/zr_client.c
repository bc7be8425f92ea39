/*
 * zr_client - one client of a mixed-operation load on a filesystem
 * (tests/integration/t_load.sh runs 32 of them on one mount).
 *
 *   zr_client [-t SECONDS] [-s SEED] [-n ID] DIR
 *
 * The client works in DIR/c<ID> (its own directory, created) and in
 * DIR/shared (created by whoever comes first).  For SECONDS (default 10)
 * it picks random operations (seeded by SEED, default ID):
 *
 *   create  write  read  append  truncate  rewrite  rename  link  unlink
 *   mkdir/rmdir  readdir  stat  setxattr/getxattr  fsync
 *   shared-rename   a file moved into DIR/shared and back under a new name
 *   shared-replace  a self-describing file renamed over DIR/shared/common<k>
 *                   (every client does this on the same four names), then
 *                   some common<k> read and checked
 *
 * Own files follow a model kept in memory: a file holds pattern(seed, off)
 * on [0, plen) and zeros on [plen, size), where seed comes from the
 * client, the slot and a generation bumped by every create and rewrite.
 * Reads (some after fdatasync + POSIX_FADV_DONTNEED, so they reach the
 * daemon rather than the page cache) compare with the model; readdir
 * compares the directory with the model's names; stat compares size,
 * link count and type.  A common<k> file starts with a 16-byte header
 * (magic, length, seed), so any reader can check it whoever wrote it.
 * At the end every own file is read and checked once more.
 *
 * Output: one line of operation counts on stdout.
 * Exit: 0 all verified; 1 wrong data or an unexpected error (message on
 * stderr, naming the operation and path); 2 usage.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "zramfs/mix.h"

#define SLOTS	    16u		/* own files at most */
#define MAX_SIZE    (256u << 10) /* own file size bound: 4 chunks of 64 KiB */
#define MAX_PIECE   (64u << 10)	/* one write or read call */
#define COMMONS	    4u		/* shared names every client replaces */
#define COMMON_MAX  (24u << 10)
#define COMMON_MAGIC 0x5a52434cu /* "ZRCL" */
#define DIR_LEN	    256		/* own and shared dir paths */
#define PATH_LEN    512

enum op {
	OP_CREATE, OP_READ, OP_APPEND, OP_TRUNCATE, OP_REWRITE, OP_RENAME, OP_LINK, OP_UNLINK,
	OP_MKDIR, OP_READDIR, OP_STAT, OP_XATTR, OP_FSYNC, OP_SHARED_RENAME, OP_SHARED_REPLACE,
	OP_COUNT
};

static const char *const op_name[OP_COUNT] = {
	"create", "read", "append", "truncate", "rewrite", "rename", "link", "unlink",
	"mkdir", "readdir", "stat", "xattr", "fsync", "shared_rename", "shared_replace",
};

/* Relative weights of the operations (sum 100). */
static const unsigned op_weight[OP_COUNT] = {
	12, 20, 8, 6, 5, 6, 4, 7, 3, 4, 8, 6, 3, 4, 4,
};

struct slot {
	int	 used;		/* the slot holds a file */
	unsigned name;		/* file name is f<name> in the own dir */
	uint64_t seed;		/* content seed (client, slot, generation) */
	uint64_t size;		/* st_size */
	uint64_t plen;		/* pattern on [0, plen), zeros on [plen, size) */
	int	 has_x;		/* user.gen is set ... */
	uint64_t xval;		/* ... to this value */
};

static struct slot slots[SLOTS];
static unsigned long counts[OP_COUNT];
static char own[DIR_LEN], shared[DIR_LEN];
static unsigned client_id, next_name = 1;
static uint64_t gen, rs;
static uint8_t *buf, *exp_buf;

/* ---- helpers ------------------------------------------------------------ */

static uint64_t rnd(void)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return rs;
}

static uint64_t below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

static void fail(const char *what, const char *path)
{
	fprintf(stderr, "zr_client %u: %s %s: %s\n", client_id, what, path ? path : "",
		errno ? strerror(errno) : "");
	exit(1);
}

static void bad_data(const char *path, uint64_t off, const char *why)
{
	fprintf(stderr, "zr_client %u: wrong data in %s at %" PRIu64 ": %s\n", client_id, path, off,
		why);
	exit(1);
}

/*
 * Text-like content (about 2:1 for lz4): a line of 63 letters from a
 * 16-letter alphabet chosen by a hash of (seed, line), then a newline.
 */
static void pattern(uint8_t *b, uint64_t seed, uint64_t off, size_t n)
{
	uint64_t line = UINT64_MAX, h = 0;

	for (size_t i = 0; i < n; i++) {
		uint64_t o = off + i, col = o & 63;

		if (o >> 6 != line) {
			line = o >> 6;
			h = zr_mix64(seed ^ (line * 0x100000001b3ull));
		}
		b[i] = col == 63 ? '\n' : (uint8_t)("etaoinshrdlucmfw"[(h >> ((col & 15) * 4)) & 15]);
	}
}

/* What the model says [off, off + n) of slot s holds. */
static void expected(const struct slot *s, uint8_t *b, uint64_t off, size_t n)
{
	size_t pat = off < s->plen ? (size_t)(s->plen - off < n ? s->plen - off : n) : 0;

	pattern(b, s->seed, off, pat);
	memset(b + pat, 0, n - pat);
}

static void slot_path(char *p, unsigned name)
{
	snprintf(p, PATH_LEN, "%s/f%u", own, name);
}

static int xopen(const char *p, int flags, mode_t mode)
{
	int fd = open(p, flags | O_CLOEXEC, mode);

	if (fd < 0)
		fail("open", p);
	return fd;
}

static void xclose(int fd, const char *p)
{
	if (close(fd))
		fail("close", p);
}

static void write_pattern(int fd, const char *p, uint64_t seed, uint64_t from, uint64_t to)
{
	while (from < to) {
		size_t n = (size_t)(1 + below(MAX_PIECE));

		if (n > to - from)
			n = (size_t)(to - from);
		pattern(buf, seed, from, n);
		if (pwrite(fd, buf, n, (off_t)from) != (ssize_t)n)
			fail("pwrite", p);
		from += n;
	}
}

static uint64_t new_seed(unsigned i)
{
	return zr_mix64(((uint64_t)client_id << 40) ^ ((uint64_t)i << 32) ^ ++gen);
}

static struct slot *pick_used(void)
{
	unsigned start = (unsigned)below(SLOTS);

	for (unsigned k = 0; k < SLOTS; k++) {
		struct slot *s = &slots[(start + k) % SLOTS];

		if (s->used)
			return s;
	}
	return NULL;
}

static struct slot *pick_free(void)
{
	unsigned start = (unsigned)below(SLOTS);

	for (unsigned k = 0; k < SLOTS; k++) {
		struct slot *s = &slots[(start + k) % SLOTS];

		if (!s->used)
			return s;
	}
	return NULL;
}

/* ---- checks ------------------------------------------------------------- */

/* Read the whole file through fd in random pieces and compare. */
static void verify_fd(int fd, const char *p, const struct slot *s, int uncached)
{
	struct stat st;
	uint64_t off = 0;

	if (uncached && (fdatasync(fd) || posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)))
		fail("fdatasync/fadvise", p);
	if (fstat(fd, &st))
		fail("fstat", p);
	if ((uint64_t)st.st_size != s->size) {
		fprintf(stderr, "zr_client %u: %s: size %jd, want %" PRIu64 "\n", client_id, p,
			(intmax_t)st.st_size, s->size);
		exit(1);
	}
	while (off <= s->size) {
		size_t n = (size_t)(1 + below(2 * MAX_PIECE));
		ssize_t r = pread(fd, buf, n, (off_t)off);

		if (r < 0)
			fail("pread", p);
		if (r == 0) {
			if (off != s->size)
				bad_data(p, off, "early end of file");
			return;
		}
		if (off + (uint64_t)r > s->size)
			bad_data(p, off, "data past the end of file");
		expected(s, exp_buf, off, (size_t)r);
		if (memcmp(buf, exp_buf, (size_t)r)) {
			size_t i = 0;

			while (buf[i] == exp_buf[i])
				i++;
			bad_data(p, off + i, "differs from the model");
		}
		off += (uint64_t)r;
	}
}

static void verify_slot(const struct slot *s, int uncached)
{
	char p[PATH_LEN];
	int fd;

	slot_path(p, s->name);
	fd = xopen(p, uncached ? O_RDWR : O_RDONLY, 0);
	verify_fd(fd, p, s, uncached);
	xclose(fd, p);
}

static void check_stat(const char *p, const struct slot *s, nlink_t links)
{
	struct stat st;

	if (lstat(p, &st))
		fail("lstat", p);
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != s->size || st.st_nlink != links) {
		fprintf(stderr, "zr_client %u: %s: mode %o size %jd links %ju, want a file of %" PRIu64
			" bytes with %ju links\n", client_id, p, st.st_mode, (intmax_t)st.st_size,
			(uintmax_t)st.st_nlink, s->size, (uintmax_t)links);
		exit(1);
	}
}

/* ---- operations on own files -------------------------------------------- */

static void op_create(void)
{
	struct slot *s = pick_free();
	char p[PATH_LEN];
	int fd;

	if (!s)
		return;
	s->name = next_name++;
	s->seed = new_seed((unsigned)(s - slots));
	s->size = s->plen = below(MAX_SIZE + 1);
	s->has_x = 0;
	slot_path(p, s->name);
	fd = xopen(p, O_WRONLY | O_CREAT | O_EXCL, 0644);
	write_pattern(fd, p, s->seed, 0, s->size);
	if (below(8) == 0 && fsync(fd))
		fail("fsync", p);
	xclose(fd, p);
	s->used = 1;
}

static void op_append(struct slot *s)
{
	char p[PATH_LEN];
	uint64_t n = 1 + below(MAX_PIECE);
	int fd;

	if (s->size + n > MAX_SIZE)
		return;
	slot_path(p, s->name);
	if (s->plen == s->size) {
		/* a real O_APPEND write: the kernel picks the offset */
		fd = xopen(p, O_WRONLY | O_APPEND, 0);
		pattern(buf, s->seed, s->size, (size_t)n);
		if (write(fd, buf, (size_t)n) != (ssize_t)n)
			fail("append", p);
	} else {
		/* zeros after a growing truncate: fill them in too */
		fd = xopen(p, O_WRONLY, 0);
		write_pattern(fd, p, s->seed, s->plen, s->size + n);
	}
	xclose(fd, p);
	s->size += n;
	s->plen = s->size;
}

static void op_truncate(struct slot *s)
{
	char p[PATH_LEN];
	uint64_t len = below(MAX_SIZE + 1);

	slot_path(p, s->name);
	if (truncate(p, (off_t)len))
		fail("truncate", p);
	if (len < s->plen)
		s->plen = len;
	s->size = len;
}

/* New generation written over the old one in place, in random order. */
static void op_rewrite(struct slot *s)
{
	char p[PATH_LEN];
	uint64_t cut = below(s->size + 1);
	int fd;

	slot_path(p, s->name);
	fd = xopen(p, O_WRONLY, 0);
	s->seed = new_seed((unsigned)(s - slots));
	write_pattern(fd, p, s->seed, cut, s->size);
	write_pattern(fd, p, s->seed, 0, cut);
	if (below(4) == 0 && fdatasync(fd))
		fail("fdatasync", p);
	xclose(fd, p);
	s->plen = s->size;
}

static void op_rename(struct slot *s)
{
	char from[PATH_LEN], to[PATH_LEN];
	struct slot *victim = pick_used();

	slot_path(from, s->name);
	if (victim != s && below(3) == 0) {
		/* over another own file: it is replaced atomically */
		slot_path(to, victim->name);
		if (rename(from, to))
			fail("rename over", to);
		s->name = victim->name;
		victim->used = 0;
	} else {
		s->name = next_name++;
		slot_path(to, s->name);
		if (rename(from, to))
			fail("rename", from);
	}
	check_stat(to, s, 1);
}

static void op_link(struct slot *s)
{
	char p[PATH_LEN], l[PATH_LEN];
	struct stat a, b;
	int fd;

	slot_path(p, s->name);
	snprintf(l, sizeof(l), "%s/l%u", own, s->name);
	if (link(p, l))
		fail("link", l);
	check_stat(p, s, 2);
	check_stat(l, s, 2);
	if (stat(p, &a) || stat(l, &b))
		fail("stat", l);
	if (a.st_ino != b.st_ino)
		bad_data(l, 0, "hard link has another inode");
	fd = xopen(l, O_RDONLY, 0);
	verify_fd(fd, l, s, 0);
	xclose(fd, l);
	if (unlink(below(2) ? l : p))
		fail("unlink link", l);
	if (access(p, F_OK) && rename(l, p))
		fail("rename link back", l);
	check_stat(p, s, 1);
}

static void op_unlink(struct slot *s)
{
	char p[PATH_LEN];

	slot_path(p, s->name);
	if (unlink(p))
		fail("unlink", p);
	if (access(p, F_OK) == 0)
		bad_data(p, 0, "still there after unlink");
	if (errno != ENOENT)
		fail("access after unlink", p);
	s->used = 0;
}

static void op_xattr(struct slot *s)
{
	char p[PATH_LEN], v[32];
	ssize_t n;

	slot_path(p, s->name);
	if (below(2) || !s->has_x) {
		s->xval = gen;
		snprintf(v, sizeof(v), "%" PRIu64, s->xval);
		if (setxattr(p, "user.gen", v, strlen(v), 0))
			fail("setxattr", p);
		s->has_x = 1;
	}
	n = getxattr(p, "user.gen", v, sizeof(v) - 1);
	if (n < 0)
		fail("getxattr", p);
	v[n] = 0;
	if (strtoull(v, NULL, 10) != s->xval)
		bad_data(p, 0, "user.gen differs from the value set");
}

static void op_fsync(struct slot *s)
{
	char p[PATH_LEN];
	int fd;

	slot_path(p, s->name);
	fd = xopen(p, O_RDONLY, 0);
	if (fsync(fd))
		fail("fsync", p);
	xclose(fd, p);
	fd = xopen(own, O_RDONLY | O_DIRECTORY, 0);
	if (fsync(fd))
		fail("fsync dir", own);
	xclose(fd, own);
}

/* A subdirectory with a file in it: renamed, refused by rmdir, emptied. */
static void op_mkdir(void)
{
	char d[PATH_LEN], d2[PATH_LEN], f[PATH_LEN + 8];
	unsigned n = next_name++;
	int fd;

	snprintf(d, sizeof(d), "%s/d%u", own, n);
	snprintf(d2, sizeof(d2), "%s/e%u", own, n);
	if (mkdir(d, 0755))
		fail("mkdir", d);
	snprintf(f, sizeof(f), "%s/x", d);
	fd = xopen(f, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (write(fd, "x", 1) != 1)
		fail("write", f);
	xclose(fd, f);
	if (rename(d, d2))
		fail("rename dir", d);
	if (rmdir(d2) == 0 || errno != ENOTEMPTY)
		fail("rmdir of a non-empty dir (want ENOTEMPTY)", d2);
	snprintf(f, sizeof(f), "%s/x", d2);
	if (unlink(f))
		fail("unlink", f);
	if (rmdir(d2))
		fail("rmdir", d2);
}

static int name_cmp(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;

	return x < y ? -1 : x > y;
}

/* The own directory lists exactly the model's files. */
static void op_readdir(void)
{
	unsigned got[SLOTS + 1], want[SLOTS], ng = 0, nw = 0;
	DIR *d = opendir(own);
	struct dirent *e;

	if (!d)
		fail("opendir", own);
	errno = 0;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (e->d_name[0] != 'f' || ng == SLOTS + 1) {
			fprintf(stderr, "zr_client %u: readdir %s: unexpected entry %s\n", client_id,
				own, e->d_name);
			exit(1);
		}
		got[ng++] = (unsigned)strtoul(e->d_name + 1, NULL, 10);
	}
	if (errno)
		fail("readdir", own);
	closedir(d);
	for (unsigned i = 0; i < SLOTS; i++)
		if (slots[i].used)
			want[nw++] = slots[i].name;
	qsort(got, ng, sizeof(*got), name_cmp);
	qsort(want, nw, sizeof(*want), name_cmp);
	if (ng != nw || memcmp(got, want, nw * sizeof(*want))) {
		fprintf(stderr, "zr_client %u: readdir %s: %u entries, want %u\n", client_id, own,
			ng, nw);
		exit(1);
	}
}

/* ---- shared directory --------------------------------------------------- */

/* Out to DIR/shared and back under a new name. */
static void op_shared_rename(struct slot *s)
{
	char from[PATH_LEN], mid[PATH_LEN], to[PATH_LEN];

	slot_path(from, s->name);
	snprintf(mid, sizeof(mid), "%s/c%u.f%u", shared, client_id, s->name);
	if (rename(from, mid))
		fail("rename to shared", mid);
	check_stat(mid, s, 1);
	s->name = next_name++;
	slot_path(to, s->name);
	if (rename(mid, to))
		fail("rename from shared", mid);
}

static void check_common(const char *p)
{
	uint32_t hdr[4];
	uint64_t seed, off = 16;
	struct stat st;
	ssize_t r;
	int fd = open(p, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		if (errno == ENOENT)
			return; /* nobody has written this one yet */
		fail("open", p);
	}
	if (fstat(fd, &st))
		fail("fstat", p);
	if (pread(fd, hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr))
		fail("pread header", p);
	memcpy(&seed, &hdr[2], sizeof(seed));
	if (hdr[0] != COMMON_MAGIC || hdr[1] != (uint64_t)st.st_size)
		bad_data(p, 0, "common file header");
	while ((r = pread(fd, buf, MAX_PIECE, (off_t)off)) > 0) {
		pattern(exp_buf, seed, off, (size_t)r);
		if (memcmp(buf, exp_buf, (size_t)r))
			bad_data(p, off, "common file differs from its header's seed");
		off += (uint64_t)r;
	}
	if (r < 0)
		fail("pread", p);
	if (off != hdr[1])
		bad_data(p, off, "common file length");
	xclose(fd, p);
}

/* Everybody renames its own files over the same few names. */
static void op_shared_replace(void)
{
	char tmp[PATH_LEN], p[PATH_LEN];
	uint32_t len = 16 + (uint32_t)below(COMMON_MAX), hdr[4] = { COMMON_MAGIC, len };
	uint64_t seed = new_seed(SLOTS);
	int fd;

	memcpy(&hdr[2], &seed, sizeof(seed));
	snprintf(tmp, sizeof(tmp), "%s/.tmp", own);
	fd = xopen(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	pattern(buf, seed, 0, len);
	memcpy(buf, hdr, sizeof(hdr));
	if (write(fd, buf, len) != (ssize_t)len)
		fail("write", tmp);
	xclose(fd, tmp);
	snprintf(p, sizeof(p), "%s/common%u", shared, (unsigned)below(COMMONS));
	if (rename(tmp, p))
		fail("rename over", p);
	snprintf(p, sizeof(p), "%s/common%u", shared, (unsigned)below(COMMONS));
	check_common(p);
	if (below(4) == 0) {
		DIR *d = opendir(shared);

		if (!d)
			fail("opendir", shared);
		errno = 0;
		while (readdir(d))
			;
		if (errno)
			fail("readdir", shared);
		closedir(d);
	}
}

/* ---- main loop ---------------------------------------------------------- */

static enum op pick_op(void)
{
	unsigned r = (unsigned)below(100), k = 0;

	while (r >= op_weight[k]) {
		r -= op_weight[k];
		k++;
	}
	return (enum op)k;
}

static void one_op(void)
{
	enum op op = pick_op();
	struct slot *s = pick_used();

	if (!s && op != OP_MKDIR && op != OP_READDIR && op != OP_SHARED_REPLACE)
		op = OP_CREATE;
	if (op == OP_CREATE && !pick_free())
		op = OP_UNLINK;
	switch (op) {
	case OP_CREATE:	op_create(); break;
	case OP_READ:	verify_slot(s, below(3) == 0); break;
	case OP_APPEND:	op_append(s); break;
	case OP_TRUNCATE: op_truncate(s); break;
	case OP_REWRITE: op_rewrite(s); break;
	case OP_RENAME:	op_rename(s); break;
	case OP_LINK:	op_link(s); break;
	case OP_UNLINK:	op_unlink(s); break;
	case OP_MKDIR:	op_mkdir(); break;
	case OP_READDIR: op_readdir(); break;
	case OP_STAT: {
		char p[PATH_LEN];

		slot_path(p, s->name);
		check_stat(p, s, 1);
		break;
	}
	case OP_XATTR:	op_xattr(s); break;
	case OP_FSYNC:	op_fsync(s); break;
	case OP_SHARED_RENAME: op_shared_rename(s); break;
	case OP_SHARED_REPLACE: op_shared_replace(); break;
	case OP_COUNT:	break;
	}
	counts[op]++;
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void usage(void)
{
	fprintf(stderr, "usage: zr_client [-t SECONDS] [-s SEED] [-n ID] DIR\n");
	exit(2);
}

int main(int argc, char **argv)
{
	double secs = 10, end;
	uint64_t seed = 0;
	int c, have_seed = 0;
	unsigned long total = 0;

	while ((c = getopt(argc, argv, "t:s:n:")) != -1) {
		switch (c) {
		case 't': secs = strtod(optarg, NULL); break;
		case 's': seed = strtoull(optarg, NULL, 0); have_seed = 1; break;
		case 'n': client_id = (unsigned)strtoul(optarg, NULL, 0); break;
		default: usage();
		}
	}
	if (optind != argc - 1 || secs < 0)
		usage();
	rs = zr_mix64(have_seed ? seed : client_id) | 1;
	if (strlen(argv[optind]) > DIR_LEN - 32)
		usage();
	snprintf(own, sizeof(own), "%s/c%u", argv[optind], client_id);
	snprintf(shared, sizeof(shared), "%s/shared", argv[optind]);
	if (mkdir(own, 0755))
		fail("mkdir", own);
	if (mkdir(shared, 0755) && errno != EEXIST)
		fail("mkdir", shared);
	buf = malloc(2 * MAX_PIECE + COMMON_MAX + 16);
	exp_buf = malloc(2 * MAX_PIECE + COMMON_MAX + 16);
	if (!buf || !exp_buf)
		fail("malloc", NULL);
	end = now() + secs;
	while (now() < end)
		one_op();
	for (unsigned i = 0; i < SLOTS; i++)
		if (slots[i].used)
			verify_slot(&slots[i], 1);
	op_readdir();
	printf("client %u:", client_id);
	for (unsigned k = 0; k < OP_COUNT; k++) {
		printf(" %s=%lu", op_name[k], counts[k]);
		total += counts[k];
	}
	printf(" total=%lu\n", total);
	return 0;
}
