/* SPDX-License-Identifier: MIT */
/*
 * fs_readahead.c - the mount's read-ahead (-o read_ahead=).
 *
 * A FUSE mount's backing device starts with the kernel's default
 * read-ahead, 128 KiB, and the INIT reply can only lower it.  A sequential
 * reader then waits on one 128 KiB window after another; with 1 MiB the
 * kernel keeps several READs in flight and a 1 GiB file reads back about
 * 1.3-1.4x faster (README, "FUSE options").  The knob is the device's sysfs file
 * /sys/class/bdi/MAJ:MIN/read_ahead_kb, writable by root only: an
 * unprivileged mount keeps the default.
 *
 * It must be written after the kernel has applied the INIT reply.  The
 * housekeeper does it first thing: its stat() of the mountpoint cannot be
 * answered before INIT is, so when it returns the reply has been applied.
 */
#include "fs_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define FUSE_SUPER_MAGIC 0x65735546

/* The device of our mount, or -ENOENT when the mountpoint shows something
 * else (unmounted already, or another mount on top). */
static int mount_dev(const char *mountpoint, dev_t *dev)
{
	struct stat st;
	struct statfs sf;

	if (stat(mountpoint, &st) || statfs(mountpoint, &sf))
		return -errno;
	if (sf.f_type != FUSE_SUPER_MAGIC || major(st.st_dev) != 0 ||
	    st.st_ino != FUSE_ROOT_ID)
		return -ENOENT;
	*dev = st.st_dev;
	return 0;
}

static int write_read_ahead_kb(dev_t dev, uint64_t kb)
{
	char path[64], val[32];
	int fd, len, ret = 0;

	snprintf(path, sizeof(path), "/sys/class/bdi/%u:%u/read_ahead_kb",
		 major(dev), minor(dev));
	len = snprintf(val, sizeof(val), "%" PRIu64 "\n", kb);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, val, (size_t)len) != len)
		ret = -errno;
	close(fd);
	return ret;
}

void zr_fs_apply_read_ahead(struct zr_fs *fs)
{
	dev_t dev;
	int err;

	if (!fs->opts.read_ahead || !fs->mountpoint)
		return;
	err = mount_dev(fs->mountpoint, &dev);
	if (!err)
		err = write_read_ahead_kb(dev, fs->opts.read_ahead >> 10);
	/* Not being root is the documented case for keeping the default. */
	if (err && geteuid() == 0)
		fuse_log(FUSE_LOG_WARNING, "zramfs: cannot set read_ahead on %s: %s\n",
			 fs->mountpoint, strerror(-err));
}
