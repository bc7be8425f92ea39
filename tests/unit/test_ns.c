/* SPDX-License-Identifier: MIT */
/*
 * test_ns.c - the namespace: every call and errno, link counts, lifetimes
 * (payload freed once, on the last of unlink and forget), the rename
 * matrix, readdir stability while the directory changes, readdirplus
 * lookup counts, xattrs, exact stats and memory, subtree totals and their
 * cache, directory policy words, and a threaded mix for TSan.  A few tests
 * reach into ns_int.h to fake a link count near ZR_LINK_MAX rather than
 * make 65000 links.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "zramfs/mem.h"
#include "zramfs/ns.h"
#include "../../src/ns_int.h"

#include <errno.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

/* ------------------------------------------------------------- fixtures */

/* A counting payload: a counted int holding the file size. */
static _Atomic long payload_frees;
static _Atomic long payload_allocs;

static void *payload_new(int size)
{
	int *p = zr_malloc(sizeof(*p));

	*p = size;
	atomic_fetch_add(&payload_allocs, 1);
	return p;
}

static void payload_free(void *p)
{
	atomic_fetch_add(&payload_frees, 1);
	zr_free(p);
}

static void payload_attr(void *p, struct stat *st)
{
	st->st_size = *(int *)p;
	st->st_blocks = (*(int *)p + 511) / 512;
}

static long live_payloads(void)
{
	return atomic_load(&payload_allocs) - atomic_load(&payload_frees);
}

static struct zr_ns *new_ns(uint64_t max_inodes)
{
	struct zr_ns_config cfg = {
		.root_mode = 01777, .root_uid = 10, .root_gid = 20,
		.max_inodes = max_inodes, .blksize = 4096,
		.payload_free = payload_free, .payload_attr = payload_attr,
	};
	struct zr_ns *ns = zr_ns_create(&cfg);

	assert_non_null(ns);
	return ns;
}

static struct zr_inode *mkfile(struct zr_ns *ns, struct zr_inode *dir,
			       const char *name)
{
	struct zr_inode *ino = NULL;
	void *p = payload_new(100);
	int r = zr_ns_mknod(ns, dir, name, S_IFREG | 0644, 0, 1, 2, p, &ino, NULL);

	if (r)
		payload_free(p);
	assert_int_equal(r, 0);
	return ino;
}

static struct zr_inode *mkdir_(struct zr_ns *ns, struct zr_inode *dir,
			       const char *name)
{
	struct zr_inode *ino = NULL;

	assert_int_equal(zr_ns_mknod(ns, dir, name, S_IFDIR | 0755, 0, 1, 2,
				     NULL, &ino, NULL), 0);
	return ino;
}

static struct stat getattr(struct zr_ns *ns, struct zr_inode *ino)
{
	struct stat st;

	zr_ns_getattr(ns, ino, &st);
	return st;
}

static struct zr_inode *lookup(struct zr_ns *ns, struct zr_inode *dir,
			       const char *name)
{
	struct zr_inode *ino = NULL;

	if (zr_ns_lookup(ns, dir, name, &ino, NULL))
		return NULL;
	return ino;
}

/* lookup that gives the reference straight back */
static struct zr_inode *peek(struct zr_ns *ns, struct zr_inode *dir,
			     const char *name)
{
	struct zr_inode *ino = lookup(ns, dir, name);

	if (ino)
		zr_ns_forget(ns, ino, 1);
	return ino;
}

static int ts_after(struct timespec a, struct timespec b)
{
	return a.tv_sec > b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec > b.tv_nsec);
}

