/* SPDX-License-Identifier: MIT */
/*
 * ns.c - the namespace: inodes, names, links, lookup counts, attributes.
 *
 * Owns every struct zr_inode (layout in ns_int.h), the directory tables
 * (ns_dir.c) and the xattr lists (ns_xattr.c).  A regular file's payload is
 * opaque; it is handed to cfg->payload_free when the inode dies.
 *
 * Lifetime.  An inode lives while it has a name (nlink > 0) or the kernel
 * holds a reference (nlookup > 0).  Whichever of unlink/rmdir/rename and
 * forget brings the second one to zero frees it.  An inode with no name but
 * references is an orphan: it sits in ns->orphans (a zr_dir keyed by the
 * inode's address) so zr_ns_destroy() can find it; everything else is found
 * by walking the tree from the root.  The root is freed only by destroy.
 * A removed directory's ".." is itself (its old parent may die first).
 *
 * Locking.
 *   ns->tree (rwlock)   the tree: directory entries, parent pointers,
 *                       nlink, orphans, next_ino.  Read: lookup, readdir.
 *                       Write: create, link, unlink, rmdir, rename, forget.
 *   ino->lock (mutex)   an inode's perm, uid, gid, times, xattrs; nlink and
 *                       a directory's entry count are written holding both
 *                       the tree write lock and this lock, so getattr needs
 *                       only this lock.  payload_attr is called under it
 *                       (the file-data lock ranks below it).
 *   ino->nlookup        atomic: lookup and readdirplus raise it under the
 *                       read lock; it is lowered only under the write lock,
 *                       so a holder of the write lock sees it stable.
 *   stats               relaxed atomics.
 * Order: tree lock, then one inode lock at a time (never two: rename locks
 * the inodes it touches one after the other), then the payload's locks.
 * readdir calls fill with the tree read lock held: fill must not call back
 * into the namespace.  Plain readdir gives fill only st_ino and the type
 * bits (all fuse_add_direntry reads, and no inode lock per entry);
 * readdirplus gives full attributes.
 *
 * Invariants (asserted): nlink of a directory is 2 + its subdirectories
 * while it is linked, 0 once removed; a non-directory's nlink counts its
 * entries; an inode in the tree has nlink > 0; an orphan has nlink == 0 and
 * nlookup > 0.
 *
 * Change count.  ns->gen (an atomic) is bumped after every change under the
 * tree write lock and every setattr or m/ctime touch; zr_ns_du()
 * (ns_du.c) reuses a directory's cached subtree totals only while it
 * is unchanged.
 *
 * Timestamps follow tmpfs: creating sets all three on the new inode and
 * m/ctime on the directory; link/unlink/rename change the directories'
 * m/ctime and the inodes' ctime.  One clock read per operation.
 */
#include "ns_int.h"

#include <assert.h>
#include <errno.h>
#include <linux/fs.h>
#include <string.h>

#include "zramfs/mem.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

/* FUSE's node id of the root (FUSE_ROOT_ID); no heap address is 1. */
#define ROOT_NODEID 1
/* st_ino of the root, as on most filesystems' roots, and the first. */
#define ROOT_INO 1
/* tmpfs reports a directory's size as BOGO_DIRENT_SIZE per entry, "." and
 * ".." included; du and some tools look at it. */
#define DIRENT_BOGO_SIZE 20
#define DOT_ENTRIES 2
/* readdir offsets: 1 after ".", 2 after "..", cookie + 2 after an entry. */
#define OFF_DOT 1
#define OFF_DOTDOT 2
/* relatime: refresh atime at least once a day. */
#define RELATIME_SECS (24 * 60 * 60)

struct zr_ns {
	pthread_rwlock_t tree;
	struct zr_ns_config cfg;
	struct zr_inode *root;
	uint64_t next_ino;		/* [tree] */
	struct zr_dir orphans;		/* [tree] key: the inode's address */
	_Atomic uint64_t n_inodes;
	_Atomic uint64_t n_files;
	_Atomic uint64_t n_dirs;
	_Atomic uint64_t n_symlinks;
	_Atomic uint64_t n_specials;
	_Atomic uint64_t xattr_bytes;
	_Atomic uint64_t gen;		/* changes, for zr_ns_du()'s cache */
};

/* ---------------------------------------------------------------- helpers */

/* The clock of zr_ns_now(): set once, at INIT, read by every request
 * thread (relaxed: any value read is a valid clock). */
static _Atomic clockid_t ns_clock = CLOCK_REALTIME;

void zr_ns_use_coarse_clock(void)
{
	atomic_store_explicit(&ns_clock, CLOCK_REALTIME_COARSE, memory_order_relaxed);
}

void zr_ns_now(struct timespec *ts)
{
	clock_gettime(atomic_load_explicit(&ns_clock, memory_order_relaxed), ts);
}

static int is_dir(const struct zr_inode *ino)
{
	return ino->type == S_IFDIR;
}

