/* SPDX-License-Identifier: MIT */
/*
 * ns_dir.c - a directory's entries: name lookup and readdir order.
 *
 * Two views of the same entries (struct zr_dir in ns_int.h):
 *
 *  - a hash table of entry pointers for O(1) lookup by name: open
 *    addressing, linear probing, backward-shift deletion (no tombstones in
 *    the table), power-of-two size, grown past 3/4 full and shrunk below
 *    1/8, freed when the directory empties;
 *  - an array ordered by cookie for readdir: new entries are appended with
 *    the directory's next cookie, removed ones leave a tombstone that keeps
 *    their cookie, so the array stays sorted and a listing resumes with a
 *    binary search for the first cookie past its offset.  Nothing present
 *    for a whole listing is missed or repeated, however the directory
 *    changes in between.  Tombstones are squeezed out once they are more
 *    than half the array (amortised O(1) per removal).
 *
 * Memory per entry: the entry itself (24 bytes + name + NUL), one order
 * slot, and 1.3 to 8 hash slots of 8 bytes.
 *
 * Locking: none here; the caller holds the tree lock (see src/ns.c).
 * Names are byte strings of 1..255 bytes compared with memcmp.
 */
#include "ns_int.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>
#include <sys/random.h>

#include "zramfs/mem.h"

/* Smallest hash table: 8 slots (64 bytes) hold the 6 entries of a typical
 * small directory without a resize. */
#define HASH_MIN_SLOTS 8u
/* Grow when an insertion would pass 3/4 full: linear probing stays at a
 * few probes per miss, and a miss is what every create looks up. */
#define HASH_LOAD_NUM 3u
#define HASH_LOAD_DEN 4u
/* Shrink when under 1/8 full, to half: after an `rm` of most of a big
 * directory the table gives its memory back; hysteresis avoids thrashing. */
#define HASH_SHRINK_DEN 8u
/* First order array: 8 slots; then doubling. */
#define ORDER_MIN_SLOTS 8u

#define TOMB(cookie) (((uintptr_t)(cookie) << 1) | 1u)
#define IS_TOMB(slot) ((slot) & 1u)

/* ---------------------------------------------------------------- hashing */

/* A per-process random seed, so that nobody can pick names that all land
 * in one chain of a shared directory (e.g. /tmp) without seeing the seed.
 * This is a fast mixer, not a keyed PRF: it raises the bar, nothing more. */
static uint64_t hash_seed;
static pthread_once_t hash_seed_once = PTHREAD_ONCE_INIT;

static void hash_seed_init(void)
{
	if (getrandom(&hash_seed, sizeof(hash_seed), GRND_NONBLOCK) !=
	    (ssize_t)sizeof(hash_seed))
		hash_seed = (uint64_t)(uintptr_t)&hash_seed ^ 0x9e3779b97f4a7c15ull;
}

static inline uint64_t mix(uint64_t h)
{
	h ^= h >> 32;
	h *= 0xd6e8feb86659fd93ull;
	h ^= h >> 32;
	return h;
}

static uint32_t name_hash(const char *name, size_t len)
{
	uint64_t h = hash_seed ^ (len * 0x9e3779b97f4a7c15ull);
	uint64_t w;

	while (len >= sizeof(w)) {
		memcpy(&w, name, sizeof(w));
		h = mix(h ^ w);
		name += sizeof(w);
		len -= sizeof(w);
	}
	w = 0;
	memcpy(&w, name, len);
	return (uint32_t)mix(h ^ w ^ (uint64_t)len << 56);
}

/* ------------------------------------------------------------- hash table */

static uint32_t nslots(const struct zr_dir *d)
{
	return d->slots ? d->mask + 1 : 0;
}

static int name_eq(const struct zr_dirent *de, uint32_t hash, const char *name,
		   size_t len)
{
	return de->hash == hash && de->namelen == len &&
	       memcmp(de->name, name, len) == 0;
}

