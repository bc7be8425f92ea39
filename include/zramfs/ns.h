/* SPDX-License-Identifier: MIT */
/*
 * ns.h - the namespace: inodes, directories, links, symlinks, device nodes,
 * per-inode extended attributes and the kernel's lookup counts.
 *
 * A regular file's data is an opaque payload owned by the caller (the fs
 * layer puts a struct zr_fdata there); the namespace frees it through
 * cfg->payload_free when the inode dies (nlink == 0 and nlookup == 0), and
 * asks cfg->payload_attr for st_size / st_blocks.
 *
 * Locking (documented in src/ns.c): one rwlock for the tree (entries, link
 * counts, parents, lookup counts), one mutex per inode for its attributes
 * and xattrs.  Lock order: tree lock, then inode lock, then anything the
 * payload callbacks take.  All functions are thread-safe.
 *
 * Errors are negative errno values.  Knows nothing of FUSE or compression.
 */
#ifndef ZRAMFS_NS_H
#define ZRAMFS_NS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#define ZR_NAME_MAX 255		/* longer names: -ENAMETOOLONG */
#define ZR_SYMLINK_MAX 4095	/* longer targets: -ENAMETOOLONG */
#define ZR_LINK_MAX 65000	/* hard links per inode: -EMLINK past it */
#define ZR_XATTR_NAME_MAX 255	/* -ERANGE past it */
#define ZR_XATTR_SIZE_MAX 65536	/* one value: -E2BIG past it */

struct zr_inode;
struct zr_ns;

struct zr_ns_config {
	mode_t root_mode;	/* permission bits (and sticky) of the root */
	uid_t root_uid;
	gid_t root_gid;
	uint64_t max_inodes;	/* 0 = unlimited; else creating past it: -ENOSPC */
	blksize_t blksize;	/* st_blksize reported for every inode */
	void (*payload_free)(void *payload);
	/* fills st->st_size and st->st_blocks of a regular file */
	void (*payload_attr)(void *payload, struct stat *st);
};

struct zr_ns_stats {
	uint64_t inodes;	/* live inodes, unlinked-but-open ones too */
	uint64_t files;		/* regular files */
	uint64_t dirs;		/* directories, root included */
	uint64_t symlinks;
	uint64_t specials;	/* fifos, sockets, device nodes */
	uint64_t xattr_bytes;	/* names + values of stored xattrs */
};

/* Flags for zr_ns_setattr(). */
#define ZR_SET_MODE	(1u << 0)
#define ZR_SET_UID	(1u << 1)
#define ZR_SET_GID	(1u << 2)
#define ZR_SET_ATIME	(1u << 3)	/* to attr->st_atim */
#define ZR_SET_MTIME	(1u << 4)	/* to attr->st_mtim */
#define ZR_SET_ATIME_NOW (1u << 5)
#define ZR_SET_MTIME_NOW (1u << 6)
#define ZR_SET_CTIME	(1u << 7)	/* to attr->st_ctim (else ctime = now) */
#define ZR_SET_SIZE	(1u << 8)	/* size changed by the caller: bump m/ctime */
#define ZR_SET_KILL_SUIDGID (1u << 9)	/* then drop set-id bits, as on write */

/* Flags for zr_ns_touch(): set the times to now. */
#define ZR_TOUCH_ATIME	(1u << 0)
#define ZR_TOUCH_MTIME	(1u << 1)
#define ZR_TOUCH_CTIME	(1u << 2)
#define ZR_TOUCH_RELATIME (1u << 3)	/* with ATIME: only if relatime says so */
#define ZR_TOUCH_KILL_SUIDGID (1u << 4)	/* drop set-id bits, as on write */

/* zr_ns_use_coarse_clock(): stamp times from here on with the clock the
 * kernel stamps a file's times with under the FUSE writeback cache
 * (CLOCK_REALTIME_COARSE, one tick), not CLOCK_REALTIME.  Then a write
 * right after a create finds the times it would set already there, the
 * inode stays clean, and close sends no SETATTR to flush them (1000 files
 * created and written: 15 such SETATTRs instead of 1000); and a file's
 * mtime never goes back by a fraction of a tick at its first write.
 * Process-wide; called once the writeback cache is granted. */
void zr_ns_use_coarse_clock(void);

/* zr_ns_create(): a namespace holding only the root directory. */
struct zr_ns *zr_ns_create(const struct zr_ns_config *cfg);

/* zr_ns_destroy(): frees every inode (payloads through payload_free). */
void zr_ns_destroy(struct zr_ns *ns);

