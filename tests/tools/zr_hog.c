/*
 * zr_hog - a memory hog with realistic, checkable contents, to push anonymous
 * memory out to swap (tests/integration/t_swap.sh, contrib/zramfs-swap).
 *
 *   zr_hog [-s SEED] [-p PASSES] [-d FILE] MIB
 *
 * Maps MIB MiB of anonymous memory and fills it page by page with data that
 * compresses like real memory does: not zeros (zram and zramfs would store
 * same-filled pages for nothing), not random (incompressible), but text
 * lines (log lines, C-like code, CSV rows) built from a fixed vocabulary,
 * structured binary records (little-endian, rising fields) and some
 * zero-filled page tails.  Measured (seed 1, 128 MiB): each 4 KiB page on
 * its own (zramfs chunk=4K, as swap stores it) lz4 2.2x, zstd:1 3.0x; the
 * whole dump with lz4 -1 2.6x, zstd -1 3.8x.
 *
 * Speed: the generator must not be what the test measures.  A pool of text
 * lines is formatted once at start (snprintf is used there only); a page is
 * then assembled by memcpy of pool lines picked with a xorshift PRNG, or
 * computed as records, at well over 1 GB/s.
 *
 * Each page's 64-bit hash (multiply-xorshift over 8-byte words, seeded with
 * the page number, so a page read back in the wrong place is caught) is kept
 * in a separate array.  Then PASSES verification passes (default 2): odd
 * passes in address order, even passes in a random page order (so swap-in
 * is not only sequential readahead).  -d FILE writes the filled memory to
 * FILE once (to measure its compression ratio with lz4/zstd).
 *
 * Output: exactly one line, "hog mib=N pages=P fill_s=X.XXX verify_s=Y.YYY
 * bad=B" (verify_s: all passes; B: pages that mismatched in any pass).
 * The first mismatches are also named on stderr.
 * Exit: 0 all pages verified; 1 a page mismatched; 2 usage, allocation or
 * dump error.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "zramfs/mix.h"

#define PAGE	     4096u  /* the unit of swap (and of chunk=4K) */
#define POOL_LINES   4096u  /* power of two; ~64 B each: 256 KiB, fits in L2 */
#define POOL_LINE_MAX 160u  /* longest formatted line */
#define WINDOW	     32u   /* a page picks its lines from this many neighbours
			     * in the pool: some exact repeats in a page, as in a
			     * real log or source file (tuned for the ratios
			     * above) */
#define REC_EVERY    4u	    /* one page in REC_EVERY holds binary records */
#define SLACK_EVERY  8u	    /* one page in SLACK_EVERY ends in zeros (unused
			     * tail of a buffer or heap block), up to half */
#define MAX_REPORT   10u    /* mismatching pages named on stderr */

struct line {
	uint16_t len;		    /* bytes used in text */
	char	 text[POOL_LINE_MAX]; /* the line, '\n' included, no NUL */
};

static struct line *pool;

/* ------------------------------------------------------------------------
 * PRNG and hash
 * ---------------------------------------------------------------------- */

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

static uint64_t page_hash(const uint8_t *p, uint64_t pageno)
{
	uint64_t h = 0x84222325cbf29ce4ull ^ (pageno * 0x9e3779b97f4a7c15ull);
	uint64_t w;

	for (unsigned i = 0; i < PAGE; i += 8) {
		memcpy(&w, p + i, 8);
		h = (h ^ w) * 0x100000001b3ull;
		h ^= h >> 29;
	}
	return h;
}

/* ------------------------------------------------------------------------
 * Line pool: formatted once
 * ---------------------------------------------------------------------- */

static const char *const words[] = {
	"buffer", "count", "index", "offset", "length", "size", "header", "payload",
	"request", "reply", "handle", "inode", "chunk", "arena", "page", "block",
	"queue", "worker", "thread", "lock", "state", "flags", "mode", "entry",
	"table", "node", "parent", "child", "next", "prev", "head", "tail",
	"start", "end", "begin", "limit", "total", "used", "free", "alloc",
	"read", "write", "open", "close", "flush", "sync", "commit", "abort",
	"retry", "timeout", "error", "status", "result", "value", "key", "name",
	"path", "file", "dir", "mount", "device", "driver", "module", "config",
	"option", "param", "context", "session", "client", "server", "socket", "port",
	"address", "host", "user", "group", "owner", "policy", "rule", "filter",
	"cache", "hit", "miss", "evict", "load", "store", "fetch", "update",
	"insert", "delete", "select", "query", "record", "field", "column", "row",
	"schema", "version", "build", "release", "debug", "trace", "info", "warn",
	"connection", "pool", "acquired", "released", "waiting", "finished", "started", "stopped",
	"received", "sent", "bytes", "packets", "frames", "samples", "events", "messages",
	"the", "a", "of", "to", "in", "for", "on", "with",
	"from", "by", "is", "was", "not", "no", "all", "any",
	"new", "old", "first", "last", "max", "min", "avg", "sum",
	"compress", "decompress", "encode", "decode", "parse", "format", "print", "scan",
	"lookup", "resolve", "register", "unregister", "init", "exit", "probe", "remove",
	"map", "unmap", "resize", "shrink", "grow", "split", "merge", "compact",
	"memory", "disk", "network", "cpu", "timer", "clock", "signal", "event",
	"task", "job", "batch", "stream", "channel", "pipe", "event_loop", "scheduler",
	"manager", "factory", "builder", "adapter", "wrapper", "helper", "util", "common",
	"struct", "const", "static", "unsigned", "return", "sizeof", "uint64_t", "size_t",
	"int", "char", "void", "bool", "true", "false", "NULL", "errno",
	"http", "json", "xml", "yaml", "sql", "tcp", "udp", "tls",
	"account", "order", "invoice", "customer", "product", "price", "amount", "currency",
	"Berlin", "Paris", "London", "Tokyo", "Madrid", "Oslo", "Vienna", "Lisbon",
};
#define NWORDS (sizeof(words) / sizeof(words[0]))

