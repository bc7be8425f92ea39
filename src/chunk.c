/* SPDX-License-Identifier: MIT */
/*
 * chunk.c - a file's data as a table of fixed-size chunks
 * (see include/zramfs/chunk.h).
 *
 * The chunk record (struct zr_chunk, 16 bytes, as zram's per-slot meta):
 *
 *	info	 32 bits: state (2) | codec id (2) | spare (7) | ulen (21)
 *	tick	 32 bits: reserved for the writeback tier's last-access tick
 *	u.obj	 handle (32) + clen (32)  for COMPRESSED and RAW
 *	u.word	 the repeated 64-bit word  for SAME
 *
 * ulen is the number of bytes the chunk stores, counted from the chunk's
 * start (1 .. chunk size); bytes between ulen and the chunk size read as
 * zeros.  A chunk at EOF stores only its valid bytes, so a 3 KiB file costs
 * a 3 KiB-ish object, not a 64 KiB one.  clen is the arena object's size
 * (the compressed length, or ulen for RAW).  An all-zero record is a HOLE.
 *
 * States and transitions (all under the file's write lock):
 *
 *	HOLE        nothing stored; reads as zeros; costs no record memory
 *	            unless a neighbour in its leaf is stored.
 *	SAME        every byte follows one repeated 64-bit word (zram's
 *	            ZRAM_SAME); no arena memory.
 *	COMPRESSED  an arena object of clen bytes, coded with the recorded
 *	            codec (the file's codec may change later).
 *	RAW         an arena object holding the ulen bytes as is, when the
 *	            codec could not save RAW_SAVING_DIV-th of the length, or
 *	            the file's codec is "none" (zram's "huge" pages).
 *
 *	write/RMW:    any -> SAME | COMPRESSED | RAW (re-encoded from scratch)
 *	punch:        any -> HOLE (whole or all-zero result), else re-encoded
 *	zero_range:   any -> SAME(0), or re-encoded when partly covered
 *	allocate:     HOLE -> SAME(0); a stored chunk whose ulen ends inside
 *	              the range is extended to it (SAME(0) just grows ulen,
 *	              others are re-encoded), so its bytes are reserved too
 *	truncate:     past EOF -> HOLE; the new last chunk is re-encoded with
 *	              a shorter ulen (SAME just shortens ulen)
 *
 * A new record is always built completely (arena object allocated and
 * written) before it replaces the old one, and the old object is freed
 * after: a failed chunk keeps its previous contents.
 *
 * The chunk table is a radix tree of variable height: leaves of up to
 * LEAF_RECS records, interior nodes of NODE_SLOTS pointers.  A leaf exists
 * only while it holds a non-hole record, a node only while it has a child,
 * so memory follows the data present and a sparse 16 TiB file costs
 * nothing.  Leaves grow by doubling up to LEAF_RECS, so a one-chunk file's
 * table is one 16-byte record plus the leaf header.
 *
 * Locking: each zr_fdata has a pthread rwlock.  Reads and seeks share it;
 * write, truncate, punch, zero_range, allocate and copy's destination take
 * it exclusively (copy takes src shared and dst exclusive, in address
 * order; once when src == dst).  The tree and records are plain memory
 * protected by that lock.  size and codec are atomics (read without the
 * lock).  Store counters are atomics updated with each change; the logical
 * size limit is enforced by reserving the ulen delta with a CAS before a
 * chunk is encoded, so orig_data_size never passes the limit even with
 * writers on different files.
 *
 * Scratch buffers (one decoded chunk, one compressed chunk, and a copy
 * buffer on first copy) are per thread, allocated once at the largest
 * chunk size and freed when the thread exits.
 */
#include "zramfs/chunk.h"
#include "zramfs/mem.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

/* ---------------------------------------------------------------------
 * Tuning parameters
 * ------------------------------------------------------------------- */

/* Store a chunk raw unless compression saves at least 1/8 of its length:
 * below that, the space won does not pay for a decompress on every read
 * (zram draws the same line through zsmalloc's huge class, ~3/4..7/8 of a
 * page).  Compression output is capped at that size, so an incompressible
 * chunk fails fast and the compressed scratch needs only ZR_CHUNK_MAX. */
#define RAW_SAVING_DIV 8

/* 256 records (4 KiB) per leaf: a full leaf is one page, and the table
 * costs 1/256 of a record's index range in pointers. */
#define LEAF_SHIFT 8
#define LEAF_RECS  (1u << LEAF_SHIFT)
#define LEAF_MASK  (LEAF_RECS - 1)

/* A new leaf starts with room for this many records and doubles: a small
 * file's table stays a few dozen bytes. */
#define LEAF_MIN_CAP 1

/* 64 pointers (512 B) per interior node: four levels above the leaves
 * cover 2^32 chunks, the most a 2^44-byte file of 4 KiB chunks has. */
#define NODE_SHIFT 6
#define NODE_SLOTS (1u << NODE_SHIFT)
#define NODE_MASK  (NODE_SLOTS - 1)

#define ZR_CHUNK_MAX (1u << ZR_CHUNK_SHIFT_MAX)

#define IDX_NONE UINT64_MAX

/* ---------------------------------------------------------------------
 * Records
 * ------------------------------------------------------------------- */

enum chunk_state {
	CS_HOLE = 0,
	CS_SAME = 1,
	CS_COMPRESSED = 2,
	CS_RAW = 3,
};

#define INFO_STATE_BITS	 2
#define INFO_CODEC_SHIFT 2
#define INFO_CODEC_MASK	 3u
#define INFO_ULEN_SHIFT	 11 /* 21 bits: 0 .. 2^21-1 >= 1 MiB */

struct zr_chunk {
	uint32_t info; /* state | codec | ulen */
	uint32_t tick; /* reserved: writeback access tick */
	union {
		struct {
			zr_handle_t handle; /* arena object */
			uint32_t clen;	    /* its size */
		} obj;
		uint64_t word; /* SAME: the repeated word */
	} u;
};

_Static_assert(sizeof(struct zr_chunk) == 16, "chunk record must stay 16 bytes");
_Static_assert(ZR_CODEC_COUNT - 1 <= INFO_CODEC_MASK, "codec id field too small");
_Static_assert((1u << (32 - INFO_ULEN_SHIFT)) > ZR_CHUNK_MAX, "ulen field too small");

static inline unsigned rec_state(const struct zr_chunk *r)
{
	return r->info & ((1u << INFO_STATE_BITS) - 1);
}

static inline unsigned rec_codec(const struct zr_chunk *r)
{
	return (r->info >> INFO_CODEC_SHIFT) & INFO_CODEC_MASK;
}

static inline uint32_t rec_ulen(const struct zr_chunk *r)
{
	return r->info >> INFO_ULEN_SHIFT;
}

