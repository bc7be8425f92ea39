/* SPDX-License-Identifier: MIT */
/*
 * ctl.c - value framing of the virtual attributes (include/zramfs/ctl.h).
 */
#include "zramfs/ctl.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int zr_ctl_string(const char *value, size_t size, char *out, size_t outsz)
{
	if (size && value[size - 1] == '\n')
		size--;
	if (size == 0 || size >= outsz || memchr(value, 0, size))
		return -EINVAL;
	memcpy(out, value, size);
	out[size] = 0;
	return 0;
}

int zr_ctl_is(const char *value, size_t size, const char *want)
{
	size_t n = strlen(want);

	/* setfattr -v 1 sends "1"; echo-style tools may add a newline */
	if (size == n + 1 && value[n] == '\n')
		size--;
	return size == n && !memcmp(value, want, n);
}

int zr_ctl_format_chunk(unsigned shift, char *buf, size_t size)
{
	return shift >= 20 ? snprintf(buf, size, "%uM", 1u << (shift - 20))
			   : snprintf(buf, size, "%uK", 1u << (shift - 10));
}