static const char *const levels[] = {"DEBUG", "INFO", "INFO", "INFO", "WARN", "ERROR"};
static const char *const ops[] = {">", "<", "==", "!=", ">=", "<="};

static const char *word(uint64_t *s)
{
	return words[xorshift(s) % NWORDS];
}

/* One line of one of the kinds; returns its length (without NUL). */
static int format_line(char *b, size_t n, uint64_t *s, unsigned i)
{
	unsigned r = (unsigned)xorshift(s);
	unsigned v = (unsigned)(xorshift(s) >> 40);
	unsigned sec = i / 8; /* timestamps rise through the pool */

	switch (r % 8) {
	case 0:
	case 1:
	case 2:
		return snprintf(b, n, "2026-12-02 %02u:%02u:%02u.%03u %-5s %s_%s[%u]: %s %s %s %s=%u in %u ms\n",
				10 + sec / 3600 % 14, sec / 60 % 60, sec % 60, v % 1000,
				levels[r / 8 % 6], word(s), word(s), v % 64, word(s), word(s), word(s),
				word(s), v % 100000, v % 250);
	case 3:
		return snprintf(b, n, "\tif (%s->%s_%s %s %s_%s)\n\t\treturn %s_%s(%s, %u);\n",
				word(s), word(s), word(s), ops[r / 8 % 6], word(s), word(s), word(s),
				word(s), word(s), v % 4096);
	case 4:
		return snprintf(b, n, "static int %s_%s(struct %s *%s, %s %s)\n{\n", word(s), word(s),
				word(s), word(s), word(s), word(s));
	case 5:
		return snprintf(b, n, "\t/* %s %s %s %s %s %s. */\n", word(s), word(s), word(s),
				word(s), word(s), word(s));
	case 6:
		return snprintf(b, n, "%u,%s,%s,%u.%02u,%s,%s\n", 100000 + i, word(s), word(s),
				v % 10000, v % 100, word(s), word(s));
	default:
		return snprintf(b, n, "\t%s.%s = %u; %s[%u] = %s_%s(%s);\n", word(s), word(s), v % 1000,
				word(s), v % 16, word(s), word(s), word(s));
	}
}

static int make_pool(uint64_t seed)
{
	uint64_t s = seed | 1;

	pool = calloc(POOL_LINES, sizeof(*pool));
	if (!pool)
		return -1;
	for (unsigned i = 0; i < POOL_LINES; i++) {
		int len = format_line(pool[i].text, sizeof(pool[i].text), &s, i);

		if (len < 0 || (unsigned)len >= sizeof(pool[i].text))
			len = (int)sizeof(pool[i].text) - 1;
		pool[i].text[len - 1] = '\n';
		pool[i].len = (uint16_t)len;
	}
	return 0;
}

/* ------------------------------------------------------------------------
 * Page generator
 * ---------------------------------------------------------------------- */

/* Binary records: 16 bytes, LE: u64 rising timestamp, u32 small id, u32 value. */
static void fill_records(uint8_t *p, unsigned n, uint64_t *s, uint64_t pageno)
{
	uint64_t ts = 1764670000000ull + pageno * 977;
	unsigned id0 = (unsigned)xorshift(s) % 1000;

	for (unsigned i = 0; i + 16 <= n; i += 16) {
		uint64_t r = xorshift(s);
		uint32_t id = id0 + (uint32_t)(r & 7), val = (uint32_t)(r >> 52);

		ts += 1 + (r >> 3 & 15);
		for (unsigned k = 0; k < 8; k++)
			p[i + k] = (uint8_t)(ts >> (8 * k));
		for (unsigned k = 0; k < 4; k++) {
			p[i + 8 + k] = (uint8_t)(id >> (8 * k));
			p[i + 12 + k] = (uint8_t)(val >> (8 * k));
		}
	}
	memset(p + (n & ~15u), 0, n & 15u);
}

