/*
 * zr_syscalls - small multi-command driver for syscalls the shell tools do
 * not reach, used by tests/integration.
 *
 *   zr_syscalls CMD ARGS...
 *
 * Every command prints one result line on stdout: "OK" (sometimes followed
 * by values) on success, or the errno name ("EINVAL") when the syscall under
 * test failed.  Exit status: 0 success, 1 the syscall failed (errno printed),
 * 2 usage error or a data verification failure (message on stderr).
 *
 * Commands:
 *   rename2 OLD NEW [noreplace|exchange|whiteout]
 *   open PATH FLAG[,FLAG...] [MODE]     flags: rdonly wronly rdwr creat excl
 *                                       trunc append direct directory nofollow
 *   mkdir PATH [MODE] | rmdir PATH | unlink PATH | link OLD NEW
 *   symlink TARGET PATH | trunc PATH SIZE | mksock PATH
 *   seekmap PATH                        prints "data START END" per extent
 *   seek PATH data|hole OFF             prints the offset or ENXIO
 *   falloc PATH MODE OFF LEN            MODE: alloc keep punch zero zerokeep
 *                                       collapse insert
 *   cfr SRC DST [OFF_IN OFF_OUT LEN]    copy_file_range loop; prints bytes
 *   utimens PATH ATIME MTIME [nofollow] each: now | omit | SEC[.NSEC]
 *   times PATH                          prints "ATIME MTIME CTIME" (sec.nsec)
 *   xset PATH NAME VALUE [create|replace]
 *   xget PATH NAME SIZE                 SIZE 0: prints needed size
 *   xlist PATH SIZE                     SIZE 0: prints needed size; else names
 *   xremove PATH NAME
 *   mmap_shared PATH SIZE               map shared rw, write pattern, msync,
 *                                       munmap, verify with read(2)
 *   mmap_private PATH                   private write must not reach file
 *   mmap_check PATH                     mmap read == read(2)
 *   unlinked PATH SIZE [SHELLCMD]       write, unlink, run SHELLCMD while
 *                                       open, verify data, close
 *   plock PATH try|getlk                fcntl F_SETLK write lock / F_GETLK
 *   plock PATH hold READY RELEASE       lock, create READY, wait for RELEASE
 *   pattern PATH SIZE [SEED]            write deterministic pattern file
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>
#include <linux/falloc.h>
#include <linux/fs.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif
#ifndef RENAME_WHITEOUT
#define RENAME_WHITEOUT (1 << 2)
#endif

struct ename {
	int e;
	const char *n;
};

static const struct ename enames[] = {
	{ EPERM, "EPERM" }, { ENOENT, "ENOENT" }, { ESRCH, "ESRCH" },
	{ EINTR, "EINTR" }, { EIO, "EIO" }, { ENXIO, "ENXIO" },
	{ E2BIG, "E2BIG" }, { EBADF, "EBADF" }, { EAGAIN, "EAGAIN" },
	{ ENOMEM, "ENOMEM" }, { EACCES, "EACCES" }, { EFAULT, "EFAULT" },
	{ EBUSY, "EBUSY" }, { EEXIST, "EEXIST" }, { EXDEV, "EXDEV" },
	{ ENODEV, "ENODEV" }, { ENOTDIR, "ENOTDIR" }, { EISDIR, "EISDIR" },
	{ EINVAL, "EINVAL" }, { ENFILE, "ENFILE" }, { EMFILE, "EMFILE" },
	{ ETXTBSY, "ETXTBSY" }, { EFBIG, "EFBIG" }, { ENOSPC, "ENOSPC" },
	{ ESPIPE, "ESPIPE" }, { EROFS, "EROFS" }, { EMLINK, "EMLINK" },
	{ EPIPE, "EPIPE" }, { ERANGE, "ERANGE" }, { EDEADLK, "EDEADLK" },
	{ ENAMETOOLONG, "ENAMETOOLONG" }, { ENOLCK, "ENOLCK" },
	{ ENOSYS, "ENOSYS" }, { ENOTEMPTY, "ENOTEMPTY" }, { ELOOP, "ELOOP" },
	{ ENODATA, "ENODATA" }, { EOVERFLOW, "EOVERFLOW" },
	{ EOPNOTSUPP, "EOPNOTSUPP" }, { ENOTCONN, "ENOTCONN" },
	{ EDQUOT, "EDQUOT" }, { ENOTSUP, "ENOTSUP" },
};

static const char *errname(int e)
{
	static char buf[32];
	size_t i;

	for (i = 0; i < sizeof(enames) / sizeof(enames[0]); i++)
		if (enames[i].e == e)
			return enames[i].n;
	snprintf(buf, sizeof(buf), "E%d", e);
	return buf;
}

/* Report the result of a syscall: prints OK or the errno name. */
static int report(int rc)
{
	if (rc < 0) {
		printf("%s\n", errname(errno));
		return 1;
	}
	printf("OK\n");
	return 0;
}

