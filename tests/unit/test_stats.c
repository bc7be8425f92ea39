/* SPDX-License-Identifier: MIT */
/* test_stats.c - the stats texts (mount, file, directory subtree): keys,
 * values, ratios, size probing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "zramfs/stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The value of key in text, or -1 if absent. */
static long long value_of(const char *text, const char *key)
{
	char pat[128];
	const char *p;

	snprintf(pat, sizeof(pat), "\n%s ", key);
	if (!strncmp(text, pat + 1, strlen(pat + 1)))
		p = text + strlen(pat + 1);
	else if ((p = strstr(text, pat)))
		p += strlen(pat);
	else
		return -1;
	return strtoll(p, NULL, 10);
}

static void test_global(void **state)
{
	struct zr_stats_global g;
	char buf[4096];
	size_t n;

	memset(&g, 0, sizeof(g));
	g.store.orig_data_size = 3000;
	g.store.compr_data_size = 1000;
	g.store.same_chunks = 7;
	g.store.huge_chunks = 2;
	g.arena.mapped_bytes = 1100;
	g.arena.meta_bytes = 50;
	g.heap_bytes = 350;
	g.ns.files = 4;
	g.ns.dirs = 1;
	g.chunk_size = 65536;
	g.codec.id = ZR_CODEC_ZSTD;
	g.codec.level = 3;
	n = zr_stats_format_global(&g, buf, sizeof(buf));
	assert_int_equal(n, strlen(buf));
	assert_int_equal(zr_stats_mem_used_total(&g), 1500);
	assert_int_equal(value_of(buf, "orig_data_size"), 3000);
	assert_int_equal(value_of(buf, "compr_data_size"), 1000);
	assert_int_equal(value_of(buf, "mem_used_total"), 1500);
	assert_int_equal(value_of(buf, "same_chunks"), 7);
	assert_int_equal(value_of(buf, "huge_chunks"), 2);
	assert_int_equal(value_of(buf, "files"), 4);
	assert_int_equal(value_of(buf, "dirs"), 1);
	assert_non_null(strstr(buf, "compr_ratio 3.00\n"));
	assert_non_null(strstr(buf, "effective_ratio 2.00\n"));
	assert_non_null(strstr(buf, "comp zstd:3\n"));
}

/* The fault keys: only with has_faults (a FAULT=1 build), the total and
 * one line per point. */
static void test_faults(void **state)
{
	struct zr_stats_global g;
	char buf[4096];

	memset(&g, 0, sizeof(g));
	g.faults[ZR_FAULT_ARENA_ALLOC] = 3;
	g.faults[ZR_FAULT_SPILL_READ] = 4;
	zr_stats_format_global(&g, buf, sizeof(buf));
	assert_null(strstr(buf, "fault"));
	g.has_faults = 1;
	zr_stats_format_global(&g, buf, sizeof(buf));
	assert_int_equal(value_of(buf, "faults_injected"), 7);
	assert_int_equal(value_of(buf, "fault_arena_alloc"), 3);
	assert_int_equal(value_of(buf, "fault_spill_read"), 4);
	assert_int_equal(value_of(buf, "fault_codec_compress"), 0);
	assert_int_equal(value_of(buf, "fault_codec_decompress"), 0);
	assert_int_equal(value_of(buf, "fault_spill_write"), 0);
	assert_int_equal(value_of(buf, "fault_stage_alloc"), 0);
}

static void test_probe_and_truncation(void **state)
{
	struct zr_fdata_stats f;
	char small[16];
	char big[1024];
	size_t need, n;

	memset(&f, 0, sizeof(f));
	f.size = 100;
	f.orig_bytes = 100;
	f.compr_bytes = 0;
	need = zr_stats_format_file(&f, NULL, 0);
	n = zr_stats_format_file(&f, small, sizeof(small));
	assert_int_equal(n, need);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	n = zr_stats_format_file(&f, big, sizeof(big));
	assert_int_equal(n, need);
	assert_int_equal(strlen(big), need);
	assert_non_null(strstr(big, "compr_ratio 0.00\n"));	/* no division by 0 */
	assert_int_equal(value_of(big, "size"), 100);
}

static void test_tree(void **state)
{
	struct zr_fdata_stats f;
	struct zr_ns_du du;
	char buf[1024];
	size_t n;

	memset(&du, 0, sizeof(du));
	memset(&f, 0, sizeof(f));
	du.files = 2;
	du.dirs = 3;
	du.symlinks = 1;
	f.size = 200000;
	f.orig_bytes = 131072;
	f.compr_bytes = 30000;
	f.chunks = 3;
	f.same_chunks = 1;
	f.compressed_chunks = 2;
	zr_stats_add_file(&f, du.fig);
	f.size = 10;
	f.orig_bytes = 10;
	f.compr_bytes = 10;
	f.chunks = 1;
	f.same_chunks = 0;
	f.huge_chunks = 1;
	f.compressed_chunks = 0;
	zr_stats_add_file(&f, du.fig);
	n = zr_stats_format_tree(&du, buf, sizeof(buf));
	assert_int_equal(n, strlen(buf));
	assert_int_equal(zr_stats_format_tree(&du, NULL, 0), n);
	assert_int_equal(value_of(buf, "files"), 2);
	assert_int_equal(value_of(buf, "dirs"), 3);
	assert_int_equal(value_of(buf, "symlinks"), 1);
	assert_int_equal(value_of(buf, "specials"), 0);
	assert_int_equal(value_of(buf, "size"), 200010);
	assert_int_equal(value_of(buf, "orig_data_size"), 131082);
	assert_int_equal(value_of(buf, "compr_data_size"), 30010);
	assert_int_equal(value_of(buf, "chunks"), 4);
	assert_int_equal(value_of(buf, "same_chunks"), 1);
	assert_int_equal(value_of(buf, "huge_chunks"), 1);
	assert_int_equal(value_of(buf, "compressed_chunks"), 2);
	assert_non_null(strstr(buf, "compr_ratio 4.37\n"));	/* 131082 / 30010 */
	memset(&du, 0, sizeof(du));
	zr_stats_format_tree(&du, buf, sizeof(buf));
	assert_non_null(strstr(buf, "compr_ratio 0.00\n"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_global),
		cmocka_unit_test(test_faults),
		cmocka_unit_test(test_probe_and_truncation),
		cmocka_unit_test(test_tree),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
