/* SPDX-License-Identifier: MIT */
/*
 * ns_int.h - private to the namespace module (src/ns.c, src/ns_dir.c,
 * src/ns_xattr.c): the inode and directory layouts.  Locking rules are in
 * the banner of src/ns.c.
 */
#ifndef ZRAMFS_NS_INT_H
#define ZRAMFS_NS_INT_H

#include "zramfs/ns.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

struct zr_xattr;
struct zr_dir;

/*
 * One inode: 136 bytes on x86-64 (a 144-byte malloc block), plus
 * a struct zr_dir for directories and the target, inline, for symlinks.
 *
 *   lock     attributes below marked [I]; xattrs
 *   ino      st_ino, fixed
 *   nlookup  the kernel's lookup count; atomic (lookup raises it holding
 *            only the tree read lock), else changed under the tree write lock
 *   type     S_IFMT bits, fixed (read without a lock)
 *   perm     [I] the 07777 bits
 *   nlink    [T+I] written holding the tree write lock and the inode lock,
 *            so either lock is enough to read it
 *   uid gid  [I]
 *   times    [I]
 *   u        fixed at creation, by type
 *   xattrs   [I] singly linked list
 */
struct zr_inode {
	pthread_mutex_t lock;
	uint64_t ino;
	_Atomic uint64_t nlookup;
	uint16_t type;
	uint16_t perm;
	uint32_t nlink;
	uid_t uid;
	gid_t gid;
	struct timespec atime;
	struct timespec mtime;
	struct timespec ctime;
	union {
		void *payload;		/* S_IFREG: owned, freed by payload_free */
		struct zr_dir *dir;	/* S_IFDIR */
		char *target;		/* S_IFLNK: points just past the struct */
		dev_t rdev;		/* S_IFCHR / S_IFBLK (0 for fifo, socket) */
	} u;
	struct zr_xattr *xattrs;
};

/*
 * A directory entry, name inline.  cookie is the entry's readdir position:
 * unique and increasing within its directory, never reused.  pos is its
 * index in the directory's order array (rewritten when that is compacted).
 */
struct zr_dirent {
	struct zr_inode *ino;
	uint64_t cookie;
	uint32_t hash;
	uint32_t pos;
	uint8_t namelen;
	char name[];		/* namelen bytes and a NUL */
};

/*
 * A directory's entries, all under the tree lock (count also under the
 * directory inode's lock: getattr reports the size from it).
 *
 *   slots   open-addressing hash table (linear probing, backward-shift
 *           deletion) of entry pointers, mask + 1 slots; NULL when empty
 *   order   entries by increasing cookie; a removed entry leaves a
 *           tombstone (its cookie << 1 | 1) so the array stays sorted
 *           and binary-searchable by cookie; compacted when tombstones
 *           pass half of order_len
 *   parent  "..": the containing directory (the root's is itself)
 *   policy, du  under the directory inode's lock (see ns.h and ns_du.c)
 */
struct zr_dir {
	struct zr_dirent **slots;
	uintptr_t *order;
	struct zr_inode *parent;
	uint64_t next_cookie;
	uint32_t mask;
	uint32_t count;
	uint32_t order_len;
	uint32_t order_cap;
	uint32_t tombs;
	uint32_t policy;		/* [I] zr_ns_set_policy(); 0 = none */
	struct zr_du_cache *du;		/* [I] last zr_ns_du() result, or NULL */
};

/* A directory's cached subtree totals and what they are valid for. */
struct zr_du_cache {
	uint64_t gen;			/* ns change count when computed */
	uint64_t epoch;			/* the caller's epoch */
	zr_du_fn fn;
	struct zr_ns_du du;
};

/* ns_dir.c */
void zr_dir_init(struct zr_dir *d, struct zr_inode *parent);
void zr_dir_fini(struct zr_dir *d);	/* frees tables and entries */
struct zr_dirent *zr_dir_find(const struct zr_dir *d, const char *name, size_t len);
/* Adds name -> ino with the next cookie; -ENOMEM and no change on failure. */
int zr_dir_insert(struct zr_dir *d, const char *name, size_t len,
		  struct zr_inode *ino, struct zr_dirent **out);
/* Removes and frees de. */
void zr_dir_remove(struct zr_dir *d, struct zr_dirent *de);
/* Index of the first entry or tombstone with a cookie > cookie. */
uint32_t zr_dir_seek(const struct zr_dir *d, uint64_t cookie);
/* The first live entry at index >= *idx, *idx moved past it; NULL at end. */
struct zr_dirent *zr_dir_next(const struct zr_dir *d, uint32_t *idx);
/* The live entry with the largest cookie, or NULL. */
struct zr_dirent *zr_dir_last(const struct zr_dir *d);

/* ns_xattr.c; the counter is the namespace's xattr_bytes stat. */
void zr_xattr_free_all(struct zr_inode *ino, _Atomic uint64_t *bytes);
_Atomic uint64_t *zr_ns_xattr_counter(struct zr_ns *ns);

/* ns.c */
void zr_ns_now(struct timespec *ts);
pthread_rwlock_t *zr_ns_tree_lock(struct zr_ns *ns);

#endif /* ZRAMFS_NS_INT_H */
