/* SPDX-License-Identifier: MIT */
/*
 * fs_xattr.c - extended attributes: the stored ones (any namespace the
 * kernel lets through), and zramfs's virtual user.zramfs.* names.
 *
 * Virtual names are never listed, so cp -a, tar --xattrs and rsync -X copy
 * only real attributes out of (and into) a mount:
 *   user.zramfs.stats     read: global figures on the root, per-file
 *                         figures on a regular file, subtree totals on
 *                         another directory; never writable (EPERM)
 *   user.zramfs.compact   write "1" on the root: compact the arena now
 *   user.zramfs.mem_limit read/write on the root: the arena's hard cap
 *                         (zr_parse_size syntax, 0 = none)
 *   user.zramfs.comp      read/write/remove on a file: the codec of its
 *                         future writes (remove: the mount's codec); on a
 *                         directory: the policy its new files and
 *                         subdirectories inherit (remove: none)
 * Controls may be written by root or the user who mounted, a policy also by
 * the inode's owner (EACCES otherwise); a bad value is EINVAL and changes
 * nothing; anything else in the user.zramfs. namespace cannot be set or
 * removed (EPERM) and reads as absent (ENODATA).
 *
 *   user.zramfs.chunk     read/write/remove on a regular file: its chunk
 *                         size, 4K up to the mount's chunk size, settable
 *                         while the file is empty (EBUSY after); on a
 *                         directory: the chunk size its new files and
 *                         subdirectories inherit (remove: none)
 *   user.zramfs.recompress  write a codec on a regular file: set it as the
 *                         file's codec and re-encode its stored chunks
 *                         with it, keeping each only where it shrinks;
 *                         the call returns when the file is done;
 *                         on the root, write idle|all: run the idle
 *                         recompression (-o recompress=) now over the
 *                         chunks idle for recompress_idle seconds (1 s
 *                         when 0), or over every chunk not yet tried;
 *                         returns when done.  ENODEV with recompress=off.
 *   user.zramfs.writeback write idle|huge|all on the root (mounted with
 *                         -o spill=DIR): write back now the chunks idle
 *                         for -o idle seconds (1 s when idle=0), the raw
 *                         (incompressible) ones, or every stored chunk;
 *                         returns when done.  ENODEV without a spill.
 *
 * A directory's totals come from zr_ns_du(), cached per directory and
 * reused while the namespace's change count and the store's finished
 * background jobs are unchanged (src/ns_du.c explains why that is exact).
 */
#include "fs_internal.h"
#include "zramfs/ctl.h"
#include "zramfs/mem.h"
#include "zramfs/spill.h"
#include "zramfs/stats.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define ZR_XATTR_PREFIX "user.zramfs."
#define ZR_XATTR_STATS ZR_XATTR_PREFIX "stats"
#define ZR_XATTR_COMPACT ZR_XATTR_PREFIX "compact"
#define ZR_XATTR_MEM_LIMIT ZR_XATTR_PREFIX "mem_limit"
#define ZR_XATTR_COMP ZR_XATTR_PREFIX "comp"
#define ZR_XATTR_RECOMPRESS ZR_XATTR_PREFIX "recompress"
#define ZR_XATTR_WRITEBACK ZR_XATTR_PREFIX "writeback"
#define ZR_XATTR_CHUNK ZR_XATTR_PREFIX "chunk"

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
	/* libfuse 3.14 gets no syncfs request: reading the mount's stats is
	 * the sync point that makes them exact (no chunk left in staging). */
	zr_store_sync(fs->store);
	zr_store_get_stats(fs->store, &g->store);
	zr_arena_get_stats(fs->arena, &g->arena);
	zr_ns_get_stats(fs->ns, &g->ns);
	g->heap_bytes = zr_mem_meta_bytes();
	g->has_faults = ZR_FAULT_ENABLED;
	for (int i = 0; i < ZR_FAULT_COUNT; i++)
		g->faults[i] = zr_fault_count((enum zr_fault_point)i);
	if (fs->spill) {
		zr_spill_get_stats(fs->spill, &g->spill);
		g->has_spill = 1;
	}
	g->size_limit = zr_store_size_limit(fs->store);
	g->chunk_size = 1u << fs->opts.chunk_shift;
	g->codec = fs->opts.codec;
}

static void file_figures(void *payload, uint64_t fig[ZR_DU_FIGURES])
{
	struct zr_fdata_stats st;

	zr_fdata_get_stats(payload, &st);
	zr_stats_add_file(&st, fig);
}

/* A directory's subtree totals.  The sync makes them exact; the finished
 * job count is the epoch that invalidates a cached result when background
 * compression changed a file's figures without a touch. */