struct zr_dirent *zr_dir_find(const struct zr_dir *d, const char *name, size_t len)
{
	uint32_t hash, i;
	struct zr_dirent *de;

	if (!d->slots)
		return NULL;
	hash = name_hash(name, len);
	for (i = hash & d->mask; (de = d->slots[i]); i = (i + 1) & d->mask)
		if (name_eq(de, hash, name, len))
			return de;
	return NULL;
}

static void slot_put(struct zr_dirent **slots, uint32_t mask, struct zr_dirent *de)
{
	uint32_t i = de->hash & mask;

	while (slots[i])
		i = (i + 1) & mask;
	slots[i] = de;
}

/* Rebuilds the table with n slots (a power of two >= HASH_MIN_SLOTS). */
static int hash_resize(struct zr_dir *d, uint32_t n)
{
	struct zr_dirent **slots = zr_calloc(n, sizeof(*slots));
	uint32_t i;

	if (!slots)
		return -ENOMEM;
	for (i = 0; i < nslots(d); i++)
		if (d->slots[i])
			slot_put(slots, n - 1, d->slots[i]);
	zr_free(d->slots);
	d->slots = slots;
	d->mask = n - 1;
	return 0;
}

static int hash_reserve(struct zr_dir *d)
{
	uint32_t n = nslots(d);

	if ((uint64_t)(d->count + 1) * HASH_LOAD_DEN <= (uint64_t)n * HASH_LOAD_NUM)
		return 0;
	if (n >= (1u << 31))
		return -ENOSPC;
	return hash_resize(d, n ? n * 2 : HASH_MIN_SLOTS);
}

/* Backward-shift deletion: later members of the probe run move up so that
 * every entry stays reachable from its home slot without tombstones. */
static void hash_delete(struct zr_dir *d, struct zr_dirent *de)
{
	uint32_t i = de->hash & d->mask, j, home;

	while (d->slots[i] != de) {
		assert(d->slots[i]);
		i = (i + 1) & d->mask;
	}
	for (j = (i + 1) & d->mask; d->slots[j]; j = (j + 1) & d->mask) {
		home = d->slots[j]->hash & d->mask;
		/* may slot j's entry move to i?  only if home is not in (i, j] */
		if (((j - home) & d->mask) >= ((j - i) & d->mask)) {
			d->slots[i] = d->slots[j];
			i = j;
		}
	}
	d->slots[i] = NULL;
}

static void hash_maybe_shrink(struct zr_dir *d)
{
	uint32_t n = nslots(d);

	if (d->count == 0) {
		zr_free(d->slots);
		d->slots = NULL;
		d->mask = 0;
	} else if (n > HASH_MIN_SLOTS && d->count < n / HASH_SHRINK_DEN) {
		(void)hash_resize(d, n / 2);	/* on ENOMEM keep the big one */
	}
}

/* ------------------------------------------------------------ order array */

static uint64_t slot_cookie(uintptr_t slot)
{
	return IS_TOMB(slot) ? slot >> 1 : ((struct zr_dirent *)slot)->cookie;
}

static int order_reserve(struct zr_dir *d)
{
	uintptr_t *order;
	uint32_t cap;

	if (d->order_len < d->order_cap)
		return 0;
	if (d->order_cap >= (1u << 31))
		return -ENOSPC;
	cap = d->order_cap ? d->order_cap * 2 : ORDER_MIN_SLOTS;
	order = zr_realloc(d->order, (size_t)cap * sizeof(*order));
	if (!order)
		return -ENOMEM;
	d->order = order;
	d->order_cap = cap;
	return 0;
}