static struct zr_dir *dir_of(const struct zr_inode *ino)
{
	assert(is_dir(ino));
	return ino->u.dir;
}

/* 1 for ".", 2 for "..", else 0. */
static int dot_name(const char *name, size_t len)
{
	if (name[0] != '.' || len > 2)
		return 0;
	if (len == 1)
		return 1;
	return name[1] == '.' ? 2 : 0;
}

static int check_name(const char *name, size_t *len)
{
	*len = strlen(name);
	if (*len == 0)
		return -ENOENT;
	if (*len > ZR_NAME_MAX)
		return -ENAMETOOLONG;
	return 0;
}

/* check_entry(): a name to create, link or remove in dir: the name first,
 * then that dir is a directory. */
static int check_entry(const struct zr_inode *dir, const char *name, size_t *len)
{
	int err = check_name(name, len);

	if (err)
		return err;
	return is_dir(dir) ? 0 : -ENOTDIR;
}

static _Atomic uint64_t *type_counter(struct zr_ns *ns, unsigned type)
{
	switch (type) {
	case S_IFREG:
		return &ns->n_files;
	case S_IFDIR:
		return &ns->n_dirs;
	case S_IFLNK:
		return &ns->n_symlinks;
	default:
		return &ns->n_specials;
	}
}

static void stat_add(_Atomic uint64_t *c, int64_t d)
{
	atomic_fetch_add_explicit(c, (uint64_t)d, memory_order_relaxed);
}