/* The root; never freed before zr_ns_destroy(). */
struct zr_inode *zr_ns_root(struct zr_ns *ns);

/* FUSE node ids: the root is 1, any other inode its address. */
uint64_t zr_ns_nodeid(struct zr_ns *ns, struct zr_inode *ino);
struct zr_inode *zr_ns_inode(struct zr_ns *ns, uint64_t nodeid);

/* Accessors that need no lock (fixed at creation). */
mode_t zr_inode_type(const struct zr_inode *ino);	/* S_IFMT bits */
void *zr_inode_payload(const struct zr_inode *ino);	/* NULL unless S_IFREG */

/* zr_ns_lookup(): find name in dir; on success the inode's lookup count is
 * raised by one and *st filled.  -ENOENT, -ENOTDIR, -ENAMETOOLONG. */
int zr_ns_lookup(struct zr_ns *ns, struct zr_inode *dir, const char *name,
		 struct zr_inode **out, struct stat *st);

/* zr_ns_mknod(): create a regular file (with payload), directory, fifo,
 * socket, or device node (rdev); mode carries the type and permission bits
 * (umask already applied).  A setgid parent gives its group (and, to a new
 * directory, its setgid bit).  Lookup count of the new inode: 1.
 * -EEXIST, -ENOSPC (inode limit), -ENAMETOOLONG, -ENOTDIR, -ENOENT (dir was
 * removed), -EMLINK, -ENOMEM.  On failure the payload is not taken. */
int zr_ns_mknod(struct zr_ns *ns, struct zr_inode *dir, const char *name,
		mode_t mode, dev_t rdev, uid_t uid, gid_t gid, void *payload,
		struct zr_inode **out, struct stat *st);

/* zr_ns_symlink(): as zr_ns_mknod for a symlink to target. */
int zr_ns_symlink(struct zr_ns *ns, struct zr_inode *dir, const char *name,
		  const char *target, uid_t uid, gid_t gid,
		  struct zr_inode **out, struct stat *st);

/* zr_ns_link(): a new name for a non-directory; raises nlink and the
 * lookup count.  -EPERM for directories, -EMLINK, -EEXIST. */
int zr_ns_link(struct zr_ns *ns, struct zr_inode *ino, struct zr_inode *dir,
	       const char *name, struct stat *st);

/* zr_ns_unlink(): remove a non-directory's name.  -EISDIR, -ENOENT. */
int zr_ns_unlink(struct zr_ns *ns, struct zr_inode *dir, const char *name);

/* zr_ns_rmdir(): remove an empty directory.  -ENOTEMPTY, -ENOTDIR,
 * -EBUSY for the root. */
int zr_ns_rmdir(struct zr_ns *ns, struct zr_inode *dir, const char *name);

/* zr_ns_rename(): rename(2)/renameat2(2) with flags 0, RENAME_NOREPLACE or
 * RENAME_EXCHANGE.  Moving a directory into its own subtree: -EINVAL.
 * -EEXIST (NOREPLACE), -ENOENT, -ENOTEMPTY, -EISDIR, -ENOTDIR, -EINVAL
 * (bad flags, RENAME_WHITEOUT unsupported). */
int zr_ns_rename(struct zr_ns *ns, struct zr_inode *dir, const char *name,
		 struct zr_inode *newdir, const char *newname, unsigned flags);

/* zr_ns_forget(): drop nlookup kernel references; frees the inode when it
 * has no links left and no references. */
void zr_ns_forget(struct zr_ns *ns, struct zr_inode *ino, uint64_t nlookup);

/* zr_ns_getattr(): fill *st. */
void zr_ns_getattr(struct zr_ns *ns, struct zr_inode *ino, struct stat *st);

/* zr_ns_setattr(): apply the ZR_SET_* fields of attr; ctime becomes now
 * unless ZR_SET_CTIME.  Fills *out with the result.  Size is changed by the
 * caller on the payload; pass ZR_SET_SIZE so m/ctime follow. */
int zr_ns_setattr(struct zr_ns *ns, struct zr_inode *ino, const struct stat *attr,
		  unsigned to_set, struct stat *out);

/* zr_ns_touch(): set the chosen times to now (ZR_TOUCH_*). */
void zr_ns_touch(struct zr_ns *ns, struct zr_inode *ino, unsigned what);

/* zr_ns_has_setid(): whether a write by a caller without CAP_FSETID would
 * drop bits of this inode's mode (ZR_*_KILL_SUIDGID): setuid, or setgid
 * with group execute.  Linux keeps setgid without group execute (it marks
 * mandatory locking, not a set-id program); so does this. */
