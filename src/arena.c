/* SPDX-License-Identifier: MIT */
/*
 * arena.c - the size-class arena for compressed objects (see arena.h).
 *
 * Layout
 *   Size classes: 16-byte steps up to 4 KiB, then 64 classes per power of
 *   two (step = 1/64 of the octave, rounding waste < 1.6 %, ~0.5 % on
 *   average) up to the class that holds max_object.  1 MiB is a class
 *   boundary, so raw 1 MiB chunks waste nothing.
 *   Spans: a span is N contiguous pages holding slots of one class; N is
 *   chosen per class (>= 64 KiB, searched up to 4x that) to minimise the
 *   span's tail waste.  Objects straddle pages freely: user space gives
 *   contiguous virtual memory, so read_begin returns a direct pointer.
 *   Spans are carved (first fit, page bitmap) from 64 MiB regions mapped
 *   MAP_NORESERVE; a region that empties is unmapped.
 *   Residency: every span keeps, per page, the number of live objects that
 *   overlap it (pref) and whether the page is resident (resmap).  A page is
 *   counted resident from the first allocation that overlaps it until it
 *   is purged with MADV_DONTNEED, so mapped_bytes is the resident size of
 *   our mappings (what RSS shows), not their virtual size.  A page with no
 *   live object left is "dirty": still resident, ready for reuse.  Dirty
 *   pages are purged (MADV_DONTNEED) on a free once the arena-wide dirty
 *   total exceeds max(4 MiB, mapped/32) -- that class, then others taken by
 *   trylock, down to half the limit -- and by compaction.  A span that
 *   empties stays on its class's empty list with its pages, which are
 *   dirty pages like the others (one span without resident pages is kept
 *   too); a purge destroys the others whole.  So freeing gives memory
 *   back at once, minus that small bounded reuse cache, which
 *   zr_arena_trim_idle() (each housekeeping tick) gives back once the
 *   dirty total has stood still for a tick.
 *   Allocation takes a span with dirty pages first (reuse what is
 *   resident, fill holes), else the fullest partial span, else an empty
 *   span, else a new span; within the span, among the first
 *   SLOT_PROBE free slots the first needing no new page, else the lowest.
 *   Compaction packs each class: partial spans ordered fullest first form
 *   one row of slots; objects from its end move into free slots at its
 *   start.  Emptied spans are released, closed holes free their pages.
 *   zr_arena_should_compact() fires when mapped - object bytes exceeds
 *   max(1 MiB, mapped/16) and >= 1 MiB was freed since the last pass.
 *   Handles index a two-level table (top array mapped once, never moves;
 *   leaves of 1024 entries added with a CAS).  Freed handles go to striped
 *   free lists and are reused.
 *
 * Locking
 *   class->lock  all span state of its class: lists, freemap, owner, pref,
 *                resmap, and the span/slot fields of its handle entries.
 *                alloc, free and compaction of a class take only this lock.
 *   heap_lock    the region bitmaps; taken under a class lock only to carve
 *                or return a whole span (amortised over the span's slots).
 *   stripe locks the free handle lists; taken only inside ht_lock.
 *   ht_lock      rwlock: handle_get and handle_put hold it for reading (so
 *                they run concurrently, and a handle between them is live);
 *                zr_arena_release_handles() holds it for writing to free
 *                the leaves once every handle is free.  Never held with a
 *                class lock.
 *   compact_lock one compaction pass at a time; taken before class locks.
 *   Order: compact_lock -> class->lock -> heap_lock.  A second class lock
 *   is only ever taken with trylock (dirty_trim).
 *   Counters that must be global (mapped, meta, dirty, ...) are atomics;
 *   per-class counters live under the class lock and are summed by
 *   zr_arena_get_stats().
 *
 * Pin protocol (reads and writes against compaction)
 *   Each handle entry has an atomic state word: pin count in the low bits,
 *   HE_MOVING in the top bit.  read_begin/write spin (yielding) while
 *   HE_MOVING is set, else CAS state -> state+1 (acquire); then they read the
 *   entry's span/slot and use the object; read_end drops the pin (release).
 *   Compaction, under the class lock, moves an object only after a CAS
 *   0 -> HE_MOVING succeeded (no pins); it copies, rewrites span/slot, and
 *   stores 0 (release).  A pinned object is skipped.  Several readers may
 *   hold pins on one object; the caller guarantees no free during a read.
 *
 * Invariants
 *   - a slot is free iff its freemap bit is 1 iff owner[slot] == 0;
 *   - pref[p] == number of live objects whose bytes [off, off+size) touch p;
 *   - a page with pref > 0 is resident; a resident page with pref == 0 is
 *     dirty and its span is on the class dirty list;
 *   - pages free in a region bitmap are never resident;
 *   - a span with used == 0 is on the class's empty list or destroyed; at
 *     most one span there has no resident page; spans with used > 0 sit
 *     on exactly one bucket or the full list.
 */
#include "zramfs/arena.h"
#include "zramfs/fault.h"

#include <assert.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* ------------------------------------------------------------------------
 * Tuning
 * ------------------------------------------------------------------------ */

/* The page granularity of residency tracking; checked against the OS. */
#define PAGE_SHIFT	12
#define PAGE_SZ		(1u << PAGE_SHIFT)

/* Small objects: 16-byte steps (glibc's alignment; <= 15 B rounding). */
#define SMALL_SHIFT	12
#define SMALL_MAX	(1u << SMALL_SHIFT)
#define SMALL_STEP	16u
#define NSMALL		(SMALL_MAX / SMALL_STEP)

/* Large objects: 2^6 = 64 classes per octave, < 1.6 % rounding waste. */
#define OCT_SHIFT	6
#define OCT_STEPS	(1u << OCT_SHIFT)

/* Largest supported object: 1 MiB chunks plus generous slack. */
#define MAX_OBJECT	(2u << 20)

/* Spans of at least 64 KiB amortise their header; the search for the least
 * tail waste looks at up to 4x the minimum page count. */
#define SPAN_MIN_PAGES	16u
#define SPAN_SEARCH	4u

/* Partial spans are bucketed by eighths of fullness so allocation finds
 * the fullest in O(1).  One more list holds full spans, and one the empty
 * spans kept for reuse. */
#define NBUCKETS	8u
#define LIST_FULL	NBUCKETS
#define LIST_EMPTY	(NBUCKETS + 1)
#define NLISTS		(NBUCKETS + 2)
#define LIST_NONE	0xffffu

/* 64 MiB regions: few VMAs (max_map_count), cheap to unmap when empty. */
#define REGION_SHIFT	26
#define REGION_SZ	((size_t)1 << REGION_SHIFT)
#define REGION_PAGES	(1u << (REGION_SHIFT - PAGE_SHIFT))
#define MAX_REGIONS	4096u	/* 256 GiB of spans */

/* Handle table: leaves of 1024 entries (24 KiB), up to 64 Mi handles; the
 * top array (512 KiB virtual) is mapped once so it never moves. */
#define HT_LEAF_SHIFT	10
#define HT_LEAF_N	(1u << HT_LEAF_SHIFT)
#define HT_MAX_LEAVES	(1u << 16)
#define HT_MAX_HANDLES	((uint64_t)HT_LEAF_N * HT_MAX_LEAVES)

/* Free handle lists, striped by thread so frees and allocs rarely meet. */
#define HSTRIPES	16u

/* Entry state word: pins in the low bits, HE_MOVING while compaction copies. */
#define HE_MOVING	0x80000000u
#define HE_PIN_MASK	0x7fffffffu

/* Free slots examined per allocation for one that needs no new page. */
#define SLOT_PROBE	8u