static int ts_eq(struct timespec a, struct timespec b)
{
	return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

/* Sets all three times of ino far in the past. */
static void age(struct zr_ns *ns, struct zr_inode *ino)
{
	struct stat a = { 0 };

	a.st_atim.tv_sec = a.st_mtim.tv_sec = a.st_ctim.tv_sec = 1000;
	zr_ns_setattr(ns, ino, &a, ZR_SET_ATIME | ZR_SET_MTIME | ZR_SET_CTIME, NULL);
}

static int quick(void)
{
	return getenv("ZR_TEST_QUICK") != NULL;
}

/* ------------------------------------------------------------ readdir aid */

#define MAX_LIST 64

struct list {
	int limit;			/* entries fill takes before "full" */
	int n;
	char names[MAX_LIST][ZR_NAME_MAX + 1];
	struct stat st[MAX_LIST];
	uint64_t nodeid[MAX_LIST];
	uint64_t off[MAX_LIST];
};

static int list_fill(void *ctx, const char *name, const struct stat *st,
		     uint64_t nodeid, uint64_t next_off)
{
	struct list *l = ctx;

	if (l->n >= l->limit || l->n >= MAX_LIST)
		return 1;
	snprintf(l->names[l->n], sizeof(l->names[0]), "%s", name);
	l->st[l->n] = *st;
	l->nodeid[l->n] = nodeid;
	l->off[l->n] = next_off;
	l->n++;
	return 0;
}

static void list_dir(struct zr_ns *ns, struct zr_inode *dir, uint64_t off,
		     int plus, int limit, struct list *l)
{
	memset(l, 0, sizeof(*l));
	l->limit = limit;
	assert_int_equal(zr_ns_readdir(ns, dir, off, plus, list_fill, l), 0);
}

/* ------------------------------------------------------------------ tests */

static void test_root(void **state)
{
	uint64_t mem0 = zr_mem_meta_bytes();
	struct zr_ns *ns = new_ns(0);
	struct zr_inode *root = zr_ns_root(ns);
	struct zr_ns_stats s;
	struct stat st = getattr(ns, root);

	assert_int_equal(st.st_ino, 1);
	assert_int_equal(st.st_mode, S_IFDIR | 01777);
	assert_int_equal(st.st_nlink, 2);
	assert_int_equal(st.st_uid, 10);
	assert_int_equal(st.st_gid, 20);
	assert_int_equal(st.st_size, 40);
	assert_int_equal(st.st_blksize, 4096);
	assert_int_equal(zr_ns_nodeid(ns, root), 1);
	assert_ptr_equal(zr_ns_inode(ns, 1), root);
	assert_int_equal(zr_inode_type(root), S_IFDIR);
	assert_null(zr_inode_payload(root));
	zr_ns_get_stats(ns, &s);
	assert_int_equal(s.inodes, 1);
	assert_int_equal(s.dirs, 1);
	assert_int_equal(s.files + s.symlinks + s.specials + s.xattr_bytes, 0);
	/* ".." of the root is the root */
	assert_ptr_equal(lookup(ns, root, ".."), root);
	assert_ptr_equal(lookup(ns, root, "."), root);
	zr_ns_forget(ns, root, 2);
	zr_ns_destroy(ns);
	assert_int_equal(zr_mem_meta_bytes(), mem0);
}

static void test_mknod_types(void **state)
{
	struct zr_ns *ns = new_ns(0);
	struct zr_inode *root = zr_ns_root(ns), *ino, *f;
	struct zr_ns_stats s;
	struct stat st, st2;
	void *p = payload_new(1234);
	long frees = payload_frees;

	assert_int_equal(zr_ns_mknod(ns, root, "f", S_IFREG | 0640, 0, 5, 6, p,
				     &f, &st), 0);
	assert_int_equal(st.st_mode, S_IFREG | 0640);
	assert_int_equal(st.st_nlink, 1);
	assert_int_equal(st.st_uid, 5);
	assert_int_equal(st.st_gid, 6);
	assert_int_equal(st.st_size, 1234);
	assert_int_equal(st.st_blocks, 3);
	assert_int_equal(st.st_ino, 2);
	assert_ptr_equal(zr_inode_payload(f), p);
	assert_int_equal(zr_inode_type(f), S_IFREG);
	assert_ptr_equal(zr_ns_inode(ns, zr_ns_nodeid(ns, f)), f);
	assert_true(zr_ns_nodeid(ns, f) != 1);
	assert_true(ts_eq(st.st_atim, st.st_mtim) && ts_eq(st.st_mtim, st.st_ctim));

	assert_int_equal(zr_ns_mknod(ns, root, "d", S_IFDIR | 0700, 0, 0, 0, NULL,
				     &ino, &st), 0);
	assert_int_equal(st.st_nlink, 2);
	assert_int_equal(st.st_size, 40);
	assert_int_equal(st.st_ino, 3);
	assert_null(zr_inode_payload(ino));
	assert_int_equal(zr_ns_mknod(ns, root, "fifo", S_IFIFO | 0600, 0, 0, 0, NULL,
				     NULL, &st), 0);
	assert_int_equal(st.st_mode, S_IFIFO | 0600);
	assert_int_equal(zr_ns_mknod(ns, root, "sock", S_IFSOCK | 0600, 0, 0, 0,
				     NULL, NULL, NULL), 0);
	assert_int_equal(zr_ns_mknod(ns, root, "chr", S_IFCHR | 0600,
				     makedev(1, 3), 0, 0, NULL, NULL, &st), 0);
	assert_int_equal(st.st_rdev, makedev(1, 3));
	assert_int_equal(zr_ns_mknod(ns, root, "blk", S_IFBLK | 0600,
				     makedev(7, 0), 0, 0, NULL, NULL, &st), 0);
	assert_int_equal(st.st_rdev, makedev(7, 0));
	assert_int_equal(zr_ns_mknod(ns, root, "bad", 0170000 | 0600, 0, 0, 0,
				     NULL, NULL, NULL), -EINVAL);

	zr_ns_get_stats(ns, &s);
	assert_int_equal(s.inodes, 7);
	assert_int_equal(s.files, 1);
	assert_int_equal(s.dirs, 2);
	assert_int_equal(s.specials, 4);
	assert_int_equal(s.symlinks, 0);
	st = getattr(ns, root);
	assert_int_equal(st.st_nlink, 3);
	assert_int_equal(st.st_size, (6 + 2) * 20);

	/* lookup finds the same inode with the same attributes */
	assert_int_equal(zr_ns_lookup(ns, root, "f", &ino, &st2), 0);
	assert_ptr_equal(ino, f);
	assert_int_equal(st2.st_ino, 2);
	assert_int_equal(st2.st_size, 1234);
	assert_int_equal(payload_frees, frees);
	zr_ns_destroy(ns);
	assert_int_equal(payload_frees, frees + 1);
}

static void test_create_errors(void **state)
{
	struct zr_ns *ns = new_ns(5);
	struct zr_inode *root = zr_ns_root(ns), *f, *d, *ino;
	char name[ZR_NAME_MAX + 2];
	void *p = payload_new(0);
	long frees;

	f = mkfile(ns, root, "f");
	d = mkdir_(ns, root, "d");
	assert_int_equal(zr_ns_mknod(ns, root, "f", S_IFREG | 0644, 0, 0, 0, p,
				     NULL, NULL), -EEXIST);
	assert_int_equal(zr_ns_mknod(ns, root, ".", S_IFDIR | 0755, 0, 0, 0, NULL,
				     NULL, NULL), -EEXIST);
	assert_int_equal(zr_ns_mknod(ns, root, "..", S_IFREG | 0644, 0, 0, 0, p,
				     NULL, NULL), -EEXIST);
	assert_int_equal(zr_ns_mknod(ns, f, "x", S_IFREG | 0644, 0, 0, 0, p,
				     NULL, NULL), -ENOTDIR);
	memset(name, 'a', sizeof(name));
	name[ZR_NAME_MAX + 1] = '\0';
	assert_int_equal(zr_ns_mknod(ns, root, name, S_IFREG | 0644, 0, 0, 0, p,
				     NULL, NULL), -ENAMETOOLONG);
	assert_int_equal(zr_ns_lookup(ns, root, name, &ino, NULL), -ENAMETOOLONG);
	assert_int_equal(zr_ns_symlink(ns, root, name, "t", 0, 0, NULL, NULL),
			 -ENAMETOOLONG);
	name[ZR_NAME_MAX] = '\0';		/* 255 is fine */
	assert_int_equal(zr_ns_mknod(ns, root, name, S_IFREG | 0644, 0, 0, 0, p,
				     &ino, NULL), 0);
	assert_ptr_equal(peek(ns, root, name), ino);
	p = payload_new(0);
	/* the limit: root, f, d, name = 4; one more, then ENOSPC */
	assert_int_equal(zr_ns_mknod(ns, d, "e", S_IFDIR | 0755, 0, 0, 0, NULL,
				     &ino, NULL), 0);
	frees = payload_frees;
	assert_int_equal(zr_ns_mknod(ns, root, "g", S_IFREG | 0644, 0, 0, 0, p,
				     NULL, NULL), -ENOSPC);
	assert_int_equal(zr_ns_symlink(ns, root, "g", "t", 0, 0, NULL, NULL), -ENOSPC);
	assert_int_equal(payload_frees, frees);	/* failure: payload not taken */
	/* a removed directory takes no new names; that frees an inode too */
	assert_int_equal(zr_ns_rmdir(ns, d, "e"), 0);
	assert_int_equal(zr_ns_mknod(ns, ino, "x", S_IFREG | 0644, 0, 0, 0, p,
				     NULL, NULL), -ENOENT);
	assert_int_equal(zr_ns_symlink(ns, ino, "x", "t", 0, 0, NULL, NULL), -ENOENT);
	assert_int_equal(zr_ns_link(ns, f, ino, "x", NULL), -ENOENT);
	assert_int_equal(zr_ns_rename(ns, root, "f", ino, "x", 0), -ENOENT);
	zr_ns_forget(ns, ino, 1);
	assert_int_equal(zr_ns_mknod(ns, root, "g", S_IFREG | 0644, 0, 0, 0, p,
				     &ino, NULL), 0);
	assert_int_equal(zr_ns_mknod(ns, root, "h", S_IFREG, 0, 0, 0, NULL, NULL,
				     NULL), -ENOSPC);
	/* an open unlinked file still counts against the limit */
	assert_int_equal(zr_ns_unlink(ns, root, "g"), 0);
	assert_int_equal(zr_ns_mknod(ns, root, "h", S_IFREG, 0, 0, 0, NULL, NULL,
				     NULL), -ENOSPC);
	zr_ns_forget(ns, ino, 1);
	/* EMLINK for a new subdirectory (faked link count) */
	d->nlink = ZR_LINK_MAX;
	assert_int_equal(zr_ns_mknod(ns, d, "h", S_IFDIR | 0755, 0, 0, 0, NULL,
				     NULL, NULL), -EMLINK);
	d->nlink = 2;
	assert_int_equal(zr_ns_lookup(ns, root, "nope", &ino, NULL), -ENOENT);
	assert_int_equal(zr_ns_lookup(ns, f, "x", &ino, NULL), -ENOTDIR);
	assert_int_equal(zr_ns_lookup(ns, root, "", &ino, NULL), -ENOENT);
	zr_ns_destroy(ns);
}

static void test_symlink(void **state)
{
	struct zr_ns *ns = new_ns(0);
	struct zr_inode *root = zr_ns_root(ns), *l;
	char target[ZR_SYMLINK_MAX + 2], buf[ZR_SYMLINK_MAX + 1];
	struct zr_ns_stats s;
	struct stat st;

	assert_int_equal(zr_ns_symlink(ns, root, "l", "some/where", 3, 4, &l, &st), 0);
	assert_int_equal(st.st_mode, S_IFLNK | 0777);
	assert_int_equal(st.st_size, 10);
	assert_int_equal(st.st_uid, 3);
	assert_int_equal(zr_ns_readlink(ns, l, buf, sizeof(buf)), 10);
	assert_string_equal(buf, "some/where");
	assert_int_equal(zr_ns_readlink(ns, l, buf, 10), -ERANGE);
	assert_int_equal(zr_ns_readlink(ns, l, buf, 11), 10);
	assert_int_equal(zr_ns_readlink(ns, root, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(zr_ns_symlink(ns, root, "l", "x", 0, 0, NULL, NULL), -EEXIST);
	assert_int_equal(zr_ns_symlink(ns, root, "e", "", 0, 0, NULL, NULL), -ENOENT);
	memset(target, 'x', sizeof(target));
	target[ZR_SYMLINK_MAX + 1] = '\0';
	assert_int_equal(zr_ns_symlink(ns, root, "m", target, 0, 0, NULL, NULL),
			 -ENAMETOOLONG);
	target[ZR_SYMLINK_MAX] = '\0';
	assert_int_equal(zr_ns_symlink(ns, root, "m", target, 0, 0, &l, &st), 0);
	assert_int_equal(st.st_size, ZR_SYMLINK_MAX);
	assert_int_equal(zr_ns_readlink(ns, l, buf, sizeof(buf)), ZR_SYMLINK_MAX);
	assert_string_equal(buf, target);
	zr_ns_get_stats(ns, &s);
	assert_int_equal(s.symlinks, 2);
	assert_int_equal(zr_ns_unlink(ns, root, "m"), 0);
	zr_ns_forget(ns, l, 1);
	zr_ns_get_stats(ns, &s);
	assert_int_equal(s.symlinks, 1);
	assert_int_equal(s.inodes, 2);
	zr_ns_destroy(ns);
}

/* After zr_ns_use_coarse_clock() new times come from the coarse clock: a
 * file's are never after CLOCK_REALTIME_COARSE read just after (the fine
 * clock's would be, but for a tick falling in between).  Process-wide, so
 * the last test. */
static void test_coarse_clock(void **state)
{
	struct zr_ns *ns = new_ns(0);
	struct zr_inode *f;
	struct timespec after;
	struct stat st;

	zr_ns_use_coarse_clock();
	for (int i = 0; i < 100; i++) {
		char name[16];

		snprintf(name, sizeof(name), "f%d", i);
		f = mkfile(ns, zr_ns_root(ns), name);
		clock_gettime(CLOCK_REALTIME_COARSE, &after);
		st = getattr(ns, f);
		assert_true(st.st_mtim.tv_sec < after.tv_sec ||
			    (st.st_mtim.tv_sec == after.tv_sec &&
			     st.st_mtim.tv_nsec <= after.tv_nsec));
		assert_true(st.st_ctim.tv_sec == st.st_mtim.tv_sec &&
			    st.st_ctim.tv_nsec == st.st_mtim.tv_nsec);
	}
	zr_ns_destroy(ns);
}

static void test_link(void **state)
{
	struct zr_ns *ns = new_ns(0);
	struct zr_inode *root = zr_ns_root(ns), *f, *d, *ino;
	struct stat st;
	long frees;

	f = mkfile(ns, root, "f");
	d = mkdir_(ns, root, "d");
	age(ns, f);
	age(ns, d);
	assert_int_equal(zr_ns_link(ns, f, d, "g", &st), 0);
	assert_int_equal(st.st_nlink, 2);
	assert_true(st.st_ctime > 1000);
	assert_int_equal(st.st_mtime, 1000);
	st = getattr(ns, d);
	assert_true(st.st_mtime > 1000 && st.st_ctime > 1000);
	assert_int_equal(st.st_nlink, 2);		/* files do not count */
	assert_ptr_equal(peek(ns, d, "g"), f);
	assert_int_equal(zr_ns_link(ns, f, root, "f", NULL), -EEXIST);
	assert_int_equal(zr_ns_link(ns, f, root, ".", NULL), -EEXIST);
	assert_int_equal(zr_ns_link(ns, d, root, "d2", NULL), -EPERM);
	assert_int_equal(zr_ns_link(ns, f, f, "x", NULL), -ENOTDIR);
	assert_int_equal(zr_ns_link(ns, f, root, "", NULL), -ENOENT);
	f->nlink = ZR_LINK_MAX;
	assert_int_equal(zr_ns_link(ns, f, root, "h", NULL), -EMLINK);
	f->nlink = 2;
	assert_int_equal(zr_ns_link(ns, f, root, "h", &st), 0);
	assert_int_equal(st.st_nlink, 3);

	/* link raised the lookup count: 1 (create) + 2 (links) */
	frees = payload_frees;
	assert_int_equal(zr_ns_unlink(ns, root, "f"), 0);
	assert_int_equal(zr_ns_unlink(ns, d, "g"), 0);
	assert_int_equal(getattr(ns, f).st_nlink, 1);
	assert_int_equal(zr_ns_unlink(ns, root, "h"), 0);
	assert_int_equal(getattr(ns, f).st_nlink, 0);
	zr_ns_forget(ns, f, 2);
	assert_int_equal(payload_frees, frees);
	zr_ns_forget(ns, f, 1);
	assert_int_equal(payload_frees, frees + 1);

	/* linking an orphan brings it back (O_TMPFILE + linkat) */
	f = mkfile(ns, root, "t");
	assert_int_equal(zr_ns_unlink(ns, root, "t"), 0);
	assert_int_equal(zr_ns_link(ns, f, d, "back", &st), 0);
	assert_int_equal(st.st_nlink, 1);
	zr_ns_forget(ns, f, 2);
	assert_int_equal(payload_frees, frees + 1);
	assert_int_equal(zr_ns_lookup(ns, d, "back", &ino, NULL), 0);
	assert_int_equal(zr_ns_unlink(ns, d, "back"), 0);
	assert_int_equal(payload_frees, frees + 1);
	zr_ns_forget(ns, ino, 1);
	assert_int_equal(payload_frees, frees + 2);
	zr_ns_destroy(ns);
}

static void test_unlink_lifetime(void **state)
{
	struct zr_ns *ns = new_ns(0);
	struct zr_inode *root = zr_ns_root(ns), *f, *d;
	struct zr_ns_stats s;
	struct stat st;
	long frees = payload_frees;

	/* unlink first, forget last */
	f = mkfile(ns, root, "f");
	age(ns, root);
	age(ns, f);
	assert_int_equal(zr_ns_unlink(ns, root, "f"), 0);
	st = getattr(ns, root);
	assert_true(st.st_mtime > 1000 && st.st_ctime > 1000);
	st = getattr(ns, f);			/* still readable: referenced */
	assert_int_equal(st.st_nlink, 0);
	assert_true(st.st_ctime > 1000);
	assert_int_equal(st.st_mtime, 1000);
	zr_ns_get_stats(ns, &s);
	assert_int_equal(s.inodes, 2);
	assert_int_equal(s.files, 1);
	assert_int_equal(payload_frees, frees);
	assert_int_equal(zr_ns_lookup(ns, root, "f", &d, NULL), -ENOENT);
	zr_ns_forget(ns, f, 1);
	assert_int_equal(payload_frees, frees + 1);
	zr_ns_get_stats(ns, &s);
	assert_int_equal(s.inodes, 1);
	assert_int_equal(s.files, 0);

	/* forget first, unlink last */
	f = mkfile(ns, root, "f");
	assert_non_null(lookup(ns, root, "f"));
	zr_ns_forget(ns, f, 2);
	assert_int_equal(payload_frees, frees + 1);
	assert_int_equal(zr_ns_unlink(ns, root, "f"), 0);
	assert_int_equal(payload_frees, frees + 2);

	/* errors */
	d = mkdir_(ns, root, "d");
	f = mkfile(ns, root, "f");
	assert_int_equal(zr_ns_unlink(ns, root, "d"), -EISDIR);
	assert_int_equal(zr_ns_unlink(ns, root, "."), -EISDIR);
	assert_int_equal(zr_ns_unlink(ns, root, ".."), -EISDIR);
	assert_int_equal(zr_ns_unlink(ns, root, "nope"), -ENOENT);
	assert_int_equal(zr_ns_unlink(ns, root, ""), -ENOENT);
	assert_int_equal(zr_ns_unlink(ns, f, "x"), -ENOTDIR);
	zr_ns_forget(ns, d, 1);
	zr_ns_forget(ns, f, 1);
	zr_ns_destroy(ns);
	assert_int_equal(payload_frees, frees + 3);
}

static void test_rmdir(void **state)
{
	struct zr_ns *ns = new_ns(0);
	struct zr_inode *root = zr_ns_root(ns), *a, *b, *f;
	struct zr_ns_stats s;
	struct list l;
	struct stat st;

	a = mkdir_(ns, root, "a");
	b = mkdir_(ns, a, "b");
	f = mkfile(ns, root, "f");
	assert_int_equal(getattr(ns, root).st_nlink, 3);
	assert_int_equal(getattr(ns, a).st_nlink, 3);
	assert_int_equal(zr_ns_rmdir(ns, root, "a"), -ENOTEMPTY);
	assert_int_equal(zr_ns_rmdir(ns, root, "f"), -ENOTDIR);
	assert_int_equal(zr_ns_rmdir(ns, f, "x"), -ENOTDIR);
	assert_int_equal(zr_ns_rmdir(ns, root, "nope"), -ENOENT);
	assert_int_equal(zr_ns_rmdir(ns, root, "."), -EINVAL);
	assert_int_equal(zr_ns_rmdir(ns, root, ".."), -EBUSY);
	assert_int_equal(zr_ns_rmdir(ns, a, ".."), -ENOTEMPTY);
	age(ns, a);
	age(ns, b);
	assert_int_equal(zr_ns_rmdir(ns, a, "b"), 0);
	st = getattr(ns, a);
	assert_int_equal(st.st_nlink, 2);
	assert_true(st.st_mtime > 1000 && st.st_ctime > 1000);
	st = getattr(ns, b);
	assert_int_equal(st.st_nlink, 0);
	assert_true(st.st_ctime > 1000);
	/* the removed, still referenced directory lists "." and ".." only */
	list_dir(ns, b, 0, 0, 10, &l);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.names[0], ".");
	assert_string_equal(l.names[1], "..");
	assert_int_equal(l.st[1].st_ino, getattr(ns, b).st_ino);
	assert_int_equal(zr_ns_rmdir(ns, root, "a"), 0);
	assert_int_equal(getattr(ns, root).st_nlink, 2);
	zr_ns_get_stats(ns, &s);
	assert_int_equal(s.dirs, 3);		/* a and b still referenced */
	zr_ns_forget(ns, a, 1);
	zr_ns_forget(ns, b, 1);
	zr_ns_get_stats(ns, &s);
	assert_int_equal(s.dirs, 1);
	assert_int_equal(s.inodes, 2);
	zr_ns_forget(ns, f, 1);
	zr_ns_destroy(ns);
}

static void test_rename_basic(void **state)
{
	struct zr_ns *ns = new_ns(0);
	struct zr_inode *root = zr_ns_root(ns), *a, *b, *f, *g, *sub;
	struct stat st;
	long frees;

	a = mkdir_(ns, root, "a");
	b = mkdir_(ns, root, "b");
	f = mkfile(ns, a, "f");
	sub = mkdir_(ns, a, "sub");
	age(ns, a);
	age(ns, b);
	age(ns, f);
	/* within a directory */
	assert_int_equal(zr_ns_rename(ns, a, "f", a, "f2", 0), 0);
	assert_null(peek(ns, a, "f"));
	assert_ptr_equal(peek(ns, a, "f2"), f);
	assert_true(getattr(ns, f).st_ctime > 1000);
	assert_true(getattr(ns, a).st_mtime > 1000);
	assert_int_equal(getattr(ns, b).st_mtime, 1000);
	/* a directory to another parent: link counts and ".." follow */
	assert_int_equal(zr_ns_rename(ns, a, "sub", b, "sub", 0), 0);
	assert_int_equal(getattr(ns, a).st_nlink, 2);
	assert_int_equal(getattr(ns, b).st_nlink, 3);
	assert_true(getattr(ns, b).st_mtime > 1000);
	assert_ptr_equal(peek(ns, sub, ".."), b);
	/* errors */
	assert_int_equal(zr_ns_rename(ns, a, "nope", b, "x", 0), -ENOENT);
	assert_int_equal(zr_ns_rename(ns, a, "f2", b, "x", RENAME_WHITEOUT), -EINVAL);
	assert_int_equal(zr_ns_rename(ns, a, "f2", b, "x", 1u << 7), -EINVAL);
	assert_int_equal(zr_ns_rename(ns, a, "f2", b, "x",
				      RENAME_NOREPLACE | RENAME_EXCHANGE), -EINVAL);
	assert_int_equal(zr_ns_rename(ns, a, "f2", f, "x", 0), -ENOTDIR);
	assert_int_equal(zr_ns_rename(ns, a, ".", b, "x", 0), -EBUSY);
	assert_int_equal(zr_ns_rename(ns, a, "f2", b, "", 0), -ENOENT);
	/* NOREPLACE */
	g = mkfile(ns, b, "g");
	assert_int_equal(zr_ns_rename(ns, a, "f2", b, "g", RENAME_NOREPLACE), -EEXIST);
	assert_int_equal(zr_ns_rename(ns, a, "f2", b, "h", RENAME_NOREPLACE), 0);
	/* replace a file: the victim loses its name, lives on while referenced */
	frees = payload_frees;
	age(ns, g);
	assert_int_equal(zr_ns_rename(ns, b, "h", b, "g", 0), 0);
	assert_ptr_equal(peek(ns, b, "g"), f);
	st = getattr(ns, g);
	assert_int_equal(st.st_nlink, 0);
	assert_true(st.st_ctime > 1000);
	assert_int_equal(payload_frees, frees);
	zr_ns_forget(ns, g, 1);
	assert_int_equal(payload_frees, frees + 1);
	/* onto itself through a hard link: a no-op, both names stay */
	assert_int_equal(zr_ns_link(ns, f, a, "hard", NULL), 0);
	assert_int_equal(zr_ns_rename(ns, a, "hard", b, "g", 0), 0);
	assert_ptr_equal(peek(ns, a, "hard"), f);
	assert_ptr_equal(peek(ns, b, "g"), f);
	assert_int_equal(getattr(ns, f).st_nlink, 2);
	assert_int_equal(zr_ns_rename(ns, b, "g", b, "g", 0), 0);
	assert_int_equal(zr_ns_rename(ns, a, "hard", b, "g", RENAME_EXCHANGE), 0);
	zr_ns_forget(ns, f, 2);
	zr_ns_forget(ns, a, 1);
	zr_ns_forget(ns, b, 1);
	zr_ns_forget(ns, sub, 1);
	zr_ns_destroy(ns);
}

static void test_rename_dirs(void **state)
{
	struct zr_ns *ns = new_ns(0);
	struct zr_inode *root = zr_ns_root(ns), *a, *b, *c, *e, *x, *f;
	struct zr_ns_stats s;

	a = mkdir_(ns, root, "a");
	b = mkdir_(ns, a, "b");
	c = mkdir_(ns, b, "c");
	e = mkdir_(ns, root, "e");		/* empty */
	f = mkfile(ns, root, "f");
	x = mkfile(ns, c, "x");
	/* into its own subtree */
	assert_int_equal(zr_ns_rename(ns, root, "a", c, "a", 0), -EINVAL);
	assert_int_equal(zr_ns_rename(ns, root, "a", a, "a", 0), -EINVAL);
	assert_int_equal(zr_ns_rename(ns, root, "a", b, "z", RENAME_NOREPLACE), -EINVAL);
	assert_int_equal(zr_ns_rename(ns, root, "a", c, "x", RENAME_EXCHANGE), -EINVAL);
	assert_int_equal(zr_ns_rename(ns, c, "x", root, "a", RENAME_EXCHANGE), -EINVAL);
	/* type mismatches and non-empty targets */
	assert_int_equal(zr_ns_rename(ns, root, "e", root, "f", 0), -ENOTDIR);
	assert_int_equal(zr_ns_rename(ns, root, "f", root, "e", 0), -EISDIR);
	assert_int_equal(zr_ns_rename(ns, root, "e", root, "a", 0), -ENOTEMPTY);
	assert_int_equal(zr_ns_rename(ns, b, "c", a, "b", 0), -ENOTEMPTY);
	assert_int_equal(zr_ns_rename(ns, root, "e", root, "nope", RENAME_EXCHANGE),
			 -ENOENT);
	/* a directory over an empty one in another parent */
	assert_int_equal(getattr(ns, root).st_nlink, 4);
	assert_int_equal(zr_ns_rename(ns, b, "c", root, "e", 0), 0);
	assert_int_equal(getattr(ns, root).st_nlink, 4);
	assert_int_equal(getattr(ns, b).st_nlink, 2);
	assert_int_equal(getattr(ns, e).st_nlink, 0);
	assert_ptr_equal(peek(ns, root, "e"), c);
	assert_ptr_equal(peek(ns, c, ".."), root);
	assert_ptr_equal(peek(ns, e, ".."), e);	/* removed: ".." is itself */
	zr_ns_forget(ns, e, 1);
	zr_ns_get_stats(ns, &s);
	assert_int_equal(s.dirs, 4);
	/* exchange a file and a directory across parents */
	assert_int_equal(zr_ns_rename(ns, root, "f", a, "b", RENAME_EXCHANGE), 0);
	assert_ptr_equal(peek(ns, root, "f"), b);
	assert_ptr_equal(peek(ns, a, "b"), f);
	assert_ptr_equal(peek(ns, b, ".."), root);
	assert_int_equal(getattr(ns, root).st_nlink, 5);	/* a, c(e), b */
	assert_int_equal(getattr(ns, a).st_nlink, 2);
	/* exchange two directories across parents: counts unchanged */
	assert_int_equal(zr_ns_rename(ns, root, "e", a, "b", 0), -ENOTDIR);
	assert_int_equal(zr_ns_rename(ns, root, "f", c, "x", RENAME_EXCHANGE), 0);
	assert_ptr_equal(peek(ns, c, "x"), b);
	assert_ptr_equal(peek(ns, root, "f"), x);
	assert_ptr_equal(peek(ns, b, ".."), c);
	assert_int_equal(getattr(ns, c).st_nlink, 3);
	assert_int_equal(getattr(ns, root).st_nlink, 4);
	assert_int_equal(mkdir_(ns, a, "d") != NULL, 1);
	assert_int_equal(zr_ns_rename(ns, c, "x", a, "d", RENAME_EXCHANGE), 0);
	assert_int_equal(getattr(ns, c).st_nlink, 3);
	assert_int_equal(getattr(ns, a).st_nlink, 3);
	assert_ptr_equal(peek(ns, b, ".."), a);
	/* a/d now names b: into itself is EINVAL; c/x (old d) moves in fine */
	assert_int_equal(zr_ns_rename(ns, a, "d", b, "moved", 0), -EINVAL);
	assert_int_equal(zr_ns_rename(ns, c, "x", b, "moved", 0), 0);
	assert_int_equal(getattr(ns, b).st_nlink, 3);
	assert_int_equal(getattr(ns, c).st_nlink, 2);
	assert_int_equal(getattr(ns, a).st_nlink, 3);	/* a/d is b */
	zr_ns_destroy(ns);
}

static void test_setattr_times(void **state)
{
	struct zr_ns *ns = new_ns(0);
	struct zr_inode *root = zr_ns_root(ns), *f, *d, *sg;
	struct stat a = { 0 }, st;

	f = mkfile(ns, root, "f");
	age(ns, root);
	d = mkdir_(ns, root, "d");
	st = getattr(ns, root);
	assert_true(st.st_mtime > 1000 && st.st_ctime > 1000);
	assert_int_equal(st.st_atime, 1000);
	assert_true(ts_eq(getattr(ns, d).st_mtim, st.st_mtim));

	a.st_mode = S_IFDIR | 04751;		/* type bits are ignored */
	a.st_uid = 7;
	a.st_gid = 8;
	assert_int_equal(zr_ns_setattr(ns, f, &a, ZR_SET_MODE | ZR_SET_UID |
				       ZR_SET_GID, &st), 0);
	assert_int_equal(st.st_mode, S_IFREG | 04751);
	assert_int_equal(st.st_uid, 7);
	assert_int_equal(st.st_gid, 8);
	a.st_atim.tv_sec = 5;
	a.st_mtim.tv_sec = 6;
	a.st_ctim.tv_sec = 7;
	a.st_ctim.tv_nsec = 9;
	assert_int_equal(zr_ns_setattr(ns, f, &a, ZR_SET_ATIME | ZR_SET_MTIME |
				       ZR_SET_CTIME, &st), 0);
	assert_int_equal(st.st_atime, 5);
	assert_int_equal(st.st_mtime, 6);
	assert_int_equal(st.st_ctim.tv_sec, 7);
	assert_int_equal(st.st_ctim.tv_nsec, 9);
	assert_int_equal(zr_ns_setattr(ns, f, &a, ZR_SET_ATIME, &st), 0);
	assert_true(st.st_ctime > 1000);		/* ctime = now */
	assert_int_equal(st.st_mtime, 6);
	assert_int_equal(zr_ns_setattr(ns, f, &a, ZR_SET_SIZE, &st), 0);
	assert_true(st.st_mtime > 1000);
	assert_int_equal(st.st_atime, 5);
	assert_int_equal(zr_ns_setattr(ns, f, &a, ZR_SET_ATIME_NOW |
				       ZR_SET_MTIME_NOW, &st), 0);
	assert_true(st.st_atime > 1000 && st.st_mtime > 1000);
	assert_true(ts_eq(st.st_atim, st.st_mtim));

	/* touch and relatime */
	age(ns, f);
	zr_ns_touch(ns, f, ZR_TOUCH_MTIME);
	st = getattr(ns, f);
	assert_true(st.st_mtime > 1000);
	assert_int_equal(st.st_atime, 1000);
	assert_int_equal(st.st_ctime, 1000);
	zr_ns_touch(ns, f, ZR_TOUCH_ATIME | ZR_TOUCH_RELATIME);	/* a <= m */
	st = getattr(ns, f);
	assert_true(st.st_atime > 1000);
	/* a recent atime newer than m and c stays */
	a.st_atim = a.st_mtim = a.st_ctim = st.st_atim;
	a.st_atim.tv_sec -= 100;
	a.st_mtim.tv_sec -= 200;
	a.st_ctim.tv_sec -= 200;
	zr_ns_setattr(ns, f, &a, ZR_SET_ATIME | ZR_SET_MTIME | ZR_SET_CTIME, NULL);
	zr_ns_touch(ns, f, ZR_TOUCH_ATIME | ZR_TOUCH_RELATIME);
	assert_true(ts_eq(getattr(ns, f).st_atim, a.st_atim));
	/* ... unless ctime is newer */
	a.st_ctim.tv_sec += 150;
	zr_ns_setattr(ns, f, &a, ZR_SET_ATIME | ZR_SET_MTIME | ZR_SET_CTIME, NULL);
	zr_ns_touch(ns, f, ZR_TOUCH_ATIME | ZR_TOUCH_RELATIME);
	assert_true(ts_after(getattr(ns, f).st_atim, a.st_atim));
	/* ... or it is more than a day old */
	a.st_atim.tv_sec -= 2 * 86400;
	a.st_mtim = a.st_ctim = a.st_atim;
	a.st_mtim.tv_sec -= 10;
	a.st_ctim.tv_sec -= 10;
	zr_ns_setattr(ns, f, &a, ZR_SET_ATIME | ZR_SET_MTIME | ZR_SET_CTIME, NULL);
	zr_ns_touch(ns, f, ZR_TOUCH_ATIME | ZR_TOUCH_RELATIME);
	assert_true(ts_after(getattr(ns, f).st_atim, a.st_atim));
	/* strict atime always */
	a.st_atim = getattr(ns, f).st_atim;
	a.st_atim.tv_sec -= 100;
	zr_ns_setattr(ns, f, &a, ZR_SET_ATIME | ZR_SET_MTIME | ZR_SET_CTIME, NULL);
	zr_ns_touch(ns, f, ZR_TOUCH_ATIME);
	assert_true(ts_after(getattr(ns, f).st_atim, a.st_atim));
	assert_true(ts_eq(getattr(ns, f).st_ctim, a.st_ctim));	/* touch: no ctime */
	zr_ns_touch(ns, f, ZR_TOUCH_CTIME);
	assert_true(ts_after(getattr(ns, f).st_ctim, a.st_ctim));

	/* setgid directories pass their group on, and setgid to subdirs */
	a.st_mode = 02775;
	a.st_gid = 99;
	zr_ns_setattr(ns, d, &a, ZR_SET_MODE | ZR_SET_GID, NULL);
	assert_int_equal(zr_ns_mknod(ns, d, "sg", S_IFDIR | 0755, 0, 1, 2, NULL,
				     &sg, &st), 0);
	assert_int_equal(st.st_gid, 99);
	assert_int_equal(st.st_mode, S_IFDIR | 02755);
	assert_int_equal(zr_ns_mknod(ns, d, "x", S_IFREG | 0644, 0, 1, 2, NULL,
				     NULL, &st), 0);
	assert_int_equal(st.st_gid, 99);
	assert_int_equal(st.st_mode, S_IFREG | 0644);
	assert_int_equal(zr_ns_symlink(ns, sg, "l", "t", 1, 2, NULL, &st), 0);
	assert_int_equal(st.st_gid, 99);
	assert_int_equal(zr_ns_mknod(ns, root, "y", S_IFDIR | 0755, 0, 1, 2, NULL,
				     NULL, &st), 0);
	assert_int_equal(st.st_gid, 2);
	zr_ns_destroy(ns);
}

/* ZR_*_KILL_SUIDGID: setuid goes, setgid only with group execute, and
 * never on a directory (there setgid means "inherit the group"). */
static void test_kill_suidgid(void **state)
{
	struct zr_ns *ns = new_ns(0);
	struct zr_inode *root = zr_ns_root(ns), *f, *d;
	struct stat a = { 0 }, st;

	f = mkfile(ns, root, "f");
	d = mkdir_(ns, root, "d");
	a.st_mode = 06777;
	zr_ns_setattr(ns, f, &a, ZR_SET_MODE, NULL);
	zr_ns_setattr(ns, d, &a, ZR_SET_MODE, NULL);
	assert_true(zr_ns_has_setid(f));
	assert_false(zr_ns_has_setid(d));
	zr_ns_touch(ns, f, ZR_TOUCH_MTIME | ZR_TOUCH_KILL_SUIDGID);
	zr_ns_touch(ns, d, ZR_TOUCH_MTIME | ZR_TOUCH_KILL_SUIDGID);
	assert_int_equal(getattr(ns, f).st_mode, S_IFREG | 0777);
	assert_int_equal(getattr(ns, d).st_mode, S_IFDIR | 06777);
	assert_false(zr_ns_has_setid(f));

	/* setgid without group execute stays (Linux's rule) */
	a.st_mode = 06747;
	zr_ns_setattr(ns, f, &a, ZR_SET_MODE, NULL);
	assert_true(zr_ns_has_setid(f));
	a.st_uid = 5;
	assert_int_equal(zr_ns_setattr(ns, f, &a, ZR_SET_UID | ZR_SET_KILL_SUIDGID,
				       &st), 0);
	assert_int_equal(st.st_mode, S_IFREG | 02747);
	assert_int_equal(st.st_uid, 5);
	assert_false(zr_ns_has_setid(f));

	/* a mode set in the same request is applied first */
	a.st_mode = 04755;
	zr_ns_setattr(ns, f, &a, ZR_SET_MODE | ZR_SET_KILL_SUIDGID, &st);
	assert_int_equal(st.st_mode, S_IFREG | 0755);
	zr_ns_destroy(ns);
}

static void test_readdir_basic(void **state)
{
	struct zr_ns *ns = new_ns(0);
	struct zr_inode *root = zr_ns_root(ns), *d, *f, *g;
	struct list l;
	uint64_t off;

	d = mkdir_(ns, root, "d");
	f = mkfile(ns, d, "f");
	g = mkdir_(ns, d, "g");
	assert_int_equal(zr_ns_symlink(ns, d, "h", "t", 0, 0, NULL, NULL), 0);
	list_dir(ns, d, 0, 0, 100, &l);
	assert_int_equal(l.n, 5);
	assert_string_equal(l.names[0], ".");
	assert_int_equal(l.off[0], 1);
	assert_int_equal(l.st[0].st_ino, getattr(ns, d).st_ino);
	assert_int_equal(l.nodeid[0], 0);
	assert_string_equal(l.names[1], "..");
	assert_int_equal(l.off[1], 2);
	assert_int_equal(l.st[1].st_ino, 1);
	assert_string_equal(l.names[2], "f");
	assert_int_equal(l.st[2].st_mode & S_IFMT, S_IFREG);
	assert_int_equal(l.st[2].st_ino, getattr(ns, f).st_ino);
	assert_int_equal(l.nodeid[2], zr_ns_nodeid(ns, f));
	assert_string_equal(l.names[3], "g");
	assert_int_equal(l.st[3].st_mode & S_IFMT, S_IFDIR);
	assert_string_equal(l.names[4], "h");
	assert_int_equal(l.st[4].st_mode & S_IFMT, S_IFLNK);
	assert_true(l.off[2] > 2 && l.off[3] > l.off[2] && l.off[4] > l.off[3]);
	/* resume from every offset */
	off = l.off[2];
	list_dir(ns, d, 1, 0, 100, &l);
	assert_int_equal(l.n, 4);
	assert_string_equal(l.names[0], "..");
	list_dir(ns, d, 2, 0, 100, &l);
	assert_int_equal(l.n, 3);
	list_dir(ns, d, off, 0, 100, &l);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.names[0], "g");
	list_dir(ns, d, l.off[1], 0, 100, &l);
	assert_int_equal(l.n, 0);
	/* a full buffer stops it, nothing taken after */
	list_dir(ns, d, 0, 0, 1, &l);
	assert_int_equal(l.n, 1);
	list_dir(ns, d, 0, 0, 0, &l);
	assert_int_equal(l.n, 0);
	assert_int_equal(zr_ns_readdir(ns, f, 0, 0, list_fill, &l), -ENOTDIR);
	assert_int_equal(getattr(ns, d).st_size, 5 * 20);
	zr_ns_forget(ns, g, 1);
	zr_ns_forget(ns, f, 1);
	zr_ns_destroy(ns);
}

static void test_readdirplus_lookups(void **state)
{
	struct zr_ns *ns = new_ns(0);
	struct zr_inode *root = zr_ns_root(ns), *f, *g;
	long frees = payload_frees;
	struct list l;

	f = mkfile(ns, root, "f");
	g = mkfile(ns, root, "g");
	/* takes ".", "..", "f"; "g" does not fit */
	list_dir(ns, root, 0, 1, 3, &l);
	assert_int_equal(l.n, 3);
	assert_int_equal(l.st[2].st_size, 100);		/* full attributes */
	assert_int_equal(l.st[2].st_nlink, 1);
	assert_int_equal(l.st[0].st_nlink, 2);
	assert_int_equal(l.nodeid[2], zr_ns_nodeid(ns, f));
	assert_int_equal(l.nodeid[0], 0);
	assert_int_equal(zr_ns_unlink(ns, root, "f"), 0);
	assert_int_equal(zr_ns_unlink(ns, root, "g"), 0);
	zr_ns_forget(ns, g, 1);				/* g: never listed */
	assert_int_equal(payload_frees, frees + 1);
	zr_ns_forget(ns, f, 1);				/* f: listed once */
	assert_int_equal(payload_frees, frees + 1);
	zr_ns_forget(ns, f, 1);
	assert_int_equal(payload_frees, frees + 2);
	/* the root's references are not raised for "." and ".." */
	assert_int_equal(atomic_load(&root->nlookup), 0);
	zr_ns_destroy(ns);
}

/* --- readdir stability while the directory changes ---------------------- */

#define STAB_ORIG 10000
#define STAB_MAX (STAB_ORIG * 3)

struct stab {
	int seen[STAB_MAX];
	int dots;
	uint64_t last_off;
	int taken;
	int limit;
};

static int stab_index(const char *name)
{
	return atoi(name + 1) + (name[0] == 'n' ? STAB_ORIG : 0);
}

static int stab_fill(void *ctx, const char *name, const struct stat *st,
		     uint64_t nodeid, uint64_t next_off)
{
	struct stab *s = ctx;

	if (s->taken == s->limit)
		return 1;
	s->taken++;
	s->last_off = next_off;
	if (name[0] == '.')
		s->dots++;
	else
		s->seen[stab_index(name)]++;
	return 0;
}

static void stab_name(char *buf, size_t size, int i)
{
	if (i < STAB_ORIG)
		snprintf(buf, size, "e%05d", i);
	else
		snprintf(buf, size, "n%05d", i - STAB_ORIG);
}

static void test_readdir_stability(void **state)
{
	struct zr_ns *ns = new_ns(0);
	struct zr_inode *root = zr_ns_root(ns), *d;
	static struct stab s;
	static char present[STAB_MAX], touched[STAB_MAX];
	int i, k, next_new = STAB_ORIG, rounds = 0;
	unsigned seed = 12345;
	char name[32];

	memset(&s, 0, sizeof(s));
	memset(present, 0, sizeof(present));
	memset(touched, 0, sizeof(touched));
	d = mkdir_(ns, root, "d");
	for (i = 0; i < STAB_ORIG; i++) {
		stab_name(name, sizeof(name), i);
		zr_ns_forget(ns, mkfile(ns, d, name), 1);
		present[i] = 1;
	}
	s.limit = 97;
	for (;;) {
		s.taken = 0;
		assert_int_equal(zr_ns_readdir(ns, d, s.last_off, 0, stab_fill, &s), 0);
		if (s.taken < s.limit)
			break;
		rounds++;
		/* remove some, add some, anywhere in the order */
		for (k = 0; k < 60; k++) {
			i = (int)(rand_r(&seed) % (unsigned)next_new);
			if (!present[i])
				continue;
			stab_name(name, sizeof(name), i);
			assert_int_equal(zr_ns_unlink(ns, d, name), 0);
			present[i] = 0;
			touched[i] = 1;
		}
		for (k = 0; k < 50 && next_new < STAB_MAX; k++) {
			stab_name(name, sizeof(name), next_new);
			zr_ns_forget(ns, mkfile(ns, d, name), 1);
			present[next_new] = touched[next_new] = 1;
			next_new++;
		}
		/* once, remove most entries: the order array is compacted */
		if (rounds == 30) {
			for (i = 0; i < STAB_ORIG; i++) {
				if (!present[i] || i % 5 == 0)
					continue;
				stab_name(name, sizeof(name), i);
				assert_int_equal(zr_ns_unlink(ns, d, name), 0);
				present[i] = 0;
				touched[i] = 1;
			}
		}
	}
	assert_true(rounds > 40);
	assert_int_equal(s.dots, 2);
	for (i = 0; i < STAB_MAX; i++) {
		assert_true(s.seen[i] <= 1);
		if (i < STAB_ORIG && !touched[i])
			assert_int_equal(s.seen[i], 1);
	}
	/* and a fresh full listing sees exactly what is present */
	memset(&s, 0, sizeof(s));
	s.limit = -1;
	assert_int_equal(zr_ns_readdir(ns, d, 0, 0, stab_fill, &s), 0);
	for (i = 0; i < STAB_MAX; i++)
		assert_int_equal(s.seen[i], present[i]);
	zr_ns_destroy(ns);
}

/* A directory of many entries: insert, find, remove all; memory returns. */
static void test_big_dir(void **state)
{
	int n = quick() ? 20000 : 100000, i;
	struct zr_ns *ns = new_ns(0);
	struct zr_inode *root = zr_ns_root(ns), *d;
	uint64_t mem_empty;
	char name[32];

	d = mkdir_(ns, root, "d");
	mem_empty = zr_mem_meta_bytes();
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "file-%d", i);
		zr_ns_forget(ns, mkfile(ns, d, name), 1);
	}
	assert_int_equal(getattr(ns, d).st_size, (off_t)(n + 2) * 20);
	for (i = 0; i < n; i += 7) {
		snprintf(name, sizeof(name), "file-%d", i);
		assert_non_null(peek(ns, d, name));
	}
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "file-%d", (i * 7919) % n);
		assert_int_equal(zr_ns_unlink(ns, d, name), 0);
	}
	assert_int_equal(getattr(ns, d).st_size, 40);
	assert_int_equal(zr_mem_meta_bytes(), mem_empty);
	zr_ns_forget(ns, d, 1);
	zr_ns_destroy(ns);
}