static inline bool rec_has_obj(const struct zr_chunk *r)
{
	return rec_state(r) >= CS_COMPRESSED;
}

static inline uint32_t make_info(unsigned state, unsigned codec, uint32_t ulen)
{
	assert(ulen > 0 && ulen <= ZR_CHUNK_MAX);
	return state | codec << INFO_CODEC_SHIFT | ulen << INFO_ULEN_SHIFT;
}

static void rec_set_ulen(struct zr_chunk *r, uint32_t ulen)
{
	r->info = make_info(rec_state(r), rec_codec(r), ulen);
}

/* ---------------------------------------------------------------------
 * Store and file
 * ------------------------------------------------------------------- */

struct zr_store {
	struct zr_arena *arena;
	unsigned chunk_shift;	     /* for new files */
	struct zr_codec_spec codec;  /* for new files */
	_Atomic uint64_t size_limit; /* 0 = none */
	_Atomic uint64_t orig;	     /* orig_data_size */
	_Atomic uint64_t compr;	     /* compr_data_size */
	_Atomic uint64_t chunks;
	_Atomic uint64_t same;
	_Atomic uint64_t huge;
	_Atomic uint64_t compressed;
	_Atomic uint64_t table; /* table_bytes */
	_Atomic uint64_t failed_reads;
	_Atomic uint64_t failed_writes;
	_Atomic uint64_t enospc;
};

struct fdata_counts {
	uint64_t orig;	/* sum of ulen, holes excluded */
	uint64_t compr; /* sum of clen */
	uint64_t chunks;
	uint64_t same;
	uint64_t huge;
	uint64_t compressed;
};

struct zr_fdata {
	struct zr_store *s;
	pthread_rwlock_t lock;
	_Atomic uint64_t size;
	_Atomic uint32_t codec; /* id | level << 8 */
	unsigned chunk_shift;	/* copied from the store */
	unsigned height;	/* interior levels above leaves */
	void *root;		/* leaf (height 0) or node */
	struct fdata_counts c;	/* under the write lock */
};

struct leaf {
	uint32_t cap;  /* records allocated */
	uint32_t live; /* non-hole records (>= 1) */
	struct zr_chunk rec[];
};

struct node {
	uint32_t count; /* non-NULL slots (>= 1) */
	void *slot[NODE_SLOTS];
};

static inline void ctr_add(_Atomic uint64_t *c, int64_t d)
{
	if (d >= 0)
		atomic_fetch_add_explicit(c, (uint64_t)d, memory_order_relaxed);
	else
		atomic_fetch_sub_explicit(c, (uint64_t)-d, memory_order_relaxed);
}