/* Dirty pages kept for reuse: at most max(4 MiB, mapped / 32) arena-wide
 * before a freeing thread purges.  Measured (arena_bench, write mode): at
 * 2 MiB alloc+free ran ~7x slower than malloc, madvise and refaults
 * dominating; 4 MiB + 3 % keeps that cost down while the housekeeping
 * compaction (should_compact) still takes mapped to 0 after a full delete. */
#define DIRTY_MIN	(4u << 20)
#define DIRTY_SHIFT	5

/* Automatic compaction: when mapped - object bytes exceeds both 1 MiB and
 * 1/16 of mapped, and at least 1 MiB was freed since the last pass. */
#define COMPACT_MIN	(1u << 20)
#define COMPACT_SHIFT	4

/* Bytes moved per class-lock hold, so allocs of that class are not stalled
 * for long (8 MiB is ~1 ms of memcpy). */
#define COMPACT_ROUND	(8u << 20)

/* glibc's per-block header, counted with malloc_usable_size (as mem.c). */
#define MALLOC_HDR	8u

#define CACHELINE	64

/* ------------------------------------------------------------------------
 * Structures
 * ------------------------------------------------------------------------ */

struct region {
	char		*base;		/* REGION_SZ bytes, page aligned */
	uint32_t	free_pages;	/* pages not in any span */
	uint32_t	hint;		/* no free page below this index */
	uint64_t	map[REGION_PAGES / 64];	/* 1 = page belongs to a span */
};

struct zr_class;

struct span {
	struct span	*prev, *next;	/* class list (bucket or full) */
	struct span	*dprev, *dnext;	/* class dirty list while dirty > 0 */
	char		*base;		/* first slot, page aligned */
	struct zr_class	*cls;		/* owning class */
	struct region	*region;	/* carved from */
	uint32_t	used;		/* live objects */
	uint32_t	hint;		/* no free slot in freemap words below */
	uint32_t	resident;	/* pages with the resmap bit set */
	uint32_t	dirty;		/* resident pages with pref == 0 */
	uint16_t	list;		/* index into cls->lists, or LIST_NONE */
	uint16_t	grp;		/* stats fullness group 0..3 */
	uint32_t	block;		/* bytes of this header block (meta) */
	uint64_t	*freemap;	/* bit per slot, 1 = free */
	uint64_t	*resmap;	/* bit per page, 1 = resident */
	uint32_t	*owner;		/* handle per slot, 0 = free */
	uint16_t	*pref;		/* live objects touching each page */
};

struct zr_class {
	pthread_mutex_t	lock;
	uint32_t	size;		/* slot size */
	uint32_t	pages;		/* pages per span */
	uint32_t	objs;		/* slots per span */
	uint32_t	fwords;		/* freemap words */
	uint32_t	pwords;		/* resmap words */
	struct span	*lists[NLISTS];	/* partial buckets, full, empty */
	struct span	*dirty_head;	/* spans with dirty pages */
	uint64_t	npartial;	/* spans on the bucket lists */
	uint64_t	nspans;		/* all spans, incl. the empty ones */
	uint64_t	objects;	/* live objects */
	uint64_t	requested;	/* their requested bytes */
	uint64_t	dirty_pages;	/* sum of span->dirty */
	uint64_t	freed;		/* bytes freed since the last compaction */
	uint64_t	grp[ZR_ARENA_FULLNESS_GROUPS];	/* spans per group */
} __attribute__((aligned(CACHELINE)));

struct hentry {
	_Atomic uint32_t state;		/* pins | HE_MOVING */
	uint32_t	size;		/* requested size; 0 = free handle */
	uint32_t	slot;		/* slot in span; next free handle if free */
	uint32_t	cls;		/* class index */
	struct span	*span;		/* current span */
};

struct hstripe {
	pthread_mutex_t	lock;
	uint32_t	head;		/* first free handle, 0 = none */
} __attribute__((aligned(CACHELINE)));

struct zr_arena {
	size_t		max_object;
	uint32_t	nclasses;
	struct zr_class	*classes;
	_Atomic(struct hentry *) *ht_top;	/* HT_MAX_LEAVES leaf pointers */
	_Atomic uint64_t ht_next;		/* next never-used handle */
	_Atomic uint64_t ht_nfree;		/* handles on the stripes */
	pthread_rwlock_t ht_lock;		/* read: handle_get/put; write:
						 * zr_arena_release_handles() */
	struct hstripe	stripes[HSTRIPES];
	pthread_mutex_t	heap_lock;
	struct region	*regions[MAX_REGIONS];
	pthread_mutex_t	compact_lock;
	_Atomic uint64_t mapped;		/* resident span bytes */
	_Atomic uint64_t meta;			/* metadata bytes */
	_Atomic uint64_t dirty;			/* dirty (reusable) bytes */
	_Atomic uint64_t cap;
	_Atomic uint64_t compactions;
	_Atomic uint64_t moved;
	_Atomic uint64_t released;
	_Atomic uint64_t failures;
	_Atomic uint32_t trim_cursor;		/* round robin for dirty_trim */
	_Atomic uint64_t dirty_seen;		/* dirty at the last trim_idle call */
	_Atomic uint64_t reserved;		/* zr_arena_reserve()'s budget: dirty
						 * pages the trim leaves alone */
};

/* ------------------------------------------------------------------------
 * Accounting helpers
 * ------------------------------------------------------------------------ */

#define RELAXED memory_order_relaxed

static void ctr_add(_Atomic uint64_t *c, uint64_t v)
{
	atomic_fetch_add_explicit(c, v, RELAXED);
}

static void ctr_sub(_Atomic uint64_t *c, uint64_t v)
{
	uint64_t old = atomic_fetch_sub_explicit(c, v, RELAXED);

	assert(old >= v);
	(void)old;
}

static uint64_t ctr_get(_Atomic uint64_t *c)
{
	return atomic_load_explicit(c, RELAXED);
}

static void *meta_calloc(struct zr_arena *a, size_t n)
{
	void *p = calloc(1, n);

	if (p)
		ctr_add(&a->meta, malloc_usable_size(p) + MALLOC_HDR);
	return p;
}

static void meta_free(struct zr_arena *a, void *p)
{
	if (!p)
		return;
	ctr_sub(&a->meta, malloc_usable_size(p) + MALLOC_HDR);
	free(p);
}

/* Would growing by extra bytes (mapped or meta) break the cap? */
static bool over_cap(struct zr_arena *a, uint64_t extra)
{
	uint64_t cap = ctr_get(&a->cap);

	return cap && ctr_get(&a->mapped) + ctr_get(&a->meta) + extra > cap;
}

/* Reserve n new resident bytes against the cap; -ENOSPC if it would break. */
static int mapped_reserve(struct zr_arena *a, uint64_t n)
{
	uint64_t cap = ctr_get(&a->cap);
	uint64_t now = atomic_fetch_add_explicit(&a->mapped, n, RELAXED) + n;

	if (cap && now + ctr_get(&a->meta) > cap) {
		ctr_sub(&a->mapped, n);
		return -ENOSPC;
	}
	return 0;
}

/* Pages [p, p+n) of a span were purged: account the release. */
static void mapped_release(struct zr_arena *a, uint64_t pages)
{
	ctr_sub(&a->mapped, pages * PAGE_SZ);
	ctr_add(&a->released, pages * PAGE_SZ);
}

static uint64_t dirty_limit(struct zr_arena *a)
{
	uint64_t lim = ctr_get(&a->mapped) >> DIRTY_SHIFT;

	lim = lim > DIRTY_MIN ? lim : DIRTY_MIN;
	/* the reserved spans' pages are dirty by design: not trimmed */
	return lim + ctr_get(&a->reserved);
}

/* ------------------------------------------------------------------------
 * Bitmaps
 * ------------------------------------------------------------------------ */

static bool bit_get(const uint64_t *m, uint32_t i)
{
	return (m[i / 64] >> (i % 64)) & 1;
}