static int fail_errno(const char *what)
{
	int e = errno;

	printf("%s\n", errname(e));
	fprintf(stderr, "zr_syscalls: %s: %s\n", what, strerror(e));
	return 1;
}

/* Usage or verification error: "zr_syscalls: MSG[ ARG]" on stderr, exit 2. */
static int die(const char *msg, const char *arg)
{
	fprintf(stderr, "zr_syscalls: %s%s%s\n", msg, arg ? " " : "", arg ? arg : "");
	return 2;
}

static long long parse_ll(const char *s)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 0);
	if (errno || end == s) {
		fprintf(stderr, "zr_syscalls: bad number '%s'\n", s);
		exit(2);
	}
	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	case 't': case 'T': v <<= 40; end++; break;
	default: break;
	}
	if (*end) {
		fprintf(stderr, "zr_syscalls: bad number '%s'\n", s);
		exit(2);
	}
	return v;
}

static unsigned char pat_byte(uint64_t off, unsigned seed)
{
	uint64_t x = off * 0x9E3779B97F4A7C15ULL + seed * 0xBF58476D1CE4E5B9ULL;

	x ^= x >> 31;
	/* half the pattern compressible: blocks of 512 bytes alternate */
	if ((off >> 9) & 1)
		return (unsigned char)('a' + (off % 23));
	return (unsigned char)(x >> 24);
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static ssize_t read_full(int fd, void *buf, size_t len, off_t off)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(fd, (char *)buf + got, len - got, off + (off_t)got);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* ---- commands ---------------------------------------------------------- */

static int cmd_rename2(int argc, char **argv)
{
	unsigned flags = 0;

	if (argc < 2)
		return die("usage: rename2 OLD NEW [noreplace|exchange|whiteout]", NULL);
	if (argc > 2) {
		if (!strcmp(argv[2], "noreplace"))
			flags = RENAME_NOREPLACE;
		else if (!strcmp(argv[2], "exchange"))
			flags = RENAME_EXCHANGE;
		else if (!strcmp(argv[2], "whiteout"))
			flags = RENAME_WHITEOUT;
		else if (!strcmp(argv[2], "none"))
			flags = 0;
		else
			return die("bad rename flag", argv[2]);
	}
	return report(renameat2(AT_FDCWD, argv[0], AT_FDCWD, argv[1], flags));
}

static int parse_oflags(const char *spec, int *flags)
{
	char *copy = strdup(spec), *tok, *save = NULL;
	int f = 0, acc = O_RDONLY;

	if (!copy)
		return -1;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, "rdonly")) acc = O_RDONLY;
		else if (!strcmp(tok, "wronly")) acc = O_WRONLY;
		else if (!strcmp(tok, "rdwr")) acc = O_RDWR;
		else if (!strcmp(tok, "creat")) f |= O_CREAT;
		else if (!strcmp(tok, "excl")) f |= O_EXCL;
		else if (!strcmp(tok, "trunc")) f |= O_TRUNC;
		else if (!strcmp(tok, "append")) f |= O_APPEND;
		else if (!strcmp(tok, "direct")) f |= O_DIRECT;
		else if (!strcmp(tok, "directory")) f |= O_DIRECTORY;
		else if (!strcmp(tok, "nofollow")) f |= O_NOFOLLOW;
		else {
			free(copy);
			return -1;
		}
	}
	free(copy);
	*flags = f | acc;
	return 0;
}

