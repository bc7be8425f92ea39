/*
 * zr_exercise - randomized, model-based exerciser of one filesystem
 * directory (tests/integration/t_exercise.sh).
 *
 *   zr_exercise [-s SEED] [-n OPS] [-t SECONDS] [-f FILES] [-m MAXSIZE] [-v] [-S] DIR
 *
 * Defaults: seed 1, 2000 ops, 4 files, MAXSIZE 4M (K, M, G suffixes); -t
 * runs for SECONDS instead of OPS; -v logs every op on stdout; -S fsyncs
 * before each lseek SEEK_DATA/SEEK_HOLE (the kernel's FUSE client sends
 * FUSE_LSEEK without writing back its dirty pages first: with the
 * writeback cache, the daemon answers for a file it has not seen yet).
 * DIR is created if missing and must hold nothing else.
 *
 * Why: zr_stress compares against a second filesystem, so it can only use
 * operations both support the same way, and it never renames, links,
 * maps or copies.  Here the reference is an in-memory model, so every
 * operation zramfs implements can be checked, byte for byte, in any mix.
 *
 * The model: objects (inodes) each with a byte buffer of MAXSIZE bytes
 * (default 4 MiB; every byte at or past the model size is zero), a size,
 * a link count, the inode number and at most one open descriptor; name
 * slots DIR/n0 .. n(2*FILES-1) each pointing at an object or empty.  An
 * object lives while it has a name or an open descriptor (unlinked while
 * open: it lives on through the fd until close).  One process, one
 * xorshift generator seeded by SEED: the same seed gives the same
 * sequence of operations (with -t, the same prefix).
 *
 * Operations (weights in OPS_TABLE): pwrite (offsets and lengths up to
 * 256 KiB, aligned, near chunk boundaries, anywhere; data a mix of
 * repeated bytes, repeated 8-byte words, text, random, zeros), pread,
 * ftruncate, fallocate PUNCH_HOLE|KEEP_SIZE, ZERO_RANGE with and without
 * KEEP_SIZE, plain fallocate, mmap MAP_SHARED (compare, write, msync),
 * rename (also over an existing name, also onto another name of the same
 * inode: a no-op), link, unlink, close + reopen (sometimes O_TRUNC),
 * create, fsync, copy_file_range, lseek SEEK_DATA/SEEK_HOLE, and "drop"
 * (fsync + POSIX_FADV_DONTNEED, so later reads reach the filesystem
 * rather than the page cache).  Every FULL_EVERY ops and at the end a full
 * verify: the directory lists exactly the model's names, each name's
 * inode is the model's, sizes and link counts agree, every live object
 * reads back equal to its model (and 0 bytes at EOF).
 *
 * SEEK_DATA/SEEK_HOLE: holes may be reported as data, so only consistency
 * is checked: off >= size gives ENXIO; SEEK_DATA gives off <= r < size (or
 * ENXIO) and the model is zero in [off, r) (or [off, size) for ENXIO);
 * SEEK_HOLE gives off <= r <= size, and the model is zero from r up to the
 * next SEEK_DATA from r.
 *
 * Error mode (env ZR_EXERCISE_ALLOW_ERRORS=1, for runs meant to hit
 * ENOSPC/EIO/ENOMEM): an operation may fail with one of those errnos; any
 * other failure is still a failure.  The rule: each object remembers the
 * byte range it was modified in since its last successful fsync (an error
 * can only lose data there: with a writeback cache, a failed write shows
 * up at a later fsync or close).  On an allowed error on an object, it is
 * fsynced (result ignored), its clean pages dropped, and the file read
 * back in full: outside that range (below the smaller of the two sizes)
 * it must still equal the model, byte for byte - wrong data there is a
 * mismatch; inside it and the size are adopted as the new model (counted
 * in errors=).  A failed read is counted and not compared; data that a
 * read did return is always compared.  Operations that succeeded are
 * never excused: their results are checked against the model as usual.
 *
 * Output: with -v one line per op; on the first mismatch: seed, op number,
 * the last LOG_N ops, the first differing offset, expected and got bytes,
 * exit 1.  Otherwise a summary line
 *   exercise seed=S ops=N reads_checked=R bytes_checked=B errors=E mismatches=0
 * and exit 0.  Exit 2: usage or the setup failed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_IO	   (256u << 10) /* largest single I/O */
#define MAX_FILES  16u		/* -f bound: names = 2 * files */
#define MAX_NAMES  (2 * MAX_FILES)
#define MAX_OBJ	   (MAX_NAMES + 8) /* named objects + a few unlinked-open */
#define LOG_N	   20u		   /* ops kept for the mismatch report */
#define LOG_LEN	   320u
#define FULL_EVERY 64u /* full verify period, in ops */
#define SHOW	   16u /* bytes shown on a mismatch */

struct obj {
	uint8_t *buf;	 /* model content; bytes >= size are zero */
	size_t size;	 /* model size */
	int links;	 /* name slots pointing here */
	int fd;		 /* our descriptor, -1: closed */
	int used;	 /* slot in use */
	ino_t ino;	 /* inode number, to check names */
	size_t dlo, dhi; /* modified since last good fsync (error mode) */
};