static void bit_set(uint64_t *m, uint32_t i)
{
	m[i / 64] |= (uint64_t)1 << (i % 64);
}

static void bit_clr(uint64_t *m, uint32_t i)
{
	m[i / 64] &= ~((uint64_t)1 << (i % 64));
}

static void bits_assign(uint64_t *m, uint32_t start, uint32_t n, bool v)
{
	for (uint32_t i = start; i < start + n; i++) {
		if (v)
			bit_set(m, i);
		else
			bit_clr(m, i);
	}
}

/* ------------------------------------------------------------------------
 * Size classes
 * ------------------------------------------------------------------------ */

static uint32_t class_index(size_t size)
{
	uint64_t s;
	uint32_t k, j;

	assert(size > 0);
	if (size <= SMALL_MAX)
		return (uint32_t)((size + SMALL_STEP - 1) / SMALL_STEP - 1);
	s = size - 1;
	k = 63 - (uint32_t)__builtin_clzll(s);		/* 2^k <= s < 2^(k+1) */
	j = (uint32_t)((s - ((uint64_t)1 << k)) >> (k - OCT_SHIFT)) + 1;
	return NSMALL + (k - SMALL_SHIFT) * OCT_STEPS + j - 1;
}

static uint32_t class_size(uint32_t idx)
{
	uint32_t k, j;

	if (idx < NSMALL)
		return (idx + 1) * SMALL_STEP;
	idx -= NSMALL;
	k = SMALL_SHIFT + idx / OCT_STEPS;
	j = idx % OCT_STEPS + 1;
	return (1u << k) + (j << (k - OCT_SHIFT));
}

/* Pages per span: the least tail waste (as a fraction) over the range. */
static uint32_t span_pages_for(uint32_t size)
{
	uint32_t lo = (size + PAGE_SZ - 1) / PAGE_SZ;
	uint64_t best, bw;

	if (lo < SPAN_MIN_PAGES)
		lo = SPAN_MIN_PAGES;
	best = lo;
	bw = ((uint64_t)lo * PAGE_SZ) % size;
	for (uint64_t n = lo + 1; n <= (uint64_t)lo * SPAN_SEARCH && bw; n++) {
		uint64_t w = (n * PAGE_SZ) % size;

		if (w * best < bw * n) {
			best = n;
			bw = w;
		}
	}
	return (uint32_t)best;
}

static int class_init(struct zr_class *c, uint32_t idx)
{
	c->size = class_size(idx);
	c->pages = span_pages_for(c->size);
	c->objs = (uint32_t)(((uint64_t)c->pages * PAGE_SZ) / c->size);
	c->fwords = (c->objs + 63) / 64;
	c->pwords = (c->pages + 63) / 64;
	assert(c->objs >= 1 && c->objs <= 65535);
	assert(c->pages <= REGION_PAGES);
	return pthread_mutex_init(&c->lock, NULL);
}

/* ------------------------------------------------------------------------
 * Page heap: regions carved into spans
 * ------------------------------------------------------------------------ */

/* First fit: a run of n free pages at or after the hint, or -1. */
static int64_t region_find(const struct region *r, uint32_t n)
{
	uint32_t i = r->hint, run = 0, start = 0;

	while (i < REGION_PAGES) {
		uint64_t w = r->map[i / 64];

		if (i % 64 == 0 && (w == 0 || w == ~(uint64_t)0)) {
			if (w) {
				run = 0;
			} else {
				start = run ? start : i;
				run += 64;
			}
			i += 64;
		} else if (bit_get(r->map, i++)) {
			run = 0;
		} else {
			start = run ? start : i - 1;
			run++;
		}
		if (run >= n)
			return start;
	}
	return -1;
}

static struct region *region_new(struct zr_arena *a)
{
	struct region *r = meta_calloc(a, sizeof(*r));
	void *p;

	if (!r)
		return NULL;
	p = mmap(NULL, REGION_SZ, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		meta_free(a, r);
		return NULL;
	}
	r->base = p;
	r->free_pages = REGION_PAGES;
	return r;
}

static char *region_take(struct region *r, uint32_t n)
{
	int64_t s = r->free_pages >= n ? region_find(r, n) : -1;

	if (s < 0)
		return NULL;
	bits_assign(r->map, (uint32_t)s, n, true);
	r->free_pages -= n;
	if (r->hint == s)
		r->hint = (uint32_t)s + n;
	return r->base + ((size_t)s << PAGE_SHIFT);
}

/* Carve n pages (never resident) for a span; NULL on ENOMEM. */
static char *heap_get(struct zr_arena *a, uint32_t n, struct region **rp)
{
	char *p = NULL;
	uint32_t i, hole = MAX_REGIONS;

	pthread_mutex_lock(&a->heap_lock);
	for (i = 0; i < MAX_REGIONS && !p; i++) {
		if (!a->regions[i]) {
			hole = hole < i ? hole : i;
			continue;
		}
		p = region_take(a->regions[i], n);
		*rp = a->regions[i];
	}
	if (!p && hole < MAX_REGIONS && (a->regions[hole] = region_new(a))) {
		*rp = a->regions[hole];
		p = region_take(*rp, n);
	}
	pthread_mutex_unlock(&a->heap_lock);
	return p;
}

/* Return a span's pages (already purged); unmap the region if empty. */
static void heap_put(struct zr_arena *a, struct region *r, char *p, uint32_t n)
{
	uint32_t s = (uint32_t)((size_t)(p - r->base) >> PAGE_SHIFT);

	pthread_mutex_lock(&a->heap_lock);
	bits_assign(r->map, s, n, false);
	r->free_pages += n;
	r->hint = s < r->hint ? s : r->hint;
	if (r->free_pages == REGION_PAGES) {
		for (uint32_t i = 0; i < MAX_REGIONS; i++)
			if (a->regions[i] == r)
				a->regions[i] = NULL;
		munmap(r->base, REGION_SZ);
		meta_free(a, r);
	}
	pthread_mutex_unlock(&a->heap_lock);
}

/* ------------------------------------------------------------------------
 * Span lists
 * ------------------------------------------------------------------------ */

static void list_add(struct zr_class *c, struct span *sp, uint16_t li)
{
	sp->list = li;
	sp->prev = NULL;
	sp->next = c->lists[li];
	if (sp->next)
		sp->next->prev = sp;
	c->lists[li] = sp;
	c->npartial += li < NBUCKETS;
}

static void list_del(struct zr_class *c, struct span *sp)
{
	assert(sp->list < NLISTS);
	if (sp->prev)
		sp->prev->next = sp->next;
	else
		c->lists[sp->list] = sp->next;
	if (sp->next)
		sp->next->prev = sp->prev;
	c->npartial -= sp->list < NBUCKETS;
	sp->list = LIST_NONE;
	sp->prev = sp->next = NULL;
}

static void dirty_link(struct zr_class *c, struct span *sp)
{
	sp->dprev = NULL;
	sp->dnext = c->dirty_head;
	if (sp->dnext)
		sp->dnext->dprev = sp;
	c->dirty_head = sp;
}

static void dirty_unlink(struct zr_class *c, struct span *sp)
{
	if (sp->dprev)
		sp->dprev->dnext = sp->dnext;
	else
		c->dirty_head = sp->dnext;
	if (sp->dnext)
		sp->dnext->dprev = sp->dprev;
	sp->dprev = sp->dnext = NULL;
}

/* Change a span's dirty page count by delta, keeping list and totals. */
static void span_dirty_add(struct zr_arena *a, struct zr_class *c,
			   struct span *sp, int64_t delta)
{
	bool was = sp->dirty > 0;