static void fill_text(uint8_t *p, unsigned n, uint64_t *s)
{
	unsigned base = (unsigned)xorshift(s) % POOL_LINES;
	unsigned off = 0;

	while (off < n) {
		uint64_t r = xorshift(s);
		const struct line *l = &pool[(base + (unsigned)(r % WINDOW)) % POOL_LINES];
		unsigned len = l->len < n - off ? l->len : n - off;

		memcpy(p + off, l->text, len);
		off += len;
	}
}

static void fill_page(uint8_t *p, uint64_t seed, uint64_t pageno)
{
	uint64_t s = seed ^ (pageno * 0xd1b54a32d192ed03ull);

	s = zr_mix64(s) | 1;
	if (pageno % REC_EVERY == REC_EVERY - 1) {
		fill_text(p, PAGE / 4, &s);
		fill_records(p + PAGE / 4, PAGE - PAGE / 4, &s, pageno);
	} else if (pageno % SLACK_EVERY == 0) {
		unsigned used = PAGE / 2 + (unsigned)(xorshift(&s) % (PAGE / 2));

		fill_text(p, used, &s);
		memset(p + used, 0, PAGE - used);
	} else {
		fill_text(p, PAGE, &s);
	}
}

/* ------------------------------------------------------------------------
 * Main
 * ---------------------------------------------------------------------- */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(void)
{
	fprintf(stderr, "usage: zr_hog [-s SEED] [-p PASSES] [-d FILE] MIB\n");
	exit(2);
}

static int dump(const char *path, const uint8_t *mem, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	size_t done = 0;

	if (fd < 0)
		return -1;
	while (done < len) {
		ssize_t w = write(fd, mem + done, len - done);

		if (w <= 0) {
			close(fd);
			return -1;
		}
		done += (size_t)w;
	}
	return close(fd);
}

/* One pass; returns the pages found bad for the first time (badmap). */
static uint64_t verify(const uint8_t *mem, const uint64_t *sums, uint8_t *badmap, uint64_t *order,
		       uint64_t pages, int shuffle, uint64_t *s)
{
	static unsigned reported;
	uint64_t bad = 0;

	for (uint64_t i = 0; i < pages; i++)
		order[i] = i;
	for (uint64_t i = pages - 1; shuffle && i > 0; i--) {
		uint64_t j = xorshift(s) % (i + 1), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	for (uint64_t i = 0; i < pages; i++) {
		uint64_t pg = order[i];

		if (page_hash(mem + pg * PAGE, pg) == sums[pg] || badmap[pg])
			continue;
		badmap[pg] = 1;
		bad++;
		if (reported++ < MAX_REPORT)
			fprintf(stderr, "zr_hog: page %llu (offset %llu) does not match\n",
				(unsigned long long)pg, (unsigned long long)(pg * PAGE));
	}
	return bad;
}

int main(int argc, char **argv)
{
	uint64_t seed = 1, passes = 2, mib, pages, bad = 0, *sums, *order, s;
	const char *dumpfile = NULL;
	uint8_t *mem, *badmap;
	double t0, t1, t2;
	char *end;
	int c;

	while ((c = getopt(argc, argv, "s:p:d:")) != -1) {
		switch (c) {
		case 's':
			seed = strtoull(optarg, &end, 0);
			if (*end)
				usage();
			break;
		case 'p':
			passes = strtoull(optarg, &end, 0);
			if (*end)
				usage();
			break;
		case 'd':
			dumpfile = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc - 1)
		usage();
	errno = 0;
	mib = strtoull(argv[optind], &end, 0);
	if (*end || errno || mib == 0 || mib > (1ull << 30))
		usage();
	pages = mib * (1048576 / PAGE);

	sums = calloc(pages, sizeof(*sums));
	order = calloc(pages, sizeof(*order));
	badmap = calloc(pages, 1);
	mem = mmap(NULL, mib << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!sums || !order || !badmap || mem == MAP_FAILED || make_pool(seed) < 0) {
		fprintf(stderr, "zr_hog: cannot allocate %llu MiB: %s\n", (unsigned long long)mib,
			strerror(errno));
		return 2;
	}
	madvise(mem, mib << 20, MADV_NOHUGEPAGE); /* swap works on 4 KiB pages */

	t0 = now();
	for (uint64_t pg = 0; pg < pages; pg++) {
		fill_page(mem + pg * PAGE, seed, pg);
		sums[pg] = page_hash(mem + pg * PAGE, pg);
	}
	t1 = now();
	if (dumpfile && dump(dumpfile, mem, mib << 20) < 0) {
		fprintf(stderr, "zr_hog: %s: %s\n", dumpfile, strerror(errno));
		return 2;
	}
	t2 = now();
	s = (seed ^ 0x5bd1e995u) | 1;
	for (uint64_t p = 0; p < passes; p++)
		bad += verify(mem, sums, badmap, order, pages, p % 2 == 1, &s);
	printf("hog mib=%llu pages=%llu fill_s=%.3f verify_s=%.3f bad=%llu\n",
	       (unsigned long long)mib, (unsigned long long)pages, t1 - t0, now() - t2,
	       (unsigned long long)bad);
	return bad ? 1 : 0;
}
