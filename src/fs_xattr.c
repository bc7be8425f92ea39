/* SPDX-License-Identifier: MIT */
/*
 * fs_xattr.c - extended attributes: the stored ones (any namespace the
 * kernel lets through), and zramfs's virtual user.zramfs.* names.
 *
 * Virtual names are never listed, so cp -a, tar --xattrs and rsync -X copy
 * only real attributes out of (and into) a mount:
 *   user.zramfs.stats     read: global figures on the root, per-file
 *                         figures on a regular file; never writable (EPERM)
 *   user.zramfs.compact   write "1" on the root: compact the arena now
 * Controls may be written by root or the user who mounted; anything else in
 * the user.zramfs. namespace cannot be set or removed (EPERM).
 */
#include "fs_internal.h"
#include "zramfs/mem.h"
#include "zramfs/stats.h"

#include <errno.h>
#include <string.h>

#define ZR_XATTR_PREFIX "user.zramfs."
#define ZR_XATTR_STATS ZR_XATTR_PREFIX "stats"
#define ZR_XATTR_COMPACT ZR_XATTR_PREFIX "compact"

/* Largest stats text (bytes); the global text is about 1.5 KiB. */
#define ZR_STATS_TEXT_MAX 8192

/* Size probes are answered with this much headroom, because the figures may
 * grow between getxattr(size 0) and the real call; a value shorter than the
 * probed size is allowed. */
#define ZR_STATS_PROBE_SLACK 256

/* POSIX ACLs are not interpreted: storing system.posix_acl_* as plain
 * bytes would make cp -a believe the mode was set through the ACL. */
static int is_unsupported(const char *name)
{
	return !strncmp(name, "system.", 7);
}

static int is_virtual(const char *name)
{
	return !strncmp(name, ZR_XATTR_PREFIX, sizeof(ZR_XATTR_PREFIX) - 1);
}

static void gather_global(struct zr_fs *fs, struct zr_stats_global *g)
{
	memset(g, 0, sizeof(*g));
	zr_store_get_stats(fs->store, &g->store);
	zr_arena_get_stats(fs->arena, &g->arena);
	zr_ns_get_stats(fs->ns, &g->ns);
	g->heap_bytes = zr_mem_meta_bytes();
	g->size_limit = zr_store_size_limit(fs->store);
	g->chunk_size = 1u << fs->opts.chunk_shift;
	g->codec = fs->opts.codec;
}

/* Formats the stats of ino into buf; returns the length, or -ENODATA. */
static ssize_t format_stats(struct zr_fs *fs, struct zr_inode *ino, char *buf,
			    size_t size)
{
	struct zr_fdata *f = zr_inode_payload(ino);

	if (ino == zr_ns_root(fs->ns)) {
		struct zr_stats_global g;

		gather_global(fs, &g);
		return (ssize_t)zr_stats_format_global(&g, buf, size);
	}
	if (f) {
		struct zr_fdata_stats st;

		zr_fdata_get_stats(f, &st);
		return (ssize_t)zr_stats_format_file(&st, buf, size);
	}
	return -ENODATA;
}

static void get_virtual(fuse_req_t req, struct zr_inode *ino, const char *name,
			size_t size)
{
	char *buf;
	ssize_t n;

	if (strcmp(name, ZR_XATTR_STATS)) {
		fuse_reply_err(req, ENODATA);	/* controls are write-only */
		return;
	}
	buf = zr_malloc(ZR_STATS_TEXT_MAX);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n = format_stats(zr_fs_of(req), ino, buf, ZR_STATS_TEXT_MAX);
	if (n < 0)
		zr_reply_status(req, (int)n);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)n + ZR_STATS_PROBE_SLACK);
	else if ((size_t)n > size)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	zr_free(buf);
}

static int may_control(fuse_req_t req)
{
	uid_t uid = fuse_req_ctx(req)->uid;

	return uid == 0 || uid == zr_fs_of(req)->owner;
}

static int value_is(const char *value, size_t size, const char *want)
{
	size_t n = strlen(want);

	/* setfattr -v 1 sends "1"; echo-style tools may add a newline */
	if (size == n + 1 && value[n] == '\n')
		size--;
	return size == n && !memcmp(value, want, n);
}

static int set_virtual(fuse_req_t req, struct zr_inode *ino, const char *name,
		       const char *value, size_t size)
{
	struct zr_fs *fs = zr_fs_of(req);

	if (strcmp(name, ZR_XATTR_COMPACT) || ino != zr_ns_root(fs->ns))
		return -EPERM;
	if (!may_control(req))
		return -EACCES;
	if (!value_is(value, size, "1"))
		return -EINVAL;
	zr_arena_compact(fs->arena);
	return 0;
}

void zr_fs_setxattr(fuse_req_t req, fuse_ino_t nodeid, const char *name,
		    const char *value, size_t size, int flags)
{
	struct zr_fs *fs = zr_fs_of(req);
	struct zr_inode *ino = zr_fs_inode(req, nodeid);
	int r;

	if (is_unsupported(name))
		r = -EOPNOTSUPP;
	else if (is_virtual(name))
		r = set_virtual(req, ino, name, value, size);
	else
		r = zr_ns_setxattr(fs->ns, ino, name, value, size, flags);
	fuse_reply_err(req, -r);
}

void zr_fs_getxattr(fuse_req_t req, fuse_ino_t nodeid, const char *name,
		    size_t size)
{
	struct zr_fs *fs = zr_fs_of(req);
	struct zr_inode *ino = zr_fs_inode(req, nodeid);
	char *buf = NULL;
	ssize_t n;

	if (is_unsupported(name)) {
		fuse_reply_err(req, EOPNOTSUPP);
		return;
	}
	if (is_virtual(name)) {
		get_virtual(req, ino, name, size);
		return;
	}
	if (size) {
		buf = zr_malloc(size);
		if (!buf) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
	}
	n = zr_ns_getxattr(fs->ns, ino, name, buf, size);
	if (n < 0)
		zr_reply_status(req, (int)n);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	zr_free(buf);
}

void zr_fs_listxattr(fuse_req_t req, fuse_ino_t nodeid, size_t size)
{
	struct zr_fs *fs = zr_fs_of(req);
	char *buf = NULL;
	ssize_t n;

	if (size) {
		buf = zr_malloc(size);
		if (!buf) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
	}
	n = zr_ns_listxattr(fs->ns, zr_fs_inode(req, nodeid), buf, size);
	if (n < 0)
		zr_reply_status(req, (int)n);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	zr_free(buf);
}

void zr_fs_removexattr(fuse_req_t req, fuse_ino_t nodeid, const char *name)
{
	int r;

	if (is_unsupported(name))
		r = -EOPNOTSUPP;
	else if (is_virtual(name))
		r = -EPERM;
	else
		r = zr_ns_removexattr(zr_fs_of(req)->ns, zr_fs_inode(req, nodeid),
				      name);
	fuse_reply_err(req, -r);
}