	if (!delta)
		return;
	sp->dirty = (uint32_t)((int64_t)sp->dirty + delta);
	c->dirty_pages = (uint64_t)((int64_t)c->dirty_pages + delta);
	if (delta > 0)
		ctr_add(&a->dirty, (uint64_t)delta * PAGE_SZ);
	else
		ctr_sub(&a->dirty, (uint64_t)-delta * PAGE_SZ);
	if (!was && sp->dirty)
		dirty_link(c, sp);
	else if (was && !sp->dirty)
		dirty_unlink(c, sp);
}

static uint16_t span_grp(const struct zr_class *c, const struct span *sp)
{
	uint32_t g = (uint32_t)((uint64_t)sp->used * ZR_ARENA_FULLNESS_GROUPS / c->objs);

	return (uint16_t)(g < ZR_ARENA_FULLNESS_GROUPS ? g : ZR_ARENA_FULLNESS_GROUPS - 1);
}

static void span_regroup(struct zr_class *c, struct span *sp)
{
	uint16_t g = span_grp(c, sp);

	c->grp[sp->grp]--;
	c->grp[g]++;
	sp->grp = g;
}

/* Put a span with used > 0 on the list matching its fullness. */
static void span_refile(struct zr_class *c, struct span *sp)
{
	uint16_t li;

	assert(sp->used > 0);
	li = sp->used == c->objs ? LIST_FULL :
	     (uint16_t)((uint64_t)sp->used * NBUCKETS / c->objs);
	span_regroup(c, sp);
	if (li == sp->list)
		return;
	if (sp->list != LIST_NONE)
		list_del(c, sp);
	list_add(c, sp, li);
}

/* ------------------------------------------------------------------------
 * Spans
 * ------------------------------------------------------------------------ */

static size_t span_block_size(const struct zr_class *c)
{
	return sizeof(struct span) + ((size_t)c->fwords + c->pwords) * 8 +
	       (size_t)c->objs * 4 + (size_t)c->pages * 2;
}

static void span_layout(struct zr_class *c, struct span *sp)
{
	char *p = (char *)(sp + 1);

	sp->freemap = (uint64_t *)p;
	sp->resmap = sp->freemap + c->fwords;
	sp->owner = (uint32_t *)(sp->resmap + c->pwords);
	sp->pref = (uint16_t *)(sp->owner + c->objs);
	memset(sp->freemap, 0xff, (size_t)c->fwords * 8);
	if (c->objs % 64)
		sp->freemap[c->fwords - 1] = ((uint64_t)1 << (c->objs % 64)) - 1;
}

static struct span *span_new(struct zr_arena *a, struct zr_class *c, int *err)
{
	size_t bs = span_block_size(c);
	struct span *sp;

	*err = -ENOSPC;
	if (over_cap(a, bs))
		return NULL;
	*err = -ENOMEM;
	sp = meta_calloc(a, bs);
	if (!sp)
		return NULL;
	sp->block = (uint32_t)bs;
	sp->base = heap_get(a, c->pages, &sp->region);
	if (!sp->base) {
		meta_free(a, sp);
		return NULL;
	}
	sp->cls = c;
	sp->list = LIST_NONE;
	span_layout(c, sp);
	c->nspans++;
	c->grp[0]++;
	return sp;
}

#ifndef MADV_DONTNEED_LOCKED
#define MADV_DONTNEED_LOCKED 24	/* Linux 5.18 */
#endif

/* Give pages back to the OS.  A daemon under mlockall (-o mlock, for
 * swap files) has locked pages, which MADV_DONTNEED refuses (EINVAL):
 * they are released with MADV_DONTNEED_LOCKED, and the mapping stays
 * locked for the next fault. */
