/* SPDX-License-Identifier: MIT */
/*
 * fs.c - the FUSE low-level front: mount context, connection set-up, and
 * the namespace operations (lookup, attributes, directories, links).
 *
 * Glue only: each op resolves node ids, calls one module function and
 * replies.  File data ops are in fs_file.c, xattrs and the virtual
 * user.zramfs.* attributes in fs_xattr.c.
 *
 * Caching: zramfs is the only writer of its tree and every change passes
 * through the kernel, so entries (negative ones too), attributes, page
 * cache and readdir results may be cached for as long as the kernel likes.
 */
#include "fs_internal.h"
#include "zramfs/mem.h"
#include "zramfs/spill.h"

#include <errno.h>
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

/* Validity of entries and attributes: "forever" (libfuse clamps). */
#define ZR_CACHE_TIMEOUT 1e9

/* statfs block size.  Also the discard granularity a loop device derives
 * from it: 4 KiB lets swap free single pages (partial chunks are zeroed). */
#define ZR_STATFS_BSIZE 4096

/* Read replies are at most FUSE's largest request (256 pages). */
#define ZR_REPLY_BUF_SIZE (256u << 12)

/* Reply buffers kept for reuse: one per concurrent read on this 2-core
 * class of machine and then some; more in flight are allocated and freed. */
#define ZR_REPLY_BUFS_KEPT 8

/* statfs f_type of every FUSE filesystem (linux/magic.h) */
#define ZR_FUSE_SUPER_MAGIC 0x65735546

/* Arena memory kept resident and free with -o mlock: about 0.1 s of
 * swap-out at the pace measured here (1 GiB swapped out in 4.5 s, about
 * 80 MB/s compressed), refilled every housekeeping tick. */
#define ZR_ARENA_RESERVE (8u << 20)

/* The largest WRITE the kernel sends.  libfuse's receive buffer per loop
 * thread is 1 MiB + a page, and the pages a write fills stay resident for
 * the life of the thread: 128 KiB caps that at about 132 KiB a thread (1.8
 * MiB less left behind after an `rm -rf`), and 1 GiB dd at 1 MiB blocks ran
 * at the same speed (lz4, 3 alternating runs: 418-455 vs 430-458 MiB/s). */
#define ZR_MAX_WRITE (128u << 10)

/* How often the housekeeper looks at fragmentation and the heap. */
#define ZR_HOUSEKEEP_INTERVAL_MS 1000

static void payload_free(void *payload)
{
	zr_fdata_destroy(payload);
}

static void payload_attr(void *payload, struct stat *st)
{
	st->st_size = (off_t)zr_fdata_size(payload);
	st->st_blocks = (blkcnt_t)((zr_fdata_stored_bytes(payload) + 511) / 512);
}

/* A spill directory inside a zramfs would hold RAM in RAM, and under a
 * swap file it would write back to itself: refused.  zramfs is the FUSE
 * filesystem that answers its stats attribute. */
static int on_zramfs(const char *dir)
{
	struct statfs sf;

	return !statfs(dir, &sf) && sf.f_type == ZR_FUSE_SUPER_MAGIC &&
	       getxattr(dir, "user.zramfs.stats", NULL, 0) > 0;
}

static int open_spill(struct zr_fs *fs, const struct zr_opts *opts)
{
	int err;

	if (on_zramfs(opts->spill_dir)) {
		fprintf(stderr, "zramfs: spill directory %s is on a zramfs mount; "
			"it must be on a disk\n", opts->spill_dir);
		return -1;
	}
	err = zr_spill_open(opts->spill_dir, opts->spill_limit, &fs->spill);
	if (err) {
		fprintf(stderr, "zramfs: spill directory %s: %s\n", opts->spill_dir,
			strerror(-err));
		return -1;
	}
	return 0;
}