static struct {
	uint64_t rs, seed;
	const char *dir;
	unsigned nfiles, nnames;
	size_t maxsize;
	int verbose, allow_errors;
	int seek_sync; /* -S: fsync before lseek SEEK_DATA/SEEK_HOLE */
	struct obj obj[MAX_OBJ];
	int name[MAX_NAMES]; /* object index, -1: empty */
	uint8_t *io, *io2;   /* scratch, MAX_IO each */
	uint64_t op, reads, bytes, errors, short_copies;
	unsigned no_zero_range; /* ZERO_RANGE said EOPNOTSUPP (tmpfs) */
	char log[LOG_N][LOG_LEN];
} X;

/* ---- random numbers and data ------------------------------------------ */

static uint64_t rnd(void)
{
	X.rs ^= X.rs << 13;
	X.rs ^= X.rs >> 7;
	X.rs ^= X.rs << 17;
	return X.rs;
}

static size_t rnd_below(size_t n)
{
	return n ? (size_t)(rnd() % n) : 0;
}

static void fill_text(uint8_t *b, size_t n)
{
	static const char *const words[] = {
	    "chunk ", "arena ", "the ",	  "zstd ",	"lz4 ", "static int ", "return 0;\n",
	    "\t",     "hole ",	"spill ", "writeback ", "{\n",	"}\n",	       "0x7f3a "};
	size_t i = 0;

	while (i < n) {
		const char *w = words[rnd_below(sizeof(words) / sizeof(words[0]))];
		size_t l = strlen(w);

		if (l > n - i)
			l = n - i;
		memcpy(b + i, w, l);
		i += l;
	}
}

static void fill_segment(uint8_t *b, size_t n)
{
	uint64_t w = rnd();

	switch (rnd_below(8)) {
	case 0:
	case 1:
		memset(b, rnd_below(3) ? (int)(w & 0xff) : 0, n);
		break;
	case 2: /* one repeated 8-byte word: zramfs "same" chunks */
		for (size_t i = 0; i < n; i++)
			b[i] = (uint8_t)(w >> (8 * (i % 8)));
		break;
	case 6:
		for (size_t i = 0; i < n; i++)
			b[i] = (uint8_t)(rnd() >> 32);
		break;
	case 7:
		memset(b, 0, n);
		break;
	default:
		fill_text(b, n);
	}
}

/* Realistic data: segments of 1 B .. 64 KiB of different kinds. */
static void fill(uint8_t *b, size_t n)
{
	static const size_t seg_max[] = {64, 4096, 65536};

	for (size_t i = 0; i < n;) {
		size_t l = 1 + rnd_below(seg_max[rnd_below(3)]);

		if (l > n - i)
			l = n - i;
		fill_segment(b + i, l);
		i += l;
	}
}

/* An offset below limit: anywhere, 4K-aligned, near a 64K boundary. */
static size_t pick_off(size_t limit)
{
	size_t off = rnd_below(limit);

	switch (rnd_below(4)) {
	case 1:
		off &= ~(size_t)4095;
		break;
	case 2:
		off = (off & ~(size_t)65535) + rnd_below(9);
		off = off >= 4 ? off - 4 : 0;
		break;
	default:
		break;
	}
	return off < limit ? off : (limit ? limit - 1 : 0);
}

static size_t pick_len(void)
{
	switch (rnd_below(4)) {
	case 0:
		return 1 + rnd_below(256);
	case 1:
		return 4096 * (1 + rnd_below(64));
	case 2:
		return 65536 * (1 + rnd_below(4)) - 3 + rnd_below(7);
	default:
		return 1 + rnd_below(MAX_IO);
	}
}

/* off, len with off + len <= X.maxsize, len >= 1 */
static void pick_range(size_t *off, size_t *len)
{
	*off = pick_off(X.maxsize);
	*len = pick_len();
	if (*len > MAX_IO)
		*len = MAX_IO;
	if (*len > X.maxsize - *off)
		*len = X.maxsize - *off;
}

/* ---- op log and failure reports --------------------------------------- */