static void test_xattr(void **state)
{
	struct zr_ns *ns = new_ns(0);
	struct zr_inode *root = zr_ns_root(ns), *f;
	static char big[ZR_XATTR_SIZE_MAX + 1];
	char name[ZR_XATTR_NAME_MAX + 2], buf[256];
	struct zr_ns_stats s;
	struct stat st;

	f = mkfile(ns, root, "f");
	age(ns, f);
	assert_int_equal(zr_ns_getxattr(ns, f, "user.a", buf, sizeof(buf)), -ENODATA);
	assert_int_equal(zr_ns_listxattr(ns, f, buf, 0), 0);
	assert_int_equal(zr_ns_setxattr(ns, f, "user.a", "hello", 5, 0), 0);
	assert_true(getattr(ns, f).st_ctime > 1000);
	assert_int_equal(getattr(ns, f).st_mtime, 1000);
	assert_int_equal(zr_ns_getxattr(ns, f, "user.a", NULL, 0), 5);
	assert_int_equal(zr_ns_getxattr(ns, f, "user.a", buf, 4), -ERANGE);
	assert_int_equal(zr_ns_getxattr(ns, f, "user.a", buf, 5), 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(zr_ns_setxattr(ns, f, "user.a", "x", 1, XATTR_CREATE), -EEXIST);
	assert_int_equal(zr_ns_setxattr(ns, f, "user.b", "x", 1, XATTR_REPLACE),
			 -ENODATA);
	assert_int_equal(zr_ns_setxattr(ns, f, "user.a", "bye", 3, XATTR_REPLACE), 0);
	assert_int_equal(zr_ns_getxattr(ns, f, "user.a", buf, sizeof(buf)), 3);
	assert_memory_equal(buf, "bye", 3);
	assert_int_equal(zr_ns_setxattr(ns, f, "security.b", "", 0, XATTR_CREATE), 0);
	assert_int_equal(zr_ns_getxattr(ns, f, "security.b", buf, sizeof(buf)), 0);
	zr_ns_get_stats(ns, &s);
	assert_int_equal(s.xattr_bytes, 6 + 3 + 10);
	/* list: NUL-separated names */
	assert_int_equal(zr_ns_listxattr(ns, f, NULL, 0), 7 + 11);
	assert_int_equal(zr_ns_listxattr(ns, f, buf, 17), -ERANGE);
	assert_int_equal(zr_ns_listxattr(ns, f, buf, sizeof(buf)), 18);
	assert_true((!strcmp(buf, "user.a") && !strcmp(buf + 7, "security.b")) ||
		    (!strcmp(buf, "security.b") && !strcmp(buf + 11, "user.a")));
	/* limits */
	memset(name, 'n', sizeof(name));
	name[ZR_XATTR_NAME_MAX + 1] = '\0';
	assert_int_equal(zr_ns_setxattr(ns, f, name, "x", 1, 0), -ERANGE);
	assert_int_equal(zr_ns_getxattr(ns, f, name, buf, sizeof(buf)), -ERANGE);
	assert_int_equal(zr_ns_removexattr(ns, f, name), -ERANGE);
	assert_int_equal(zr_ns_setxattr(ns, f, "", "x", 1, 0), -ERANGE);
	name[ZR_XATTR_NAME_MAX] = '\0';
	assert_int_equal(zr_ns_setxattr(ns, f, name, "x", 1, 0), 0);
	assert_int_equal(zr_ns_setxattr(ns, f, "user.big", big, sizeof(big), 0), -E2BIG);
	assert_int_equal(zr_ns_setxattr(ns, f, "user.big", big, sizeof(big) - 1, 0), 0);
	assert_int_equal(zr_ns_getxattr(ns, f, "user.big", NULL, 0), ZR_XATTR_SIZE_MAX);
	assert_int_equal(zr_ns_setxattr(ns, f, "user.x", "x", 1, 0x100), -EINVAL);
	zr_ns_get_stats(ns, &s);
	assert_int_equal(s.xattr_bytes, 19 + 256 + 8 + ZR_XATTR_SIZE_MAX);
	/* remove */
	age(ns, f);
	assert_int_equal(zr_ns_removexattr(ns, f, "user.big"), 0);
	assert_true(getattr(ns, f).st_ctime > 1000);
	assert_int_equal(zr_ns_removexattr(ns, f, "user.big"), -ENODATA);
	assert_int_equal(zr_ns_removexattr(ns, f, name), 0);
	assert_int_equal(zr_ns_removexattr(ns, f, "user.a"), 0);
	zr_ns_get_stats(ns, &s);
	assert_int_equal(s.xattr_bytes, 10);
	/* directories and the root carry xattrs too; freeing counts them out */
	assert_int_equal(zr_ns_setxattr(ns, root, "user.r", "1", 1, 0), 0);
	st = getattr(ns, root);
	assert_int_equal(st.st_nlink, 2);
	assert_int_equal(zr_ns_unlink(ns, root, "f"), 0);
	zr_ns_forget(ns, f, 1);
	zr_ns_get_stats(ns, &s);
	assert_int_equal(s.xattr_bytes, 7);
	zr_ns_destroy(ns);
}

/* Build a tree with everything in it, delete it all: back to the start. */
static void test_stats_baseline(void **state)
{
	uint64_t mem0 = zr_mem_meta_bytes(), mem1;
	struct zr_ns *ns = new_ns(0);
	struct zr_inode *root = zr_ns_root(ns), *a, *b, *f, *l, *o, *p;
	struct zr_ns_stats s0, s;
	long live = live_payloads();
	char name[32];
	int i;

	zr_ns_get_stats(ns, &s0);
	mem1 = zr_mem_meta_bytes();
	a = mkdir_(ns, root, "a");
	b = mkdir_(ns, a, "b");
	for (i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		f = mkfile(ns, i % 2 ? a : b, name);
		zr_ns_setxattr(ns, f, "user.k", "v", 1, 0);
		zr_ns_forget(ns, f, 1);
	}
	assert_int_equal(zr_ns_symlink(ns, b, "l", "target", 0, 0, &l, NULL), 0);
	assert_int_equal(zr_ns_mknod(ns, a, "p", S_IFIFO | 0600, 0, 0, 0, NULL,
				     &p, NULL), 0);
	zr_ns_forget(ns, p, 1);
	assert_int_equal(zr_ns_link(ns, l, root, "l2", NULL), 0);
	o = mkfile(ns, root, "open");		/* stays referenced */
	zr_ns_get_stats(ns, &s);
	assert_int_equal(s.inodes, 1 + 2 + 300 + 3);
	assert_int_equal(s.files, 301);
	assert_int_equal(s.dirs, 3);
	assert_int_equal(s.symlinks, 1);
	assert_int_equal(s.specials, 1);
	assert_int_equal(s.xattr_bytes, 300 * 7);
	assert_int_equal(live_payloads(), live + 301);

	for (i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		assert_int_equal(zr_ns_unlink(ns, i % 2 ? a : b, name), 0);
	}
	assert_int_equal(zr_ns_unlink(ns, b, "l"), 0);
	assert_int_equal(zr_ns_unlink(ns, root, "l2"), 0);
	zr_ns_forget(ns, l, 2);
	assert_int_equal(zr_ns_unlink(ns, a, "p"), 0);
	assert_int_equal(zr_ns_rmdir(ns, a, "b"), 0);
	assert_int_equal(zr_ns_rmdir(ns, root, "a"), 0);
	zr_ns_forget(ns, a, 1);
	zr_ns_forget(ns, b, 1);
	assert_int_equal(zr_ns_unlink(ns, root, "open"), 0);
	zr_ns_get_stats(ns, &s);
	assert_int_equal(s.inodes, 2);
	zr_ns_forget(ns, o, 1);
	zr_ns_get_stats(ns, &s);
	assert_memory_equal(&s, &s0, sizeof(s));
	assert_int_equal(live_payloads(), live);
	assert_int_equal(zr_mem_meta_bytes(), mem1);
	zr_ns_destroy(ns);
	assert_int_equal(zr_mem_meta_bytes(), mem0);
}

/* ------------------------------------------------------ du and policy */

static _Atomic long du_calls;

/* fig[0]: the payload's size; fig[1]: one per file. */
static void du_fig(void *payload, uint64_t fig[ZR_DU_FIGURES])
{
	atomic_fetch_add(&du_calls, 1);
	fig[0] += (uint64_t)*(int *)payload;
	fig[1]++;
}

static struct zr_ns_du du_of(struct zr_ns *ns, struct zr_inode *dir, uint64_t epoch)
{
	struct zr_ns_du du;

	assert_int_equal(zr_ns_du(ns, dir, du_fig, epoch, &du), 0);
	return du;
}

static void test_du_totals(void **state)
{
	uint64_t mem0 = zr_mem_meta_bytes();
	struct zr_ns *ns = new_ns(0);
	struct zr_inode *root = zr_ns_root(ns), *a, *b, *f, *l, *p;
	struct zr_ns_du du;
	char name[32];

	a = mkdir_(ns, root, "a");
	b = mkdir_(ns, a, "b");
	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		f = mkfile(ns, i < 4 ? a : b, name);
		*(int *)zr_inode_payload(f) = 1000 + i;
		zr_ns_forget(ns, f, 1);
	}
	f = mkfile(ns, root, "top");
	zr_ns_forget(ns, f, 1);
	assert_int_equal(zr_ns_symlink(ns, b, "l", "t", 0, 0, &l, NULL), 0);
	assert_int_equal(zr_ns_mknod(ns, a, "p", S_IFIFO | 0600, 0, 0, 0, NULL, &p, NULL), 0);

	du = du_of(ns, b, 0);
	assert_int_equal(du.files, 6);
	assert_int_equal(du.dirs, 1);
	assert_int_equal(du.symlinks, 1);
	assert_int_equal(du.specials, 0);
	assert_int_equal(du.fig[0], 1004 + 1005 + 1006 + 1007 + 1008 + 1009);
	assert_int_equal(du.fig[1], 6);
	du = du_of(ns, a, 0);
	assert_int_equal(du.files, 10);
	assert_int_equal(du.dirs, 2);
	assert_int_equal(du.specials, 1);
	assert_int_equal(du.fig[0], 10 * 1000 + 45);
	du = du_of(ns, root, 0);
	assert_int_equal(du.files, 11);
	assert_int_equal(du.dirs, 3);
	assert_int_equal(du.fig[0], 10 * 1000 + 45 + 100);
	/* a hard link is counted under each name, as du -l */
	f = lookup(ns, b, "f9");
	assert_int_equal(zr_ns_link(ns, f, root, "f9b", NULL), 0);
	zr_ns_forget(ns, f, 2);
	du = du_of(ns, root, 0);
	assert_int_equal(du.files, 12);
	assert_int_equal(du.fig[0], 10 * 1000 + 45 + 100 + 1009);
	/* not a directory */
	assert_int_equal(zr_ns_du(ns, f, du_fig, 0, &du), -ENOTDIR);
	zr_ns_forget(ns, l, 1);
	zr_ns_forget(ns, p, 1);
	zr_ns_destroy(ns);
	assert_int_equal(zr_mem_meta_bytes(), mem0);	/* caches freed */
}