struct zr_fs *zr_fs_new(const struct zr_opts *opts)
{
	struct zr_arena_config ac = {
		.max_object = (size_t)1 << ZR_CHUNK_SHIFT_MAX,
		.cap_bytes = 0,
	};
	struct zr_ns_config nc = {
		.root_mode = opts->root_mode,
		.root_uid = opts->root_uid,
		.root_gid = opts->root_gid,
		.max_inodes = opts->nr_inodes,
		.blksize = (blksize_t)1 << opts->chunk_shift,
		.payload_free = payload_free,
		.payload_attr = payload_attr,
	};
	struct zr_store_config sc = {
		.chunk_shift = opts->chunk_shift,
		.codec = opts->codec,
		.size_limit = opts->size,
		.workers = opts->workers,
		.staging_bytes = opts->staging,
	};
	struct zr_fs *fs = zr_calloc(1, sizeof(*fs));

	if (!fs)
		return NULL;
	fs->opts = *opts;
	fs->owner = getuid();
	fs->timeout = ZR_CACHE_TIMEOUT;
	pthread_mutex_init(&fs->hk_lock, NULL);
	pthread_cond_init(&fs->hk_cond, NULL);
	if (opts->spill_dir[0] && open_spill(fs, opts)) {
		zr_fs_free(fs);
		errno = EINVAL;
		return NULL;
	}
	/* mem_limit covers arena and staging: staging gets at most an
	 * eighth of it; the arena's hard cap is the limit itself (ENOSPC
	 * there, like zram's mem_limit; with a spill the writeback keeps
	 * usage below it). */
	if (opts->mem_limit) {
		ac.cap_bytes = opts->mem_limit;
		if (sc.staging_bytes > opts->mem_limit / 8)
			sc.staging_bytes = opts->mem_limit / 8;
		if (sc.staging_bytes < (1u << ZR_CHUNK_SHIFT_MAX))
			sc.staging_bytes = 1u << ZR_CHUNK_SHIFT_MAX;
	}
	/* a swap file's writes must not wait for memory to stage a chunk */
	sc.reserve_staging = opts->mlock;
	sc.spill = fs->spill;
	sc.mem_limit = fs->spill ? opts->mem_limit : 0;
	sc.idle = fs->spill ? opts->idle : 0;
	zr_opts_recomp(opts, sc.recomp);
	sc.recomp_idle = opts->recomp_idle;
	sc.recomp_dict = opts->recomp_dict;
	fs->arena = zr_arena_create(&ac);
	sc.arena = fs->arena;
	fs->store = fs->arena ? zr_store_create(&sc) : NULL;
	fs->ns = fs->store ? zr_ns_create(&nc) : NULL;
	fs->replies = zr_bufpool_create(ZR_REPLY_BUF_SIZE, ZR_REPLY_BUFS_KEPT);
	if (!fs->ns || !fs->replies) {
		zr_fs_free(fs);
		return NULL;
	}
	return fs;
}

void zr_fs_free(struct zr_fs *fs)
{
	if (!fs)
		return;
	if (fs->ns)
		zr_ns_destroy(fs->ns);
	if (fs->store)
		zr_store_destroy(fs->store);
	if (fs->arena)
		zr_arena_destroy(fs->arena);
	zr_spill_close(fs->spill);
	zr_bufpool_destroy(fs->replies);
	pthread_mutex_destroy(&fs->hk_lock);
	pthread_cond_destroy(&fs->hk_cond);
	zr_free(fs);
}

void zr_fs_fill_entry(struct zr_fs *fs, struct zr_inode *ino,
		      const struct stat *st, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = ino ? zr_ns_nodeid(fs->ns, ino) : 0;
	if (st)
		e->attr = *st;
	e->attr_timeout = fs->timeout;
	e->entry_timeout = fs->timeout;
}

/* ---- connection ---------------------------------------------------- */

static void want_if_capable(struct fuse_conn_info *conn, unsigned cap, int on)
{
	if (on && (conn->capable & cap))
		conn->want |= cap;
	else
		conn->want &= ~cap;
}