static void order_compact(struct zr_dir *d)
{
	uint32_t i, n = 0;
	uintptr_t *order;

	for (i = 0; i < d->order_len; i++) {
		if (IS_TOMB(d->order[i]))
			continue;
		((struct zr_dirent *)d->order[i])->pos = n;
		d->order[n++] = d->order[i];
	}
	assert(n == d->count);
	d->order_len = n;
	d->tombs = 0;
	if (n == 0) {
		zr_free(d->order);
		d->order = NULL;
		d->order_cap = 0;
	} else if (d->order_cap > ORDER_MIN_SLOTS && n < d->order_cap / 4) {
		order = zr_realloc(d->order, (size_t)(d->order_cap / 2) * sizeof(*order));
		if (order) {
			d->order = order;
			d->order_cap /= 2;
		}
	}
}

uint32_t zr_dir_seek(const struct zr_dir *d, uint64_t cookie)
{
	uint32_t lo = 0, hi = d->order_len, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (slot_cookie(d->order[mid]) <= cookie)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct zr_dirent *zr_dir_next(const struct zr_dir *d, uint32_t *idx)
{
	while (*idx < d->order_len) {
		uintptr_t slot = d->order[(*idx)++];

		if (!IS_TOMB(slot))
			return (struct zr_dirent *)slot;
	}
	return NULL;
}

struct zr_dirent *zr_dir_last(const struct zr_dir *d)
{
	uint32_t i = d->order_len;

	while (i-- > 0)
		if (!IS_TOMB(d->order[i]))
			return (struct zr_dirent *)d->order[i];
	return NULL;
}

/* ------------------------------------------------------------ the dir API */

void zr_dir_init(struct zr_dir *d, struct zr_inode *parent)
{
	pthread_once(&hash_seed_once, hash_seed_init);
	memset(d, 0, sizeof(*d));
	d->parent = parent;
	d->next_cookie = 1;	/* 0 means "before everything" to zr_dir_seek */
}

void zr_dir_fini(struct zr_dir *d)
{
	uint32_t i;

	for (i = 0; i < d->order_len; i++)
		if (!IS_TOMB(d->order[i]))
			zr_free((void *)d->order[i]);
	zr_free(d->order);
	zr_free(d->slots);
	memset(d, 0, sizeof(*d));
}

int zr_dir_insert(struct zr_dir *d, const char *name, size_t len,
		  struct zr_inode *ino, struct zr_dirent **out)
{
	struct zr_dirent *de;
	int err;

	assert(len > 0 && len <= UINT8_MAX);
	assert(!zr_dir_find(d, name, len));
	err = hash_reserve(d);
	if (!err)
		err = order_reserve(d);
	if (err)
		return err;
	de = zr_malloc(offsetof(struct zr_dirent, name) + len + 1);
	if (!de)
		return -ENOMEM;
	de->ino = ino;
	de->cookie = d->next_cookie++;
	assert(de->cookie < (UINT64_C(1) << 62));
	de->hash = name_hash(name, len);
	de->namelen = (uint8_t)len;
	memcpy(de->name, name, len);
	de->name[len] = '\0';
	de->pos = d->order_len;
	d->order[d->order_len++] = (uintptr_t)de;
	slot_put(d->slots, d->mask, de);
	d->count++;
	if (out)
		*out = de;
	return 0;
}

void zr_dir_remove(struct zr_dir *d, struct zr_dirent *de)
{
	assert(d->count > 0);
	assert(de->pos < d->order_len && d->order[de->pos] == (uintptr_t)de);
	hash_delete(d, de);
	d->order[de->pos] = TOMB(de->cookie);
	d->tombs++;
	d->count--;
	/* trailing tombstones order nothing: drop them (keeps `rm` of the
	 * newest entries, and zr_dir_last(), O(1)) */
	while (d->order_len && IS_TOMB(d->order[d->order_len - 1])) {
		d->order_len--;
		d->tombs--;
	}
	if (d->count == 0 || d->tombs > d->order_len / 2)
		order_compact(d);	/* frees the array once empty */
	hash_maybe_shrink(d);
	zr_free(de);
}