static int pages_release(void *p, size_t len)
{
	if (!madvise(p, len, MADV_DONTNEED))
		return 0;
	return errno == EINVAL ? madvise(p, len, MADV_DONTNEED_LOCKED) : -1;
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23	/* Linux 5.14 */
#endif

/* Set once the kernel has refused MADV_POPULATE_WRITE as unknown. */
static _Atomic bool populate_unknown;

/* Fault in, in one call, the pages an object is about to be written to.
 * Measured here (2 vCPU VM): a write fault costs 10 us a page, one
 * madvise 2.2 us for a page and 0.7 us a page for 16; a 1 GiB stream
 * with comp=none took 267K faults.  Best effort: if the call fails, the
 * copy that follows faults the pages in as before. */
static void pages_populate(void *p, size_t len)
{
	if (atomic_load_explicit(&populate_unknown, memory_order_relaxed))
		return;
	if (madvise(p, len, MADV_POPULATE_WRITE) && errno == EINVAL)
		atomic_store_explicit(&populate_unknown, true, memory_order_relaxed);
}

/* Purge the dirty pages of a span; returns the pages released. */
static uint64_t span_purge(struct zr_arena *a, struct zr_class *c, struct span *sp)
{
	uint32_t p = 0, n, got = 0;

	while (p < c->pages) {
		for (n = 0; p + n < c->pages && !sp->pref[p + n] &&
			    bit_get(sp->resmap, p + n); n++)
			;
		if (!n) {
			p++;
			continue;
		}
		if (!pages_release(sp->base + ((size_t)p << PAGE_SHIFT),
				   (size_t)n << PAGE_SHIFT)) {
			bits_assign(sp->resmap, p, n, false);
			got += n;
		}
		p += n;
	}
	sp->resident -= got;
	span_dirty_add(a, c, sp, -(int64_t)got);
	mapped_release(a, got);
	return got;
}

/* Give an empty span back: purge it and return its pages to the heap. */
static uint64_t span_destroy(struct zr_arena *a, struct zr_class *c, struct span *sp)
{
	uint64_t got;

	assert(sp->used == 0 && sp->list == LIST_NONE);
	got = span_purge(a, c, sp);
	assert(sp->resident == 0 && sp->dirty == 0);
	heap_put(a, sp->region, sp->base, c->pages);
	c->nspans--;
	c->grp[sp->grp]--;
	meta_free(a, sp);
	return got * PAGE_SZ;
}

/* A span just became empty: keep it on the empty list while it has
 * resident pages, which are dirty pages and so bounded by dirty_limit()
 * like any others; of spans without any, keep one.  Destroying each
 * emptied span at once made a rewrite of one-span objects (64 KiB chunks
 * with comp=none) purge and refault its pages on every write: the free
 * comes when the chunk is staged, the alloc when a worker stores it, and
 * on this VM each purge's TLB shootdown IPI took 27% of the daemon's CPU
 * (fio 4 KiB random writes, 10K IOPS). */
static void span_park(struct zr_arena *a, struct zr_class *c, struct span *sp)
{
	assert(sp->used == 0);
	if (sp->list != LIST_NONE)
		list_del(c, sp);
	span_regroup(c, sp);
	if (sp->resident || !c->lists[LIST_EMPTY])
		list_add(c, sp, LIST_EMPTY);
	else
		span_destroy(a, c, sp);
}

static uint32_t span_first_free(const struct zr_class *c, struct span *sp)
{
	uint32_t w = sp->hint;

	while (w < c->fwords && !sp->freemap[w])
		w++;
	assert(w < c->fwords);
	sp->hint = w;
	return w * 64 + (uint32_t)__builtin_ctzll(sp->freemap[w]);
}

/* Pages [*p0, *p1] holding the bytes [slot * size, + len). */
static void slot_pages(const struct zr_class *c, uint32_t slot, uint32_t len,
		       uint32_t *p0, uint32_t *p1)
{
	size_t off = (size_t)slot * c->size;

	*p0 = (uint32_t)(off >> PAGE_SHIFT);
	*p1 = (uint32_t)((off + len - 1) >> PAGE_SHIFT);
}

static char *slot_addr(const struct span *sp, uint32_t slot)
{
	return sp->base + (size_t)slot * sp->cls->size;
}

/* Pages the object would newly make resident. */
static uint32_t pages_needed(const struct zr_class *c, const struct span *sp,
			     uint32_t slot, uint32_t len)
{
	uint32_t p0, p1, n = 0;

	slot_pages(c, slot, len, &p0, &p1);
	for (uint32_t p = p0; p <= p1; p++)
		n += !sp->pref[p] && !bit_get(sp->resmap, p);
	return n;
}

/* A free slot for len bytes: among the first SLOT_PROBE free ones, the
 * first that needs no new page, else the lowest.  *need = its new pages. */
static uint32_t span_pick_slot(const struct zr_class *c, struct span *sp,
			       uint32_t len, uint32_t *need)
{
	uint32_t first = span_first_free(c, sp), slot = first, tries = 0;

	*need = pages_needed(c, sp, first, len);
	for (uint32_t w = sp->hint; *need && w < c->fwords && tries < SLOT_PROBE; w++) {
		for (uint64_t m = sp->freemap[w]; m && tries < SLOT_PROBE; m &= m - 1) {
			uint32_t k = w * 64 + (uint32_t)__builtin_ctzll(m);
			uint32_t n = pages_needed(c, sp, k, len);

			tries++;
			if (n < *need) {
				*need = n;
				slot = k;
			}
		}
	}
	return slot;
}

/* Take a slot for an object of len bytes; returns pages made resident
 * (the caller accounts them in mapped). */
static uint32_t obj_place(struct zr_arena *a, struct zr_class *c, struct span *sp,
			  uint32_t slot, uint32_t len, zr_handle_t h)
{
	uint32_t p0, p1, fresh = 0, reused = 0, first = 0, last = 0;

	assert(bit_get(sp->freemap, slot) && !sp->owner[slot]);
	bit_clr(sp->freemap, slot);
	sp->owner[slot] = h;
	sp->used++;
	slot_pages(c, slot, len, &p0, &p1);
	for (uint32_t p = p0; p <= p1; p++) {
		if (sp->pref[p]++)
			continue;
		if (bit_get(sp->resmap, p)) {
			reused++;
		} else {
			bit_set(sp->resmap, p);
			if (!fresh++)
				first = p;
			last = p;
		}
	}
	if (fresh)	/* pages between first and last that are resident cost nothing */
		pages_populate(sp->base + ((size_t)first << PAGE_SHIFT),
			       (size_t)(last - first + 1) << PAGE_SHIFT);
	sp->resident += fresh;
	span_dirty_add(a, c, sp, -(int64_t)reused);
	return fresh;
}

/* Release a slot; its pages with no other live object become dirty. */
static void obj_unplace(struct zr_arena *a, struct zr_class *c, struct span *sp,
			uint32_t slot, uint32_t len)
{
	uint32_t p0, p1, freed = 0;

	assert(!bit_get(sp->freemap, slot) && sp->owner[slot]);
	bit_set(sp->freemap, slot);
	sp->owner[slot] = 0;
	sp->used--;
	if (slot / 64 < sp->hint)
		sp->hint = slot / 64;
	slot_pages(c, slot, len, &p0, &p1);
	for (uint32_t p = p0; p <= p1; p++) {
		assert(sp->pref[p] > 0);
		freed += !--sp->pref[p];
	}
	span_dirty_add(a, c, sp, freed);
}

/* ------------------------------------------------------------------------
 * Classes
 * ------------------------------------------------------------------------ */

/* Purge every dirty page of the class; an empty span goes whole unless
 * it is the last on the empty list.  Returns bytes released. */
static uint64_t class_purge(struct zr_arena *a, struct zr_class *c)
{
	uint64_t got = 0;

	while (c->dirty_head) {
		struct span *sp = c->dirty_head;

		if (!sp->used && (sp->prev || sp->next)) {
			list_del(c, sp);
			got += span_destroy(a, c, sp);
		} else {
			got += span_purge(a, c, sp) * PAGE_SZ;
		}
	}
	return got;
}

/* Purge this class (locked by the caller), then other classes that are
 * not busy (trylock: the caller holds a class lock) until the arena's
 * dirty bytes are down to goal.  Over the dirty limit the goal is half the
 * limit, so purges come in batches; at the cap it is 0. */
static void dirty_trim(struct zr_arena *a, struct zr_class *self, uint64_t goal)
{
	class_purge(a, self);
	for (uint32_t i = 0; i < a->nclasses && ctr_get(&a->dirty) > goal; i++) {
		uint32_t k = atomic_fetch_add_explicit(&a->trim_cursor, 1, RELAXED);
		struct zr_class *c = &a->classes[k % a->nclasses];

		if (c == self || pthread_mutex_trylock(&c->lock))
			continue;
		class_purge(a, c);
		pthread_mutex_unlock(&c->lock);
	}
}

/* The span to allocate from: one with dirty pages (reuse resident memory,
 * fill holes), else the fullest partial one, else an empty one (the last
 * emptied first: its pages are the likeliest to be resident), else a new
 * one.  class_alloc()'s span_refile() takes it off the empty list. */
static struct span *class_pick(struct zr_arena *a, struct zr_class *c, int *err)
{
	struct span *sp = c->dirty_head;

	if (sp && sp->used < c->objs)
		return sp;
	for (int i = NBUCKETS - 1; i >= 0; i--)
		if (c->lists[i])
			return c->lists[i];
	if (c->lists[LIST_EMPTY])
		return c->lists[LIST_EMPTY];
	return span_new(a, c, err);
}

static int class_alloc_once(struct zr_arena *a, struct zr_class *c, uint32_t len,
			    zr_handle_t h, struct hentry *e)
{
	int err = 0;
	struct span *sp = class_pick(a, c, &err);
	uint32_t slot, need;

	if (!sp)
		return err;
	slot = span_pick_slot(c, sp, len, &need);
	if (need && (err = mapped_reserve(a, (uint64_t)need * PAGE_SZ))) {
		if (!sp->used)
			span_park(a, c, sp);
		return err;
	}
	need -= obj_place(a, c, sp, slot, len, h);
	assert(need == 0);
	span_refile(c, sp);
	e->span = sp;
	e->slot = slot;
	e->size = len;
	e->cls = (uint32_t)(c - a->classes);
	c->objects++;
	c->requested += len;
	return 0;
}

/* At the cap, the reuse cache's pages (dirty pages, empty spans) are the
 * first to go: purge them all and try once more before -ENOSPC. */
static int class_alloc(struct zr_arena *a, struct zr_class *c, uint32_t len,
		       zr_handle_t h, struct hentry *e)
{
	int err = class_alloc_once(a, c, len, h, e);

	if (err == -ENOSPC && ctr_get(&a->dirty)) {
		dirty_trim(a, c, 0);
		err = class_alloc_once(a, c, len, h, e);
	}
	return err;
}

static void class_free(struct zr_arena *a, struct zr_class *c,
		       struct hentry *e, zr_handle_t h)
{
	struct span *sp = e->span;

	assert(sp->cls == c && sp->owner[e->slot] == h);
	(void)h;
	obj_unplace(a, c, sp, e->slot, e->size);
	c->objects--;
	c->requested -= e->size;
	c->freed += e->size;
	if (sp->used)
		span_refile(c, sp);
	else
		span_park(a, c, sp);
	if (ctr_get(&a->dirty) > dirty_limit(a))
		dirty_trim(a, c, dirty_limit(a) / 2);
}

/* ------------------------------------------------------------------------
 * Handle table
 * ------------------------------------------------------------------------ */

static struct hentry *hentry_of(struct zr_arena *a, zr_handle_t h)
{
	struct hentry *leaf;

	assert(h != ZR_HANDLE_NONE && h < ctr_get(&a->ht_next));
	leaf = atomic_load_explicit(&a->ht_top[h >> HT_LEAF_SHIFT],
				    memory_order_acquire);
	assert(leaf);
	return &leaf[h & (HT_LEAF_N - 1)];
}

static unsigned stripe_self(void)
{
	static _Atomic unsigned seq;
	static _Thread_local unsigned mine = ~0u;

	if (mine == ~0u)
		mine = atomic_fetch_add_explicit(&seq, 1, RELAXED) % HSTRIPES;
	return mine;
}

/* Make sure the leaf holding handle h exists (CAS-installed). */
static int ht_leaf_ensure(struct zr_arena *a, uint64_t h)
{
	uint64_t li = h >> HT_LEAF_SHIFT;
	struct hentry *leaf, *none = NULL;

	if (atomic_load_explicit(&a->ht_top[li], memory_order_acquire))
		return 0;
	leaf = calloc(HT_LEAF_N, sizeof(*leaf));
	if (!leaf)
		return -ENOMEM;
	if (!atomic_compare_exchange_strong_explicit(&a->ht_top[li], &none, leaf,
						     memory_order_acq_rel,
						     memory_order_acquire)) {
		free(leaf);
		return 0;
	}
	ctr_add(&a->meta, malloc_usable_size(leaf) + MALLOC_HDR);
	if (li % (PAGE_SZ / sizeof(void *)) == 0)
		ctr_add(&a->meta, PAGE_SZ);	/* a new page of the top array */
	return 0;
}

static zr_handle_t stripe_pop(struct zr_arena *a, struct hstripe *st)
{
	zr_handle_t h;

	pthread_mutex_lock(&st->lock);
	h = st->head;
	if (h) {
		st->head = hentry_of(a, h)->slot;
		ctr_sub(&a->ht_nfree, 1);
	}
	pthread_mutex_unlock(&st->lock);
	return h;
}

static int handle_get(struct zr_arena *a, zr_handle_t *out)
{
	unsigned me = stripe_self();
	uint64_t h;
	int err;

	for (unsigned i = 0; i < HSTRIPES && ctr_get(&a->ht_nfree); i++) {
		*out = stripe_pop(a, &a->stripes[(me + i) % HSTRIPES]);
		if (*out)
			return 0;
	}
	h = atomic_fetch_add_explicit(&a->ht_next, 1, RELAXED);
	if (h >= HT_MAX_HANDLES) {
		ctr_sub(&a->ht_next, 1);
		return -ENOSPC;
	}
	err = ht_leaf_ensure(a, h);
	if (err)
		return err;	/* h is lost: only on ENOMEM */
	*out = (zr_handle_t)h;
	return 0;
}

static void handle_put(struct zr_arena *a, zr_handle_t h)
{
	struct hstripe *st = &a->stripes[stripe_self()];
	struct hentry *e = hentry_of(a, h);

	e->size = 0;
	e->span = NULL;
	pthread_mutex_lock(&st->lock);
	e->slot = st->head;
	st->head = h;
	ctr_add(&a->ht_nfree, 1);
	pthread_mutex_unlock(&st->lock);
}

static int handle_get_locked(struct zr_arena *a, zr_handle_t *out)
{
	int err;

	pthread_rwlock_rdlock(&a->ht_lock);
	err = handle_get(a, out);
	pthread_rwlock_unlock(&a->ht_lock);
	return err;
}

static void handle_put_locked(struct zr_arena *a, zr_handle_t h)
{
	pthread_rwlock_rdlock(&a->ht_lock);
	handle_put(a, h);
	pthread_rwlock_unlock(&a->ht_lock);
}

static bool all_handles_free(struct zr_arena *a)
{
	uint64_t next = ctr_get(&a->ht_next);

	return next > 1 && ctr_get(&a->ht_nfree) == next - 1;
}

/* Free every leaf and start numbering again at 1.  ht_lock held for
 * writing and every handle free: nobody holds a handle, so no entry can be
 * looked up, and the free lists (threaded through the leaves) are dropped
 * whole. */
static uint64_t ht_reset(struct zr_arena *a)
{
	uint64_t nleaves = (ctr_get(&a->ht_next) + HT_LEAF_N - 1) >> HT_LEAF_SHIFT;
	uint64_t per_page = PAGE_SZ / sizeof(void *);
	/* the top array's touched pages, counted by ht_leaf_ensure() */
	uint64_t top_bytes = (nleaves + per_page - 1) / per_page * PAGE_SZ;
	uint64_t freed = top_bytes;
	struct hentry *leaf;

	for (uint64_t li = 0; li < nleaves; li++) {
		leaf = atomic_exchange_explicit(&a->ht_top[li], NULL, RELAXED);
		if (!leaf)
			continue;
		freed += malloc_usable_size(leaf) + MALLOC_HDR;
		free(leaf);
	}
	madvise(a->ht_top, top_bytes, MADV_DONTNEED);
	ctr_sub(&a->meta, freed);
	for (unsigned i = 0; i < HSTRIPES; i++)
		a->stripes[i].head = 0;
	atomic_store_explicit(&a->ht_nfree, 0, RELAXED);
	atomic_store_explicit(&a->ht_next, 1, RELAXED);
	return freed;
}

uint64_t zr_arena_release_handles(struct zr_arena *a)
{
	uint64_t freed = 0;

	if (!all_handles_free(a))
		return 0;	/* the common case, without the lock */
	pthread_rwlock_wrlock(&a->ht_lock);
	if (all_handles_free(a))
		freed = ht_reset(a);
	pthread_rwlock_unlock(&a->ht_lock);
	return freed;
}

static void pin(struct hentry *e)
{
	uint32_t s = atomic_load_explicit(&e->state, RELAXED);

	for (;;) {
		if (s & HE_MOVING) {
			sched_yield();
			s = atomic_load_explicit(&e->state, RELAXED);
			continue;
		}
		assert((s & HE_PIN_MASK) != HE_PIN_MASK);
		if (atomic_compare_exchange_weak_explicit(&e->state, &s, s + 1,
							  memory_order_acquire,
							  RELAXED))
			return;
	}
}

static void unpin(struct hentry *e)
{
	uint32_t old = atomic_fetch_sub_explicit(&e->state, 1, memory_order_release);

	assert(old & HE_PIN_MASK);
	(void)old;
}

/* ------------------------------------------------------------------------
 * Public: lifetime
 * ------------------------------------------------------------------------ */

static int arena_init_locks(struct zr_arena *a)
{
	for (unsigned i = 0; i < HSTRIPES; i++)
		if (pthread_mutex_init(&a->stripes[i].lock, NULL))
			return -1;
	if (pthread_rwlock_init(&a->ht_lock, NULL))
		return -1;
	if (pthread_mutex_init(&a->heap_lock, NULL) ||
	    pthread_mutex_init(&a->compact_lock, NULL))
		return -1;
	return 0;
}

static int arena_init_classes(struct zr_arena *a)
{
	size_t bytes = sizeof(struct zr_class) * a->nclasses;

	a->classes = aligned_alloc(CACHELINE, bytes);
	if (!a->classes)
		return -1;
	memset(a->classes, 0, bytes);
	ctr_add(&a->meta, malloc_usable_size(a->classes) + MALLOC_HDR);
	for (uint32_t i = 0; i < a->nclasses; i++)
		if (class_init(&a->classes[i], i))
			return -1;
	return 0;
}

struct zr_arena *zr_arena_create(const struct zr_arena_config *cfg)
{
	struct zr_arena *a;
	void *top;

	if (!cfg || !cfg->max_object || cfg->max_object > MAX_OBJECT ||
	    sysconf(_SC_PAGESIZE) != PAGE_SZ)
		return NULL;
	a = aligned_alloc(CACHELINE, sizeof(*a));
	if (!a)
		return NULL;
	memset(a, 0, sizeof(*a));
	ctr_add(&a->meta, malloc_usable_size(a) + MALLOC_HDR);
	a->max_object = cfg->max_object;
	a->nclasses = class_index(cfg->max_object) + 1;
	atomic_store(&a->cap, cfg->cap_bytes);
	atomic_store(&a->ht_next, 1);	/* handle 0 is never valid */
	top = mmap(NULL, HT_MAX_LEAVES * sizeof(void *), PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	a->ht_top = top == MAP_FAILED ? NULL : top;
	if (!a->ht_top || arena_init_locks(a) || arena_init_classes(a)) {
		zr_arena_destroy(a);
		return NULL;
	}
	return a;
}

static void class_destroy_spans(struct zr_class *c)
{
	for (unsigned li = 0; li < NLISTS; li++) {
		while (c->lists[li]) {
			struct span *sp = c->lists[li];

			c->lists[li] = sp->next;
			free(sp);
		}
	}
	pthread_mutex_destroy(&c->lock);
}

void zr_arena_destroy(struct zr_arena *a)
{
	if (!a)
		return;
	for (uint32_t i = 0; a->classes && i < a->nclasses; i++)
		class_destroy_spans(&a->classes[i]);
	free(a->classes);
	for (uint32_t i = 0; i < MAX_REGIONS; i++) {
		if (a->regions[i]) {
			munmap(a->regions[i]->base, REGION_SZ);
			free(a->regions[i]);
		}
	}
	for (uint32_t i = 0; a->ht_top && i < HT_MAX_LEAVES; i++)
		free(atomic_load(&a->ht_top[i]));
	if (a->ht_top)
		munmap(a->ht_top, HT_MAX_LEAVES * sizeof(void *));
	pthread_rwlock_destroy(&a->ht_lock);
	free(a);
}

/* ------------------------------------------------------------------------
 * Public: objects
 * ------------------------------------------------------------------------ */

int zr_arena_alloc(struct zr_arena *a, size_t size, zr_handle_t *out)
{
	struct zr_class *c;
	zr_handle_t h;
	int err;

	if (!size || size > a->max_object)
		return -EINVAL;
	/* an injected fault is the OS refusing memory (counted as one) */
	err = zr_fault(ZR_FAULT_ARENA_ALLOC) ? -ENOMEM : handle_get_locked(a, &h);
	if (!err) {
		c = &a->classes[class_index(size)];
		pthread_mutex_lock(&c->lock);
		err = class_alloc(a, c, (uint32_t)size, h, hentry_of(a, h));
		pthread_mutex_unlock(&c->lock);
		if (err)
			handle_put_locked(a, h);
	}
	if (err) {
		ctr_add(&a->failures, 1);
		return err;
	}
	*out = h;
	return 0;
}

void zr_arena_free(struct zr_arena *a, zr_handle_t h)
{
	struct hentry *e;
	struct zr_class *c;

	if (h == ZR_HANDLE_NONE)
		return;
	e = hentry_of(a, h);
	assert(e->size && !(atomic_load(&e->state) & HE_PIN_MASK));
	c = &a->classes[e->cls];
	pthread_mutex_lock(&c->lock);
	class_free(a, c, e, h);
	pthread_mutex_unlock(&c->lock);
	handle_put_locked(a, h);
}

const void *zr_arena_read_begin(struct zr_arena *a, zr_handle_t h)
{
	struct hentry *e = hentry_of(a, h);

	assert(e->size);
	pin(e);
	return slot_addr(e->span, e->slot);
}

void zr_arena_read_end(struct zr_arena *a, zr_handle_t h)
{
	unpin(hentry_of(a, h));
}

void zr_arena_write(struct zr_arena *a, zr_handle_t h, const void *src, size_t len)
{
	struct hentry *e = hentry_of(a, h);

	assert(e->size && len <= e->size);
	pin(e);
	memcpy(slot_addr(e->span, e->slot), src, len);
	unpin(e);
}

size_t zr_arena_size(struct zr_arena *a, zr_handle_t h)
{
	return hentry_of(a, h)->size;
}

/* ------------------------------------------------------------------------
 * Compaction
 * ------------------------------------------------------------------------ */

/* Compaction packs each class: picture the partial spans, fullest first,
 * as one row of slots; live objects from the end of the row move into free
 * slots at its start until the two cursors meet.  Spans at the end empty
 * and are released; holes inside spans close, so their pages empty too and
 * are purged (objects straddle pages: a hole alone rarely frees a page). */
struct compact_ctx {
	struct span	**arr;		/* partial spans, fullest first */
	uint32_t	n;		/* entries in arr */
	uint32_t	d;		/* destination span index */
	uint32_t	s;		/* source span index */
	uint32_t	sslot;		/* next source slot to look at, + 1 */
	int64_t		budget;		/* bytes left to move this round */
};

/* Move one object from src to dst's lowest free slot unless it is pinned. */
static bool obj_move(struct zr_arena *a, struct zr_class *c, struct span *src,
		     uint32_t sslot, struct span *dst)
{
	zr_handle_t h = src->owner[sslot];
	struct hentry *e = hentry_of(a, h);
	uint32_t idle = 0, dslot, fresh;

	if (!atomic_compare_exchange_strong_explicit(&e->state, &idle, HE_MOVING,
						     memory_order_acquire, RELAXED))
		return false;
	assert(e->span == src && e->slot == sslot);
	dslot = span_first_free(c, dst);
	assert(dst != src || dslot < sslot);
	fresh = obj_place(a, c, dst, dslot, e->size, h);
	ctr_add(&a->mapped, (uint64_t)fresh * PAGE_SZ);
	memcpy(slot_addr(dst, dslot), slot_addr(src, sslot), e->size);
	obj_unplace(a, c, src, sslot, e->size);
	e->span = dst;
	e->slot = dslot;
	atomic_store_explicit(&e->state, 0, memory_order_release);
	span_refile(c, dst);
	if (src->used)
		span_refile(c, src);
	ctr_add(&a->moved, 1);
	return true;
}

/* The next live source slot, scanning down from the end of the row. */
static bool next_source(struct zr_class *c, struct compact_ctx *x)
{
	while (x->s >= x->d) {
		struct span *src = x->arr[x->s];

		while (x->sslot > 0 && src->used && !src->owner[x->sslot - 1])
			x->sslot--;
		if (x->sslot > 0 && src->used)
			return true;
		if (x->s == 0)
			return false;
		x->s--;
		x->sslot = c->objs;
	}
	return false;
}

/* The destination span: the first one, from the start, with a free slot. */
static bool next_dest(struct zr_class *c, struct compact_ctx *x)
{
	while (x->d <= x->s && x->arr[x->d]->used == c->objs)
		x->d++;
	return x->d <= x->s;
}

/* Is the first free slot of the destination before the source slot? */
static bool dest_before_source(struct zr_class *c, struct compact_ctx *x)
{
	if (x->d < x->s)
		return true;
	return span_first_free(c, x->arr[x->d]) < x->sslot - 1;
}

static int cmp_used_desc(const void *l, const void *r)
{
	const struct span *p = *(struct span *const *)l;
	const struct span *q = *(struct span *const *)r;

	return (p->used < q->used) - (p->used > q->used);
}

static uint32_t gather_partial(struct zr_class *c, struct span **arr)
{
	uint32_t n = 0;

	for (unsigned li = 0; li < NBUCKETS; li++)
		for (struct span *sp = c->lists[li]; sp; sp = sp->next)
			arr[n++] = sp;
	assert(n == c->npartial);
	qsort(arr, n, sizeof(*arr), cmp_used_desc);
	return n;
}

/* Release the spans the round emptied; returns bytes given back. */
static uint64_t release_emptied(struct zr_arena *a, struct zr_class *c,
				struct compact_ctx *x)
{
	uint64_t rel = 0;

	for (uint32_t k = 0; k < x->n; k++) {
		if (x->arr[k]->used)
			continue;
		list_del(c, x->arr[k]);
		rel += span_destroy(a, c, x->arr[k]);
	}
	return rel;
}

/* One round under the class lock.  Returns true if the budget ran out
 * with work left.  *rel += bytes released. */
static bool compact_round(struct zr_arena *a, struct zr_class *c, uint64_t *rel)
{
	struct compact_ctx x = { .budget = COMPACT_ROUND };

	if (!c->npartial)
		return false;
	x.arr = meta_calloc(a, c->npartial * sizeof(*x.arr));
	if (!x.arr)
		return false;
	x.n = gather_partial(c, x.arr);
	x.s = x.n - 1;
	x.sslot = c->objs;
	while (x.budget > 0 && next_source(c, &x) && next_dest(c, &x) &&
	       next_source(c, &x) && dest_before_source(c, &x)) {
		struct span *src = x.arr[x.s];

		x.sslot--;
		if (obj_move(a, c, src, x.sslot, x.arr[x.d]))
			x.budget -= c->size;
	}
	*rel += release_emptied(a, c, &x);
	meta_free(a, x.arr);
	return x.budget <= 0;
}

static uint64_t class_compact(struct zr_arena *a, struct zr_class *c)
{
	uint64_t rel = 0;
	bool more;

	do {
		pthread_mutex_lock(&c->lock);
		more = compact_round(a, c, &rel);
		pthread_mutex_unlock(&c->lock);
	} while (more);
	pthread_mutex_lock(&c->lock);
	while (c->lists[LIST_EMPTY]) {
		struct span *sp = c->lists[LIST_EMPTY];

		list_del(c, sp);
		rel += span_destroy(a, c, sp);
	}
	rel += class_purge(a, c);
	c->freed = 0;
	pthread_mutex_unlock(&c->lock);
	return rel;
}

/* Give class c a resident empty span if it has none: its pages touched
 * and counted as dirty (reusable) pages, so the next allocations of the
 * class fault nothing in.  Class lock held.  Returns bytes made resident. */
static uint64_t class_reserve(struct zr_arena *a, struct zr_class *c)
{
	uint64_t bytes = (uint64_t)c->pages * PAGE_SZ;
	struct span *sp;
	int err;

	if (c->lists[LIST_EMPTY] || c->dirty_pages)
		return 0;	/* an empty span or free resident pages exist */
	if (mapped_reserve(a, bytes))
		return 0;	/* the cap comes first */
	sp = span_new(a, c, &err);
	if (!sp) {
		ctr_sub(&a->mapped, bytes);
		return 0;
	}
	memset(sp->base, 0, bytes);
	bits_assign(sp->resmap, 0, c->pages, true);
	sp->resident = c->pages;
	span_dirty_add(a, c, sp, c->pages);
	span_regroup(c, sp);
	list_add(c, sp, LIST_EMPTY);
	return bytes;
}

/* Classes up to upto, busiest first (most live objects: where the next
 * allocations will go); ties by size, smallest first (cheapest spans). */
static uint32_t reserve_order(struct zr_arena *a, size_t upto, uint32_t *idx,
			      uint64_t *objs)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < a->nclasses && a->classes[i].size <= upto; i++) {
		uint32_t j = n++;

		pthread_mutex_lock(&a->classes[i].lock);
		objs[i] = a->classes[i].objects;
		pthread_mutex_unlock(&a->classes[i].lock);
		for (; j > 0 && objs[idx[j - 1]] < objs[i]; j--)
			idx[j] = idx[j - 1];
		idx[j] = i;
	}
	return n;
}