/* The cache answers while nothing changed; each kind of change, and the
 * caller's epoch, makes the next call walk again. */
static void test_du_cache(void **state)
{
	struct zr_ns *ns = new_ns(0);
	struct zr_inode *root = zr_ns_root(ns), *a, *f, *g;
	struct stat attr = { 0 };
	struct zr_ns_du du;
	long calls;
	uint64_t gen;

	a = mkdir_(ns, root, "a");
	f = mkfile(ns, a, "f");
	du = du_of(ns, a, 0);
	calls = atomic_load(&du_calls);
	du = du_of(ns, a, 0);
	assert_int_equal(atomic_load(&du_calls), calls);	/* cached */
	assert_int_equal(du.fig[0], 100);

	/* a data change the caller signals with an m/ctime touch */
	*(int *)zr_inode_payload(f) = 250;
	gen = zr_ns_generation(ns);
	zr_ns_touch(ns, f, ZR_TOUCH_MTIME | ZR_TOUCH_CTIME);
	assert_true(zr_ns_generation(ns) > gen);
	assert_int_equal(du_of(ns, a, 0).fig[0], 250);
	/* an atime touch (a read) changes nothing */
	gen = zr_ns_generation(ns);
	zr_ns_touch(ns, f, ZR_TOUCH_ATIME);
	assert_int_equal(zr_ns_generation(ns), gen);
	/* setattr (truncate) */
	*(int *)zr_inode_payload(f) = 7;
	assert_int_equal(zr_ns_setattr(ns, f, &attr, ZR_SET_SIZE, NULL), 0);
	assert_int_equal(du_of(ns, a, 0).fig[0], 7);
	/* the caller's epoch (background work it finished) */
	*(int *)zr_inode_payload(f) = 8;
	assert_int_equal(du_of(ns, a, 0).fig[0], 7);	/* not told: cached */
	assert_int_equal(du_of(ns, a, 1).fig[0], 8);
	/* create, rename out, unlink */
	g = mkfile(ns, a, "g");
	assert_int_equal(du_of(ns, a, 1).files, 2);
	assert_int_equal(zr_ns_rename(ns, a, "g", root, "g", 0), 0);
	assert_int_equal(du_of(ns, a, 1).files, 1);
	assert_int_equal(du_of(ns, root, 1).files, 2);
	assert_int_equal(zr_ns_unlink(ns, root, "g"), 0);
	assert_int_equal(du_of(ns, root, 1).files, 1);
	/* a walk of the root reuses a's valid cache instead of descending */
	du_of(ns, a, 1);
	attr.st_mode = 0600;
	assert_int_equal(zr_ns_setattr(ns, root, &attr, ZR_SET_MODE, NULL), 0);
	du_of(ns, a, 1);
	calls = atomic_load(&du_calls);
	du = du_of(ns, root, 1);
	assert_int_equal(atomic_load(&du_calls), calls);
	assert_int_equal(du.files, 1);
	assert_int_equal(du.dirs, 2);
	zr_ns_forget(ns, g, 1);
	zr_ns_forget(ns, f, 1);
	zr_ns_forget(ns, a, 1);
	zr_ns_destroy(ns);
}

