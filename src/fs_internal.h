/* SPDX-License-Identifier: MIT */
/*
 * fs_internal.h - shared by the FUSE front files (fs.c, fs_file.c,
 * fs_xattr.c, main.c): the mount's context and the op tables' pieces.
 *
 * The front is glue: it turns requests into calls on ns, chunk and arena,
 * and negative errno values into fuse_reply_err().  It holds no locks of
 * its own; every shared structure is owned (and locked) by its module.
 */
#ifndef ZRAMFS_FS_INTERNAL_H
#define ZRAMFS_FS_INTERNAL_H

#define FUSE_USE_VERSION FUSE_MAKE_VERSION(3, 12)
#include <fuse_lowlevel.h>

#include "zramfs/arena.h"
#include "zramfs/bufpool.h"
#include "zramfs/chunk.h"
#include "zramfs/ns.h"
#include "zramfs/opts.h"

#include <pthread.h>
#include <stdatomic.h>

struct zr_fs {
	struct zr_opts opts;
	struct zr_arena *arena;
	struct zr_store *store;
	struct zr_spill *spill;		/* writeback tier; NULL when off */
	struct zr_ns *ns;
	struct zr_bufpool *replies;	/* read reply buffers, trimmed when idle */
	struct fuse_session *se;	/* for notifications; set before the loop */
	const char *mountpoint;		/* absolute; set before the loop */
	uid_t owner;			/* who mounted: may use the controls */
	double timeout;			/* entry/attr validity, seconds */
	int no_open;			/* kernel may skip OPEN/OPENDIR (set in init) */
	pthread_t housekeeper;		/* compaction, heap trim */
	int housekeeper_running;
	pthread_mutex_t hk_lock;	/* guards hk_stop, with hk_cond */
	pthread_cond_t hk_cond;
	int hk_stop;
};

/* The context of the request's mount. */
static inline struct zr_fs *zr_fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* Resolve a node id; the kernel only sends ids it was given. */
static inline struct zr_inode *zr_fs_inode(fuse_req_t req, fuse_ino_t ino)
{
	return zr_ns_inode(zr_fs_of(req)->ns, ino);
}

/* fuse_reply_err() with a negative errno value from a module. */
static inline void zr_reply_status(fuse_req_t req, int neg_errno)
{
	fuse_reply_err(req, -neg_errno);
}

/* The fuse_entry_param for a freshly looked-up or created inode. */
void zr_fs_fill_entry(struct zr_fs *fs, struct zr_inode *ino,
		      const struct stat *st, struct fuse_entry_param *e);

/* Context lifecycle (fs.c). */
struct zr_fs *zr_fs_new(const struct zr_opts *opts);
void zr_fs_free(struct zr_fs *fs);
extern const struct fuse_lowlevel_ops zr_fs_ops;

/* File data ops (fs_file.c). */
void zr_fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void zr_fs_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		  mode_t mode, struct fuse_file_info *fi);
void zr_fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		struct fuse_file_info *fi);
void zr_fs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
		 off_t off, struct fuse_file_info *fi);
void zr_fs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void zr_fs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void zr_fs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		 struct fuse_file_info *fi);
void zr_fs_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off,
		     off_t len, struct fuse_file_info *fi);
void zr_fs_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		 struct fuse_file_info *fi);
void zr_fs_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			   struct fuse_file_info *fi_in, fuse_ino_t ino_out,
			   off_t off_out, struct fuse_file_info *fi_out,
			   size_t len, int flags);
/* Truncate for setattr; returns 0 or a negative errno. */
int zr_fs_truncate(struct zr_fs *fs, struct zr_inode *ino, uint64_t size);

/* FUSE_HANDLE_KILLPRIV_V2 (fs_killpriv.c).  zr_fs_want_killpriv_v2(),
 * from the init callback, asks the kernel for it: returns 1 if asked.
 * zr_fs_caller_has_fsetid(): whether the request's sender has CAP_FSETID
 * (then its writes keep set-id bits); reads /proc, for the rare file
 * that has them. */
int zr_fs_want_killpriv_v2(struct fuse_conn_info *conn);
int zr_fs_caller_has_fsetid(fuse_req_t req);

/* Sets -o read_ahead on the mount's device; warns (as root) if it cannot.
 * Blocks until INIT is answered: call it from the housekeeper. */
void zr_fs_apply_read_ahead(struct zr_fs *fs);

/* Extended attributes, virtual stats and controls (fs_xattr.c). */
void zr_fs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		    const char *value, size_t size, int flags);
void zr_fs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size);
void zr_fs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void zr_fs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);
/* A new file in dir gets dir's user.zramfs.comp policy, if it has one. */
void zr_fs_inherit_policy(struct zr_fs *fs, struct zr_inode *dir, struct zr_fdata *f);

/* Housekeeping thread (fs.c): automatic compaction and heap trimming. */
int zr_fs_start_housekeeper(struct zr_fs *fs);
void zr_fs_stop_housekeeper(struct zr_fs *fs);

#endif /* ZRAMFS_FS_INTERNAL_H */