static void logf_op(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_op(const char *fmt, ...)
{
	static uint64_t last = UINT64_MAX;
	char *l = X.log[X.op % LOG_N];
	size_t n = last == X.op ? strlen(l) : 0;
	va_list ap;

	if (n) /* a second line of the same op */
		n += (size_t)snprintf(l + n, LOG_LEN - n, "; ");
	else
		n = (size_t)snprintf(l, LOG_LEN, "op %llu: ", (unsigned long long)X.op);
	last = X.op;
	if (n < LOG_LEN) {
		va_start(ap, fmt);
		vsnprintf(l + n, LOG_LEN - n, fmt, ap);
		va_end(ap);
	}
	if (X.verbose)
		printf("%s\n", l);
}

static void dump_log(void)
{
	uint64_t first = X.op >= LOG_N ? X.op - LOG_N + 1 : 0;

	fprintf(stderr, "zr_exercise: seed=%llu failed at op %llu; last ops:\n",
		(unsigned long long)X.seed, (unsigned long long)X.op);
	for (uint64_t i = first; i <= X.op; i++)
		if (X.log[i % LOG_N][0])
			fprintf(stderr, "  %s\n", X.log[i % LOG_N]);
}

static void failf(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void failf(const char *fmt, ...)
{
	va_list ap;

	dump_log();
	fprintf(stderr, "zr_exercise: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(1);
}

static void show_bytes(const char *what, const uint8_t *b, size_t n)
{
	fprintf(stderr, "  %s:", what);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, " %02x", b[i]);
	fprintf(stderr, "\n");
}

/* got[0..n) read at file offset off of object o differs from the model */
static void mismatch(int o, size_t off, const uint8_t *got, size_t n, const char *what)
{
	const uint8_t *want = X.obj[o].buf + off;
	size_t i = 0, k;

	while (i < n && got[i] == want[i])
		i++;
	k = n - i < SHOW ? n - i : SHOW;
	dump_log();
	fprintf(stderr,
		"zr_exercise: MISMATCH (%s) object %d ino %llu size %zu: first differing "
		"byte at file offset %zu\n",
		what, o, (unsigned long long)X.obj[o].ino, X.obj[o].size, off + i);
	show_bytes("expected", want + i, k);
	show_bytes("got     ", got + i, k);
	for (k = n; k > i && got[k - 1] == want[k - 1]; k--)
		;
	fprintf(stderr, "  in the %zu bytes compared from %zu: last difference at %zu\n", n, off,
		off + k - 1);
	exit(1);
}

static int errno_allowed(int e)
{
	return X.allow_errors && (e == ENOSPC || e == EIO || e == ENOMEM);
}

/* ---- objects and names ------------------------------------------------ */

static void name_path(char *p, size_t n, unsigned slot)
{
	snprintf(p, n, "%s/n%u", X.dir, slot);
}

static void obj_free_if_dead(int o)
{
	struct obj *ob = &X.obj[o];

	if (ob->links > 0 || ob->fd >= 0)
		return;
	free(ob->buf);
	memset(ob, 0, sizeof(*ob));
	ob->fd = -1;
}

static void model_dirty(int o, size_t lo, size_t hi)
{
	struct obj *ob = &X.obj[o];

	if (ob->dhi <= ob->dlo) {
		ob->dlo = lo;
		ob->dhi = hi;
		return;
	}
	if (lo < ob->dlo)
		ob->dlo = lo;
	if (hi > ob->dhi)
		ob->dhi = hi;
}

static void model_set_size(int o, size_t size)
{
	struct obj *ob = &X.obj[o];

	if (size < ob->size)
		memset(ob->buf + size, 0, ob->size - size);
	model_dirty(o, size < ob->size ? size : ob->size, size > ob->size ? size : ob->size);
	ob->size = size;
}

static void model_write(int o, size_t off, const uint8_t *b, size_t n)
{
	if (!n) /* a write of nothing does not extend the file */
		return;
	memcpy(X.obj[o].buf + off, b, n);
	if (off + n > X.obj[o].size)
		X.obj[o].size = off + n;
	model_dirty(o, off, off + n);
}

/* zero [off, end) of the model, clipped at its size unless grow */
static void model_zero(int o, size_t off, size_t end, int grow)
{
	struct obj *ob = &X.obj[o];

	if (!grow && end > ob->size)
		end = ob->size;
	if (off < end) {
		memset(ob->buf + off, 0, end - off);
		model_dirty(o, off, end);
	}
	if (grow && end > ob->size)
		ob->size = end;
}

static int count_live(int want_fd)
{
	int n = 0;

	for (unsigned i = 0; i < MAX_OBJ; i++)
		if (X.obj[i].used && (!want_fd || X.obj[i].fd >= 0))
			n++;
	return n;
}

/* the k-th used object with an open fd (k random), -1 if none */
static int pick_open_obj(void)
{
	int n = count_live(1), k;

	if (!n)
		return -1;
	k = (int)rnd_below((size_t)n);
	for (unsigned i = 0; i < MAX_OBJ; i++)
		if (X.obj[i].used && X.obj[i].fd >= 0 && k-- == 0)
			return (int)i;
	return -1;
}

/* a random name slot that is used (want_used) or empty, -1 if none */
static int pick_slot(int want_used)
{
	unsigned start = (unsigned)rnd_below(X.nnames);

	for (unsigned i = 0; i < X.nnames; i++) {
		unsigned s = (start + i) % X.nnames;

		if ((X.name[s] >= 0) == want_used)
			return (int)s;
	}
	return -1;
}

static int free_obj_slot(void)
{
	for (unsigned i = 0; i < MAX_OBJ; i++)
		if (!X.obj[i].used)
			return (int)i;
	return -1;
}

/* ---- reading back ----------------------------------------------------- */

/* pread until n bytes or EOF; -1 with errno on failure */
static ssize_t read_full(int fd, uint8_t *b, size_t n, size_t off)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = pread(fd, b + done, n - done, (off_t)(off + done));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

/* read [off, off+len) of object o through fd and compare with the model */
static void check_range(int o, int fd, size_t off, size_t len, const char *what)
{
	size_t size = X.obj[o].size, want = off < size ? (size - off < len ? size - off : len) : 0;
	ssize_t got = read_full(fd, X.io, len, off);

	if (got < 0) {
		if (!errno_allowed(errno))
			failf("%s: pread %zu+%zu: %s", what, off, len, strerror(errno));
		X.errors++;
		return;
	}
	X.reads++;
	X.bytes += (uint64_t)got;
	if ((size_t)got != want)
		failf("%s: pread %zu+%zu of object %d (model size %zu) returned %zd, want %zu",
		      what, off, len, o, size, got, want);
	if (memcmp(X.io, X.obj[o].buf + off, want))
		mismatch(o, off, X.io, want, what);
}

static void check_all_data(int o, int fd, const char *what)
{
	size_t size = X.obj[o].size;

	for (size_t off = 0; off < size; off += MAX_IO)
		check_range(o, fd, off, MAX_IO, what);
	check_range(o, fd, size, 4096, what); /* EOF: 0 bytes */
}

/* Injected faults strike reads too (a failed decompress or spill read is
 * EIO for that call only): adopt() retries a read that fails with an
 * allowed error this many times before it gives up. */
#define ADOPT_READ_TRIES 100

static ssize_t adopt_read(int fd, size_t n, size_t off)
{
	ssize_t got = -1;

	for (int i = 0; i < ADOPT_READ_TRIES; i++) {
		got = read_full(fd, X.io, n, off);
		if (got >= 0 || !errno_allowed(errno))
			break;
	}
	return got;
}

/* Error mode: keep what the file holds in the object's unsure range,
 * after checking that nothing outside it changed. */
static void adopt(int o, int fd, const char *what)
{
	struct obj *ob = &X.obj[o];
	struct stat st;
	size_t lo = ob->dlo, hi = ob->dhi, common;
	ssize_t got;

	X.errors++;
	(void)fsync(fd);
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	if (fstat(fd, &st))
		failf("%s: fstat after error: %s", what, strerror(errno));
	if ((size_t)st.st_size > X.maxsize)
		failf("%s: size %lld after an error, past -m %zu", what, (long long)st.st_size,
		      X.maxsize);
	for (size_t off = 0; off < (size_t)st.st_size; off += MAX_IO) {
		size_t n = (size_t)st.st_size - off < MAX_IO ? (size_t)st.st_size - off : MAX_IO;

		got = adopt_read(fd, n, off);
		if (got != (ssize_t)n)
			failf("%s: reading back after an error at %zu: %s", what, off,
			      got < 0 ? strerror(errno) : "short read");
		common = ob->size < (size_t)st.st_size ? ob->size : (size_t)st.st_size;
		for (size_t i = 0; i < n && off + i < common; i++)
			if ((off + i < lo || off + i >= hi) && X.io[i] != ob->buf[off + i])
				mismatch(o, off, X.io, n, "outside the failed range");
		memcpy(X.io2, X.io, n);
		memcpy(ob->buf + off, X.io2, n);
	}
	if ((size_t)st.st_size < ob->size)
		memset(ob->buf + st.st_size, 0, ob->size - (size_t)st.st_size);
	ob->size = (size_t)st.st_size;
	ob->dlo = ob->dhi = 0;
}

/* A failed call on object o (fd): adopt if allowed, else fail. */
static void op_error(int o, int fd, const char *what)
{
	int e = errno;

	if (!errno_allowed(e))
		failf("%s on object %d: %s", what, o, strerror(e));
	logf_op("%s on object %d: allowed error %s, adopting the file", what, o, strerror(e));
	if (fd >= 0)
		adopt(o, fd, what);
	else
		X.errors++;
}

/* ---- operations on data ----------------------------------------------- */

static void op_pwrite(int o)
{
	size_t off, len;
	ssize_t r;

	pick_range(&off, &len);
	fill(X.io2, len);
	logf_op("pwrite obj %d off %zu len %zu (size %zu)", o, off, len, X.obj[o].size);
	r = pwrite(X.obj[o].fd, X.io2, len, (off_t)off);
	if (r == (ssize_t)len) {
		model_write(o, off, X.io2, len);
		return;
	}
	if (r >= 0) { /* short write: the prefix is in */
		model_write(o, off, X.io2, (size_t)r);
		errno = ENOSPC;
	}
	model_dirty(o, off, off + len);
	op_error(o, X.obj[o].fd, "pwrite");
}

static void op_pread(int o)
{
	size_t off = pick_off(X.obj[o].size + 65536), len = pick_len();

	if (len > MAX_IO)
		len = MAX_IO;
	logf_op("pread obj %d off %zu len %zu (size %zu)", o, off, len, X.obj[o].size);
	check_range(o, X.obj[o].fd, off, len, "pread");
}

static void op_truncate(int o)
{
	size_t size = rnd_below(4) ? pick_off(X.maxsize + 1) : rnd_below(X.obj[o].size + 1);

	logf_op("ftruncate obj %d to %zu (size %zu)", o, size, X.obj[o].size);
	if (ftruncate(X.obj[o].fd, (off_t)size)) {
		model_dirty(o, 0, X.maxsize);
		op_error(o, X.obj[o].fd, "ftruncate");
		return;
	}
	model_set_size(o, size);
}

static const char *falloc_name(int mode)
{
	switch (mode) {
	case FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE:
		return "punch_hole";
	case FALLOC_FL_ZERO_RANGE:
		return "zero_range";
	case FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE:
		return "zero_range|keep_size";
	default:
		return "allocate";
	}
}

static void op_fallocate(int o, int mode)
{
	size_t off, len;

	pick_range(&off, &len);
	if (rnd_below(3) == 0 && X.obj[o].size) /* mostly over existing data */
		off = pick_off(X.obj[o].size), len = len > X.maxsize - off ? X.maxsize - off : len;
	logf_op("fallocate %s obj %d off %zu len %zu (size %zu)", falloc_name(mode), o, off, len,
		X.obj[o].size);
	if (fallocate(X.obj[o].fd, mode, (off_t)off, (off_t)len)) {
		if (errno == EOPNOTSUPP && (mode & FALLOC_FL_ZERO_RANGE)) {
			if (!X.no_zero_range++) /* tmpfs: not a failure, say so */
				fprintf(stderr, "zr_exercise: note: FALLOC_FL_ZERO_RANGE "
						"unsupported here, skipped\n");
			return;
		}
		model_dirty(o, off, off + len);
		op_error(o, X.obj[o].fd, "fallocate");
		return;
	}
	if (mode & FALLOC_FL_PUNCH_HOLE)
		model_zero(o, off, off + len, 0);
	else if (mode & FALLOC_FL_ZERO_RANGE)
		model_zero(o, off, off + len, !(mode & FALLOC_FL_KEEP_SIZE));
	else if (off + len > X.obj[o].size)
		X.obj[o].size = off + len;
}

static void mmap_write(int o, uint8_t *p, size_t base, size_t off, size_t len)
{
	size_t woff = off + rnd_below(len), wlen = 1 + rnd_below(off + len - woff);

	fill(X.io2, wlen);
	memcpy(p + (woff - base), X.io2, wlen);
	model_write(o, woff, X.io2, wlen);
	logf_op("mmap obj %d: wrote %zu+%zu, msync", o, woff, wlen);
}

static void op_mmap(int o)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE), size = X.obj[o].size, off, len, base;
	uint8_t *p;

	if (!size)
		return;
	off = pick_off(size);
	len = pick_len();
	if (len > size - off)
		len = size - off;
	base = off & ~(pg - 1);
	logf_op("mmap obj %d off %zu len %zu (size %zu)", o, off, len, size);
	p = mmap(NULL, off + len - base, PROT_READ | PROT_WRITE, MAP_SHARED, X.obj[o].fd,
		 (off_t)base);
	if (p == MAP_FAILED) {
		op_error(o, X.obj[o].fd, "mmap");
		return;
	}
	X.reads++;
	X.bytes += len;
	if (memcmp(p + (off - base), X.obj[o].buf + off, len))
		mismatch(o, off, p + (off - base), len, "mmap read");
	if (rnd_below(2)) {
		mmap_write(o, p, base, off, len);
		if (msync(p, off + len - base, MS_SYNC)) {
			munmap(p, off + len - base);
			op_error(o, X.obj[o].fd, "msync");
			return;
		}
	}
	munmap(p, off + len - base);
}

