/* SPDX-License-Identifier: MIT */
/*
 * fs_killpriv.c - FUSE_HANDLE_KILLPRIV_V2: who drops set-id bits, and how
 * we ask for it past libfuse 3.14.
 *
 * Without that INIT flag the kernel cannot mark a FUSE inode S_NOSEC, so
 * every write(2) first asks us for security.capability (a GETXATTR round
 * trip), and every chown(2) first re-reads the attributes (a GETATTR):
 * 26% of the requests of an untar.  With it, the kernel asks once per
 * inode and leaves the set-id bits to us: SETATTR says when (truncate,
 * chown: FATTR_KILL_SUIDGID, which libfuse passes on as
 * FUSE_SET_ATTR_KILL_SUID), and so do WRITE and OPEN(O_TRUNC) through a
 * flag libfuse 3.14 drops.  For those two we apply the rule the flag
 * stands for (fuse_kernel.h): the bits go unless the caller has
 * CAP_FSETID.  Capabilities on security.capability stay the kernel's.
 *
 * libfuse 3.14 builds the INIT reply from a fixed list and has no
 * capability for the flag (3.17 added FUSE_CAP_HANDLE_KILLPRIV_V2; with
 * it the shim below is not built).  Its do_init() calls our init callback
 * and then sends the reply with writev() from the same thread, so
 * zr_fs_want_killpriv_v2() arms a thread-local word and the writev() here,
 * which the executable exports ahead of libc's, ORs the flag into that
 * one reply and disarms, match or not.  Every writev() goes on to libc's.
 */
#include "fs_internal.h"

#include <dlfcn.h>
#include <linux/capability.h>
#include <linux/fuse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

/* Protocol minor that introduced FUSE_HANDLE_KILLPRIV_V2 (fuse_kernel.h). */
#define KILLPRIV_V2_MINOR 33

int zr_fs_caller_has_fsetid(fuse_req_t req)
{
	char path[32], line[128];
	int has = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)fuse_req_ctx(req)->pid);
	f = fopen(path, "re");
	if (!f)
		return 0;	/* the writer is gone: drop the bits */
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "CapEff:", 7)) {
			has = (strtoull(line + 7, NULL, 16) >> CAP_FSETID) & 1;
			break;
		}
	fclose(f);
	return has;
}

#ifdef FUSE_CAP_HANDLE_KILLPRIV_V2

int zr_fs_want_killpriv_v2(struct fuse_conn_info *conn)
{
	if (!(conn->capable & FUSE_CAP_HANDLE_KILLPRIV_V2))
		return 0;
	conn->want |= FUSE_CAP_HANDLE_KILLPRIV_V2;
	return 1;
}

#else

/* INIT flags to add to the next writev() of this thread (0: disarmed). */
static __thread uint32_t init_flags_armed;

int zr_fs_want_killpriv_v2(struct fuse_conn_info *conn)
{
	if (conn->proto_major != 7 || conn->proto_minor < KILLPRIV_V2_MINOR)
		return 0;
	init_flags_armed = FUSE_HANDLE_KILLPRIV_V2;
	return 1;
}

/* The INIT reply as libfuse 3.14 sends it: header, then fuse_init_out. */
static void add_init_flags(const struct iovec *iov, int iovcnt, uint32_t flags)
{
	struct fuse_out_header *oh;
	struct fuse_init_out *out;

	if (iovcnt != 2 || iov[0].iov_len != sizeof(*oh) ||
	    iov[1].iov_len != sizeof(*out))
		return;
	oh = iov[0].iov_base;
	out = iov[1].iov_base;
	if (oh->error || oh->len != sizeof(*oh) + sizeof(*out) || out->major != 7)
		return;
	out->flags |= flags;
}

static ssize_t (*libc_writev)(int, const struct iovec *, int);
static pthread_once_t libc_writev_once = PTHREAD_ONCE_INIT;

static void find_libc_writev(void)
{
	libc_writev = (ssize_t (*)(int, const struct iovec *, int))
		dlsym(RTLD_NEXT, "writev");
}

ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
	uint32_t flags = init_flags_armed;

	if (flags) {
		init_flags_armed = 0;
		add_init_flags(iov, iovcnt, flags);
	}
	pthread_once(&libc_writev_once, find_libc_writev);
	if (libc_writev)
		return libc_writev(fd, iov, iovcnt);
	return syscall(SYS_writev, fd, iov, iovcnt);
}

#endif
