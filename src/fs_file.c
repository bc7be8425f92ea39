/* SPDX-License-Identifier: MIT */
/*
 * fs_file.c - FUSE ops on file contents: open/create, read, write,
 * fallocate, lseek (SEEK_DATA/SEEK_HOLE), copy_file_range, and the sync
 * family.
 *
 * Reads decode into a reply buffer from the mount's shared pool (at the
 * largest request size, counted in mem_used_total), so the request path
 * does not allocate, and an idle mount gives the buffers back.  Data is never more durable than RAM, so
 * fsync/flush have nothing to wait for.
 */
#include "fs_internal.h"
#include "zramfs/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdlib.h>
#include <unistd.h>

/* ---- helpers --------------------------------------------------------- */

static struct zr_fdata *file_data(fuse_req_t req, fuse_ino_t ino)
{
	return zr_inode_payload(zr_fs_inode(req, ino));
}

/* Errno for a data op on a non-regular inode. */
static int not_regular_errno(struct zr_inode *ino)
{
	return S_ISDIR(zr_inode_type(ino)) ? EISDIR : EINVAL;
}

int zr_fs_truncate(struct zr_fs *fs, struct zr_inode *ino, uint64_t size)
{
	struct zr_fdata *f = zr_inode_payload(ino);

	if (!f)
		return -not_regular_errno(ino);
	return zr_fdata_truncate(f, size);
}

/* After a change to the data.  A change its sender made (write(2),
 * O_TRUNC; not the kernel's writeback) drops the set-id bits unless the
 * sender has CAP_FSETID: Linux's rule, ours under HANDLE_KILLPRIV_V2
 * (fs_killpriv.c). */
static void touch_modified(fuse_req_t req, fuse_ino_t ino, int by_sender)
{
	struct zr_fs *fs = zr_fs_of(req);
	struct zr_inode *inode = zr_fs_inode(req, ino);
	unsigned what = ZR_TOUCH_MTIME | ZR_TOUCH_CTIME;

	if (by_sender && zr_ns_has_setid(inode) && !zr_fs_caller_has_fsetid(req))
		what |= ZR_TOUCH_KILL_SUIDGID;
	zr_ns_touch(fs->ns, inode, what);
	/* A WRITE's reply carries no attributes and the kernel refreshes
	 * only size and times after it: tell it the mode changed too. */
	if ((what & ZR_TOUCH_KILL_SUIDGID) && fs->se)
		fuse_lowlevel_notify_inval_inode(fs->se, ino, -1, 0);
}

/* ---- open / create --------------------------------------------------- */

void zr_fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct zr_fdata *f = file_data(req, ino);
	int r;

	if (!f) {
		fuse_reply_err(req, not_regular_errno(zr_fs_inode(req, ino)));
		return;
	}
	if (zr_fs_of(req)->no_open) {
		fuse_reply_err(req, ENOSYS);	/* no OPEN/RELEASE from now on */
		return;
	}
	if (fi->flags & O_TRUNC) {
		r = zr_fdata_truncate(f, 0);
		if (r) {
			zr_reply_status(req, r);
			return;
		}
		touch_modified(req, ino, 1);
	}
	/* Only the kernel changes our files: its cache stays valid. */
	fi->keep_cache = 1;
	fuse_reply_open(req, fi);
}

void zr_fs_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		  mode_t mode, struct fuse_file_info *fi)
{
	struct zr_fs *fs = zr_fs_of(req);
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct fuse_entry_param e;
	struct zr_fdata *data = zr_fdata_create(fs->store);
	struct zr_inode *ino;
	struct stat st;
	int r;

	if (!data) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	zr_fs_inherit_policy(fs, zr_fs_inode(req, parent), data);
	r = zr_ns_mknod(fs->ns, zr_fs_inode(req, parent), name,
			(mode & 07777) | S_IFREG, 0, ctx->uid, ctx->gid, data,
			&ino, &st);
	if (r) {
		zr_fdata_destroy(data);
		zr_reply_status(req, r);
		return;
	}
	zr_fs_fill_entry(fs, ino, &st, &e);
	fi->keep_cache = 1;
	if (fuse_reply_create(req, &e, fi) == -ENOENT)
		zr_ns_forget(fs->ns, ino, 1);	/* the opener was interrupted */
}

/* ---- read / write ------------------------------------------------------ */

void zr_fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		struct fuse_file_info *fi)
{
	struct zr_fs *fs = zr_fs_of(req);
	int pooled = size <= zr_bufpool_size(fs->replies);
	char *buf = pooled ? zr_bufpool_get(fs->replies) : zr_malloc(size);
	ssize_t n;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n = zr_fdata_read(file_data(req, ino), buf, size, (uint64_t)off);
	if (n < 0) {
		zr_reply_status(req, (int)n);
	} else {
		zr_ns_touch(fs->ns, zr_fs_inode(req, ino),
			    ZR_TOUCH_ATIME | ZR_TOUCH_RELATIME);
		fuse_reply_buf(req, buf, (size_t)n);
	}
	if (pooled)
		zr_bufpool_put(fs->replies, buf);
	else
		zr_free(buf);
}