static void op_copy_range(int a)
{
	int b = pick_open_obj();
	size_t size = X.obj[a].size, in, out, len, want;
	loff_t oi, oo;
	ssize_t n;

	if (b < 0 || b == a)
		return;
	in = pick_off(size + 4096);
	pick_range(&out, &len);
	want = in < size ? (size - in < len ? size - in : len) : 0;
	logf_op("copy_file_range obj %d %zu -> obj %d %zu len %zu (sizes %zu, %zu)", a, in, b, out,
		len, size, X.obj[b].size);
	oi = (loff_t)in;
	oo = (loff_t)out;
	n = copy_file_range(X.obj[a].fd, &oi, X.obj[b].fd, &oo, len, 0);
	if (n < 0) {
		model_dirty(b, out, out + len);
		op_error(b, X.obj[b].fd, "copy_file_range");
		return;
	}
	if ((size_t)n > want)
		failf("copy_file_range copied %zd bytes, at most %zu were there", n, want);
	if ((size_t)n < want)
		X.short_copies++;
	model_write(b, out, X.obj[a].buf + in, (size_t)n);
}

static void op_fsync(int o)
{
	logf_op("fsync obj %d", o);
	if (fsync(X.obj[o].fd)) {
		op_error(o, X.obj[o].fd, "fsync");
		return;
	}
	X.obj[o].dlo = X.obj[o].dhi = 0;
}