uint64_t zr_arena_reserve(struct zr_arena *a, size_t upto, uint64_t budget)
{
	uint32_t *idx = malloc(a->nclasses * sizeof(*idx)), n;
	uint64_t *objs = malloc(a->nclasses * sizeof(*objs));
	uint64_t made = 0, held = 0;

	atomic_store_explicit(&a->reserved, idx && objs ? budget : 0, RELAXED);
	n = idx && objs ? reserve_order(a, budget ? upto : 0, idx, objs) : 0;
	for (uint32_t k = 0; k < n; k++) {
		struct zr_class *c = &a->classes[idx[k]];
		uint64_t span = (uint64_t)c->pages * PAGE_SZ;

		pthread_mutex_lock(&c->lock);
		if (c->lists[LIST_EMPTY] || c->dirty_pages) {
			held += c->dirty_pages * PAGE_SZ;
		} else if (held + span <= budget) {
			made += class_reserve(a, c);
			held += span;
		}
		pthread_mutex_unlock(&c->lock);
	}
	free(idx);
	free(objs);
	return made;
}

uint64_t zr_arena_trim_idle(struct zr_arena *a)
{
	uint64_t dirty = ctr_get(&a->dirty), rel = 0;
	uint64_t seen = atomic_exchange_explicit(&a->dirty_seen, dirty, RELAXED);

	/* A still dirty total means no free and no reuse since the last call
	 * (a coincidence costs one purge, nothing more). */
	if (!dirty || dirty != seen || ctr_get(&a->reserved))
		return 0;
	for (uint32_t i = 0; i < a->nclasses && ctr_get(&a->dirty); i++) {
		struct zr_class *c = &a->classes[i];

		pthread_mutex_lock(&c->lock);
		rel += class_purge(a, c);
		pthread_mutex_unlock(&c->lock);
	}
	return rel;
}

