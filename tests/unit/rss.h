/* SPDX-License-Identifier: MIT */
/*
 * rss.h - this process's resident set size, for the tests that check
 * memory goes back to the OS (test_arena, test_mem).  Header-only.
 */
#ifndef ZRAMFS_TEST_RSS_H
#define ZRAMFS_TEST_RSS_H

#include <stdio.h>
#include <unistd.h>

/* Resident bytes (/proc/self/statm), or -1 if it cannot be read. */
static inline long rss_bytes(void)
{
	long pages = 0, res = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f)
		return -1;
	if (fscanf(f, "%ld %ld", &pages, &res) != 2)
		res = -1;
	fclose(f);
	return res * sysconf(_SC_PAGESIZE);
}

#endif /* ZRAMFS_TEST_RSS_H */