/* SEEK_DATA from off: returns the data offset (size for ENXIO) */
static size_t seek_data_check(int o, size_t off)
{
	size_t size = X.obj[o].size, r;
	off_t got = lseek(X.obj[o].fd, (off_t)off, SEEK_DATA);

	if (off >= size) {
		if (got >= 0 || errno != ENXIO)
			failf("SEEK_DATA at %zu >= size %zu: got %lld, want ENXIO", off, size,
			      (long long)got);
		return size;
	}
	if (got < 0 && errno != ENXIO)
		failf("SEEK_DATA at %zu: %s", off, strerror(errno));
	r = got < 0 ? size : (size_t)got;
	if (r < off || (got >= 0 && r >= size))
		failf("SEEK_DATA at %zu (size %zu) returned %lld", off, size, (long long)got);
	for (size_t i = off; i < r; i++)
		if (X.obj[o].buf[i])
			failf("SEEK_DATA at %zu returned %lld but the model has data at %zu (size "
			      "%zu): a hole claimed over data",
			      off, (long long)got, i, size);
	return r;
}

static void op_seek(int o)
{
	size_t size = X.obj[o].size, off = pick_off(size + 8192);
	off_t got;

	if (X.seek_sync) {
		op_fsync(o);
		if (X.obj[o].size != size) /* adopted after an error */
			return;
	}
	if (rnd_below(2)) {
		logf_op("lseek SEEK_DATA obj %d off %zu (size %zu)", o, off, size);
		seek_data_check(o, off);
		return;
	}
	logf_op("lseek SEEK_HOLE obj %d off %zu (size %zu)", o, off, size);
	got = lseek(X.obj[o].fd, (off_t)off, SEEK_HOLE);
	if (off >= size) {
		if (got >= 0 || errno != ENXIO)
			failf("SEEK_HOLE at %zu >= size %zu: got %lld, want ENXIO", off, size,
			      (long long)got);
		return;
	}
	if (got < 0 || (size_t)got < off || (size_t)got > size)
		failf("SEEK_HOLE at %zu (size %zu) returned %lld (%s)", off, size, (long long)got,
		      got < 0 ? strerror(errno) : "out of range");
	if ((size_t)got < size)
		seek_data_check(o, (size_t)got);
}