uint64_t zr_arena_compact(struct zr_arena *a)
{
	uint64_t rel = 0;

	pthread_mutex_lock(&a->compact_lock);
	for (uint32_t i = a->nclasses; i-- > 0;)
		rel += class_compact(a, &a->classes[i]);
	ctr_add(&a->compactions, 1);
	pthread_mutex_unlock(&a->compact_lock);
	return rel;
}

/* ------------------------------------------------------------------------
 * Stats and control
 * ------------------------------------------------------------------------ */

int zr_arena_should_compact(struct zr_arena *a)
{
	uint64_t freed = 0, obj = 0, mapped, waste;

	for (uint32_t i = 0; i < a->nclasses; i++) {
		struct zr_class *c = &a->classes[i];

		pthread_mutex_lock(&c->lock);
		freed += c->freed;
		obj += c->objects * c->size;
		pthread_mutex_unlock(&c->lock);
	}
	mapped = ctr_get(&a->mapped);
	waste = mapped > obj ? mapped - obj : 0;
	return freed >= COMPACT_MIN && waste >= COMPACT_MIN &&
	       waste >= mapped >> COMPACT_SHIFT;
}

void zr_arena_set_cap(struct zr_arena *a, uint64_t cap_bytes)
{
	atomic_store_explicit(&a->cap, cap_bytes, RELAXED);
}