/* A chain deeper than the walk's initial stack. */
static void test_du_deep(void **state)
{
	struct zr_ns *ns = new_ns(0);
	struct zr_inode *d = zr_ns_root(ns), *n;
	struct zr_ns_du du;

	for (int i = 0; i < 300; i++) {
		n = mkdir_(ns, d, "d");
		zr_ns_forget(ns, n, 1);
		d = n;
	}
	n = mkfile(ns, d, "f");
	zr_ns_forget(ns, n, 1);
	du = du_of(ns, zr_ns_root(ns), 0);
	assert_int_equal(du.dirs, 301);
	assert_int_equal(du.files, 1);
	assert_int_equal(du.fig[0], 100);
	zr_ns_destroy(ns);
}

static void test_policy(void **state)
{
	struct zr_ns *ns = new_ns(0);
	struct zr_inode *root = zr_ns_root(ns), *a, *old, *sub, *f;

	a = mkdir_(ns, root, "a");
	old = mkdir_(ns, a, "old");
	assert_int_equal(zr_ns_get_policy(ns, a), 0);
	assert_int_equal(zr_ns_set_policy(ns, a, 0x10109), 0);
	assert_int_equal(zr_ns_get_policy(ns, a), 0x10109);
	sub = mkdir_(ns, a, "sub");
	assert_int_equal(zr_ns_get_policy(ns, sub), 0x10109);	/* inherited */
	assert_int_equal(zr_ns_get_policy(ns, old), 0);	/* created before */
	f = mkfile(ns, sub, "f");
	assert_int_equal(zr_ns_set_policy(ns, f, 1), -ENOTDIR);
	assert_int_equal(zr_ns_get_policy(ns, f), 0);
	assert_int_equal(zr_ns_set_policy(ns, a, 0), 0);	/* cleared */
	assert_int_equal(zr_ns_get_policy(ns, a), 0);
	assert_int_equal(zr_ns_get_policy(ns, sub), 0x10109);	/* a copy */
	assert_int_equal(zr_ns_listxattr(ns, a, NULL, 0), 0);	/* not an xattr */
	zr_ns_forget(ns, f, 1);
	zr_ns_forget(ns, sub, 1);
	zr_ns_forget(ns, old, 1);
	zr_ns_forget(ns, a, 1);
	zr_ns_destroy(ns);
}