static int cmd_open(int argc, char **argv)
{
	int flags, fd;
	mode_t mode = 0644;

	if (argc < 2)
		return die("usage: open PATH FLAGS [MODE]", NULL);
	if (parse_oflags(argv[1], &flags))
		return die("bad open flags", argv[1]);
	if (argc > 2)
		mode = (mode_t)strtoul(argv[2], NULL, 8);
	fd = open(argv[0], flags, mode);
	if (fd < 0)
		return report(-1);
	close(fd);
	return report(0);
}

static int cmd_simple(const char *cmd, int argc, char **argv)
{
	if (!strcmp(cmd, "mkdir")) {
		if (argc < 1)
			return die("usage: mkdir PATH [MODE]", NULL);
		return report(mkdir(argv[0], argc > 1 ? (mode_t)strtoul(argv[1], NULL, 8) : 0755));
	}
	if (!strcmp(cmd, "rmdir")) {
		if (argc < 1)
			return die("usage: rmdir PATH", NULL);
		return report(rmdir(argv[0]));
	}
	if (!strcmp(cmd, "unlink")) {
		if (argc < 1)
			return die("usage: unlink PATH", NULL);
		return report(unlink(argv[0]));
	}
	if (!strcmp(cmd, "link")) {
		if (argc < 2)
			return die("usage: link OLD NEW", NULL);
		return report(link(argv[0], argv[1]));
	}
	if (!strcmp(cmd, "symlink")) {
		if (argc < 2)
			return die("usage: symlink TARGET PATH", NULL);
		return report(symlink(argv[0], argv[1]));
	}
	if (!strcmp(cmd, "trunc")) {
		if (argc < 2)
			return die("usage: trunc PATH SIZE", NULL);
		return report(truncate(argv[0], (off_t)parse_ll(argv[1])));
	}
	return die("unknown command", cmd);
}

static int cmd_mksock(int argc, char **argv)
{
	struct sockaddr_un sa;
	int fd, rc;

	if (argc < 1)
		return die("usage: mksock PATH", NULL);
	if (strlen(argv[0]) >= sizeof(sa.sun_path))
		return die("socket path too long:", argv[0]);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	strcpy(sa.sun_path, argv[0]);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0)
		return fail_errno("socket");
	rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	return report(rc);
}

static int cmd_seekmap(int argc, char **argv)
{
	int fd;
	off_t pos = 0, data, hole, end;

	if (argc < 1)
		return die("usage: seekmap PATH", NULL);
	fd = open(argv[0], O_RDONLY);
	if (fd < 0)
		return fail_errno("open");
	end = lseek(fd, 0, SEEK_END);
	for (;;) {
		data = lseek(fd, pos, SEEK_DATA);
		if (data < 0) {
			if (errno == ENXIO)
				break;
			close(fd);
			return fail_errno("lseek SEEK_DATA");
		}
		hole = lseek(fd, data, SEEK_HOLE);
		if (hole < 0) {
			close(fd);
			return fail_errno("lseek SEEK_HOLE");
		}
		printf("data %lld %lld\n", (long long)data, (long long)hole);
		if (hole >= end)
			break;
		pos = hole;
	}
	printf("end %lld\n", (long long)end);
	close(fd);
	return 0;
}