static void zr_init(void *userdata, struct fuse_conn_info *conn)
{
	struct zr_fs *fs = userdata;

	/* Merged large writes and write() into the page cache: measured 10x
	 * on 4 KiB random writes (README, "FUSE options"). */
	want_if_capable(conn, FUSE_CAP_WRITEBACK_CACHE, fs->opts.writeback_cache);
	/* The kernel then keeps file times, on its coarse clock: ours too. */
	if (conn->want & FUSE_CAP_WRITEBACK_CACHE)
		zr_ns_use_coarse_clock();
	/* Data lives in our memory, not in an fd: splicing buys nothing. */
	want_if_capable(conn, FUSE_CAP_SPLICE_READ, 0);
	want_if_capable(conn, FUSE_CAP_SPLICE_WRITE, 0);
	want_if_capable(conn, FUSE_CAP_SPLICE_MOVE, 0);
	want_if_capable(conn, FUSE_CAP_ASYNC_DIO, 1);
	want_if_capable(conn, FUSE_CAP_ASYNC_READ, 1);
	/* Opens carry no state here: answering OPEN/OPENDIR with ENOSYS
	 * makes the kernel stop sending them and their RELEASEs (two round
	 * trips per file a build reads).  The kernel then implies keep_cache
	 * (and cache_readdir for directories).  O_TRUNC must then come as
	 * SETATTR, so atomic O_TRUNC is turned off. */
	fs->no_open = (conn->capable & FUSE_CAP_NO_OPEN_SUPPORT) &&
		      (conn->capable & FUSE_CAP_NO_OPENDIR_SUPPORT);
	want_if_capable(conn, FUSE_CAP_ATOMIC_O_TRUNC, !fs->no_open);
	/* One GETXATTR per inode instead of one per write(2), and no
	 * GETATTR before a chown; we then drop set-id bits ourselves. */
	zr_fs_want_killpriv_v2(conn);
	conn->max_background = fs->opts.max_background;
	conn->congestion_threshold = fs->opts.max_background * 3 / 4;
	conn->time_gran = 1;
	if (conn->max_write > ZR_MAX_WRITE)
		conn->max_write = ZR_MAX_WRITE;
	if (zr_fs_start_housekeeper(fs))
		fuse_log(FUSE_LOG_WARNING,
			 "zramfs: cannot start housekeeping thread; automatic compaction is off\n");
	/* Here, not in zr_fs_new(): threads must start after fuse_daemonize. */
	if (zr_store_start(fs->store))
		fuse_log(FUSE_LOG_WARNING,
			 "zramfs: cannot start compression workers; compressing inline\n");
}

/* Unmount: finish the compression work first; zr_fs_free() then destroys
 * the files, the store (joining the workers) and only then the arena. */
static void zr_destroy(void *userdata)
{
	struct zr_fs *fs = userdata;

	zr_store_sync(fs->store);
	zr_fs_stop_housekeeper(fs);
}

/* ---- housekeeping --------------------------------------------------- */

/* -o mlock (swap files): the busiest arena size classes keep a resident
 * empty span, ZR_ARENA_RESERVE bytes in all, refilled here as writes use
 * them, so a swap-out rarely has to fault a page in (zr_arena_reserve). */
static void housekeep_reserve(struct zr_fs *fs)
{
	if (fs->opts.mlock)
		zr_arena_reserve(fs->arena, (size_t)1 << fs->opts.chunk_shift,
				 ZR_ARENA_RESERVE);
}

static void *housekeeper_main(void *arg)
{
	struct zr_fs *fs = arg;
	struct timespec ts;

	housekeep_reserve(fs);
	zr_fs_apply_read_ahead(fs);
	pthread_mutex_lock(&fs->hk_lock);
	while (!fs->hk_stop) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += ZR_HOUSEKEEP_INTERVAL_MS % 1000 * 1000000L;
		ts.tv_sec += ZR_HOUSEKEEP_INTERVAL_MS / 1000 + ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&fs->hk_cond, &fs->hk_lock, &ts);
		if (fs->hk_stop)
			break;
		pthread_mutex_unlock(&fs->hk_lock);
		if (zr_arena_should_compact(fs->arena))
			zr_arena_compact(fs->arena);
		zr_arena_trim_idle(fs->arena);
		housekeep_reserve(fs);
		zr_bufpool_trim(fs->replies);
		zr_store_trim_idle(fs->store);
		zr_arena_release_handles(fs->arena);
		zr_mem_trim(zr_arena_meta_bytes(fs->arena));
		pthread_mutex_lock(&fs->hk_lock);
	}
	pthread_mutex_unlock(&fs->hk_lock);
	return NULL;
}