/* fsync and drop the clean pages: the next reads come from the daemon */
static void op_drop(int o)
{
	logf_op("fsync + fadvise DONTNEED obj %d", o);
	if (fsync(X.obj[o].fd)) {
		op_error(o, X.obj[o].fd, "fsync (drop)");
		return;
	}
	X.obj[o].dlo = X.obj[o].dhi = 0;
	(void)posix_fadvise(X.obj[o].fd, 0, 0, POSIX_FADV_DONTNEED);
}

/* ---- operations on names ---------------------------------------------- */

static void op_create(void)
{
	int s = pick_slot(0), o = free_obj_slot();
	char p[4096];
	struct stat st;

	if (s < 0 || o < 0)
		return;
	name_path(p, sizeof(p), (unsigned)s);
	logf_op("create n%d -> obj %d", s, o);
	X.obj[o].fd = open(p, O_RDWR | O_CREAT | O_EXCL, 0644);
	if (X.obj[o].fd < 0 || fstat(X.obj[o].fd, &st))
		failf("create %s: %s", p, strerror(errno));
	X.obj[o].buf = calloc(1, X.maxsize);
	if (!X.obj[o].buf)
		failf("out of memory for the model");
	X.obj[o].used = 1;
	X.obj[o].links = 1;
	X.obj[o].size = 0;
	X.obj[o].ino = st.st_ino;
	X.name[s] = o;
}

static void drop_link(int o)
{
	X.obj[o].links--;
	obj_free_if_dead(o);
}

static void op_rename(void)
{
	int s = pick_slot(1), d = (int)rnd_below(X.nnames), o;
	char ps[4096], pd[4096];

	if (s < 0 || d == s)
		return;
	o = X.name[s];
	name_path(ps, sizeof(ps), (unsigned)s);
	name_path(pd, sizeof(pd), (unsigned)d);
	logf_op("rename n%d (obj %d) -> n%d (obj %d)", s, o, d, X.name[d]);
	if (rename(ps, pd))
		failf("rename %s %s: %s", ps, pd, strerror(errno));
	if (X.name[d] == o) /* two names of one inode: nothing happens */
		return;
	if (X.name[d] >= 0)
		drop_link(X.name[d]);
	X.name[d] = o;
	X.name[s] = -1;
}

static void op_link(void)
{
	int s = pick_slot(1), d = pick_slot(0);
	char ps[4096], pd[4096];

	if (s < 0 || d < 0)
		return;
	name_path(ps, sizeof(ps), (unsigned)s);
	name_path(pd, sizeof(pd), (unsigned)d);
	logf_op("link n%d (obj %d) -> n%d", s, X.name[s], d);
	if (link(ps, pd))
		failf("link %s %s: %s", ps, pd, strerror(errno));
	X.name[d] = X.name[s];
	X.obj[X.name[s]].links++;
}

static void op_unlink(void)
{
	int s = pick_slot(1), o;
	char p[4096];

	if (s < 0)
		return;
	o = X.name[s];
	name_path(p, sizeof(p), (unsigned)s);
	logf_op("unlink n%d (obj %d, links %d, %s)", s, o, X.obj[o].links,
		X.obj[o].fd >= 0 ? "open" : "closed");
	if (unlink(p))
		failf("unlink %s: %s", p, strerror(errno));
	X.name[s] = -1;
	drop_link(o);
}

/* open object o (it has a name) by its first name */
static int open_by_model(int o)
{
	char p[4096];
	int fd;

	for (unsigned s = 0; s < X.nnames; s++) {
		if (X.name[s] != o)
			continue;
		name_path(p, sizeof(p), s);
		fd = open(p, O_RDWR);
		if (fd < 0)
			failf("open %s: %s", p, strerror(errno));
		return fd;
	}
	failf("object %d has no name to open", o);
}

static void reopen_one(void)
{
	int s = pick_slot(1), o, tr = rnd_below(6) == 0;
	char p[4096];

	if (s < 0 || X.obj[X.name[s]].fd >= 0)
		return;
	o = X.name[s];
	name_path(p, sizeof(p), (unsigned)s);
	logf_op("open n%d (obj %d)%s", s, o, tr ? " O_TRUNC" : "");
	X.obj[o].fd = open(p, O_RDWR | (tr ? O_TRUNC : 0));
	if (X.obj[o].fd < 0)
		failf("open %s: %s", p, strerror(errno));
	if (tr)
		model_set_size(o, 0);
}