static uint64_t stat_get(_Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

static uint64_t nlookup_get(struct zr_inode *ino)
{
	return atomic_load_explicit(&ino->nlookup, memory_order_relaxed);
}

static void nlookup_add(struct zr_inode *ino, uint64_t n)
{
	atomic_fetch_add_explicit(&ino->nlookup, n, memory_order_relaxed);
}

_Atomic uint64_t *zr_ns_xattr_counter(struct zr_ns *ns)
{
	return &ns->xattr_bytes;
}

pthread_rwlock_t *zr_ns_tree_lock(struct zr_ns *ns)
{
	return &ns->tree;
}

/* Something a subtree total may depend on changed: a name, or (through
 * setattr and m/ctime touches) a file's data.  Release, after the change,
 * pairs with the acquire in zr_ns_generation(). */
static void changed(struct zr_ns *ns)
{
	atomic_fetch_add_explicit(&ns->gen, 1, memory_order_release);
}

uint64_t zr_ns_generation(struct zr_ns *ns)
{
	return atomic_load_explicit(&ns->gen, memory_order_acquire);
}

/* ------------------------------------------------------------ attributes */

/* Fills *st; the caller holds ino->lock. */
static void stat_fill(struct zr_ns *ns, struct zr_inode *ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino->ino;
	st->st_mode = (mode_t)ino->type | ino->perm;
	st->st_nlink = ino->nlink;
	st->st_uid = ino->uid;
	st->st_gid = ino->gid;
	st->st_blksize = ns->cfg.blksize;
	st->st_atim = ino->atime;
	st->st_mtim = ino->mtime;
	st->st_ctim = ino->ctime;
	switch (ino->type) {
	case S_IFREG:
		if (ino->u.payload && ns->cfg.payload_attr)
			ns->cfg.payload_attr(ino->u.payload, st);
		break;
	case S_IFDIR:
		st->st_size = (off_t)(ino->u.dir->count + DOT_ENTRIES) * DIRENT_BOGO_SIZE;
		break;
	case S_IFLNK:
		st->st_size = (off_t)strlen(ino->u.target);
		break;
	case S_IFCHR:
	case S_IFBLK:
		st->st_rdev = ino->u.rdev;
		break;
	}
}

static void stat_locked(struct zr_ns *ns, struct zr_inode *ino, struct stat *st)
{
	pthread_mutex_lock(&ino->lock);
	stat_fill(ns, ino, st);
	pthread_mutex_unlock(&ino->lock);
}

void zr_ns_getattr(struct zr_ns *ns, struct zr_inode *ino, struct stat *st)
{
	stat_locked(ns, ino, st);
}

static void set_ctime(struct zr_inode *ino, const struct timespec *now)
{
	pthread_mutex_lock(&ino->lock);
	ino->ctime = *now;
	pthread_mutex_unlock(&ino->lock);
}

/* Sets nlink and ctime of ino (tree write lock held). */
static void set_nlink(struct zr_inode *ino, uint32_t nlink, const struct timespec *now)
{
	pthread_mutex_lock(&ino->lock);
	ino->nlink = nlink;
	ino->ctime = *now;
	pthread_mutex_unlock(&ino->lock);
}

static void apply_times(struct zr_inode *ino, const struct stat *attr,
			unsigned to_set, const struct timespec *now)
{
	if (to_set & ZR_SET_SIZE)
		ino->mtime = *now;
	if (to_set & ZR_SET_ATIME)
		ino->atime = attr->st_atim;
	if (to_set & ZR_SET_ATIME_NOW)
		ino->atime = *now;
	if (to_set & ZR_SET_MTIME)
		ino->mtime = attr->st_mtim;
	if (to_set & ZR_SET_MTIME_NOW)
		ino->mtime = *now;
	ino->ctime = (to_set & ZR_SET_CTIME) ? attr->st_ctim : *now;
}

/* The set-id bits a write or chown drops; the caller holds ino->lock. */
static uint16_t setid_bits(const struct zr_inode *ino)
{
	uint16_t bits = ino->perm & S_ISUID;

	if (ino->type == S_IFDIR)
		return 0;
	if ((ino->perm & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP))
		bits |= S_ISGID;
	return bits;
}

int zr_ns_has_setid(struct zr_inode *ino)
{
	int has;

	pthread_mutex_lock(&ino->lock);
	has = setid_bits(ino) != 0;
	pthread_mutex_unlock(&ino->lock);
	return has;
}

int zr_ns_setattr(struct zr_ns *ns, struct zr_inode *ino, const struct stat *attr,
		  unsigned to_set, struct stat *out)
{
	struct timespec now;

	zr_ns_now(&now);
	pthread_mutex_lock(&ino->lock);
	if (to_set & ZR_SET_MODE)
		ino->perm = attr->st_mode & 07777;
	if (to_set & ZR_SET_UID)
		ino->uid = attr->st_uid;
	if (to_set & ZR_SET_GID)
		ino->gid = attr->st_gid;
	if (to_set & ZR_SET_KILL_SUIDGID)
		ino->perm &= (uint16_t)~setid_bits(ino);
	apply_times(ino, attr, to_set, &now);
	if (out)
		stat_fill(ns, ino, out);
	pthread_mutex_unlock(&ino->lock);
	changed(ns);
	return 0;
}

static int ts_le(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec ||
	       (a->tv_sec == b->tv_sec && a->tv_nsec <= b->tv_nsec);
}

/* relatime: only if the file changed since it was last read, or a day on. */
static int relatime_due(const struct zr_inode *ino, const struct timespec *now)
{
	return ts_le(&ino->atime, &ino->mtime) || ts_le(&ino->atime, &ino->ctime) ||
	       now->tv_sec - ino->atime.tv_sec >= RELATIME_SECS;
}

void zr_ns_touch(struct zr_ns *ns, struct zr_inode *ino, unsigned what)
{
	struct timespec now;

	zr_ns_now(&now);
	pthread_mutex_lock(&ino->lock);
	if ((what & ZR_TOUCH_ATIME) &&
	    (!(what & ZR_TOUCH_RELATIME) || relatime_due(ino, &now)))
		ino->atime = now;
	if (what & ZR_TOUCH_MTIME)
		ino->mtime = now;
	if (what & ZR_TOUCH_CTIME)
		ino->ctime = now;
	if (what & ZR_TOUCH_KILL_SUIDGID)
		ino->perm &= (uint16_t)~setid_bits(ino);
	pthread_mutex_unlock(&ino->lock);
	if (what & (ZR_TOUCH_MTIME | ZR_TOUCH_CTIME))
		changed(ns);	/* data callers touch after changing it */
}

int zr_ns_readlink(struct zr_ns *ns, struct zr_inode *ino, char *buf, size_t size)
{
	size_t len;

	if (ino->type != S_IFLNK)
		return -EINVAL;
	len = strlen(ino->u.target);	/* fixed at creation: no lock */
	if (size < len + 1)
		return -ERANGE;
	memcpy(buf, ino->u.target, len + 1);
	return (int)len;
}

/* ---------------------------------------------------------- inode life */

struct node_spec {
	mode_t mode;		/* type and permission bits */
	uid_t uid;
	gid_t gid;
	dev_t rdev;
	void *payload;
	const char *target;
};

static struct zr_inode *inode_new(struct zr_ns *ns, const struct node_spec *spec,
				  struct zr_inode *parent)
{
	size_t extra = spec->target ? strlen(spec->target) + 1 : 0;
	struct zr_inode *ino = zr_calloc(1, sizeof(*ino) + extra);

	if (!ino)
		return NULL;
	ino->type = (uint16_t)(spec->mode & S_IFMT);
	ino->perm = (uint16_t)(spec->mode & 07777);
	ino->uid = spec->uid;
	ino->gid = spec->gid;
	ino->ino = ns->next_ino;
	ino->nlink = 1;
	if (ino->type == S_IFDIR) {
		ino->u.dir = zr_malloc(sizeof(*ino->u.dir));
		if (!ino->u.dir) {
			zr_free(ino);
			return NULL;
		}
		zr_dir_init(ino->u.dir, parent ? parent : ino);
		ino->nlink = 2;
	} else if (ino->type == S_IFLNK) {
		ino->u.target = (char *)(ino + 1);
		memcpy(ino->u.target, spec->target, extra);
	} else if (ino->type == S_IFREG) {
		ino->u.payload = spec->payload;
	} else if (ino->type == S_IFCHR || ino->type == S_IFBLK) {
		ino->u.rdev = spec->rdev;
	}
	zr_ns_now(&ino->ctime);
	ino->atime = ino->mtime = ino->ctime;
	pthread_mutex_init(&ino->lock, NULL);
	return ino;
}

/* Undoes inode_new() for an inode never published; the payload stays the
 * caller's. */
static void inode_discard(struct zr_inode *ino)
{
	if (is_dir(ino)) {
		zr_free(ino->u.dir->du);
		zr_dir_fini(ino->u.dir);
		zr_free(ino->u.dir);
	}
	pthread_mutex_destroy(&ino->lock);
	zr_free(ino);
}

static void inode_commit(struct zr_ns *ns, struct zr_inode *ino)
{
	ns->next_ino++;
	stat_add(&ns->n_inodes, 1);
	stat_add(type_counter(ns, ino->type), 1);
}

static void inode_free(struct zr_ns *ns, struct zr_inode *ino)
{
	if (ino->type == S_IFREG && ino->u.payload && ns->cfg.payload_free)
		ns->cfg.payload_free(ino->u.payload);
	zr_xattr_free_all(ino, &ns->xattr_bytes);
	stat_add(&ns->n_inodes, -1);
	stat_add(type_counter(ns, ino->type), -1);
	inode_discard(ino);
}

static struct zr_dirent *orphan_entry(struct zr_ns *ns, struct zr_inode *ino)
{
	return zr_dir_find(&ns->orphans, (const char *)&ino, sizeof(ino));
}

/* Before ino loses its last name: an orphan if the kernel still holds it.
 * The only step of an unlink that can fail, so it comes first. */
static int orphan_prepare(struct zr_ns *ns, struct zr_inode *ino)
{
	if (nlookup_get(ino) == 0)
		return 0;
	return zr_dir_insert(&ns->orphans, (const char *)&ino, sizeof(ino), ino, NULL);
}

static void orphan_drop(struct zr_ns *ns, struct zr_inode *ino)
{
	struct zr_dirent *de = orphan_entry(ns, ino);

	assert(de && de->ino == ino);
	zr_dir_remove(&ns->orphans, de);
}

/* After ino lost a name or a reference (tree write lock held). */
static void inode_maybe_free(struct zr_ns *ns, struct zr_inode *ino)
{
	if (ino->nlink || nlookup_get(ino) || ino == ns->root)
		return;
	inode_free(ns, ino);
}

/* --------------------------------------------------------- directory ops */

/* Adds name -> ino to dir, with the directory's times and link count. */
static int dir_add(struct zr_inode *dir, const char *name, size_t len,
		   struct zr_inode *ino, const struct timespec *now)
{
	int err;

	pthread_mutex_lock(&dir->lock);
	err = zr_dir_insert(dir_of(dir), name, len, ino, NULL);
	if (!err) {
		dir->mtime = dir->ctime = *now;
		if (is_dir(ino))
			dir->nlink++;
	}
	pthread_mutex_unlock(&dir->lock);
	return err;
}

/* Removes de from dir, with the directory's times and link count. */
static void dir_del(struct zr_inode *dir, struct zr_dirent *de,
		    const struct timespec *now)
{
	int subdir = is_dir(de->ino);

	pthread_mutex_lock(&dir->lock);
	zr_dir_remove(dir_of(dir), de);
	dir->mtime = dir->ctime = *now;
	if (subdir)
		dir->nlink--;
	pthread_mutex_unlock(&dir->lock);
}

/* Just the directory's times (an entry changed in place). */
static void dir_touch(struct zr_inode *dir, int nlink_delta, const struct timespec *now)
{
	pthread_mutex_lock(&dir->lock);
	dir->mtime = dir->ctime = *now;
	dir->nlink = (uint32_t)((int64_t)dir->nlink + nlink_delta);
	pthread_mutex_unlock(&dir->lock);
}

/* The inode named name in dir, "." and ".." included (tree lock held). */
static struct zr_inode *dir_lookup(struct zr_inode *dir, const char *name, size_t len)
{
	struct zr_dirent *de;

	switch (dot_name(name, len)) {
	case 1:
		return dir;
	case 2:
		return dir_of(dir)->parent;
	}
	de = zr_dir_find(dir_of(dir), name, len);
	return de ? de->ino : NULL;
}

/* ---------------------------------------------------------- the public API */

struct zr_ns *zr_ns_create(const struct zr_ns_config *cfg)
{
	struct node_spec spec = {
		.mode = S_IFDIR | (cfg->root_mode & 07777),
		.uid = cfg->root_uid,
		.gid = cfg->root_gid,
	};
	struct zr_ns *ns = zr_calloc(1, sizeof(*ns));

	if (!ns)
		return NULL;
	ns->cfg = *cfg;
	ns->next_ino = ROOT_INO;
	ns->root = inode_new(ns, &spec, NULL);
	if (!ns->root) {
		zr_free(ns);
		return NULL;
	}
	inode_commit(ns, ns->root);
	zr_dir_init(&ns->orphans, NULL);
	pthread_rwlock_init(&ns->tree, NULL);
	return ns;
}

/* Frees the tree under the root, deepest first, without recursion. */
static void destroy_tree(struct zr_ns *ns)
{
	struct zr_inode *d = ns->root, *child;
	struct zr_dirent *de;

	for (;;) {
		de = zr_dir_last(dir_of(d));
		if (!de) {
			if (d == ns->root)
				return;
			d = dir_of(d)->parent;	/* d is now its last entry */
			continue;
		}
		child = de->ino;
		if (is_dir(child) && dir_of(child)->count) {
			d = child;
			continue;
		}
		zr_dir_remove(dir_of(d), de);
		if (is_dir(child) || --child->nlink == 0)
			inode_free(ns, child);
	}
}

void zr_ns_destroy(struct zr_ns *ns)
{
	struct zr_dirent *de;

	if (!ns)
		return;
	destroy_tree(ns);
	while ((de = zr_dir_last(&ns->orphans))) {
		struct zr_inode *ino = de->ino;

		zr_dir_remove(&ns->orphans, de);
		inode_free(ns, ino);
	}
	zr_dir_fini(&ns->orphans);
	inode_free(ns, ns->root);
	pthread_rwlock_destroy(&ns->tree);
	zr_free(ns);
}

struct zr_inode *zr_ns_root(struct zr_ns *ns)
{
	return ns->root;
}

uint64_t zr_ns_nodeid(struct zr_ns *ns, struct zr_inode *ino)
{
	return ino == ns->root ? ROOT_NODEID : (uint64_t)(uintptr_t)ino;
}

struct zr_inode *zr_ns_inode(struct zr_ns *ns, uint64_t nodeid)
{
	return nodeid == ROOT_NODEID ? ns->root : (struct zr_inode *)(uintptr_t)nodeid;
}

mode_t zr_inode_type(const struct zr_inode *ino)
{
	return ino->type;
}

void *zr_inode_payload(const struct zr_inode *ino)
{
	return ino->type == S_IFREG ? ino->u.payload : NULL;
}

int zr_ns_lookup(struct zr_ns *ns, struct zr_inode *dir, const char *name,
		 struct zr_inode **out, struct stat *st)
{
	struct zr_inode *ino;
	size_t len;
	int err;

	if (!is_dir(dir))
		return -ENOTDIR;
	err = check_name(name, &len);
	if (err)
		return err;
	pthread_rwlock_rdlock(&ns->tree);
	ino = dir_lookup(dir, name, len);
	if (ino) {
		nlookup_add(ino, 1);
		if (st)
			stat_locked(ns, ino, st);
	}
	pthread_rwlock_unlock(&ns->tree);
	if (!ino)
		return -ENOENT;
	if (out)
		*out = ino;
	return 0;
}

/* create: everything but the argument checks (tree write lock held). */
static int create_locked(struct zr_ns *ns, struct zr_inode *dir, const char *name,
			 size_t len, struct node_spec *spec, struct zr_inode **out)
{
	struct zr_inode *ino;
	uint64_t max = ns->cfg.max_inodes;
	int err;

	if (dir->nlink == 0)
		return -ENOENT;
	if (zr_dir_find(dir_of(dir), name, len))
		return -EEXIST;
	if (max && stat_get(&ns->n_inodes) >= max)
		return -ENOSPC;
	if (S_ISDIR(spec->mode) && dir->nlink >= ZR_LINK_MAX)
		return -EMLINK;
	ino = inode_new(ns, spec, dir);
	if (!ino)
		return -ENOMEM;

	pthread_mutex_lock(&dir->lock);
	if (dir->perm & S_ISGID) {
		ino->gid = dir->gid;
		if (is_dir(ino))
			ino->perm |= S_ISGID;
	}
	if (is_dir(ino))	/* not published yet: no lock of its own */
		dir_of(ino)->policy = dir_of(dir)->policy;
	pthread_mutex_unlock(&dir->lock);
	err = dir_add(dir, name, len, ino, &ino->ctime);
	if (err) {
		inode_discard(ino);
		return err;
	}
	inode_commit(ns, ino);
	nlookup_add(ino, 1);
	*out = ino;
	return 0;
}

static int node_create(struct zr_ns *ns, struct zr_inode *dir, const char *name,
		       struct node_spec *spec, struct zr_inode **out, struct stat *st)
{
	struct zr_inode *ino = NULL;
	size_t len;
	int err;

	err = check_entry(dir, name, &len);
	if (err)
		return err;
	if (dot_name(name, len))
		return -EEXIST;
	pthread_rwlock_wrlock(&ns->tree);
	err = create_locked(ns, dir, name, len, spec, &ino);
	if (!err && st)
		stat_locked(ns, ino, st);
	changed(ns);
	pthread_rwlock_unlock(&ns->tree);
	if (!err && out)
		*out = ino;
	return err;
}

int zr_ns_mknod(struct zr_ns *ns, struct zr_inode *dir, const char *name,
		mode_t mode, dev_t rdev, uid_t uid, gid_t gid, void *payload,
		struct zr_inode **out, struct stat *st)
{
	struct node_spec spec = { .mode = mode, .uid = uid, .gid = gid };

	switch (mode & S_IFMT) {
	case S_IFREG:
		spec.payload = payload;
		break;
	case S_IFCHR:
	case S_IFBLK:
		spec.rdev = rdev;
		break;
	case S_IFDIR:
	case S_IFIFO:
	case S_IFSOCK:
		break;
	default:
		return -EINVAL;
	}
	return node_create(ns, dir, name, &spec, out, st);
}

int zr_ns_symlink(struct zr_ns *ns, struct zr_inode *dir, const char *name,
		  const char *target, uid_t uid, gid_t gid,
		  struct zr_inode **out, struct stat *st)
{
	struct node_spec spec = {
		.mode = S_IFLNK | 0777, .uid = uid, .gid = gid, .target = target,
	};
	size_t tlen = strlen(target);

	if (tlen == 0)
		return -ENOENT;
	if (tlen > ZR_SYMLINK_MAX)
		return -ENAMETOOLONG;
	return node_create(ns, dir, name, &spec, out, st);
}

static int link_locked(struct zr_ns *ns, struct zr_inode *ino, struct zr_inode *dir,
		       const char *name, size_t len, struct stat *st)
{
	struct timespec now;
	int err;

	if (dir->nlink == 0)
		return -ENOENT;
	if (zr_dir_find(dir_of(dir), name, len))
		return -EEXIST;
	if (ino->nlink >= ZR_LINK_MAX)
		return -EMLINK;
	zr_ns_now(&now);
	err = dir_add(dir, name, len, ino, &now);
	if (err)
		return err;
	/* An orphan comes back (linkat of an O_TMPFILE-style inode; the
	 * kernel refuses other unlinked inodes before asking). */
	if (ino->nlink == 0)
		orphan_drop(ns, ino);
	pthread_mutex_lock(&ino->lock);
	ino->nlink++;
	ino->ctime = now;
	if (st)
		stat_fill(ns, ino, st);
	pthread_mutex_unlock(&ino->lock);
	nlookup_add(ino, 1);
	return 0;
}

int zr_ns_link(struct zr_ns *ns, struct zr_inode *ino, struct zr_inode *dir,
	       const char *name, struct stat *st)
{
	size_t len;
	int err;

	err = check_entry(dir, name, &len);
	if (err)
		return err;
	if (is_dir(ino))
		return -EPERM;
	if (dot_name(name, len))
		return -EEXIST;
	pthread_rwlock_wrlock(&ns->tree);
	err = link_locked(ns, ino, dir, name, len, st);
	changed(ns);
	pthread_rwlock_unlock(&ns->tree);
	return err;
}

/* Takes a name away from victim (tree write lock held, entry removed). */
static void drop_name(struct zr_ns *ns, struct zr_inode *victim,
		      const struct timespec *now)
{
	if (is_dir(victim)) {
		assert(victim->nlink == 2 && dir_of(victim)->count == 0);
		dir_of(victim)->parent = victim;
		set_nlink(victim, 0, now);
	} else {
		assert(victim->nlink > 0);
		set_nlink(victim, victim->nlink - 1, now);
	}
	inode_maybe_free(ns, victim);
}

/* Will dropping one name of ino make it nameless? */
static int last_name(const struct zr_inode *ino)
{
	return is_dir(ino) || ino->nlink == 1;
}

static int remove_locked(struct zr_ns *ns, struct zr_inode *dir, const char *name,
			 size_t len, int want_dir)
{
	struct zr_dirent *de = zr_dir_find(dir_of(dir), name, len);
	struct zr_inode *victim;
	struct timespec now;
	int err;

	if (!de)
		return -ENOENT;
	victim = de->ino;
	if (!want_dir && is_dir(victim))
		return -EISDIR;
	if (want_dir && !is_dir(victim))
		return -ENOTDIR;
	if (want_dir && dir_of(victim)->count)
		return -ENOTEMPTY;
	if (last_name(victim)) {
		err = orphan_prepare(ns, victim);
		if (err)
			return err;
	}
	zr_ns_now(&now);
	dir_del(dir, de, &now);
	drop_name(ns, victim, &now);
	return 0;
}

static int remove_name(struct zr_ns *ns, struct zr_inode *dir, const char *name,
		       int want_dir)
{
	size_t len;
	int err;

	err = check_entry(dir, name, &len);
	if (err)
		return err;
	switch (dot_name(name, len)) {
	case 1:
		return want_dir ? -EINVAL : -EISDIR;
	case 2:
		if (!want_dir)
			return -EISDIR;
		return dir == ns->root ? -EBUSY : -ENOTEMPTY;
	}
	pthread_rwlock_wrlock(&ns->tree);
	err = remove_locked(ns, dir, name, len, want_dir);
	changed(ns);
	pthread_rwlock_unlock(&ns->tree);
	return err;
}

int zr_ns_unlink(struct zr_ns *ns, struct zr_inode *dir, const char *name)
{
	return remove_name(ns, dir, name, 0);
}

int zr_ns_rmdir(struct zr_ns *ns, struct zr_inode *dir, const char *name)
{
	return remove_name(ns, dir, name, 1);
}

/* ------------------------------------------------------------------ rename */

struct rename_op {
	struct zr_inode *dir, *newdir;	/* old and new parent */
	struct zr_dirent *old, *new;	/* new is NULL if the name is free */
	struct zr_inode *src, *dst;	/* what they name */
	const char *newname;
	size_t newlen;
	struct timespec now;
};

/* Is ino d or one of d's ancestors?  (Walks ".." up to the root, or to a
 * removed directory, whose ".." is itself.) */
static int is_ancestor(struct zr_ns *ns, const struct zr_inode *ino,
		       const struct zr_inode *d)
{
	for (;;) {
		if (d == ino)
			return 1;
		if (d == ns->root || dir_of(d)->parent == d)
			return 0;
		d = dir_of(d)->parent;
	}
}

/* Moves src to a free name in newdir. */
static int rename_move(struct zr_ns *ns, struct rename_op *op)
{
	int err;

	if (op->newdir->nlink == 0)
		return -ENOENT;
	if (is_dir(op->src) && op->dir != op->newdir &&
	    op->newdir->nlink >= ZR_LINK_MAX)
		return -EMLINK;
	err = dir_add(op->newdir, op->newname, op->newlen, op->src, &op->now);
	if (err)
		return err;
	dir_del(op->dir, op->old, &op->now);
	if (is_dir(op->src))
		dir_of(op->src)->parent = op->newdir;
	set_ctime(op->src, &op->now);
	return 0;
}

/* Moves src over dst, which loses that name. */
static int rename_replace(struct zr_ns *ns, struct rename_op *op)
{
	int sdir = is_dir(op->src), ddir = is_dir(op->dst);
	int err;

	if (sdir && !ddir)
		return -ENOTDIR;
	if (!sdir && ddir)
		return -EISDIR;
	if (ddir && dir_of(op->dst)->count)
		return -ENOTEMPTY;
	if (last_name(op->dst)) {
		err = orphan_prepare(ns, op->dst);
		if (err)
			return err;
	}
	dir_del(op->dir, op->old, &op->now);
	op->new->ino = op->src;
	dir_touch(op->newdir, sdir - ddir, &op->now);
	if (sdir)
		dir_of(op->src)->parent = op->newdir;
	set_ctime(op->src, &op->now);
	drop_name(ns, op->dst, &op->now);
	return 0;
}

/* RENAME_EXCHANGE: the two entries swap inodes. */
static int rename_exchange(struct zr_ns *ns, struct rename_op *op)
{
	int sdir = is_dir(op->src), ddir = is_dir(op->dst);
	int cross = op->dir != op->newdir;

	if (cross && ddir && is_ancestor(ns, op->dst, op->dir))
		return -EINVAL;
	if (cross && sdir != ddir) {
		struct zr_inode *gains = sdir ? op->newdir : op->dir;

		if (gains->nlink >= ZR_LINK_MAX)
			return -EMLINK;
	}
	op->old->ino = op->dst;
	op->new->ino = op->src;
	if (cross) {
		if (sdir)
			dir_of(op->src)->parent = op->newdir;
		if (ddir)
			dir_of(op->dst)->parent = op->dir;
	}
	dir_touch(op->dir, cross ? ddir - sdir : 0, &op->now);
	if (cross)
		dir_touch(op->newdir, sdir - ddir, &op->now);
	set_ctime(op->src, &op->now);
	set_ctime(op->dst, &op->now);
	return 0;
}

static int rename_locked(struct zr_ns *ns, struct rename_op *op, const char *name,
			 size_t len, unsigned flags)
{
	op->old = zr_dir_find(dir_of(op->dir), name, len);
	if (!op->old)
		return -ENOENT;
	op->new = zr_dir_find(dir_of(op->newdir), op->newname, op->newlen);
	op->src = op->old->ino;
	op->dst = op->new ? op->new->ino : NULL;
	if ((flags & RENAME_EXCHANGE) && !op->new)
		return -ENOENT;
	if ((flags & RENAME_NOREPLACE) && op->new)
		return -EEXIST;
	if (op->src == op->dst)
		return 0;	/* POSIX: same file, nothing to do */
	if (is_dir(op->src) && op->dir != op->newdir &&
	    is_ancestor(ns, op->src, op->newdir))
		return -EINVAL;
	zr_ns_now(&op->now);
	if (flags & RENAME_EXCHANGE)
		return rename_exchange(ns, op);
	return op->new ? rename_replace(ns, op) : rename_move(ns, op);
}

int zr_ns_rename(struct zr_ns *ns, struct zr_inode *dir, const char *name,
		 struct zr_inode *newdir, const char *newname, unsigned flags)
{
	struct rename_op op = { .dir = dir, .newdir = newdir, .newname = newname };
	size_t len;
	int err;

	if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL;
	if ((flags & RENAME_NOREPLACE) && (flags & RENAME_EXCHANGE))
		return -EINVAL;
	err = check_name(name, &len);
	if (!err)
		err = check_name(newname, &op.newlen);
	if (err)
		return err;
	if (!is_dir(dir) || !is_dir(newdir))
		return -ENOTDIR;
	if (dot_name(name, len) || dot_name(newname, op.newlen))
		return -EBUSY;
	pthread_rwlock_wrlock(&ns->tree);
	err = rename_locked(ns, &op, name, len, flags);
	changed(ns);
	pthread_rwlock_unlock(&ns->tree);
	return err;
}

/* -------------------------------------------------------------- forget */

void zr_ns_forget(struct zr_ns *ns, struct zr_inode *ino, uint64_t nlookup)
{
	uint64_t left;

	pthread_rwlock_wrlock(&ns->tree);
	left = nlookup_get(ino);
	assert(left >= nlookup);
	left = left >= nlookup ? left - nlookup : 0;
	atomic_store_explicit(&ino->nlookup, left, memory_order_relaxed);
	if (left == 0 && ino->nlink == 0 && ino != ns->root) {
		orphan_drop(ns, ino);
		inode_free(ns, ino);
	}
	pthread_rwlock_unlock(&ns->tree);
}

/* ------------------------------------------------------------- readdir */

/* Passes one entry to fill; nodeid 0 for "." and "..", as the header says. */
static int fill_entry(struct zr_ns *ns, struct zr_inode *ino, const char *name,
		      int dots, uint64_t next_off, int plus, zr_fill_fn fill,
		      void *ctx)
{
	uint64_t nodeid = dots ? 0 : zr_ns_nodeid(ns, ino);
	struct stat st;

	if (plus) {
		stat_locked(ns, ino, &st);
	} else {
		/* readdir proper needs only st_ino and the type (both fixed) */
		memset(&st, 0, sizeof(st));
		st.st_ino = ino->ino;
		st.st_mode = ino->type;
	}
	return fill(ctx, name, &st, nodeid, next_off);
}

static void readdir_locked(struct zr_ns *ns, struct zr_inode *dir, uint64_t off,
			   int plus, zr_fill_fn fill, void *ctx)
{
	const struct zr_dir *d = dir_of(dir);
	struct zr_dirent *de;
	uint32_t idx;

	if (off < OFF_DOT && fill_entry(ns, dir, ".", 1, OFF_DOT, plus, fill, ctx))
		return;
	if (off < OFF_DOTDOT &&
	    fill_entry(ns, d->parent, "..", 1, OFF_DOTDOT, plus, fill, ctx))
		return;
	idx = zr_dir_seek(d, off < OFF_DOTDOT ? 0 : off - OFF_DOTDOT);
	while ((de = zr_dir_next(d, &idx))) {
		if (fill_entry(ns, de->ino, de->name, 0, de->cookie + OFF_DOTDOT,
			       plus, fill, ctx))
			return;
		if (plus)
			nlookup_add(de->ino, 1);
	}
}

int zr_ns_readdir(struct zr_ns *ns, struct zr_inode *dir, uint64_t off, int plus,
		  zr_fill_fn fill, void *ctx)
{
	if (!is_dir(dir))
		return -ENOTDIR;
	pthread_rwlock_rdlock(&ns->tree);
	readdir_locked(ns, dir, off, plus, fill, ctx);
	pthread_rwlock_unlock(&ns->tree);
	return 0;
}

/* ---------------------------------------------------------------- stats */

void zr_ns_get_stats(struct zr_ns *ns, struct zr_ns_stats *st)
{
	st->inodes = stat_get(&ns->n_inodes);
	st->files = stat_get(&ns->n_files);
	st->dirs = stat_get(&ns->n_dirs);
	st->symlinks = stat_get(&ns->n_symlinks);
	st->specials = stat_get(&ns->n_specials);
	st->xattr_bytes = stat_get(&ns->xattr_bytes);
}