/* Destroy with everything still there: orphans, hard links, deep trees. */
static void test_destroy_everything(void **state)
{
	uint64_t mem0 = zr_mem_meta_bytes();
	long live = live_payloads();
	struct zr_ns *ns = new_ns(0);
	struct zr_inode *root = zr_ns_root(ns), *d = root, *f, *e;
	char name[32];
	int i;

	for (i = 0; i < 2000; i++) {	/* deep: destroy must not recurse */
		snprintf(name, sizeof(name), "d%d", i);
		d = mkdir_(ns, d, name);
		f = mkfile(ns, d, "f");
		zr_ns_setxattr(ns, d, "user.x", "y", 1, 0);
		snprintf(name, sizeof(name), "l%d", i);
		if (i % 3 == 0)
			assert_int_equal(zr_ns_link(ns, f, root, name, NULL), 0);
	}
	f = mkfile(ns, root, "orphan");
	zr_ns_unlink(ns, root, "orphan");
	e = mkdir_(ns, root, "gone");
	zr_ns_rmdir(ns, root, "gone");
	(void)e;
	assert_int_equal(zr_ns_symlink(ns, d, "l", "x", 0, 0, NULL, NULL), 0);
	assert_true(live_payloads() > live);
	zr_ns_destroy(ns);
	assert_int_equal(live_payloads(), live);
	assert_int_equal(zr_mem_meta_bytes(), mem0);
}