static int cmd_seek(int argc, char **argv)
{
	int fd, whence;
	off_t r;

	if (argc < 3)
		return die("usage: seek PATH data|hole OFF", NULL);
	if (!strcmp(argv[1], "data"))
		whence = SEEK_DATA;
	else if (!strcmp(argv[1], "hole"))
		whence = SEEK_HOLE;
	else
		return die("bad whence", argv[1]);
	fd = open(argv[0], O_RDONLY);
	if (fd < 0)
		return fail_errno("open");
	r = lseek(fd, (off_t)parse_ll(argv[2]), whence);
	close(fd);
	if (r < 0)
		return report(-1);
	printf("%lld\n", (long long)r);
	return 0;
}

static int cmd_falloc(int argc, char **argv)
{
	int fd, mode, rc;

	if (argc < 4)
		return die("usage: falloc PATH MODE OFF LEN", NULL);
	if (!strcmp(argv[1], "alloc")) mode = 0;
	else if (!strcmp(argv[1], "keep")) mode = FALLOC_FL_KEEP_SIZE;
	else if (!strcmp(argv[1], "punch")) mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	else if (!strcmp(argv[1], "zero")) mode = FALLOC_FL_ZERO_RANGE;
	else if (!strcmp(argv[1], "zerokeep")) mode = FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
	else if (!strcmp(argv[1], "collapse")) mode = FALLOC_FL_COLLAPSE_RANGE;
	else if (!strcmp(argv[1], "insert")) mode = FALLOC_FL_INSERT_RANGE;
	else return die("bad fallocate mode", argv[1]);
	fd = open(argv[0], O_RDWR | O_CREAT, 0644);
	if (fd < 0)
		return fail_errno("open");
	rc = fallocate(fd, mode, (off_t)parse_ll(argv[2]), (off_t)parse_ll(argv[3]));
	if (rc < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return report(-1);
	}
	close(fd);
	return report(0);
}

static int cmd_cfr(int argc, char **argv)
{
	int in, out;
	loff_t oin = 0, oout = 0, *pin = NULL, *pout = NULL;
	long long len = -1, total = 0;
	struct stat st;

	if (argc < 2)
		return die("usage: cfr SRC DST [OFF_IN OFF_OUT LEN]", NULL);
	in = open(argv[0], O_RDONLY);
	if (in < 0)
		return fail_errno("open src");
	out = open(argv[1], O_WRONLY | O_CREAT, 0644);
	if (out < 0)
		return fail_errno("open dst");
	if (argc >= 5) {
		oin = (loff_t)parse_ll(argv[2]);
		oout = (loff_t)parse_ll(argv[3]);
		len = parse_ll(argv[4]);
		pin = &oin;
		pout = &oout;
	} else {
		if (fstat(in, &st) < 0)
			return fail_errno("fstat");
		len = st.st_size;
	}
	while (total < len) {
		ssize_t n = copy_file_range(in, pin, out, pout, (size_t)(len - total), 0);

		if (n < 0)
			return fail_errno("copy_file_range");
		if (n == 0)
			break;
		total += n;
	}
	close(in);
	if (close(out) < 0)
		return fail_errno("close");
	printf("OK %lld\n", total);
	return 0;
}

static int parse_ts(const char *s, struct timespec *ts)
{
	char *end;

	if (!strcmp(s, "now")) {
		ts->tv_sec = 0;
		ts->tv_nsec = UTIME_NOW;
		return 0;
	}
	if (!strcmp(s, "omit")) {
		ts->tv_sec = 0;
		ts->tv_nsec = UTIME_OMIT;
		return 0;
	}
	ts->tv_sec = (time_t)strtoll(s, &end, 10);
	ts->tv_nsec = 0;
	if (*end == '.') {
		const char *p = end + 1;
		long ns = 0;
		int digits = 0;

		while (*p >= '0' && *p <= '9' && digits < 9) {
			ns = ns * 10 + (*p - '0');
			p++;
			digits++;
		}
		while (digits++ < 9)
			ns *= 10;
		ts->tv_nsec = ns;
		end = (char *)p;
	}
	return *end ? -1 : 0;
}