int zr_fs_start_housekeeper(struct zr_fs *fs)
{
	if (fs->housekeeper_running)
		return 0;
	if (pthread_create(&fs->housekeeper, NULL, housekeeper_main, fs))
		return -1;
	fs->housekeeper_running = 1;
	return 0;
}

void zr_fs_stop_housekeeper(struct zr_fs *fs)
{
	if (!fs->housekeeper_running)
		return;
	pthread_mutex_lock(&fs->hk_lock);
	fs->hk_stop = 1;
	pthread_cond_signal(&fs->hk_cond);
	pthread_mutex_unlock(&fs->hk_lock);
	pthread_join(fs->housekeeper, NULL);
	fs->housekeeper_running = 0;
}

/* ---- lookup and attributes ------------------------------------------ */

static void reply_entry_or_err(fuse_req_t req, int r, struct zr_inode *ino,
			       const struct stat *st)
{
	struct fuse_entry_param e;

	if (r) {
		zr_reply_status(req, r);
		return;
	}
	zr_fs_fill_entry(zr_fs_of(req), ino, st, &e);
	fuse_reply_entry(req, &e);
}

static void zr_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct zr_fs *fs = zr_fs_of(req);
	struct zr_inode *ino = NULL;
	struct stat st;
	struct fuse_entry_param e;
	int r = zr_ns_lookup(fs->ns, zr_fs_inode(req, parent), name, &ino, &st);

	if (r == -ENOENT) {
		/* Cache the miss: creates go through the kernel, which drops
		 * the negative entry itself. */
		zr_fs_fill_entry(fs, NULL, NULL, &e);
		fuse_reply_entry(req, &e);
		return;
	}
	reply_entry_or_err(req, r, ino, &st);
}

static void zr_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	zr_ns_forget(zr_fs_of(req)->ns, zr_fs_inode(req, ino), nlookup);
	fuse_reply_none(req);
}

static void zr_forget_multi(fuse_req_t req, size_t count,
			    struct fuse_forget_data *forgets)
{
	struct zr_fs *fs = zr_fs_of(req);

	for (size_t i = 0; i < count; i++)
		zr_ns_forget(fs->ns, zr_ns_inode(fs->ns, forgets[i].ino),
			     forgets[i].nlookup);
	fuse_reply_none(req);
}

static void zr_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct zr_fs *fs = zr_fs_of(req);
	struct stat st;

	zr_ns_getattr(fs->ns, zr_fs_inode(req, ino), &st);
	fuse_reply_attr(req, &st, fs->timeout);
}

static unsigned setattr_flags(int to_set)
{
	static const struct { int fuse; unsigned zr; } map[] = {
		{ FUSE_SET_ATTR_MODE, ZR_SET_MODE },
		{ FUSE_SET_ATTR_UID, ZR_SET_UID },
		{ FUSE_SET_ATTR_GID, ZR_SET_GID },
		{ FUSE_SET_ATTR_ATIME, ZR_SET_ATIME },
		{ FUSE_SET_ATTR_MTIME, ZR_SET_MTIME },
		{ FUSE_SET_ATTR_ATIME_NOW, ZR_SET_ATIME_NOW },
		{ FUSE_SET_ATTR_MTIME_NOW, ZR_SET_MTIME_NOW },
		{ FUSE_SET_ATTR_CTIME, ZR_SET_CTIME },
		{ FUSE_SET_ATTR_SIZE, ZR_SET_SIZE },
		/* the kernel's FATTR_KILL_SUIDGID (chown; truncate without
		 * CAP_FSETID), under HANDLE_KILLPRIV_V2; libfuse 3.14 names
		 * that bit KILL_SUID */
		{ FUSE_SET_ATTR_KILL_SUID, ZR_SET_KILL_SUIDGID },
	};
	unsigned out = 0;

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (to_set & map[i].fuse)
			out |= map[i].zr;
	return out;
}