/* --- threads ------------------------------------------------------------ */

#define THREADS 4

struct mt {
	struct zr_ns *ns;
	struct zr_inode *shared;
	struct zr_inode *own[THREADS];
	int id;
	int iters;
};

struct plus_ctx {
	struct zr_ns *ns;
	struct zr_inode *got[64];
	int n;
};

static int plus_fill(void *ctx, const char *name, const struct stat *st,
		     uint64_t nodeid, uint64_t next_off)
{
	struct plus_ctx *p = ctx;

	if (p->n == 64)
		return 1;
	if (nodeid)
		p->got[p->n++] = zr_ns_inode(p->ns, nodeid);
	return 0;
}

static void *mt_worker(void *arg)
{
	struct mt *m = arg;
	struct zr_ns *ns = m->ns;
	struct zr_inode *mine = m->own[m->id], *f, *g;
	struct plus_ctx pc;
	char a[32], b[32], buf[16];
	struct stat st;
	int i, j;

	for (i = 0; i < m->iters; i++) {
		snprintf(a, sizeof(a), "t%d-%d", m->id, i);
		snprintf(b, sizeof(b), "r%d-%d", m->id, i);
		f = mkfile(ns, m->shared, a);
		zr_ns_setxattr(ns, f, "user.i", a, strlen(a), 0);
		g = lookup(ns, m->shared, a);
		assert_ptr_equal(f, g);
		zr_ns_getattr(ns, g, &st);
		zr_ns_touch(ns, g, ZR_TOUCH_ATIME | ZR_TOUCH_RELATIME);
		assert_int_equal(zr_ns_rename(ns, m->shared, a, mine, b, 0), 0);
		if (i % 2)
			assert_int_equal(zr_ns_rename(ns, mine, b, m->shared, b, 0), 0);
		assert_int_equal(zr_ns_getxattr(ns, f, "user.i", buf, sizeof(buf)),
				 (ssize_t)strlen(a));
		if (i % 3 == 0) {
			pc.ns = ns;
			pc.n = 0;
			zr_ns_readdir(ns, m->shared, 0, 1, plus_fill, &pc);
			for (j = 0; j < pc.n; j++)
				zr_ns_forget(ns, pc.got[j], 1);
		}
		assert_int_equal(zr_ns_unlink(ns, i % 2 ? m->shared : mine, b), 0);
		zr_ns_forget(ns, f, 2);
		/* a directory dance: rename it back and forth, exchange, rmdir */
		snprintf(a, sizeof(a), "dir%d", m->id);
		g = mkdir_(ns, m->shared, a);
		assert_int_equal(zr_ns_rename(ns, m->shared, a, mine, "sub", 0), 0);
		assert_int_equal(zr_ns_rmdir(ns, mine, "sub"), 0);
		zr_ns_forget(ns, g, 1);
	}
	return NULL;
}