/* Writes all of buf or fails.  A short count is right for write(2), but
 * two kinds of sender drop it silently: the kernel's writeback (a page it
 * sent is clean, whatever the reply said) and a loop device's direct I/O
 * (a short write completes the block request as done).  They get the
 * error instead, which writeback keeps for fsync() and close(). */
static ssize_t write_whole(struct zr_fdata *f, const char *buf, size_t size, off_t off)
{
	size_t done = 0;

	while (done < size) {
		ssize_t n = zr_fdata_write(f, buf + done, size - done,
					   (uint64_t)off + done);

		if (n <= 0)
			return n ? n : -EIO;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

void zr_fs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
		 off_t off, struct fuse_file_info *fi)
{
	struct zr_fdata *f = file_data(req, ino);
	ssize_t n = fi->writepage || (fi->flags & O_DIRECT)
			    ? write_whole(f, buf, size, off)
			    : zr_fdata_write(f, buf, size, (uint64_t)off);

	if (n < 0) {
		zr_reply_status(req, (int)n);
		return;
	}
	touch_modified(req, ino, !fi->writepage);
	fuse_reply_write(req, (size_t)n);
}

/* Nothing to do on close (locks are the kernel's): ENOSYS makes the
 * kernel stop sending FLUSH, one round trip less per close.  The kernel
 * still writes dirty pages back before close returns. */
void zr_fs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fuse_reply_err(req, ENOSYS);
}

void zr_fs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0);
}

/* Data is never more durable than RAM; fsync waits until the file's
 * staged chunks are compressed (so its figures are exact) and reports a
 * store error a worker met since the last fsync. */
void zr_fs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		 struct fuse_file_info *fi)
{
	struct zr_fdata *f = file_data(req, ino);

	zr_reply_status(req, f ? zr_fdata_sync(f) : 0);
}

/* ---- fallocate, lseek, copy_file_range -------------------------------- */

static int do_fallocate(struct zr_fdata *f, int mode, uint64_t off, uint64_t len)
{
	int keep = !!(mode & FALLOC_FL_KEEP_SIZE);

	if (mode & FALLOC_FL_PUNCH_HOLE) {
		if (!keep || (mode & ~(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)))
			return -EOPNOTSUPP;
		return zr_fdata_punch_hole(f, off, len);
	}
	if (mode & FALLOC_FL_ZERO_RANGE) {
		if (mode & ~(FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE))
			return -EOPNOTSUPP;
		return zr_fdata_zero_range(f, off, len, keep);
	}
	if (mode & ~FALLOC_FL_KEEP_SIZE)
		return -EOPNOTSUPP;
	return zr_fdata_allocate(f, off, len, keep);
}

void zr_fs_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off,
		     off_t len, struct fuse_file_info *fi)
{
	struct zr_fdata *f = file_data(req, ino);
	int r;

	if (!f) {
		fuse_reply_err(req, ENODEV);
		return;
	}
	if (off < 0 || len <= 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if ((uint64_t)off + (uint64_t)len > ZR_MAX_FILE_SIZE) {
		fuse_reply_err(req, EFBIG);
		return;
	}
	r = do_fallocate(f, mode, (uint64_t)off, (uint64_t)len);
	if (!r && mode != FALLOC_FL_KEEP_SIZE)
		touch_modified(req, ino, 1);
	fuse_reply_err(req, -r);
}

void zr_fs_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		 struct fuse_file_info *fi)
{
	int64_t r;

	/* Under the writeback cache the kernel asks without writing its
	 * dirty pages back first: our answer could call fresh data a hole.
	 * ENOSYS makes it answer itself (all data up to its i_size), which is
	 * always right. */
	if (zr_fs_of(req)->opts.writeback_cache) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	if (whence != SEEK_DATA && whence != SEEK_HOLE) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (off < 0) {
		fuse_reply_err(req, ENXIO);
		return;
	}
	r = zr_fdata_seek(file_data(req, ino), (uint64_t)off, whence == SEEK_HOLE);
	if (r < 0)
		zr_reply_status(req, (int)r);
	else
		fuse_reply_lseek(req, (off_t)r);
}

void zr_fs_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			   struct fuse_file_info *fi_in, fuse_ino_t ino_out,
			   off_t off_out, struct fuse_file_info *fi_out,
			   size_t len, int flags)
{
	struct zr_fdata *src = file_data(req, ino_in);
	struct zr_fdata *dst = file_data(req, ino_out);
	ssize_t n;

	if (flags || off_in < 0 || off_out < 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (!src || !dst) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	n = zr_fdata_copy(dst, (uint64_t)off_out, src, (uint64_t)off_in, len);
	if (n < 0) {
		zr_reply_status(req, (int)n);
		return;
	}
	if (n > 0)
		touch_modified(req, ino_out, 1);
	fuse_reply_write(req, (size_t)n);
}