static inline uint64_t ctr_get(_Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

static inline uint32_t chunk_size(const struct zr_fdata *f)
{
	return 1u << f->chunk_shift;
}

static inline uint64_t fsize(const struct zr_fdata *f)
{
	return atomic_load_explicit(&f->size, memory_order_acquire);
}

static inline void fsize_set(struct zr_fdata *f, uint64_t size)
{
	assert(size <= ZR_MAX_FILE_SIZE);
	atomic_store_explicit(&f->size, size, memory_order_release);
}

static inline uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static inline uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

/* ---------------------------------------------------------------------
 * Per-thread scratch
 * ------------------------------------------------------------------- */

struct scratch {
	uint8_t *plain; /* a decoded chunk */
	uint8_t *comp;	/* a compressed chunk */
	uint8_t *copy;	/* copy_file_range bounce buffer */
};

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_free(void *p)
{
	struct scratch *sc = p;

	zr_free(sc->plain);
	zr_free(sc->comp);
	zr_free(sc->copy);
	zr_free(sc);
}

static void scratch_key_init(void)
{
	pthread_key_create(&scratch_key, scratch_free);
}

static struct scratch *scratch_get(void)
{
	struct scratch *sc;

	pthread_once(&scratch_once, scratch_key_init);
	sc = pthread_getspecific(scratch_key);
	if (sc)
		return sc;
	sc = zr_calloc(1, sizeof(*sc));
	if (!sc)
		return NULL;
	sc->plain = zr_malloc(ZR_CHUNK_MAX);
	sc->comp = zr_malloc(ZR_CHUNK_MAX);
	if (!sc->plain || !sc->comp || pthread_setspecific(scratch_key, sc)) {
		scratch_free(sc);
		return NULL;
	}
	return sc;
}

static uint8_t *scratch_copybuf(struct scratch *sc)
{
	if (!sc->copy)
		sc->copy = zr_malloc(ZR_CHUNK_MAX);
	return sc->copy;
}

/* ---------------------------------------------------------------------
 * Chunk table (radix tree)
 * ------------------------------------------------------------------- */

/* Bits of the index consumed below an interior node at height h. */
static inline unsigned child_shift(unsigned h)
{
	return LEAF_SHIFT + NODE_SHIFT * (h - 1);
}

/* Number of chunk indices a tree of height h covers. */
static inline uint64_t tree_span(unsigned h)
{
	return 1ULL << (LEAF_SHIFT + NODE_SHIFT * h);
}

static size_t leaf_bytes(uint32_t cap)
{
	return sizeof(struct leaf) + (size_t)cap * sizeof(struct zr_chunk);
}

static struct leaf *leaf_find(const struct zr_fdata *f, uint64_t idx)
{
	void *p = f->root;

	if (!p || idx >= tree_span(f->height))
		return NULL;
	for (unsigned h = f->height; h > 0 && p; h--)
		p = ((struct node *)p)->slot[(idx >> child_shift(h)) & NODE_MASK];
	return p;
}

static struct zr_chunk rec_get(const struct zr_fdata *f, uint64_t idx)
{
	static const struct zr_chunk hole;
	const struct leaf *l = leaf_find(f, idx);
	uint32_t i = idx & LEAF_MASK;

	if (!l || i >= l->cap)
		return hole;
	return l->rec[i];
}

static uint32_t ulen_at(const struct zr_fdata *f, uint64_t idx)
{
	struct zr_chunk r = rec_get(f, idx);

	return rec_ulen(&r);
}

static struct node *node_new(struct zr_fdata *f)
{
	struct node *n = zr_calloc(1, sizeof(*n));

	if (n)
		ctr_add(&f->s->table, sizeof(*n));
	return n;
}

static void node_free(struct zr_fdata *f, struct node *n)
{
	ctr_add(&f->s->table, -(int64_t)sizeof(*n));
	zr_free(n);
}

static void leaf_free(struct zr_fdata *f, struct leaf *l)
{
	ctr_add(&f->s->table, -(int64_t)leaf_bytes(l->cap));
	zr_free(l);
}

/* leaf_grow(): old (or NULL) with room for at least need records. */
static struct leaf *leaf_grow(struct zr_fdata *f, struct leaf *old, uint32_t need)
{
	uint32_t cap = old ? old->cap : 0, ncap = cap ? cap : LEAF_MIN_CAP;
	struct leaf *l;

	while (ncap < need)
		ncap *= 2;
	assert(ncap <= LEAF_RECS);
	l = zr_realloc(old, leaf_bytes(ncap));
	if (!l)
		return NULL;
	memset(&l->rec[cap], 0, (size_t)(ncap - cap) * sizeof(struct zr_chunk));
	if (!old)
		l->live = 0;
	l->cap = ncap;
	ctr_add(&f->s->table, (int64_t)(leaf_bytes(ncap) - (old ? leaf_bytes(cap) : 0)));
	return l;
}

/* prune_sub(): free the empty leaf and nodes on idx's path; returns p, or
 * NULL if p itself was freed. */
static void *prune_sub(struct zr_fdata *f, void *p, unsigned h, uint64_t idx)
{
	struct node *n = p;
	unsigned s;

	if (!p)
		return NULL;
	if (h == 0) {
		if (((struct leaf *)p)->live)
			return p;
		leaf_free(f, p);
		return NULL;
	}
	s = (idx >> child_shift(h)) & NODE_MASK;
	if (n->slot[s] && !prune_sub(f, n->slot[s], h - 1, idx)) {
		n->slot[s] = NULL;
		n->count--;
	}
	if (n->count)
		return n;
	node_free(f, n);
	return NULL;
}

static void tree_prune(struct zr_fdata *f, uint64_t idx)
{
	f->root = prune_sub(f, f->root, f->height, idx);
	while (f->root && f->height > 0) {
		struct node *n = f->root;

		if (n->count != 1 || !n->slot[0])
			break;
		f->root = n->slot[0];
		f->height--;
		node_free(f, n);
	}
	if (!f->root)
		f->height = 0;
}

static int tree_grow(struct zr_fdata *f, uint64_t idx)
{
	if (!f->root) {
		f->height = 0;
		while (idx >= tree_span(f->height))
			f->height++;
		return 0;
	}
	while (idx >= tree_span(f->height)) {
		struct node *n = node_new(f);

		if (!n)
			return -ENOMEM;
		n->slot[0] = f->root;
		n->count = 1;
		f->root = n;
		f->height++;
	}
	return 0;
}

/* leaf_ensure(): the leaf holding idx, created or grown as needed. */
static struct leaf *leaf_ensure(struct zr_fdata *f, uint64_t idx)
{
	struct node *parent = NULL;
	void **pp = &f->root;
	struct leaf *l;
	uint32_t i = idx & LEAF_MASK;

	if (tree_grow(f, idx))
		return NULL;
	for (unsigned h = f->height; h > 0; h--) {
		if (!*pp) {
			*pp = node_new(f);
			if (!*pp)
				goto fail;
			if (parent)
				parent->count++;
		}
		parent = *pp;
		pp = &parent->slot[(idx >> child_shift(h)) & NODE_MASK];
	}
	l = *pp;
	if (l && i < l->cap)
		return l;
	*pp = leaf_grow(f, l, i + 1);
	if (!*pp) {
		*pp = l;
		goto fail;
	}
	if (!l && parent)
		parent->count++;
	return *pp;
fail:
	tree_prune(f, idx);
	return NULL;
}

/* rec_store(): put r at idx.  Only a non-hole record can fail (-ENOMEM). */
static int rec_store(struct zr_fdata *f, uint64_t idx, const struct zr_chunk *r)
{
	uint32_t i = idx & LEAF_MASK;
	struct leaf *l;

	if (rec_state(r) == CS_HOLE) {
		l = leaf_find(f, idx);
		if (!l || i >= l->cap || rec_state(&l->rec[i]) == CS_HOLE)
			return 0;
		memset(&l->rec[i], 0, sizeof(l->rec[i]));
		assert(l->live > 0);
		if (--l->live == 0)
			tree_prune(f, idx);
		return 0;
	}
	l = leaf_ensure(f, idx);
	if (!l)
		return -ENOMEM;
	if (rec_state(&l->rec[i]) == CS_HOLE)
		l->live++;
	l->rec[i] = *r;
	return 0;
}

static uint64_t scan_leaf(const struct leaf *l, uint64_t base, uint64_t start, bool hole)
{
	for (uint64_t i = start > base ? start - base : 0; i < LEAF_RECS; i++) {
		bool is_hole = i >= l->cap || rec_state(&l->rec[i]) == CS_HOLE;

		if (is_hole == hole)
			return base + i;
	}
	return IDX_NONE;
}

/* scan_sub(): first index >= start under p (covering from base) that is
 * a hole (hole) or holds data (!hole); IDX_NONE if none. */
static uint64_t scan_sub(const void *p, unsigned h, uint64_t base, uint64_t start, bool hole)
{
	const struct node *n = p;
	uint64_t span, r;

	if (!p)
		return hole ? max_u64(base, start) : IDX_NONE;
	if (h == 0)
		return scan_leaf(p, base, start, hole);
	span = 1ULL << child_shift(h);
	for (uint64_t s = start > base ? (start - base) / span : 0; s < NODE_SLOTS; s++) {
		r = scan_sub(n->slot[s], h - 1, base + s * span, start, hole);
		if (r != IDX_NONE)
			return r;
	}
	return IDX_NONE;
}

static uint64_t scan(const struct zr_fdata *f, uint64_t start, bool hole)
{
	uint64_t span = tree_span(f->height), r;

	if (start < span) {
		r = scan_sub(f->root, f->height, 0, start, hole);
		if (r != IDX_NONE)
			return r;
	}
	return hole ? max_u64(start, span) : IDX_NONE;
}

/* ---------------------------------------------------------------------
 * Accounting
 * ------------------------------------------------------------------- */

/* account(): add (sign 1) or remove (-1) r's figures, except orig_data_size
 * in the store, which orig_reserve() keeps. */
static void account(struct zr_fdata *f, const struct zr_chunk *r, int sign)
{
	struct zr_store *s = f->s;
	int64_t ulen = rec_ulen(r), clen = 0;
	_Atomic uint64_t *kind;

	switch (rec_state(r)) {
	case CS_HOLE:
		return;
	case CS_SAME:
		kind = &s->same;
		f->c.same += (uint64_t)sign;
		break;
	case CS_COMPRESSED:
		kind = &s->compressed;
		f->c.compressed += (uint64_t)sign;
		clen = r->u.obj.clen;
		break;
	default:
		kind = &s->huge;
		f->c.huge += (uint64_t)sign;
		clen = r->u.obj.clen;
		break;
	}
	ctr_add(kind, sign);
	ctr_add(&s->chunks, sign);
	ctr_add(&s->compr, sign * clen);
	f->c.chunks += (uint64_t)sign;
	f->c.orig += (uint64_t)(sign * ulen);
	f->c.compr += (uint64_t)(sign * clen);
}

/* orig_reserve(): move orig_data_size by delta; a growth that would pass
 * the limit is refused with -ENOSPC and changes nothing. */
static int orig_reserve(struct zr_store *s, int64_t delta)
{
	uint64_t cur, limit;

	if (delta <= 0) {
		ctr_add(&s->orig, delta);
		return 0;
	}
	limit = ctr_get(&s->size_limit);
	cur = ctr_get(&s->orig);
	do {
		if (limit && cur + (uint64_t)delta > limit)
			return -ENOSPC;
	} while (!atomic_compare_exchange_weak_explicit(
	    &s->orig, &cur, cur + (uint64_t)delta, memory_order_relaxed, memory_order_relaxed));
	return 0;
}

static void orig_release(struct zr_store *s, int64_t delta)
{
	ctr_add(&s->orig, -delta);
}

static void obj_free(struct zr_store *s, const struct zr_chunk *r)
{
	if (rec_has_obj(r))
		zr_arena_free(s->arena, r->u.obj.handle);
}

/* install(): replace old (the record at idx) with nr, whose ulen delta is
 * already reserved.  On failure nr's object is freed and old stays. */
static int install(struct zr_fdata *f, uint64_t idx, const struct zr_chunk *old,
		   const struct zr_chunk *nr)
{
	int ret = rec_store(f, idx, nr);

	if (ret) {
		obj_free(f->s, nr);
		return ret;
	}
	account(f, old, -1);
	account(f, nr, 1);
	obj_free(f->s, old);
	return 0;
}

/* drop_chunk(): make idx a hole, freeing what it held. */
static void drop_chunk(struct zr_fdata *f, uint64_t idx, const struct zr_chunk *old)
{
	static const struct zr_chunk hole;
	int ret = install(f, idx, old, &hole);

	assert(ret == 0);
	(void)ret;
	orig_release(f->s, rec_ulen(old));
}

/* ---------------------------------------------------------------------
 * Encoding and decoding
 * ------------------------------------------------------------------- */

#define WORD_REPEAT 0x0101010101010101ULL

/* same_filled(): whether p[0..len) is one 64-bit word repeated (the tail
 * following the word's first bytes); the word in *word.  Checks the first
 * and last words before the whole run: most data fails fast. */
static bool same_filled(const uint8_t *p, size_t len, uint64_t *word)
{
	size_t words = len / 8;
	uint64_t w, x;

	if (len < 8) {
		for (size_t i = 1; i < len; i++)
			if (p[i] != p[0])
				return false;
		*word = p[0] * WORD_REPEAT;
		return true;
	}
	memcpy(&w, p, 8);
	memcpy(&x, p + (words - 1) * 8, 8);
	if (x != w)
		return false;
	for (size_t i = 1; i + 1 < words; i++) {
		memcpy(&x, p + i * 8, 8);
		if (x != w)
			return false;
	}
	if (memcmp(p + words * 8, &w, len % 8))
		return false;
	*word = w;
	return true;
}

/* fill_word(): len bytes of the repeated word, starting at byte phase of
 * the pattern. */
static void fill_word(uint8_t *dst, size_t len, uint64_t word, size_t phase)
{
	const uint8_t *w = (const uint8_t *)&word;

	if (word == (word & 0xff) * WORD_REPEAT) {
		memset(dst, (int)(word & 0xff), len);
		return;
	}
	for (; len && (phase & 7); len--, phase++)
		*dst++ = w[phase & 7];
	for (; len >= 8; len -= 8, dst += 8)
		memcpy(dst, &word, 8);
	memcpy(dst, &word, len);
}

static struct zr_codec_spec codec_load(const struct zr_fdata *f)
{
	uint32_t v = atomic_load_explicit(&f->codec, memory_order_relaxed);
	struct zr_codec_spec spec = {.id = v & 0xff, .level = v >> 8};

	return spec;
}

/* compress(): > 0 the compressed length in sc->comp, 0 store raw, or
 * -ENOMEM.  A library error or bad spec stores raw rather than fail. */
static ssize_t compress(struct zr_codec_spec spec, const void *data, uint32_t ulen,
			struct scratch *sc)
{
	size_t cap = ulen - ulen / RAW_SAVING_DIV;
	struct zr_codec_ctx *ctx;
	ssize_t n;

	if (spec.id == ZR_CODEC_NONE || cap == 0)
		return 0;
	ctx = zr_codec_ctx_get();
	if (!ctx)
		return -ENOMEM;
	n = zr_codec_compress(ctx, spec, data, ulen, sc->comp, cap);
	if (n == -ENOMEM)
		return n;
	return n > 0 ? n : 0;
}

/* obj_new(): an arena object holding src[0..len).  The arena's -ENOSPC
 * (its cap) stays -ENOSPC; anything else (-ENOMEM, or -EINVAL for an object
 * larger than the arena's max_object) is -ENOMEM to the writer. */
static int obj_new(struct zr_store *s, const void *src, uint32_t len, zr_handle_t *h)
{
	int ret = zr_arena_alloc(s->arena, len, h);

	if (ret)
		return ret == -ENOSPC ? -ENOSPC : -ENOMEM;
	zr_arena_write(s->arena, *h, src, len);
	return 0;
}

/* encode(): build a record for data[0..ulen): SAME, COMPRESSED or RAW,
 * with its arena object allocated and written. */
static int encode(struct zr_fdata *f, const uint8_t *data, uint32_t ulen, struct scratch *sc,
		  struct zr_chunk *r)
{
	struct zr_codec_spec spec = codec_load(f); /* once: set_codec may race */
	const void *src = data;
	uint32_t len = ulen;
	unsigned state = CS_RAW, codec = ZR_CODEC_NONE;
	uint64_t word;
	ssize_t n;
	int ret;

	memset(r, 0, sizeof(*r));
	if (same_filled(data, ulen, &word)) {
		r->info = make_info(CS_SAME, ZR_CODEC_NONE, ulen);
		r->u.word = word;
		return 0;
	}
	n = compress(spec, data, ulen, sc);
	if (n < 0)
		return (int)n;
	if (n > 0) {
		src = sc->comp;
		len = (uint32_t)n;
		state = CS_COMPRESSED;
		codec = spec.id;
	}
	ret = obj_new(f->s, src, len, &r->u.obj.handle);
	if (ret)
		return ret;
	assert(r->u.obj.handle != ZR_HANDLE_NONE);
	r->info = make_info(state, codec, ulen);
	r->u.obj.clen = len;
	return 0;
}

/* decode(): r's ulen bytes into dst.  -EIO if the object is corrupt. */
static int decode(struct zr_fdata *f, const struct zr_chunk *r, uint8_t *dst)
{
	struct zr_arena *a = f->s->arena;
	uint32_t ulen = rec_ulen(r);
	const void *p;
	int ret = 0;

	switch (rec_state(r)) {
	case CS_HOLE:
		return 0;
	case CS_SAME:
		fill_word(dst, ulen, r->u.word, 0);
		return 0;
	}
	p = zr_arena_read_begin(a, r->u.obj.handle);
	if (!p)
		return -EIO;
	if (rec_state(r) == CS_RAW) {
		memcpy(dst, p, ulen);
	} else {
		struct zr_codec_ctx *ctx = zr_codec_ctx_get();

		ret = ctx ? zr_codec_decompress(ctx, rec_codec(r), p, r->u.obj.clen, dst, ulen)
			  : -ENOMEM;
	}
	zr_arena_read_end(a, r->u.obj.handle);
	return ret;
}

/* load_chunk(): the chunk's first len bytes (len >= its ulen) into buf,
 * zeros past ulen. */
static int load_chunk(struct zr_fdata *f, const struct zr_chunk *r, uint8_t *buf, uint32_t len)
{
	uint32_t ulen = rec_ulen(r);
	int ret = decode(f, r, buf);

	if (ret)
		return ret;
	if (len > ulen)
		memset(buf + ulen, 0, len - ulen);
	return 0;
}

/* store_chunk(): replace chunk idx (now old) by data[0..ulen). */
static int store_chunk(struct zr_fdata *f, uint64_t idx, const struct zr_chunk *old,
		       const uint8_t *data, uint32_t ulen, struct scratch *sc)
{
	int64_t delta = (int64_t)ulen - rec_ulen(old);
	struct zr_chunk nr;
	int ret;

	ret = orig_reserve(f->s, delta);
	if (ret)
		return ret;
	ret = encode(f, data, ulen, sc, &nr);
	if (!ret)
		ret = install(f, idx, old, &nr);
	if (ret)
		orig_release(f->s, delta);
	return ret;
}

/* ---------------------------------------------------------------------
 * Read and write (file lock held)
 * ------------------------------------------------------------------- */

/* read_chunk(): n bytes at in_off of chunk idx into dst. */
static int read_chunk(struct zr_fdata *f, uint64_t idx, uint8_t *dst, uint32_t in_off, uint32_t n)
{
	struct zr_chunk r = rec_get(f, idx);
	uint32_t ulen = rec_ulen(&r), have = 0;
	struct zr_arena *a = f->s->arena;
	struct scratch *sc;
	const uint8_t *p;
	int ret;

	if (in_off < ulen)
		have = n < ulen - in_off ? n : ulen - in_off;
	memset(dst + have, 0, n - have);
	if (!have)
		return 0;
	switch (rec_state(&r)) {
	case CS_SAME:
		fill_word(dst, have, r.u.word, in_off);
		return 0;
	case CS_RAW:
		p = zr_arena_read_begin(a, r.u.obj.handle);
		if (!p)
			return -EIO;
		memcpy(dst, p + in_off, have);
		zr_arena_read_end(a, r.u.obj.handle);
		return 0;
	}
	if (in_off == 0 && have == ulen)
		return decode(f, &r, dst);
	sc = scratch_get();
	if (!sc)
		return -ENOMEM;
	ret = decode(f, &r, sc->plain);
	if (!ret)
		memcpy(dst, sc->plain + in_off, have);
	return ret;
}

static ssize_t read_locked(struct zr_fdata *f, uint8_t *buf, size_t len, uint64_t off)
{
	uint64_t size = fsize(f), pos;
	uint32_t cs = chunk_size(f), in_off, n;
	size_t done;
	int ret;

	if (off >= size || len == 0)
		return 0;
	len = (size_t)min_u64(len, size - off);
	for (done = 0; done < len; done += n) {
		pos = off + done;
		in_off = (uint32_t)(pos & (cs - 1));
		n = (uint32_t)min_u64(cs - in_off, len - done);
		ret = read_chunk(f, pos >> f->chunk_shift, buf + done, in_off, n);
		if (ret) {
			if (ret == -EIO)
				ctr_add(&f->s->failed_reads, 1);
			return ret;
		}
	}
	return (ssize_t)len;
}

/* write_chunk(): n bytes of src at in_off of chunk idx. */
static int write_chunk(struct zr_fdata *f, uint64_t idx, const uint8_t *src, uint32_t in_off,
		       uint32_t n)
{
	struct zr_chunk old = rec_get(f, idx);
	uint32_t oul = rec_ulen(&old), nul = in_off + n > oul ? in_off + n : oul;
	struct scratch *sc = scratch_get();
	int ret;

	if (!sc)
		return -ENOMEM;
	if (in_off == 0 && n >= oul)
		return store_chunk(f, idx, &old, src, n, sc);
	ret = load_chunk(f, &old, sc->plain, nul);
	if (ret)
		return ret;
	memcpy(sc->plain + in_off, src, n);
	return store_chunk(f, idx, &old, sc->plain, nul, sc);
}

static ssize_t write_locked(struct zr_fdata *f, const uint8_t *buf, size_t len, uint64_t off)
{
	uint32_t cs = chunk_size(f), in_off, n;
	size_t done;
	uint64_t pos;
	int ret = 0;

	if (len == 0)
		return 0;
	if (off >= ZR_MAX_FILE_SIZE)
		return -EFBIG;
	len = (size_t)min_u64(len, ZR_MAX_FILE_SIZE - off);
	for (done = 0; done < len; done += n) {
		pos = off + done;
		in_off = (uint32_t)(pos & (cs - 1));
		n = (uint32_t)min_u64(cs - in_off, len - done);
		ret = write_chunk(f, pos >> f->chunk_shift, buf + done, in_off, n);
		if (ret)
			break;
	}
	if (done && off + done > fsize(f))
		fsize_set(f, off + done);
	if (ret) {
		ctr_add(&f->s->failed_writes, 1);
		if (ret == -ENOSPC)
			ctr_add(&f->s->enospc, 1);
	}
	return done ? (ssize_t)done : ret;
}

/* ---------------------------------------------------------------------
 * Store
 * ------------------------------------------------------------------- */

struct zr_store *zr_store_create(const struct zr_store_config *cfg)
{
	struct zr_store *s;

	if (!cfg || !cfg->arena || cfg->chunk_shift < ZR_CHUNK_SHIFT_MIN ||
	    cfg->chunk_shift > ZR_CHUNK_SHIFT_MAX || cfg->codec.id >= ZR_CODEC_COUNT)
		return NULL;
	if (cfg->codec.id == ZR_CODEC_ZSTD &&
	    (cfg->codec.level < ZR_ZSTD_LEVEL_MIN || cfg->codec.level > ZR_ZSTD_LEVEL_MAX))
		return NULL;
	s = zr_calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->arena = cfg->arena;
	s->chunk_shift = cfg->chunk_shift;
	s->codec = cfg->codec;
	atomic_init(&s->size_limit, cfg->size_limit);
	return s;
}

void zr_store_destroy(struct zr_store *s)
{
	zr_free(s);
}

void zr_store_get_stats(struct zr_store *s, struct zr_store_stats *st)
{
	st->orig_data_size = ctr_get(&s->orig);
	st->compr_data_size = ctr_get(&s->compr);
	st->chunks = ctr_get(&s->chunks);
	st->same_chunks = ctr_get(&s->same);
	st->huge_chunks = ctr_get(&s->huge);
	st->compressed_chunks = ctr_get(&s->compressed);
	st->table_bytes = ctr_get(&s->table);
	st->failed_reads = ctr_get(&s->failed_reads);
	st->failed_writes = ctr_get(&s->failed_writes);
	st->enospc_events = ctr_get(&s->enospc);
}

void zr_store_set_size_limit(struct zr_store *s, uint64_t limit)
{
	atomic_store_explicit(&s->size_limit, limit, memory_order_relaxed);
}

uint64_t zr_store_size_limit(struct zr_store *s)
{
	return ctr_get(&s->size_limit);
}

/* ---------------------------------------------------------------------
 * File
 * ------------------------------------------------------------------- */

static uint32_t codec_pack(struct zr_codec_spec spec)
{
	return spec.id | (uint32_t)spec.level << 8;
}

/* Writer-preferring: a stream of readers (FUSE threads reading a hot file)
 * must not starve a writer.  No path takes a file's read lock twice, which
 * that kind requires. */
static int fdata_lock_init(pthread_rwlock_t *lock)
{
	pthread_rwlockattr_t attr;
	int ret;

	if (pthread_rwlockattr_init(&attr))
		return -ENOMEM;
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	ret = pthread_rwlock_init(lock, &attr);
	pthread_rwlockattr_destroy(&attr);
	return ret ? -ret : 0;
}

struct zr_fdata *zr_fdata_create(struct zr_store *s)
{
	struct zr_fdata *f = zr_calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	if (fdata_lock_init(&f->lock)) {
		zr_free(f);
		return NULL;
	}
	f->s = s;
	f->chunk_shift = s->chunk_shift;
	atomic_init(&f->size, 0);
	atomic_init(&f->codec, codec_pack(s->codec));
	return f;
}

static void free_from(struct zr_fdata *f, uint64_t first)
{
	struct zr_chunk r;
	uint64_t i;

	for (i = scan(f, first, false); i != IDX_NONE; i = scan(f, i + 1, false)) {
		r = rec_get(f, i);
		drop_chunk(f, i, &r);
	}
}

void zr_fdata_destroy(struct zr_fdata *f)
{
	if (!f)
		return;
	free_from(f, 0);
	assert(!f->root && f->c.chunks == 0 && f->c.orig == 0);
	pthread_rwlock_destroy(&f->lock);
	zr_free(f);
}

uint64_t zr_fdata_size(struct zr_fdata *f)
{
	return fsize(f);
}

uint64_t zr_fdata_stored_bytes(struct zr_fdata *f)
{
	uint64_t v;

	pthread_rwlock_rdlock(&f->lock);
	v = f->c.orig;
	pthread_rwlock_unlock(&f->lock);
	return v;
}

ssize_t zr_fdata_read(struct zr_fdata *f, void *buf, size_t len, uint64_t off)
{
	ssize_t ret;

	pthread_rwlock_rdlock(&f->lock);
	ret = read_locked(f, buf, len, off);
	pthread_rwlock_unlock(&f->lock);
	return ret;
}

ssize_t zr_fdata_write(struct zr_fdata *f, const void *buf, size_t len, uint64_t off)
{
	ssize_t ret;

	pthread_rwlock_wrlock(&f->lock);
	ret = write_locked(f, buf, len, off);
	pthread_rwlock_unlock(&f->lock);
	return ret;
}

/* trim_tail(): the chunk that will hold EOF at size keeps no byte past it. */
static int trim_tail(struct zr_fdata *f, uint64_t size)
{
	uint32_t tail = (uint32_t)(size & (chunk_size(f) - 1));
	uint64_t idx = size >> f->chunk_shift;
	struct zr_chunk r = rec_get(f, idx), nr;
	struct scratch *sc;
	int ret;

	if (!tail || rec_ulen(&r) <= tail)
		return 0;
	if (rec_state(&r) == CS_SAME) {
		nr = r;
		rec_set_ulen(&nr, tail);
		orig_release(f->s, rec_ulen(&r) - tail);
		ret = install(f, idx, &r, &nr);
		assert(ret == 0);
		return ret;
	}
	sc = scratch_get();
	if (!sc)
		return -ENOMEM;
	ret = decode(f, &r, sc->plain);
	if (ret)
		return ret;
	return store_chunk(f, idx, &r, sc->plain, tail, sc);
}

static int truncate_locked(struct zr_fdata *f, uint64_t size)
{
	uint32_t cs = chunk_size(f);
	int ret;

	if (size > ZR_MAX_FILE_SIZE)
		return -EFBIG;
	if (size < fsize(f)) {
		ret = trim_tail(f, size);
		if (ret)
			return ret;
		free_from(f, (size + cs - 1) >> f->chunk_shift);
	}
	fsize_set(f, size);
	return 0;
}

int zr_fdata_truncate(struct zr_fdata *f, uint64_t size)
{
	int ret;

	pthread_rwlock_wrlock(&f->lock);
	ret = truncate_locked(f, size);
	pthread_rwlock_unlock(&f->lock);
	return ret;
}

/* punch_part(): zero [a, b) of chunk idx, which holds data there. */
static int punch_part(struct zr_fdata *f, uint64_t idx, const struct zr_chunk *old, uint32_t a,
		      uint32_t b)
{
	uint32_t ulen = rec_ulen(old), nul = b >= ulen ? a : ulen;
	struct scratch *sc = scratch_get();
	uint64_t word;
	int ret;

	if (!sc)
		return -ENOMEM;
	ret = decode(f, old, sc->plain);
	if (ret)
		return ret;
	memset(sc->plain + a, 0, (b < ulen ? b : ulen) - a);
	if (same_filled(sc->plain, nul, &word) && word == 0) {
		drop_chunk(f, idx, old);
		return 0;
	}
	return store_chunk(f, idx, old, sc->plain, nul, sc);
}

static int punch_locked(struct zr_fdata *f, uint64_t off, uint64_t len)
{
	uint64_t size = fsize(f), end, cstart, i;
	uint32_t cs = chunk_size(f), a, b, ulen;
	struct zr_chunk r;
	int ret;

	if (off >= size || len == 0)
		return 0;
	end = len > size - off ? size : off + len;
	for (i = scan(f, off >> f->chunk_shift, false); i != IDX_NONE; i = scan(f, i + 1, false)) {
		cstart = i << f->chunk_shift;
		if (cstart >= end)
			break;
		a = (uint32_t)(max_u64(off, cstart) - cstart);
		b = (uint32_t)(min_u64(end, cstart + cs) - cstart);
		r = rec_get(f, i);
		ulen = rec_ulen(&r);
		if (a >= ulen)
			continue;
		if (a == 0 && b >= ulen) {
			drop_chunk(f, i, &r);
			continue;
		}
		ret = punch_part(f, i, &r, a, b);
		if (ret)
			return ret;
	}
	return 0;
}

int zr_fdata_punch_hole(struct zr_fdata *f, uint64_t off, uint64_t len)
{
	int ret;

	pthread_rwlock_wrlock(&f->lock);
	ret = punch_locked(f, off, len);
	pthread_rwlock_unlock(&f->lock);
	return ret;
}

/* A fallocate-style range walk: chunk i covers [a, b) of the range. */
struct range_walk {
	uint64_t off, end;
	uint64_t i, last;
	uint32_t a, b;
};

static void walk_init(struct range_walk *w, const struct zr_fdata *f, uint64_t off, uint64_t end)
{
	w->off = off;
	w->end = end;
	w->i = off >> f->chunk_shift;
	w->last = (end - 1) >> f->chunk_shift;
}

static bool walk_next(struct range_walk *w, const struct zr_fdata *f)
{
	uint64_t cstart = w->i << f->chunk_shift;

	if (w->i > w->last)
		return false;
	w->a = (uint32_t)(max_u64(w->off, cstart) - cstart);
	w->b = (uint32_t)(min_u64(w->end, cstart + chunk_size(f)) - cstart);
	return true;
}

static void make_zero(struct zr_chunk *r, uint32_t ulen)
{
	memset(r, 0, sizeof(*r));
	r->info = make_info(CS_SAME, ZR_CODEC_NONE, ulen);
}

/* range_check(): validate [off, off+len) for zero_range/allocate and give
 * the new size and the end of the range inside it. */
static int range_check(struct zr_fdata *f, uint64_t off, uint64_t len, int keep_size,
		       uint64_t *nsize, uint64_t *end)
{
	uint64_t size = fsize(f);

	if (len > ZR_MAX_FILE_SIZE || off > ZR_MAX_FILE_SIZE - len)
		return -EFBIG;
	*nsize = keep_size ? size : max_u64(size, off + len);
	*end = min_u64(off + len, *nsize);
	return 0;
}

static int reserve_range(struct zr_fdata *f, int64_t delta)
{
	int ret = orig_reserve(f->s, delta);

	if (ret) {
		ctr_add(&f->s->failed_writes, 1);
		ctr_add(&f->s->enospc, 1);
	}
	return ret;
}

/* zero_chunk(): chunk i reads as zeros over [a, b), stores max(ulen, b). */
static int zero_chunk(struct zr_fdata *f, uint64_t i, uint32_t a, uint32_t b)
{
	struct zr_chunk r = rec_get(f, i), nr;
	uint32_t ulen = rec_ulen(&r), nul = b > ulen ? b : ulen;
	struct scratch *sc;
	int ret;

	if (rec_state(&r) == CS_HOLE || (rec_state(&r) == CS_SAME && r.u.word == 0) ||
	    (a == 0 && b >= ulen)) {
		make_zero(&nr, nul);
		return install(f, i, &r, &nr);
	}
	sc = scratch_get();
	if (!sc)
		return -ENOMEM;
	ret = load_chunk(f, &r, sc->plain, nul);
	if (ret)
		return ret;
	memset(sc->plain + a, 0, b - a);
	ret = encode(f, sc->plain, nul, sc, &nr);
	return ret ? ret : install(f, i, &r, &nr);
}

/* zero_locked(): zero_range (beyond_only false) or allocate (true: only
 * bytes past each chunk's stored length, which read as zeros already, are
 * made allocated).  The whole ulen growth is reserved first: -ENOSPC
 * changes nothing. */
static int zero_locked(struct zr_fdata *f, uint64_t off, uint64_t len, int keep_size,
		       bool beyond_only)
{
	struct range_walk w;
	uint64_t nsize, end;
	int64_t delta = 0, done = 0, d;
	uint32_t ulen, a;
	int ret = range_check(f, off, len, keep_size, &nsize, &end);

	if (ret || off >= end)
		goto out;
	for (walk_init(&w, f, off, end); walk_next(&w, f); w.i++) {
		ulen = ulen_at(f, w.i);
		delta += w.b > ulen ? w.b - ulen : 0;
	}
	ret = reserve_range(f, delta);
	if (ret)
		return ret;
	for (walk_init(&w, f, off, end); walk_next(&w, f); w.i++) {
		ulen = ulen_at(f, w.i);
		a = beyond_only && ulen > w.a ? ulen : w.a;
		if (a >= w.b)
			continue;
		d = w.b > ulen ? w.b - ulen : 0;
		ret = zero_chunk(f, w.i, a, w.b);
		if (ret) {
			orig_release(f->s, delta - done);
			ctr_add(&f->s->failed_writes, 1);
			return ret;
		}
		done += d;
	}
	assert(done == delta);
out:
	if (!ret && nsize > fsize(f))
		fsize_set(f, nsize);
	return ret;
}

int zr_fdata_zero_range(struct zr_fdata *f, uint64_t off, uint64_t len, int keep_size)
{
	int ret;

	pthread_rwlock_wrlock(&f->lock);
	ret = zero_locked(f, off, len, keep_size, false);
	pthread_rwlock_unlock(&f->lock);
	return ret;
}

int zr_fdata_allocate(struct zr_fdata *f, uint64_t off, uint64_t len, int keep_size)
{
	int ret;

	pthread_rwlock_wrlock(&f->lock);
	ret = zero_locked(f, off, len, keep_size, true);
	pthread_rwlock_unlock(&f->lock);
	return ret;
}

static int64_t seek_locked(struct zr_fdata *f, uint64_t off, int hole)
{
	uint64_t size = fsize(f), i;

	if (off >= size)
		return -ENXIO;
	i = scan(f, off >> f->chunk_shift, hole != 0);
	if (hole)
		return (int64_t)min_u64(max_u64(off, i << f->chunk_shift), size);
	if (i == IDX_NONE || (i << f->chunk_shift) >= size)
		return -ENXIO;
	return (int64_t)max_u64(off, i << f->chunk_shift);
}

int64_t zr_fdata_seek(struct zr_fdata *f, uint64_t off, int hole)
{
	int64_t ret;

	pthread_rwlock_rdlock(&f->lock);
	ret = seek_locked(f, off, hole);
	pthread_rwlock_unlock(&f->lock);
	return ret;
}

/* ---------------------------------------------------------------------
 * Copy
 * ------------------------------------------------------------------- */

static void lock_pair(struct zr_fdata *dst, struct zr_fdata *src)
{
	if (dst == src) {
		pthread_rwlock_wrlock(&dst->lock);
	} else if ((uintptr_t)src < (uintptr_t)dst) {
		pthread_rwlock_rdlock(&src->lock);
		pthread_rwlock_wrlock(&dst->lock);
	} else {
		pthread_rwlock_wrlock(&dst->lock);
		pthread_rwlock_rdlock(&src->lock);
	}
}

static void unlock_pair(struct zr_fdata *dst, struct zr_fdata *src)
{
	pthread_rwlock_unlock(&dst->lock);
	if (src != dst)
		pthread_rwlock_unlock(&src->lock);
}

/* can_dup(): piece bytes at soff/doff replace a whole stored chunk of dst
 * with a whole stored chunk of src: the record can be cloned. */
static bool can_dup(struct zr_fdata *dst, uint64_t doff, struct zr_fdata *src, uint64_t soff,
		    uint64_t piece)
{
	uint32_t mask = chunk_size(dst) - 1;

	if (dst->chunk_shift != src->chunk_shift || (doff & mask) || (soff & mask))
		return false;
	return ulen_at(src, soff >> src->chunk_shift) <= piece &&
	       ulen_at(dst, doff >> dst->chunk_shift) <= piece;
}

/* dup_chunk(): clone src's record (and object bytes) into dst. */
static int dup_chunk(struct zr_fdata *dst, uint64_t didx, struct zr_fdata *src, uint64_t sidx)
{
	struct zr_chunk sr = rec_get(src, sidx), old = rec_get(dst, didx), nr = sr;
	struct zr_arena *sa = src->s->arena;
	int64_t delta = (int64_t)rec_ulen(&sr) - rec_ulen(&old);
	struct scratch *sc;
	const void *p;
	int ret;

	if (rec_state(&sr) == CS_HOLE) {
		if (rec_state(&old) != CS_HOLE)
			drop_chunk(dst, didx, &old);
		return 0;
	}
	ret = orig_reserve(dst->s, delta);
	if (ret)
		return ret;
	if (rec_has_obj(&sr)) {
		sc = scratch_get();
		p = sc ? zr_arena_read_begin(sa, sr.u.obj.handle) : NULL;
		ret = !sc ? -ENOMEM : !p ? -EIO : 0;
		if (p) {
			memcpy(sc->comp, p, sr.u.obj.clen);
			zr_arena_read_end(sa, sr.u.obj.handle);
			ret = obj_new(dst->s, sc->comp, sr.u.obj.clen, &nr.u.obj.handle);
		}
	}
	if (!ret)
		ret = install(dst, didx, &old, &nr);
	if (ret)
		orig_release(dst->s, delta);
	return ret;
}

/* dup_piece(): a whole chunk by cloning its record; counts failures as
 * write_locked() does. */
static ssize_t dup_piece(struct zr_fdata *dst, uint64_t doff, struct zr_fdata *src, uint64_t soff,
			 size_t piece)
{
	int ret = dup_chunk(dst, doff >> dst->chunk_shift, src, soff >> src->chunk_shift);

	if (ret) {
		ctr_add(&dst->s->failed_writes, 1);
		if (ret == -ENOSPC)
			ctr_add(&dst->s->enospc, 1);
		return ret;
	}
	if (doff + piece > fsize(dst))
		fsize_set(dst, doff + piece);
	return (ssize_t)piece;
}

/* copy_piece(): up to one chunk through the bounce buffer. */
static ssize_t copy_piece(struct zr_fdata *dst, uint64_t doff, struct zr_fdata *src, uint64_t soff,
			  size_t piece)
{
	struct scratch *sc = scratch_get();
	uint8_t *buf = sc ? scratch_copybuf(sc) : NULL;
	ssize_t n;

	if (!buf)
		return -ENOMEM;
	n = read_locked(src, buf, piece, soff);
	if (n <= 0)
		return n ? n : -EIO;
	return write_locked(dst, buf, (size_t)n, doff);
}

static ssize_t copy_locked(struct zr_fdata *dst, uint64_t doff, struct zr_fdata *src, uint64_t soff,
			   size_t len)
{
	uint64_t ssize = fsize(src);
	uint32_t dcs = chunk_size(dst);
	size_t done = 0, piece;
	ssize_t n = 0;

	if (soff >= ssize || len == 0)
		return 0;
	len = (size_t)min_u64(len, ssize - soff);
	if (dst == src && soff < doff + len && doff < soff + len)
		return -EINVAL;
	if (doff >= ZR_MAX_FILE_SIZE || len > ZR_MAX_FILE_SIZE - doff)
		return -EFBIG;
	for (; done < len; done += (size_t)n) {
		piece = (size_t)min_u64(len - done, dcs - ((doff + done) & (dcs - 1)));
		if (can_dup(dst, doff + done, src, soff + done, piece))
			n = dup_piece(dst, doff + done, src, soff + done, piece);
		else
			n = copy_piece(dst, doff + done, src, soff + done, piece);
		if (n <= 0)
			break;
	}
	return done ? (ssize_t)done : n;
}

ssize_t zr_fdata_copy(struct zr_fdata *dst, uint64_t dst_off, struct zr_fdata *src,
		      uint64_t src_off, size_t len)
{
	ssize_t ret;

	lock_pair(dst, src);
	ret = copy_locked(dst, dst_off, src, src_off, len);
	unlock_pair(dst, src);
	return ret;
}

/* ---------------------------------------------------------------------
 * Policy and stats
 * ------------------------------------------------------------------- */

void zr_fdata_set_codec(struct zr_fdata *f, struct zr_codec_spec spec)
{
	atomic_store_explicit(&f->codec, codec_pack(spec), memory_order_relaxed);
}

struct zr_codec_spec zr_fdata_get_codec(struct zr_fdata *f)
{
	return codec_load(f);
}

void zr_fdata_get_stats(struct zr_fdata *f, struct zr_fdata_stats *st)
{
	pthread_rwlock_rdlock(&f->lock);
	st->size = fsize(f);
	st->orig_bytes = f->c.orig;
	st->compr_bytes = f->c.compr;
	st->chunks = f->c.chunks;
	st->same_chunks = f->c.same;
	st->huge_chunks = f->c.huge;
	st->compressed_chunks = f->c.compressed;
	st->chunk_size = chunk_size(f);
	st->codec = codec_load(f);
	pthread_rwlock_unlock(&f->lock);
}