static ssize_t format_tree(struct zr_fs *fs, struct zr_inode *dir, char *buf,
			   size_t size)
{
	struct zr_store_stats ss;
	struct zr_ns_du du;
	int r;

	zr_store_sync(fs->store);
	zr_store_get_stats(fs->store, &ss);
	r = zr_ns_du(fs->ns, dir, file_figures, ss.pool_jobs_done, &du);
	if (r)
		return r;
	return (ssize_t)zr_stats_format_tree(&du, buf, size);
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

		/* the store-wide sync: zr_fdata_sync() would consume the
		 * store error that fsync must report */
		zr_store_sync(fs->store);
		zr_fdata_get_stats(f, &st);
		return (ssize_t)zr_stats_format_file(&st, buf, size);
	}
	if (S_ISDIR(zr_inode_type(ino)))
		return format_tree(fs, ino, buf, size);
	return -ENODATA;
}

/* A file's chunk size, or a directory's chunk policy (-ENODATA: none). */
static int format_chunk(struct zr_fs *fs, struct zr_inode *ino, char *buf, size_t size)
{
	struct zr_fdata *f = zr_inode_payload(ino);
	uint32_t policy;

	if (f)
		return zr_ctl_format_chunk(zr_fdata_chunk_shift(f), buf, size);
	policy = zr_ns_get_policy(fs->ns, ino);
	if (!(policy & ZR_POLICY_CHUNK))
		return -ENODATA;
	return zr_ctl_format_chunk((policy >> ZR_POLICY_CHUNK_SHIFT) & 0x1f, buf, size);
}

/* The short value of a readable control or policy into buf; its length,
 * or -ENODATA (unknown name, wrong inode, no policy set). */
static int format_control(struct zr_fs *fs, struct zr_inode *ino,
			  const char *name, char *buf, size_t size)
{
	struct zr_fdata *f = zr_inode_payload(ino);
	struct zr_arena_stats as;
	uint32_t policy;

	if (!strcmp(name, ZR_XATTR_MEM_LIMIT) && ino == zr_ns_root(fs->ns)) {
		zr_arena_get_stats(fs->arena, &as);
		return snprintf(buf, size, "%llu", (unsigned long long)as.cap_bytes);
	}
	if (!strcmp(name, ZR_XATTR_CHUNK))
		return format_chunk(fs, ino, buf, size);
	if (strcmp(name, ZR_XATTR_COMP))
		return -ENODATA;
	if (f)
		return zr_codec_format(zr_fdata_get_codec(f), buf, size);
	policy = zr_ns_get_policy(fs->ns, ino);
	if (!(policy & ZR_POLICY_CODEC))
		return -ENODATA;
	return zr_codec_format((struct zr_codec_spec){ .id = (uint8_t)(policy >> 8),
						       .level = (uint8_t)policy },
			       buf, size);
}

/* Replies with a value: its size for a probe, ERANGE if size is short. */
static void reply_value(fuse_req_t req, const char *buf, size_t n, size_t size,
			size_t slack)
{
	if (size == 0)
		fuse_reply_xattr(req, n + slack);
	else if (n > size)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, buf, n);
}