static void test_threads(void **state)
{
	uint64_t mem0 = zr_mem_meta_bytes();
	struct zr_ns *ns = new_ns(0);
	struct zr_inode *root = zr_ns_root(ns);
	struct mt m[THREADS];
	pthread_t th[THREADS];
	struct zr_ns_stats s;
	struct zr_inode *own[THREADS], *shared;
	char name[16];
	int i;

	shared = mkdir_(ns, root, "shared");
	for (i = 0; i < THREADS; i++) {
		snprintf(name, sizeof(name), "own%d", i);
		own[i] = mkdir_(ns, root, name);
	}
	for (i = 0; i < THREADS; i++) {
		m[i].ns = ns;
		m[i].shared = shared;
		memcpy(m[i].own, own, sizeof(own));
		m[i].id = i;
		m[i].iters = quick() ? 200 : 1500;
		assert_int_equal(pthread_create(&th[i], NULL, mt_worker, &m[i]), 0);
	}
	for (i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	zr_ns_get_stats(ns, &s);
	assert_int_equal(s.inodes, 2 + THREADS);
	assert_int_equal(s.files, 0);
	assert_int_equal(s.xattr_bytes, 0);
	assert_int_equal(getattr(ns, shared).st_size, 40);
	assert_int_equal(getattr(ns, root).st_nlink, 3 + THREADS);
	zr_ns_destroy(ns);
	assert_int_equal(zr_mem_meta_bytes(), mem0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_root),
		cmocka_unit_test(test_mknod_types),
		cmocka_unit_test(test_create_errors),
		cmocka_unit_test(test_symlink),
		cmocka_unit_test(test_link),
		cmocka_unit_test(test_unlink_lifetime),
		cmocka_unit_test(test_rmdir),
		cmocka_unit_test(test_rename_basic),
		cmocka_unit_test(test_rename_dirs),
		cmocka_unit_test(test_setattr_times),
		cmocka_unit_test(test_kill_suidgid),
		cmocka_unit_test(test_readdir_basic),
		cmocka_unit_test(test_readdirplus_lookups),
		cmocka_unit_test(test_readdir_stability),
		cmocka_unit_test(test_big_dir),
		cmocka_unit_test(test_xattr),
		cmocka_unit_test(test_stats_baseline),
		cmocka_unit_test(test_du_totals),
		cmocka_unit_test(test_du_cache),
		cmocka_unit_test(test_du_deep),
		cmocka_unit_test(test_policy),
		cmocka_unit_test(test_destroy_everything),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_coarse_clock),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
