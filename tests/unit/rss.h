/* SPDX-License-Identifier: MIT */
/*
 * rss.h - this process's resident set size, for the tests that check
 * memory goes back to the OS (test_arena, test_mem).  Header-only.
 */
#ifndef ZRAMFS_TEST_RSS_H
#define ZRAMFS_TEST_RSS_H

#include <stdio.h>
#include <stdlib.h>
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

/* True where RSS says nothing about our allocator: under a sanitizer
 * (another allocator, shadow memory) or valgrind (ZR_TEST_QUICK=1). */
static inline int rss_unreliable(void)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	return 1;
#else
	const char *q = getenv("ZR_TEST_QUICK");

	return q && *q && *q != '0';
#endif
}

#endif /* ZRAMFS_TEST_RSS_H */
