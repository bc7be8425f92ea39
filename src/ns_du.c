/* SPDX-License-Identifier: MIT */
/*
 * ns_du.c - per-directory policy words and subtree totals ("du") for the
 * user.zramfs.stats of a directory.
 *
 * Totals.  A walk holds the tree read lock, so names cannot change under
 * it; it visits the directory's entries depth first with an explicit stack
 * (a deep tree cannot overflow the C stack), counts the inodes by type and
 * lets the caller's fn add each regular file's figures.  The result is
 * cached on the directory (struct zr_du_cache, under the directory inode's
 * lock) with the namespace change count read before the walk, fn and the
 * caller's epoch.  Any create, link, unlink, rename, setattr or m/ctime
 * touch anywhere bumps the count (ns.c), so a cached result is reused only
 * while nothing in the mount changed: the invalidation is global, which is
 * simple and always safe (a change elsewhere costs a walk).  What it
 * buys: repeated reads of an idle tree (monitoring, zramfs-stat --watch)
 * cost one copy, and a walk reuses every still-valid subdirectory cache
 * instead of descending into it.  A change that lands during a walk bumps
 * the count past the one stored, so its result is used only once.
 *
 * Only the directory asked for is cached (not every directory walked):
 * a cache costs about 120 bytes, allocated on first use, freed with the
 * directory.
 *
 * Policy.  One opaque 32-bit word per directory, under its inode lock;
 * create_locked() (ns.c) copies it into a new subdirectory.
 */
#include "ns_int.h"

#include <assert.h>
#include <errno.h>
#include <string.h>

#include "zramfs/mem.h"

/* Initial walk stack depth; doubled as needed. */
#define DU_STACK_INIT 32

struct du_frame {
	struct zr_inode *dir;
	uint32_t idx;		/* next index in the directory's order array */
};

struct du_walk {
	struct du_frame *stack;
	size_t depth;
	size_t cap;
	zr_du_fn fn;
	uint64_t gen;
	uint64_t epoch;
	struct zr_ns_du *sum;
};

/* ---------------------------------------------------------------- policy */

int zr_ns_set_policy(struct zr_ns *ns, struct zr_inode *dir, uint32_t policy)
{
	if (dir->type != S_IFDIR)
		return -ENOTDIR;
	pthread_mutex_lock(&dir->lock);
	dir->u.dir->policy = policy;
	pthread_mutex_unlock(&dir->lock);
	return 0;
}

uint32_t zr_ns_get_policy(struct zr_ns *ns, struct zr_inode *dir)
{
	uint32_t policy;

	if (dir->type != S_IFDIR)
		return 0;
	pthread_mutex_lock(&dir->lock);
	policy = dir->u.dir->policy;
	pthread_mutex_unlock(&dir->lock);
	return policy;
}

/* ------------------------------------------------------------------ cache */

static void du_add(struct zr_ns_du *to, const struct zr_ns_du *from)
{
	to->files += from->files;
	to->dirs += from->dirs;
	to->symlinks += from->symlinks;
	to->specials += from->specials;
	for (int i = 0; i < ZR_DU_FIGURES; i++)
		to->fig[i] += from->fig[i];
}

/* Adds dir's cached totals to *sum if they are valid for w; 1 if so. */
static int cache_take(struct zr_inode *dir, const struct du_walk *w,
		      struct zr_ns_du *sum)
{
	struct zr_du_cache *c;
	int hit;

	pthread_mutex_lock(&dir->lock);
	c = dir->u.dir->du;
	hit = c && c->gen == w->gen && c->epoch == w->epoch && c->fn == w->fn;
	if (hit)
		du_add(sum, &c->du);
	pthread_mutex_unlock(&dir->lock);
	return hit;
}

/* Stores the totals of a walk; never replaces a newer result.  Without
 * memory the result is simply not cached. */
static void cache_put(struct zr_inode *dir, const struct du_walk *w)
{
	struct zr_du_cache *c;

	pthread_mutex_lock(&dir->lock);
	c = dir->u.dir->du;
	if (!c)
		c = dir->u.dir->du = zr_calloc(1, sizeof(*c));
	if (c && (c->fn == NULL || c->gen <= w->gen)) {
		c->gen = w->gen;
		c->epoch = w->epoch;
		c->fn = w->fn;
		c->du = *w->sum;
	}
	pthread_mutex_unlock(&dir->lock);
}

/* ------------------------------------------------------------------- walk */

static int push(struct du_walk *w, struct zr_inode *dir)
{
	if (w->depth == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : DU_STACK_INIT;
		struct du_frame *s = zr_realloc(w->stack, cap * sizeof(*s));

		if (!s)
			return -ENOMEM;
		w->stack = s;
		w->cap = cap;
	}
	w->stack[w->depth].dir = dir;
	w->stack[w->depth].idx = 0;
	w->depth++;
	return 0;
}

/* Counts one entry; a subdirectory is pushed unless its cache answers. */
static int visit(struct du_walk *w, struct zr_inode *ino)
{
	struct zr_ns_du *sum = w->sum;

	switch (ino->type) {
	case S_IFREG:
		sum->files++;
		if (ino->u.payload)
			w->fn(ino->u.payload, sum->fig);
		return 0;
	case S_IFDIR:
		if (cache_take(ino, w, sum))
			return 0;
		sum->dirs++;
		return push(w, ino);
	case S_IFLNK:
		sum->symlinks++;
		return 0;
	default:
		sum->specials++;
		return 0;
	}
}

/* The walk proper (tree read lock held). */
static int walk(struct du_walk *w, struct zr_inode *top)
{
	int err;

	w->sum->dirs = 1;
	err = push(w, top);
	while (!err && w->depth) {
		struct du_frame *f = &w->stack[w->depth - 1];
		struct zr_dirent *de = zr_dir_next(f->dir->u.dir, &f->idx);

		if (de)
			err = visit(w, de->ino);
		else
			w->depth--;
	}
	return err;
}

int zr_ns_du(struct zr_ns *ns, struct zr_inode *dir, zr_du_fn fn, uint64_t epoch,
	     struct zr_ns_du *out)
{
	pthread_rwlock_t *tree = zr_ns_tree_lock(ns);
	struct du_walk w = { .fn = fn, .epoch = epoch, .sum = out };
	int err;

	if (dir->type != S_IFDIR)
		return -ENOTDIR;
	memset(out, 0, sizeof(*out));
	pthread_rwlock_rdlock(tree);
	w.gen = zr_ns_generation(ns);
	if (cache_take(dir, &w, out)) {
		pthread_rwlock_unlock(tree);
		return 0;
	}
	err = walk(&w, dir);
	if (!err)
		cache_put(dir, &w);
	pthread_rwlock_unlock(tree);
	zr_free(w.stack);
	if (err)
		memset(out, 0, sizeof(*out));
	return err;
}