static void get_virtual(fuse_req_t req, struct zr_inode *ino, const char *name,
			size_t size)
{
	char small[ZR_CODEC_SPEC_MAX + ZR_CONTROL_VALUE_MAX];
	char *buf;
	ssize_t n;

	if (strcmp(name, ZR_XATTR_STATS)) {
		n = format_control(zr_fs_of(req), ino, name, small, sizeof(small));
		if (n < 0)
			zr_reply_status(req, (int)n);	/* compact is write-only */
		else
			reply_value(req, small, (size_t)n, size, 0);
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
	else
		reply_value(req, buf, (size_t)n, size, ZR_STATS_PROBE_SLACK);
	zr_free(buf);
}

static int may_control(fuse_req_t req)
{
	uid_t uid = fuse_req_ctx(req)->uid;

	return uid == 0 || uid == zr_fs_of(req)->owner;
}

/* Policy: root, the mount owner, or the inode's owner. */
static int may_set_policy(fuse_req_t req, struct zr_inode *ino)
{
	struct stat st;

	if (may_control(req))
		return 1;
	zr_ns_getattr(zr_fs_of(req)->ns, ino, &st);
	return fuse_req_ctx(req)->uid == st.st_uid;
}

static int set_mem_limit(struct zr_fs *fs, const char *value, size_t size)
{
	char s[ZR_CONTROL_VALUE_MAX];
	uint64_t cap;

	if (zr_ctl_string(value, size, s, sizeof(s)) || zr_parse_size(s, &cap))
		return -EINVAL;
	zr_arena_set_cap(fs->arena, cap);
	if (fs->spill) /* the writeback keeps arena + staging below it */
		zr_store_set_mem_limit(fs->store, cap);
	return 0;
}

static int recompress_now(struct zr_fs *fs, const char *value, size_t size)
{
	int64_t n;

	if (!zr_ctl_is(value, size, "idle") && !zr_ctl_is(value, size, "all"))
		return -EINVAL;
	n = zr_store_recompress(fs->store, zr_ctl_is(value, size, "all"));
	/* A full arena stops the pass; what was done stays done. */
	return n < 0 && n != -ENOSPC ? (int)n : 0;
}

static int writeback(struct zr_fs *fs, const char *value, size_t size)
{
	enum zr_wb_mode mode;
	int64_t n;

	if (zr_ctl_is(value, size, "idle"))
		mode = ZR_WB_IDLE;
	else if (zr_ctl_is(value, size, "huge"))
		mode = ZR_WB_HUGE;
	else if (zr_ctl_is(value, size, "all"))
		mode = ZR_WB_ALL;
	else
		return -EINVAL;
	if (!fs->spill)
		return -ENODEV;
	n = zr_store_writeback(fs->store, mode);
	/* A full or failing spill is counted in the stats; chunks stay in RAM. */
	return n < 0 && n != -ENOSPC && n != -EIO ? (int)n : 0;
}

/* Replaces the bits of mask in a directory's policy word with bits. */
static int update_policy(struct zr_fs *fs, struct zr_inode *dir, uint32_t mask,
			 uint32_t bits)
{
	uint32_t policy = zr_ns_get_policy(fs->ns, dir);

	return zr_ns_set_policy(fs->ns, dir, (policy & ~mask) | bits);
}

/* Sets a file's codec or a directory's policy; spec NULL removes it (the
 * mount's codec for a file, no policy for a directory). */
static int apply_comp(struct zr_fs *fs, struct zr_inode *ino,
		      const struct zr_codec_spec *spec)
{
	struct zr_fdata *f = zr_inode_payload(ino);

	if (f) {
		zr_fdata_set_codec(f, spec ? *spec : fs->opts.codec);
		return 0;
	}
	return update_policy(fs, ino, ZR_POLICY_CODEC_MASK,
			     spec ? ZR_POLICY_CODEC | (uint32_t)spec->id << 8 | spec->level
				  : 0);
}

/* Sets a file's chunk size or a directory's chunk policy; shift 0 removes
 * it (the mount's chunk size for an empty file, no policy for a
 * directory).  A directory's policy is checked like a file's would be. */
static int apply_chunk(struct zr_fs *fs, struct zr_inode *ino, unsigned shift)
{
	struct zr_fdata *f = zr_inode_payload(ino);

	if (f)
		return zr_fdata_set_chunk_shift(f, shift ? shift : fs->opts.chunk_shift);
	if (shift > fs->opts.chunk_shift)
		return -EINVAL;
	return update_policy(fs, ino, ZR_POLICY_CHUNK_MASK,
			     shift ? ZR_POLICY_CHUNK | shift << ZR_POLICY_CHUNK_SHIFT : 0);
}

static int set_chunk(struct zr_fs *fs, struct zr_inode *ino, const char *value,
		     size_t size)
{
	char s[ZR_CONTROL_VALUE_MAX];
	unsigned shift;

	if (zr_ctl_string(value, size, s, sizeof(s)) || zr_parse_chunk_shift(s, &shift))
		return -EINVAL;
	return apply_chunk(fs, ino, shift);
}

static int set_comp(struct zr_fs *fs, struct zr_inode *ino, const char *value,
		    size_t size)
{
	char s[ZR_CONTROL_VALUE_MAX];
	struct zr_codec_spec spec;

	if (zr_ctl_string(value, size, s, sizeof(s)) || zr_codec_parse(s, &spec))
		return -EINVAL;
	return apply_comp(fs, ino, &spec);
}

/* Recompresses a regular file's stored chunks; ctime changes so cached
 * directory totals are recomputed. */
static int recompress(struct zr_fs *fs, struct zr_inode *ino, const char *value,
		      size_t size)
{
	char s[ZR_CONTROL_VALUE_MAX];
	struct zr_codec_spec spec;
	uint64_t saved;
	int ret;

	if (zr_ctl_string(value, size, s, sizeof(s)) || zr_codec_parse(s, &spec) ||
	    spec.id == ZR_CODEC_NONE)
		return -EINVAL;
	ret = zr_fdata_recompress(zr_inode_payload(ino), spec, &saved);
	zr_ns_touch(fs->ns, ino, ZR_TOUCH_CTIME);
	return ret;
}

/* Only regular files and directories carry a policy. */
static int has_policy(struct zr_inode *ino)
{
	return zr_inode_payload(ino) || S_ISDIR(zr_inode_type(ino));
}

static int set_virtual(fuse_req_t req, struct zr_inode *ino, const char *name,
		       const char *value, size_t size)
{
	struct zr_fs *fs = zr_fs_of(req);
	int root = ino == zr_ns_root(fs->ns);

	if (!strcmp(name, ZR_XATTR_COMP) && has_policy(ino)) {
		if (!may_set_policy(req, ino))
			return -EACCES;
		return set_comp(fs, ino, value, size);
	}
	if (!strcmp(name, ZR_XATTR_CHUNK) && has_policy(ino)) {
		if (!may_set_policy(req, ino))
			return -EACCES;
		return set_chunk(fs, ino, value, size);
	}
	if (!strcmp(name, ZR_XATTR_RECOMPRESS) && zr_inode_payload(ino)) {
		if (!may_set_policy(req, ino))
			return -EACCES;
		return recompress(fs, ino, value, size);
	}
	if (!root || (strcmp(name, ZR_XATTR_COMPACT) && strcmp(name, ZR_XATTR_MEM_LIMIT) &&
		      strcmp(name, ZR_XATTR_WRITEBACK) && strcmp(name, ZR_XATTR_RECOMPRESS)))
		return -EPERM;
	if (!may_control(req))
		return -EACCES;
	if (!strcmp(name, ZR_XATTR_MEM_LIMIT))
		return set_mem_limit(fs, value, size);
	if (!strcmp(name, ZR_XATTR_WRITEBACK))
		return writeback(fs, value, size);
	if (!strcmp(name, ZR_XATTR_RECOMPRESS))
		return recompress_now(fs, value, size);
	if (!zr_ctl_is(value, size, "1"))
		return -EINVAL;
	zr_arena_compact(fs->arena);
	return 0;
}

static int remove_virtual(fuse_req_t req, struct zr_inode *ino, const char *name)
{
	int comp = !strcmp(name, ZR_XATTR_COMP);

	if ((!comp && strcmp(name, ZR_XATTR_CHUNK)) || !has_policy(ino))
		return -EPERM;
	if (!may_set_policy(req, ino))
		return -EACCES;
	return comp ? apply_comp(zr_fs_of(req), ino, NULL) : apply_chunk(zr_fs_of(req), ino, 0);
}

void zr_fs_inherit_policy(struct zr_fs *fs, struct zr_inode *dir, struct zr_fdata *f)
{
	uint32_t policy = zr_ns_get_policy(fs->ns, dir);

	if (policy & ZR_POLICY_CODEC)
		zr_fdata_set_codec(f, (struct zr_codec_spec){ .id = (uint8_t)(policy >> 8),
							      .level = (uint8_t)policy });
	/* a new file is empty: this cannot fail for a shift the policy took */
	if (policy & ZR_POLICY_CHUNK)
		zr_fdata_set_chunk_shift(f, (policy >> ZR_POLICY_CHUNK_SHIFT) & 0x1f);
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

/* Replies with a stored attribute's value (name) or the name list (NULL),
 * following getxattr's size protocol: size 0 asks for the length. */
static void reply_stored(fuse_req_t req, struct zr_inode *ino, const char *name,
			 size_t size)
{
	struct zr_ns *ns = zr_fs_of(req)->ns;
	char *buf = NULL;
	ssize_t n;

	if (size) {
		buf = zr_malloc(size);
		if (!buf) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
	}
	n = name ? zr_ns_getxattr(ns, ino, name, buf, size)
		 : zr_ns_listxattr(ns, ino, buf, size);
	if (n < 0)
		zr_reply_status(req, (int)n);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	zr_free(buf);
}

void zr_fs_getxattr(fuse_req_t req, fuse_ino_t nodeid, const char *name,
		    size_t size)
{
	struct zr_inode *ino = zr_fs_inode(req, nodeid);

	if (is_unsupported(name)) {
		fuse_reply_err(req, EOPNOTSUPP);
		return;
	}
	if (is_virtual(name)) {
		get_virtual(req, ino, name, size);
		return;
	}
	reply_stored(req, ino, name, size);
}

void zr_fs_listxattr(fuse_req_t req, fuse_ino_t nodeid, size_t size)
{
	reply_stored(req, zr_fs_inode(req, nodeid), NULL, size);
}

void zr_fs_removexattr(fuse_req_t req, fuse_ino_t nodeid, const char *name)
{
	int r;

	if (is_unsupported(name))
		r = -EOPNOTSUPP;
	else if (is_virtual(name))
		r = remove_virtual(req, zr_fs_inode(req, nodeid), name);
	else
		r = zr_ns_removexattr(zr_fs_of(req)->ns, zr_fs_inode(req, nodeid),
				      name);
	fuse_reply_err(req, -r);
}
