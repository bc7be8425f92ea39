/* SPDX-License-Identifier: MIT */
/*
 * ns_xattr.c - extended attributes of an inode.
 *
 * Each inode keeps a singly linked list of records, name and value in one
 * allocation.  Inodes carry few attributes (security.selinux, a
 * user.* or two), so a list beats any index in both bytes and time.
 *
 * Locking: the inode's lock covers its list; xattr_bytes (names + values
 * of all stored attributes, the stat) is a relaxed atomic since different
 * inodes change it concurrently.  Setting or removing changes ctime.
 */
#include "ns_int.h"

#include <assert.h>
#include <errno.h>
#include <string.h>
#include <sys/xattr.h>

#include "zramfs/mem.h"

struct zr_xattr {
	struct zr_xattr *next;
	uint32_t value_len;
	uint8_t name_len;
	char data[];		/* name, NUL, value */
};

static uint64_t xattr_bytes(const struct zr_xattr *x)
{
	return (uint64_t)x->name_len + x->value_len;
}

static struct zr_xattr **xattr_find(struct zr_inode *ino, const char *name, size_t len)
{
	struct zr_xattr **pp;

	for (pp = &ino->xattrs; *pp; pp = &(*pp)->next)
		if ((*pp)->name_len == len && memcmp((*pp)->data, name, len) == 0)
			return pp;
	return NULL;
}

static int xattr_check_name(const char *name, size_t *len)
{
	*len = strlen(name);
	if (*len == 0 || *len > ZR_XATTR_NAME_MAX)
		return -ERANGE;
	return 0;
}

static struct zr_xattr *xattr_new(const char *name, size_t len,
				  const void *value, size_t size)
{
	struct zr_xattr *x = zr_malloc(sizeof(*x) + len + 1 + size);

	if (!x)
		return NULL;
	x->next = NULL;
	x->name_len = (uint8_t)len;
	x->value_len = (uint32_t)size;
	memcpy(x->data, name, len + 1);
	if (size)
		memcpy(x->data + len + 1, value, size);
	return x;
}

int zr_ns_setxattr(struct zr_ns *ns, struct zr_inode *ino, const char *name,
		   const void *value, size_t size, int flags)
{
	_Atomic uint64_t *bytes = zr_ns_xattr_counter(ns);
	struct zr_xattr **pp, *x, *old = NULL;
	size_t len;
	int err;

	if (flags & ~(XATTR_CREATE | XATTR_REPLACE))
		return -EINVAL;
	err = xattr_check_name(name, &len);
	if (err)
		return err;
	if (size > ZR_XATTR_SIZE_MAX)
		return -E2BIG;
	x = xattr_new(name, len, value, size);
	if (!x)
		return -ENOMEM;

	pthread_mutex_lock(&ino->lock);
	pp = xattr_find(ino, name, len);
	if (pp && (flags & XATTR_CREATE))
		err = -EEXIST;
	else if (!pp && (flags & XATTR_REPLACE))
		err = -ENODATA;
	if (!err) {
		if (pp) {
			old = *pp;
			x->next = old->next;
			*pp = x;
			atomic_fetch_sub_explicit(bytes, xattr_bytes(old),
						  memory_order_relaxed);
		} else {
			x->next = ino->xattrs;
			ino->xattrs = x;
		}
		atomic_fetch_add_explicit(bytes, xattr_bytes(x), memory_order_relaxed);
		zr_ns_now(&ino->ctime);
		x = NULL;
	}
	pthread_mutex_unlock(&ino->lock);
	zr_free(old);
	zr_free(x);
	return err;
}

ssize_t zr_ns_getxattr(struct zr_ns *ns, struct zr_inode *ino, const char *name,
		       void *buf, size_t size)
{
	struct zr_xattr **pp;
	ssize_t ret;
	size_t len;
	int err;

	err = xattr_check_name(name, &len);
	if (err)
		return err;
	pthread_mutex_lock(&ino->lock);
	pp = xattr_find(ino, name, len);
	if (!pp) {
		ret = -ENODATA;
	} else {
		ret = (*pp)->value_len;
		if (size && size < (*pp)->value_len)
			ret = -ERANGE;
		else if (size)
			memcpy(buf, (*pp)->data + len + 1, (*pp)->value_len);
	}
	pthread_mutex_unlock(&ino->lock);
	return ret;
}

ssize_t zr_ns_listxattr(struct zr_ns *ns, struct zr_inode *ino, char *buf, size_t size)
{
	const struct zr_xattr *x;
	size_t total = 0;

	pthread_mutex_lock(&ino->lock);
	for (x = ino->xattrs; x; x = x->next)
		total += (size_t)x->name_len + 1;
	if (size && size < total) {
		pthread_mutex_unlock(&ino->lock);
		return -ERANGE;
	}
	if (size) {
		for (x = ino->xattrs; x; x = x->next) {
			memcpy(buf, x->data, (size_t)x->name_len + 1);
			buf += x->name_len + 1;
		}
	}
	pthread_mutex_unlock(&ino->lock);
	return (ssize_t)total;
}

int zr_ns_removexattr(struct zr_ns *ns, struct zr_inode *ino, const char *name)
{
	struct zr_xattr **pp, *x = NULL;
	size_t len;
	int err;

	err = xattr_check_name(name, &len);
	if (err)
		return err;
	pthread_mutex_lock(&ino->lock);
	pp = xattr_find(ino, name, len);
	if (!pp) {
		err = -ENODATA;
	} else {
		x = *pp;
		*pp = x->next;
		atomic_fetch_sub_explicit(zr_ns_xattr_counter(ns), xattr_bytes(x),
					  memory_order_relaxed);
		zr_ns_now(&ino->ctime);
	}
	pthread_mutex_unlock(&ino->lock);
	zr_free(x);
	return err;
}

/* Called on a dying inode, which nobody else can reach: no lock. */
void zr_xattr_free_all(struct zr_inode *ino, _Atomic uint64_t *bytes)
{
	struct zr_xattr *x, *next;

	for (x = ino->xattrs; x; x = next) {
		next = x->next;
		atomic_fetch_sub_explicit(bytes, xattr_bytes(x), memory_order_relaxed);
		zr_free(x);
	}
	ino->xattrs = NULL;
}