int zr_ns_has_setid(struct zr_inode *ino);

/* zr_ns_readlink(): copy the target (NUL-terminated) into buf.  Returns
 * its length, -EINVAL for a non-symlink, -ERANGE if size is too small. */
int zr_ns_readlink(struct zr_ns *ns, struct zr_inode *ino, char *buf, size_t size);

/* Readdir.  Entries are returned in a stable order; off is 0 at the start
 * and otherwise a next_off given to fill.  "." and ".." come first.
 * fill returns 0 if it took the entry, non-zero if it is full (the entry was
 * not taken and iteration stops).  With plus, every entry but "." and ".."
 * that fill took has its lookup count raised (readdirplus).  Entries added
 * or removed during a listing are seen at most once; no entry present for
 * the whole listing is missed or repeated.  Returns 0 or -ENOTDIR. */
/* nodeid: zr_ns_nodeid() of the entry's inode; 0 for "." and "..". */
typedef int (*zr_fill_fn)(void *ctx, const char *name, const struct stat *st,
			  uint64_t nodeid, uint64_t next_off);
int zr_ns_readdir(struct zr_ns *ns, struct zr_inode *dir, uint64_t off, int plus,
		  zr_fill_fn fill, void *ctx);

/* Extended attributes, stored per inode (any namespace; the caller filters
 * the virtual user.zramfs.* names).  flags: 0, XATTR_CREATE (-EEXIST if
 * present), XATTR_REPLACE (-ENODATA if absent).  get/list: size 0 returns
 * the size needed; a too small buffer gives -ERANGE; absent: -ENODATA. */
int zr_ns_setxattr(struct zr_ns *ns, struct zr_inode *ino, const char *name,
		   const void *value, size_t size, int flags);
ssize_t zr_ns_getxattr(struct zr_ns *ns, struct zr_inode *ino, const char *name,
		       void *buf, size_t size);
ssize_t zr_ns_listxattr(struct zr_ns *ns, struct zr_inode *ino, char *buf, size_t size);
int zr_ns_removexattr(struct zr_ns *ns, struct zr_inode *ino, const char *name);

/* zr_ns_get_stats(): counters. */
void zr_ns_get_stats(struct zr_ns *ns, struct zr_ns_stats *st);

/* Directory policy: an opaque word the caller stores on a directory (the
 * fs layer keeps a codec spec there); 0 means none.  A directory created
 * inside one gets a copy of its policy at creation (later changes to the
 * parent do not propagate).  Not an xattr: never listed or copied.
 * zr_ns_set_policy(): 0, or -ENOTDIR.  zr_ns_get_policy(): 0 for a
 * non-directory. */
int zr_ns_set_policy(struct zr_ns *ns, struct zr_inode *dir, uint32_t policy);
uint32_t zr_ns_get_policy(struct zr_ns *ns, struct zr_inode *dir);

/* Subtree totals ("du").  fn adds a regular file's figures (whatever the
 * caller keeps in its payload) into fig; it is called with the tree read
 * lock held, so it may take the payload's locks but must not call back
 * into the namespace.  A file with several names is counted under each
 * (as du -l).  dirs counts the directory itself. */
#define ZR_DU_FIGURES 8
struct zr_ns_du {
	uint64_t files;
	uint64_t dirs;
	uint64_t symlinks;
	uint64_t specials;
	uint64_t fig[ZR_DU_FIGURES];	/* sums of fn's figures */
};
typedef void (*zr_du_fn)(void *payload, uint64_t fig[ZR_DU_FIGURES]);

/* zr_ns_du(): the totals over dir's subtree into *out.  The result is
 * cached on the directory and reused while nothing changed: the cache is
 * keyed on the namespace's change count (bumped by every create, link,
 * unlink, rename, setattr and m/ctime touch: a caller that changes a
 * payload's figures must touch its m/ctime afterwards), on fn and on the
 * caller's epoch, a counter of payload changes the namespace cannot see
 * (e.g. background compression finished).  A subdirectory with a valid
 * cache is not walked again.  0, -ENOTDIR, or -ENOMEM (walk stack). */
int zr_ns_du(struct zr_ns *ns, struct zr_inode *dir, zr_du_fn fn, uint64_t epoch,
	     struct zr_ns_du *out);

/* zr_ns_generation(): the change count zr_ns_du() keys its cache on. */
uint64_t zr_ns_generation(struct zr_ns *ns);

#endif /* ZRAMFS_NS_H */