static int cmd_utimens(int argc, char **argv)
{
	struct timespec ts[2];
	int flags = 0;

	if (argc < 3)
		return die("usage: utimens PATH ATIME MTIME [nofollow]", NULL);
	if (parse_ts(argv[1], &ts[0]) || parse_ts(argv[2], &ts[1]))
		return die("bad time (now|omit|SEC[.NSEC])", NULL);
	if (argc > 3 && !strcmp(argv[3], "nofollow"))
		flags = AT_SYMLINK_NOFOLLOW;
	return report(utimensat(AT_FDCWD, argv[0], ts, flags));
}

static int cmd_times(int argc, char **argv)
{
	struct stat st;

	if (argc < 1)
		return die("usage: times PATH", NULL);
	if (lstat(argv[0], &st) < 0)
		return fail_errno("lstat");
	printf("%lld.%09ld %lld.%09ld %lld.%09ld\n",
	       (long long)st.st_atim.tv_sec, st.st_atim.tv_nsec,
	       (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
	       (long long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
	return 0;
}

static int cmd_xset(int argc, char **argv)
{
	int flags = 0;

	if (argc < 3)
		return die("usage: xset PATH NAME VALUE [create|replace]", NULL);
	if (argc > 3) {
		if (!strcmp(argv[3], "create"))
			flags = XATTR_CREATE;
		else if (!strcmp(argv[3], "replace"))
			flags = XATTR_REPLACE;
		else
			return die("bad xattr flag", argv[3]);
	}
	return report(lsetxattr(argv[0], argv[1], argv[2], strlen(argv[2]), flags));
}

static int cmd_xget(int argc, char **argv)
{
	long long size;
	char *buf;
	ssize_t n;

	if (argc < 3)
		return die("usage: xget PATH NAME SIZE", NULL);
	size = parse_ll(argv[2]);
	if (size < 0 || size > 1 << 20)
		return die("bad size", argv[2]);
	buf = malloc((size_t)size + 1);
	if (!buf)
		return die("out of memory", NULL);
	n = lgetxattr(argv[0], argv[1], size ? buf : NULL, (size_t)size);
	if (n < 0) {
		free(buf);
		return report(-1);
	}
	if (size == 0) {
		printf("OK %zd\n", n);
	} else {
		buf[n] = 0;
		printf("OK %zd %s\n", n, buf);
	}
	free(buf);
	return 0;
}

static int cmd_xlist(int argc, char **argv)
{
	long long size;
	char *buf;
	ssize_t n, i;

	if (argc < 2)
		return die("usage: xlist PATH SIZE", NULL);
	size = parse_ll(argv[1]);
	if (size < 0 || size > 1 << 20)
		return die("bad size", argv[1]);
	buf = malloc((size_t)size + 1);
	if (!buf)
		return die("out of memory", NULL);
	n = llistxattr(argv[0], size ? buf : NULL, (size_t)size);
	if (n < 0) {
		free(buf);
		return report(-1);
	}
	printf("OK %zd\n", n);
	if (size) {
		for (i = 0; i < n; i += (ssize_t)strlen(buf + i) + 1)
			printf("%s\n", buf + i);
	}
	free(buf);
	return 0;
}

static int cmd_xremove(int argc, char **argv)
{
	if (argc < 2)
		return die("usage: xremove PATH NAME", NULL);
	return report(lremovexattr(argv[0], argv[1]));
}

static int cmd_pattern(int argc, char **argv)
{
	long long size, off;
	unsigned seed = 1;
	unsigned char buf[65536];
	int fd;

	if (argc < 2)
		return die("usage: pattern PATH SIZE [SEED]", NULL);
	size = parse_ll(argv[1]);
	if (argc > 2)
		seed = (unsigned)parse_ll(argv[2]);
	fd = open(argv[0], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return fail_errno("open");
	for (off = 0; off < size;) {
		size_t n = sizeof(buf), i;

		if ((long long)n > size - off)
			n = (size_t)(size - off);
		for (i = 0; i < n; i++)
			buf[i] = pat_byte((uint64_t)(off + (long long)i), seed);
		if (write_all(fd, buf, n) < 0)
			return fail_errno("write");
		off += (long long)n;
	}
	if (close(fd) < 0)
		return fail_errno("close");
	printf("OK\n");
	return 0;
}

static int verify_pattern(int fd, long long size, unsigned seed, const char *what)
{
	unsigned char buf[65536];
	long long off;

	for (off = 0; off < size;) {
		size_t n = sizeof(buf), i;
		ssize_t got;

		if ((long long)n > size - off)
			n = (size_t)(size - off);
		got = read_full(fd, buf, n, (off_t)off);
		if (got < 0)
			return fail_errno("pread");
		if ((size_t)got != n) {
			fprintf(stderr, "zr_syscalls: %s: short read at %lld (%zd of %zu)\n",
				what, off, got, n);
			return 2;
		}
		for (i = 0; i < n; i++) {
			if (buf[i] != pat_byte((uint64_t)(off + (long long)i), seed)) {
				fprintf(stderr, "zr_syscalls: %s: mismatch at offset %lld\n",
					what, off + (long long)i);
				return 2;
			}
		}
		off += (long long)n;
	}
	return 0;
}

static int cmd_mmap_shared(int argc, char **argv)
{
	long long size, i;
	unsigned char *p;
	int fd, rc;
	struct stat st;

	if (argc < 2)
		return die("usage: mmap_shared PATH SIZE", NULL);
	size = parse_ll(argv[1]);
	if (size <= 0)
		return die("bad size", argv[1]);
	fd = open(argv[0], O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return fail_errno("open");
	if (ftruncate(fd, (off_t)size) < 0)
		return fail_errno("ftruncate");
	p = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return fail_errno("mmap");
	for (i = 0; i < size; i++)
		p[i] = pat_byte((uint64_t)i, 7);
	if (msync(p, (size_t)size, MS_SYNC) < 0)
		return fail_errno("msync");
	/* read(2) while still mapped */
	rc = verify_pattern(fd, size, 7, "read while mapped");
	if (rc)
		return rc;
	if (munmap(p, (size_t)size) < 0)
		return fail_errno("munmap");
	if (fstat(fd, &st) < 0)
		return fail_errno("fstat");
	if (st.st_size != size) {
		fprintf(stderr, "zr_syscalls: size %lld after munmap, want %lld\n",
			(long long)st.st_size, size);
		return 2;
	}
	close(fd);
	/* reopen: read(2) after munmap and close */
	fd = open(argv[0], O_RDONLY);
	if (fd < 0)
		return fail_errno("reopen");
	rc = verify_pattern(fd, size, 7, "read after munmap");
	close(fd);
	if (rc)
		return rc;
	printf("OK\n");
	return 0;
}

static int cmd_mmap_private(int argc, char **argv)
{
	struct stat st;
	unsigned char *p, *orig;
	int fd;
	ssize_t got;

	if (argc < 1)
		return die("usage: mmap_private PATH", NULL);
	fd = open(argv[0], O_RDWR);
	if (fd < 0)
		return fail_errno("open");
	if (fstat(fd, &st) < 0 || st.st_size <= 0)
		return die("mmap_private needs a non-empty file", NULL);
	orig = malloc((size_t)st.st_size);
	if (!orig)
		return die("out of memory", NULL);
	got = read_full(fd, orig, (size_t)st.st_size, 0);
	if (got != st.st_size)
		return die("short read", NULL);
	p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return fail_errno("mmap");
	if (memcmp(p, orig, (size_t)st.st_size))
		return die("private mapping differs from read(2) before write", NULL);
	memset(p, 0xA5, (size_t)st.st_size);
	if (msync(p, (size_t)st.st_size, MS_SYNC) < 0)
		return fail_errno("msync");
	if (p[0] != 0xA5)
		return die("private mapping lost its own write", NULL);
	{
		unsigned char *again = malloc((size_t)st.st_size);

		if (!again)
			return die("out of memory", NULL);
		got = read_full(fd, again, (size_t)st.st_size, 0);
		if (got != st.st_size || memcmp(again, orig, (size_t)st.st_size))
			return die("private mapping write reached the file", NULL);
		free(again);
	}
	munmap(p, (size_t)st.st_size);
	close(fd);
	free(orig);
	printf("OK\n");
	return 0;
}

static int cmd_mmap_check(int argc, char **argv)
{
	struct stat st;
	unsigned char *p, *buf;
	int fd;

	if (argc < 1)
		return die("usage: mmap_check PATH", NULL);
	fd = open(argv[0], O_RDONLY);
	if (fd < 0)
		return fail_errno("open");
	if (fstat(fd, &st) < 0 || st.st_size <= 0)
		return die("mmap_check needs a non-empty file", NULL);
	buf = malloc((size_t)st.st_size);
	if (!buf)
		return die("out of memory", NULL);
	if (read_full(fd, buf, (size_t)st.st_size, 0) != st.st_size)
		return die("short read", NULL);
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return fail_errno("mmap");
	if (memcmp(p, buf, (size_t)st.st_size))
		return die("mmap contents differ from read(2)", NULL);
	munmap(p, (size_t)st.st_size);
	free(buf);
	close(fd);
	printf("OK\n");
	return 0;
}

static int cmd_unlinked(int argc, char **argv)
{
	long long size, off;
	unsigned char buf[65536];
	int fd, rc;
	struct stat st;

	if (argc < 2)
		return die("usage: unlinked PATH SIZE [SHELLCMD]", NULL);
	size = parse_ll(argv[1]);
	fd = open(argv[0], O_RDWR | O_CREAT | O_EXCL, 0644);
	if (fd < 0)
		return fail_errno("open");
	for (off = 0; off < size;) {
		size_t n = sizeof(buf), i;

		if ((long long)n > size - off)
			n = (size_t)(size - off);
		for (i = 0; i < n; i++)
			buf[i] = pat_byte((uint64_t)(off + (long long)i), 3);
		if (write_all(fd, buf, n) < 0)
			return fail_errno("write");
		off += (long long)n;
	}
	if (fsync(fd) < 0)
		return fail_errno("fsync");
	if (unlink(argv[0]) < 0)
		return fail_errno("unlink");
	if (access(argv[0], F_OK) == 0 || errno != ENOENT)
		return die("still visible after unlink:", argv[0]);
	if (fstat(fd, &st) < 0)
		return fail_errno("fstat");
	if (st.st_nlink != 0) {
		fprintf(stderr, "zr_syscalls: nlink %lu after unlink, want 0\n",
			(unsigned long)st.st_nlink);
		return 2;
	}
	if (st.st_size != size) {
		fprintf(stderr, "zr_syscalls: size %lld after unlink, want %lld\n",
			(long long)st.st_size, size);
		return 2;
	}
	if (argc > 2) {
		fflush(stdout);
		rc = system(argv[2]);
		if (rc != 0) {
			fprintf(stderr, "zr_syscalls: command while open failed (%d)\n", rc);
			return 2;
		}
	}
	rc = verify_pattern(fd, size, 3, "unlinked file");
	if (rc)
		return rc;
	/* still writable */
	if (pwrite(fd, "tail", 4, (off_t)size) != 4)
		return fail_errno("pwrite");
	if (fstat(fd, &st) < 0 || st.st_size != size + 4)
		return die("size did not grow after write to unlinked file", NULL);
	if (close(fd) < 0)
		return fail_errno("close");
	printf("OK\n");
	return 0;
}

static int cmd_plock(int argc, char **argv)
{
	struct flock fl;
	int fd, i;

	if (argc < 2)
		return die("usage: plock PATH try|getlk|hold READY RELEASE", NULL);
	fd = open(argv[0], O_RDWR);
	if (fd < 0)
		return fail_errno("open");
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	fl.l_start = 0;
	fl.l_len = 0;
	if (!strcmp(argv[1], "try"))
		return report(fcntl(fd, F_SETLK, &fl));
	if (!strcmp(argv[1], "getlk")) {
		if (fcntl(fd, F_GETLK, &fl) < 0)
			return fail_errno("F_GETLK");
		if (fl.l_type == F_UNLCK)
			printf("UNLOCKED\n");
		else
			printf("LOCKED %ld\n", (long)fl.l_pid);
		return 0;
	}
	if (!strcmp(argv[1], "hold")) {
		if (argc < 4)
			return die("usage: plock PATH hold READY RELEASE", NULL);
		if (fcntl(fd, F_SETLKW, &fl) < 0)
			return fail_errno("F_SETLKW");
		i = open(argv[2], O_WRONLY | O_CREAT, 0644);
		if (i < 0)
			return fail_errno("create READY");
		close(i);
		for (i = 0; i < 600 && access(argv[3], F_OK) != 0; i++)
			usleep(100000);
		close(fd);
		printf("OK\n");
		return 0;
	}
	return die("bad plock mode", argv[1]);
}

int main(int argc, char **argv)
{
	const char *cmd;

	if (argc < 2) {
		fprintf(stderr, "usage: zr_syscalls CMD ARGS... (see source)\n");
		return 2;
	}
	cmd = argv[1];
	argc -= 2;
	argv += 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(cmd, "rename2")) return cmd_rename2(argc, argv);
	if (!strcmp(cmd, "open")) return cmd_open(argc, argv);
	if (!strcmp(cmd, "mkdir") || !strcmp(cmd, "rmdir") || !strcmp(cmd, "unlink") ||
	    !strcmp(cmd, "link") || !strcmp(cmd, "symlink") || !strcmp(cmd, "trunc"))
		return cmd_simple(cmd, argc, argv);
	if (!strcmp(cmd, "mksock")) return cmd_mksock(argc, argv);
	if (!strcmp(cmd, "seekmap")) return cmd_seekmap(argc, argv);
	if (!strcmp(cmd, "seek")) return cmd_seek(argc, argv);
	if (!strcmp(cmd, "falloc")) return cmd_falloc(argc, argv);
	if (!strcmp(cmd, "cfr")) return cmd_cfr(argc, argv);
	if (!strcmp(cmd, "utimens")) return cmd_utimens(argc, argv);
	if (!strcmp(cmd, "times")) return cmd_times(argc, argv);
	if (!strcmp(cmd, "xset")) return cmd_xset(argc, argv);
	if (!strcmp(cmd, "xget")) return cmd_xget(argc, argv);
	if (!strcmp(cmd, "xlist")) return cmd_xlist(argc, argv);
	if (!strcmp(cmd, "xremove")) return cmd_xremove(argc, argv);
	if (!strcmp(cmd, "pattern")) return cmd_pattern(argc, argv);
	if (!strcmp(cmd, "mmap_shared")) return cmd_mmap_shared(argc, argv);
	if (!strcmp(cmd, "mmap_private")) return cmd_mmap_private(argc, argv);
	if (!strcmp(cmd, "mmap_check")) return cmd_mmap_check(argc, argv);
	if (!strcmp(cmd, "unlinked")) return cmd_unlinked(argc, argv);
	if (!strcmp(cmd, "plock")) return cmd_plock(argc, argv);
	fprintf(stderr, "zr_syscalls: unknown command %s\n", cmd);
	return 2;
}