static void op_reopen(int o)
{
	int fd = X.obj[o].fd;

	logf_op("close obj %d (links %d)", o, X.obj[o].links);
	X.obj[o].fd = -1;
	if (close(fd)) {
		if (!errno_allowed(errno))
			failf("close obj %d: %s", o, strerror(errno));
		if (X.obj[o].links) { /* adopt through a fresh descriptor */
			X.obj[o].fd = open_by_model(o);
			adopt(o, X.obj[o].fd, "close");
		} else {
			X.errors++;
		}
	}
	X.obj[o].dlo = X.obj[o].dhi = 0;
	obj_free_if_dead(o);
	reopen_one();
}

/* ---- full verify ------------------------------------------------------ */

/* the directory lists exactly the used name slots */
static void verify_dir(void)
{
	DIR *d = opendir(X.dir);
	struct dirent *e;
	unsigned seen[MAX_NAMES] = {0}, slot;
	char c;

	if (!d)
		failf("opendir %s: %s", X.dir, strerror(errno));
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (sscanf(e->d_name, "n%u%c", &slot, &c) != 1 || slot >= X.nnames ||
		    X.name[slot] < 0)
			failf("directory lists '%s', not in the model", e->d_name);
		if (seen[slot]++)
			failf("directory lists '%s' twice", e->d_name);
	}
	closedir(d);
	for (unsigned s = 0; s < X.nnames; s++)
		if (X.name[s] >= 0 && !seen[s])
			failf("directory does not list n%u (object %d)", s, X.name[s]);
}

static void verify_names(void)
{
	char p[4096];
	struct stat st;

	for (unsigned s = 0; s < X.nnames; s++) {
		int o = X.name[s];

		if (o < 0)
			continue;
		name_path(p, sizeof(p), s);
		if (stat(p, &st))
			failf("stat %s: %s", p, strerror(errno));
		if (st.st_ino != X.obj[o].ino || (int)st.st_nlink != X.obj[o].links)
			failf("%s: ino %llu nlink %llu, model: object %d ino %llu links %d", p,
			      (unsigned long long)st.st_ino, (unsigned long long)st.st_nlink, o,
			      (unsigned long long)X.obj[o].ino, X.obj[o].links);
	}
}

