/* SPDX-License-Identifier: MIT */
/*
 * ctl.h - the framing of the values written to and read from zramfs's
 * virtual user.zramfs.* attributes (src/fs_xattr.c), and the directory
 * policy word.  FUSE-free, so the fuzzers test the code the daemon runs.
 *
 * A value is any bytes (NULs included) of any length; echo-style tools add
 * one trailing newline, which is dropped.
 */
#ifndef ZRAMFS_CTL_H
#define ZRAMFS_CTL_H

#include <stddef.h>
#include <stdint.h>

/* Longest value a control or policy accepts ("18446744073709551615",
 * "zstd:22", "512M\n"); longer is EINVAL. */
#define ZR_CONTROL_VALUE_MAX 32

/* Directory policy words (zr_ns_set_policy): a codec spec (bits 0-15)
 * with a tag bit, so that every spec, "none" (id 0) included, is
 * non-zero; and a chunk shift (bits 18-22) with its own tag bit. */
#define ZR_POLICY_CODEC (1u << 16)
#define ZR_POLICY_CODEC_MASK (ZR_POLICY_CODEC | 0xffffu)
#define ZR_POLICY_CHUNK (1u << 17)
#define ZR_POLICY_CHUNK_SHIFT 18
#define ZR_POLICY_CHUNK_MASK (ZR_POLICY_CHUNK | 0x1fu << ZR_POLICY_CHUNK_SHIFT)

/* zr_ctl_string(): the value as a C string in out (outsz bytes), without
 * one trailing newline.  0, or -EINVAL if empty, too long or holding a NUL. */
int zr_ctl_string(const char *value, size_t size, char *out, size_t outsz);

/* zr_ctl_is(): the value is the keyword want (one trailing newline allowed). */
int zr_ctl_is(const char *value, size_t size, const char *want);

/* zr_ctl_format_chunk(): a chunk size as the options spell it ("4K",
 * "64K", "1M") into buf; snprintf's return. */
int zr_ctl_format_chunk(unsigned shift, char *buf, size_t size);

#endif /* ZRAMFS_CTL_H */