static void zr_setattr(fuse_req_t req, fuse_ino_t nodeid, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	struct zr_fs *fs = zr_fs_of(req);
	struct zr_inode *ino = zr_fs_inode(req, nodeid);
	struct stat st;
	int r;

	if (to_set & FUSE_SET_ATTR_SIZE) {
		if (attr->st_size < 0) {
			fuse_reply_err(req, EINVAL);
			return;
		}
		r = zr_fs_truncate(fs, ino, (uint64_t)attr->st_size);
		if (r) {
			zr_reply_status(req, r);
			return;
		}
	}
	r = zr_ns_setattr(fs->ns, ino, attr, setattr_flags(to_set), &st);
	if (r) {
		zr_reply_status(req, r);
		return;
	}
	fuse_reply_attr(req, &st, fs->timeout);
}

static void zr_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char buf[ZR_SYMLINK_MAX + 1];
	int r = zr_ns_readlink(zr_fs_of(req)->ns, zr_fs_inode(req, ino), buf,
			       sizeof(buf));

	if (r < 0)
		zr_reply_status(req, r);
	else
		fuse_reply_readlink(req, buf);
}

/* ---- creating and removing names ------------------------------------ */

static void zr_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev)
{
	struct zr_fs *fs = zr_fs_of(req);
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct zr_fdata *data = NULL;
	struct zr_inode *ino;
	struct stat st;
	int r;

	if (S_ISREG(mode)) {
		data = zr_fdata_create(fs->store);
		if (!data) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
		zr_fs_inherit_policy(fs, zr_fs_inode(req, parent), data);
	}
	r = zr_ns_mknod(fs->ns, zr_fs_inode(req, parent), name, mode, rdev,
			ctx->uid, ctx->gid, data, &ino, &st);
	if (r && data)
		zr_fdata_destroy(data);
	reply_entry_or_err(req, r, ino, &st);
}

static void zr_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode)
{
	zr_mknod(req, parent, name, (mode & 07777) | S_IFDIR, 0);
}

static void zr_symlink(fuse_req_t req, const char *target, fuse_ino_t parent,
		       const char *name)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct zr_inode *ino;
	struct stat st;
	int r = zr_ns_symlink(zr_fs_of(req)->ns, zr_fs_inode(req, parent), name,
			      target, ctx->uid, ctx->gid, &ino, &st);

	reply_entry_or_err(req, r, ino, &st);
}

static void zr_link(fuse_req_t req, fuse_ino_t nodeid, fuse_ino_t newparent,
		    const char *newname)
{
	struct zr_inode *ino = zr_fs_inode(req, nodeid);
	struct stat st;
	int r = zr_ns_link(zr_fs_of(req)->ns, ino, zr_fs_inode(req, newparent),
			   newname, &st);

	reply_entry_or_err(req, r, ino, &st);
}

static void zr_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, -zr_ns_unlink(zr_fs_of(req)->ns,
					  zr_fs_inode(req, parent), name));
}

static void zr_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, -zr_ns_rmdir(zr_fs_of(req)->ns,
					 zr_fs_inode(req, parent), name));
}

static void zr_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname, unsigned flags)
{
	fuse_reply_err(req, -zr_ns_rename(zr_fs_of(req)->ns,
					  zr_fs_inode(req, parent), name,
					  zr_fs_inode(req, newparent), newname,
					  flags));
}

/* ---- directories ---------------------------------------------------- */

static void zr_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (zr_fs_of(req)->no_open) {
		fuse_reply_err(req, ENOSYS);	/* no OPENDIR/RELEASEDIR from now on */
		return;
	}
	if (!S_ISDIR(zr_inode_type(zr_fs_inode(req, ino)))) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	/* The kernel drops its cached listing whenever it changes the
	 * directory itself, and nothing else can. */
	fi->cache_readdir = 1;
	fi->keep_cache = 1;
	fuse_reply_open(req, fi);
}

struct dir_fill {
	fuse_req_t req;
	struct zr_fs *fs;
	char *buf;
	size_t size;
	size_t pos;
	int plus;
};