uint64_t zr_arena_meta_bytes(struct zr_arena *a)
{
	return ctr_get(&a->meta);
}

uint64_t zr_arena_used_bytes(struct zr_arena *a)
{
	return ctr_get(&a->mapped) + ctr_get(&a->meta);
}

void zr_arena_get_stats(struct zr_arena *a, struct zr_arena_stats *st)
{
	memset(st, 0, sizeof(*st));
	for (uint32_t i = 0; i < a->nclasses; i++) {
		struct zr_class *c = &a->classes[i];

		pthread_mutex_lock(&c->lock);
		st->objects += c->objects;
		st->requested_bytes += c->requested;
		st->object_bytes += c->objects * c->size;
		st->spans += c->nspans;
		for (unsigned g = 0; g < ZR_ARENA_FULLNESS_GROUPS; g++)
			st->spans_by_fullness[g] += c->grp[g];
		pthread_mutex_unlock(&c->lock);
	}
	st->mapped_bytes = ctr_get(&a->mapped);
	st->meta_bytes = ctr_get(&a->meta);
	st->compactions = ctr_get(&a->compactions);
	st->objects_moved = ctr_get(&a->moved);
	st->bytes_released = ctr_get(&a->released);
	st->alloc_failures = ctr_get(&a->failures);
	st->cap_bytes = ctr_get(&a->cap);
}