/* sizes, link counts and every byte of object o */
static void verify_obj(int o, int drop)
{
	struct obj *ob = &X.obj[o];
	int fd = ob->fd >= 0 ? ob->fd : open_by_model(o);
	struct stat st;

	if (X.allow_errors || drop) {
		if (fsync(fd)) {
			logf_op("verify obj %d: fsync: %s", o, strerror(errno));
			if (!errno_allowed(errno))
				failf("fsync obj %d: %s", o, strerror(errno));
			adopt(o, fd, "verify fsync");
		}
		ob->dlo = ob->dhi = 0;
	}
	if (drop)
		(void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	if (fstat(fd, &st))
		failf("fstat obj %d: %s", o, strerror(errno));
	if ((size_t)st.st_size != ob->size || (int)st.st_nlink != ob->links)
		failf("object %d: size %lld nlink %llu, model: size %zu links %d", o,
		      (long long)st.st_size, (unsigned long long)st.st_nlink, ob->size, ob->links);
	check_all_data(o, fd, "verify");
	if (fd != ob->fd)
		close(fd);
}

static void verify_all(void)
{
	int drop = (int)rnd_below(2);

	logf_op("full verify%s", drop ? " (fsync + dropped caches)" : "");
	verify_dir();
	verify_names();
	for (unsigned o = 0; o < MAX_OBJ; o++)
		if (X.obj[o].used)
			verify_obj((int)o, drop);
}

/* ---- the op table and the main loop ----------------------------------- */

enum op_kind {
	K_PWRITE,
	K_PREAD,
	K_TRUNCATE,
	K_PUNCH,
	K_ZERO,
	K_ZERO_KEEP,
	K_ALLOC,
	K_MMAP,
	K_RENAME,
	K_LINK,
	K_UNLINK,
	K_REOPEN,
	K_FSYNC,
	K_COPY,
	K_SEEK,
	K_DROP,
	K_CREATE,
};

/* weights, in percent */
static const struct {
	enum op_kind kind;
	unsigned weight;
} OPS_TABLE[] = {
    {K_PWRITE, 24}, {K_PREAD, 13}, {K_TRUNCATE, 4}, {K_PUNCH, 6}, {K_ZERO, 3},	 {K_ZERO_KEEP, 3},
    {K_ALLOC, 3},   {K_MMAP, 6},   {K_RENAME, 5},   {K_LINK, 3},  {K_UNLINK, 4}, {K_REOPEN, 6},
    {K_FSYNC, 2},   {K_COPY, 6},   {K_SEEK, 6},	    {K_DROP, 3},  {K_CREATE, 3},
};

static enum op_kind pick_kind(void)
{
	unsigned total = 0, r;
	size_t i;

	for (i = 0; i < sizeof(OPS_TABLE) / sizeof(OPS_TABLE[0]); i++)
		total += OPS_TABLE[i].weight;
	r = (unsigned)rnd_below(total);
	for (i = 0; r >= OPS_TABLE[i].weight; i++)
		r -= OPS_TABLE[i].weight;
	return OPS_TABLE[i].kind;
}

static void run_data_op(enum op_kind k, int o)
{
	switch (k) {
	case K_PWRITE:
		op_pwrite(o);
		break;
	case K_PREAD:
		op_pread(o);
		break;
	case K_TRUNCATE:
		op_truncate(o);
		break;
	case K_PUNCH:
		op_fallocate(o, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE);
		break;
	case K_ZERO:
		op_fallocate(o, FALLOC_FL_ZERO_RANGE);
		break;
	case K_ZERO_KEEP:
		op_fallocate(o, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE);
		break;
	case K_ALLOC:
		op_fallocate(o, 0);
		break;
	case K_MMAP:
		op_mmap(o);
		break;
	case K_REOPEN:
		op_reopen(o);
		break;
	case K_FSYNC:
		op_fsync(o);
		break;
	case K_COPY:
		op_copy_range(o);
		break;
	case K_SEEK:
		op_seek(o);
		break;
	default:
		op_drop(o);
	}
}

static void one_op(void)
{
	enum op_kind k = pick_kind();
	int o;

	/* keep about FILES named objects, and at least one open */
	if (count_live(0) < (int)X.nfiles && (k == K_CREATE || rnd_below(4) == 0))
		k = K_CREATE;
	if (!count_live(1))
		reopen_one();
	if (!count_live(1))
		k = K_CREATE;
	switch (k) {
	case K_CREATE:
		op_create();
		return;
	case K_RENAME:
		op_rename();
		return;
	case K_LINK:
		op_link();
		return;
	case K_UNLINK:
		op_unlink();
		return;
	default:
		break;
	}
	o = pick_open_obj();
	if (o >= 0)
		run_data_op(k, o);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(void)
{
	fprintf(stderr, "usage: zr_exercise [-s SEED] [-n OPS] [-t SECONDS] [-f FILES] "
			"[-m MAXSIZE] [-v] [-S] DIR\n");
	exit(2);
}

static size_t parse_size(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 0);

	switch (*end) {
	case 'k':
	case 'K':
		v <<= 10;
		break;
	case 'm':
	case 'M':
		v <<= 20;
		break;
	case 'g':
	case 'G':
		v <<= 30;
		break;
	default:
		break;
	}
	return (size_t)v;
}

static void parse_args(int argc, char **argv, uint64_t *ops, double *secs)
{
	int c;

	X.seed = 1;
	X.nfiles = 4;
	X.maxsize = 4u << 20;
	*ops = 2000;
	*secs = 0;
	while ((c = getopt(argc, argv, "s:n:t:f:m:vS")) != -1) {
		switch (c) {
		case 's':
			X.seed = strtoull(optarg, NULL, 0);
			break;
		case 'n':
			*ops = strtoull(optarg, NULL, 0);
			break;
		case 't':
			*secs = atof(optarg);
			break;
		case 'f':
			X.nfiles = (unsigned)atoi(optarg);
			break;
		case 'm':
			X.maxsize = parse_size(optarg);
			break;
		case 'v':
			X.verbose = 1;
			break;
		case 'S':
			X.seek_sync = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc - 1 || !X.nfiles || X.nfiles > MAX_FILES || X.maxsize < 4096)
		usage();
	X.dir = argv[optind];
	X.nnames = 2 * X.nfiles;
}

static int dir_is_empty(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n == 0;
}

static void setup(void)
{
	const char *e = getenv("ZR_EXERCISE_ALLOW_ERRORS");

	X.allow_errors = e && !strcmp(e, "1");
	X.rs = X.seed * 0x9e3779b97f4a7c15ULL + 0x1234567;
	for (int i = 0; i < 4; i++)
		rnd();
	for (unsigned s = 0; s < MAX_NAMES; s++)
		X.name[s] = -1;
	for (unsigned o = 0; o < MAX_OBJ; o++)
		X.obj[o].fd = -1;
	X.io = malloc(MAX_IO);
	X.io2 = malloc(MAX_IO);
	if (!X.io || !X.io2) {
		fprintf(stderr, "zr_exercise: out of memory\n");
		exit(2);
	}
	if (mkdir(X.dir, 0755) && errno != EEXIST) {
		fprintf(stderr, "zr_exercise: mkdir %s: %s\n", X.dir, strerror(errno));
		exit(2);
	}
	if (!dir_is_empty(X.dir)) {
		fprintf(stderr, "zr_exercise: %s must be empty\n", X.dir);
		exit(2);
	}
}

int main(int argc, char **argv)
{
	uint64_t ops;
	double secs, t0;

	parse_args(argc, argv, &ops, &secs);
	setup();
	t0 = now();
	for (X.op = 0;; X.op++) {
		if (secs > 0 ? now() - t0 >= secs : X.op >= ops)
			break;
		X.log[X.op % LOG_N][0] = '\0';
		if (X.op && X.op % FULL_EVERY == 0)
			verify_all();
		else
			one_op();
	}
	verify_all();
	printf("exercise seed=%llu ops=%llu reads_checked=%llu bytes_checked=%llu errors=%llu "
	       "mismatches=0\n",
	       (unsigned long long)X.seed, (unsigned long long)X.op, (unsigned long long)X.reads,
	       (unsigned long long)X.bytes, (unsigned long long)X.errors);
	return 0;
}