static int dir_fill(void *arg, const char *name, const struct stat *st,
		    uint64_t nodeid, uint64_t next_off)
{
	struct dir_fill *d = arg;
	size_t left = d->size - d->pos;
	size_t n;

	if (d->plus) {
		struct fuse_entry_param e;

		zr_fs_fill_entry(d->fs, NULL, st, &e);
		e.ino = nodeid;
		n = fuse_add_direntry_plus(d->req, d->buf + d->pos, left, name,
					   &e, (off_t)next_off);
	} else {
		n = fuse_add_direntry(d->req, d->buf + d->pos, left, name, st,
				      (off_t)next_off);
	}
	if (n > left)
		return 1;
	d->pos += n;
	return 0;
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       int plus)
{
	struct dir_fill d = { req, zr_fs_of(req), NULL, size, 0, plus };
	int r;

	d.buf = zr_malloc(size);
	if (!d.buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	r = zr_ns_readdir(d.fs->ns, zr_fs_inode(req, ino), (uint64_t)off, plus,
			  dir_fill, &d);
	if (r)
		zr_reply_status(req, r);
	else
		fuse_reply_buf(req, d.buf, d.pos);
	zr_free(d.buf);
}

static void zr_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, 0);
}

static void zr_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, 1);
}

static void zr_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0);
}

/* Nothing is volatile beyond RAM itself: there is nothing to sync to. */
static void zr_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0);
}

static void zr_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct zr_fs *fs = zr_fs_of(req);
	struct zr_store_stats ss;
	struct zr_ns_stats ns;
	struct statvfs sv;
	uint64_t limit = zr_store_size_limit(fs->store);
	uint64_t used;

	zr_store_get_stats(fs->store, &ss);
	zr_ns_get_stats(fs->ns, &ns);
	used = ss.orig_data_size < limit ? ss.orig_data_size : limit;
	memset(&sv, 0, sizeof(sv));
	sv.f_bsize = ZR_STATFS_BSIZE;
	sv.f_frsize = ZR_STATFS_BSIZE;
	sv.f_blocks = limit / ZR_STATFS_BSIZE;
	sv.f_bfree = (limit - used) / ZR_STATFS_BSIZE;
	sv.f_bavail = sv.f_bfree;
	sv.f_files = fs->opts.nr_inodes;
	sv.f_ffree = fs->opts.nr_inodes > ns.inodes ? fs->opts.nr_inodes - ns.inodes : 0;
	sv.f_favail = sv.f_ffree;
	sv.f_namemax = ZR_NAME_MAX;
	fuse_reply_statfs(req, &sv);
}

const struct fuse_lowlevel_ops zr_fs_ops = {
	.init = zr_init,
	.destroy = zr_destroy,
	.lookup = zr_lookup,
	.forget = zr_forget,
	.forget_multi = zr_forget_multi,
	.getattr = zr_getattr,
	.setattr = zr_setattr,
	.readlink = zr_readlink,
	.mknod = zr_mknod,
	.mkdir = zr_mkdir,
	.unlink = zr_unlink,
	.rmdir = zr_rmdir,
	.symlink = zr_symlink,
	.rename = zr_rename,
	.link = zr_link,
	.open = zr_fs_open,
	.read = zr_fs_read,
	.write = zr_fs_write,
	.flush = zr_fs_flush,
	.release = zr_fs_release,
	.fsync = zr_fs_fsync,
	.opendir = zr_opendir,
	.readdir = zr_readdir,
	.readdirplus = zr_readdirplus,
	.releasedir = zr_releasedir,
	.fsyncdir = zr_fsyncdir,
	.statfs = zr_statfs,
	.setxattr = zr_fs_setxattr,
	.getxattr = zr_fs_getxattr,
	.listxattr = zr_fs_listxattr,
	.removexattr = zr_fs_removexattr,
	.create = zr_fs_create,
	.fallocate = zr_fs_fallocate,
	.copy_file_range = zr_fs_copy_file_range,
	.lseek = zr_fs_lseek,
};
