/* SPDX-License-Identifier: MIT */
/* test_opts.c - option parsing: every option, defaults, and rejections. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "zramfs/chunk.h"
#include "zramfs/opts.h"

#include <errno.h>
#include <string.h>

#define RAM (8ULL << 30)

static struct zr_opts fresh(void)
{
	struct zr_opts o;

	zr_opts_defaults(&o, RAM, 1000, 1000);
	return o;
}

static int apply(struct zr_opts *o, const char *kv, char *err)
{
	return zr_opts_apply(o, kv, RAM, err, 256);
}

static void test_defaults(void **state)
{
	struct zr_opts o = fresh();

	assert_int_equal(o.size, RAM / 2);
	assert_int_equal(o.chunk_shift, 16);
	assert_int_equal(o.codec.id, ZR_CODEC_LZ4);
	assert_int_equal(o.root_mode, 0755);
	assert_int_equal(o.root_uid, 1000);
	assert_int_equal(o.writeback_cache, 1);
	assert_int_equal(o.read_ahead, 1u << 20);
	assert_true(o.recomp_auto);
	assert_int_equal(o.recomp_idle, ZR_DEFAULT_RECOMP_IDLE);
	assert_int_equal(o.recomp_dict, 1);
	assert_true(o.nr_inodes > 0);
	assert_true(o.workers >= 1 && o.workers <= ZR_MAX_WORKERS);
	assert_int_equal(o.staging, RAM / 64 < ZR_STAGING_DEFAULT ? RAM / 64 : ZR_STAGING_DEFAULT);
}

static void test_sizes(void **state)
{
	uint64_t v;

	assert_int_equal(zr_parse_size("123", &v), 0);
	assert_int_equal(v, 123);
	assert_int_equal(zr_parse_size("64K", &v), 0);
	assert_int_equal(v, 65536);
	assert_int_equal(zr_parse_size("2G", &v), 0);
	assert_int_equal(v, 2ULL << 30);
	assert_int_equal(zr_parse_size("1MiB", &v), 0);
	assert_int_equal(v, 1 << 20);
	assert_int_equal(zr_parse_size("1T", &v), 0);
	assert_int_equal(v, 1ULL << 40);
	assert_int_equal(zr_parse_size("", &v), -EINVAL);
	assert_int_equal(zr_parse_size("abc", &v), -EINVAL);
	assert_int_equal(zr_parse_size("-1", &v), -EINVAL);
	assert_int_equal(zr_parse_size("12Q", &v), -EINVAL);
	assert_int_equal(zr_parse_size("99999999999999999999", &v), -EINVAL);
	assert_int_equal(zr_parse_size("17000000T", &v), -EINVAL);
}

static void test_each_option(void **state)
{
	struct zr_opts o = fresh();
	char err[256];

	assert_int_equal(apply(&o, "size=512M", err), 0);
	assert_int_equal(o.size, 512ULL << 20);
	assert_int_equal(apply(&o, "size=25%", err), 0);
	assert_int_equal(o.size, RAM / 4);
	assert_int_equal(apply(&o, "chunk=4K", err), 0);
	assert_int_equal(o.chunk_shift, 12);
	assert_int_equal(apply(&o, "chunk=1M", err), 0);
	assert_int_equal(o.chunk_shift, 20);
	assert_int_equal(apply(&o, "comp=zstd:9", err), 0);
	assert_int_equal(o.codec.id, ZR_CODEC_ZSTD);
	assert_int_equal(o.codec.level, 9);
	assert_int_equal(apply(&o, "comp=none", err), 0);
	assert_int_equal(o.codec.id, ZR_CODEC_NONE);
	assert_int_equal(apply(&o, "mode=1777", err), 0);
	assert_int_equal(o.root_mode, 01777);
	assert_int_equal(apply(&o, "uid=0", err), 0);
	assert_int_equal(o.root_uid, 0);
	assert_int_equal(apply(&o, "gid=42", err), 0);
	assert_int_equal(o.root_gid, 42);
	assert_int_equal(apply(&o, "nr_inodes=1000", err), 0);
	assert_int_equal(o.nr_inodes, 1000);
	assert_int_equal(apply(&o, "wbcache=0", err), 0);
	assert_int_equal(o.writeback_cache, 0);
	assert_int_equal(o.mlock, 0);
	assert_int_equal(apply(&o, "mlock", err), 0);
	assert_int_equal(o.mlock, 1);
	assert_int_equal(apply(&o, "mlock=off", err), 0);
	assert_int_equal(o.mlock, 0);
	assert_int_equal(apply(&o, "max_threads=8", err), 0);
	assert_int_equal(o.max_threads, 8);
	assert_int_equal(apply(&o, "max_background=128", err), 0);
	assert_int_equal(o.max_background, 128);
	assert_int_equal(apply(&o, "workers=0", err), 0);
	assert_int_equal(o.workers, 0);
	assert_int_equal(apply(&o, "workers=256", err), 0);
	assert_int_equal(o.workers, 256);
	assert_int_equal(apply(&o, "staging=16M", err), 0);
	assert_int_equal(o.staging, 16u << 20);
	assert_int_equal(apply(&o, "read_ahead=0", err), 0);
	assert_int_equal(o.read_ahead, 0);
	assert_int_equal(apply(&o, "read_ahead=64M", err), 0);
	assert_int_equal(o.read_ahead, 64u << 20);
	assert_int_equal(apply(&o, "read_ahead=256K", err), 0);
	assert_int_equal(o.read_ahead, 256u << 10);
	assert_int_equal(apply(&o, "recompress_idle=0", err), 0);
	assert_int_equal(o.recomp_idle, 0);
	assert_int_equal(apply(&o, "recompress_idle=3600", err), 0);
	assert_int_equal(o.recomp_idle, 3600);
	assert_int_equal(apply(&o, "recompress_dict=0", err), 0);
	assert_int_equal(o.recomp_dict, 0);
	assert_int_equal(apply(&o, "recompress_dict=on", err), 0);
	assert_int_equal(o.recomp_dict, 1);
}

/* recompress= gives the store's table: auto by the mount's codec, one
 * codec for every compressed chunk, or none at all. */
static void test_recompress(void **state)
{
	struct zr_codec_spec t[ZR_CODEC_COUNT];
	struct zr_opts o = fresh();
	char err[256] = "";

	zr_opts_recomp(&o, t); /* auto, mount lz4 */
	assert_int_equal(t[ZR_CODEC_NONE].id, ZR_CODEC_NONE);
	assert_int_equal(t[ZR_CODEC_LZ4].id, ZR_CODEC_LZ4);
	assert_int_equal(t[ZR_CODEC_LZ4].level, ZR_RECOMP_LZ4HC_LEVEL);
	assert_int_equal(t[ZR_CODEC_ZSTD].id, ZR_CODEC_ZSTD);
	assert_int_equal(t[ZR_CODEC_ZSTD].level, ZR_RECOMP_ZSTD_LEVEL);
	assert_int_equal(apply(&o, "comp=zstd:9", err), 0); /* already stronger */
	zr_opts_recomp(&o, t);
	assert_int_equal(t[ZR_CODEC_ZSTD].id, ZR_CODEC_NONE);
	assert_int_equal(t[ZR_CODEC_LZ4].id, ZR_CODEC_LZ4);
	assert_int_equal(apply(&o, "comp=lz4hc:9", err), 0);
	zr_opts_recomp(&o, t);
	assert_int_equal(t[ZR_CODEC_LZ4].id, ZR_CODEC_NONE);
	assert_int_equal(apply(&o, "recompress=zstd:12", err), 0);
	assert_false(o.recomp_auto);
	zr_opts_recomp(&o, t);
	assert_int_equal(t[ZR_CODEC_NONE].id, ZR_CODEC_NONE);
	for (unsigned i = ZR_CODEC_LZ4; i < ZR_CODEC_COUNT; i++) {
		assert_int_equal(t[i].id, ZR_CODEC_ZSTD);
		assert_int_equal(t[i].level, 12);
	}
	assert_int_equal(apply(&o, "recompress=off", err), 0);
	zr_opts_recomp(&o, t);
	for (unsigned i = 0; i < ZR_CODEC_COUNT; i++)
		assert_int_equal(t[i].id, ZR_CODEC_NONE);
	assert_int_equal(apply(&o, "recompress=auto", err), 0);
	assert_true(o.recomp_auto);
}

static void expect_reject(const char *kv, const char *name_in_msg)
{
	struct zr_opts o = fresh(), before = o;
	char err[256] = "";

	assert_int_equal(apply(&o, kv, err), -EINVAL);
	assert_non_null(strstr(err, name_in_msg));
	assert_memory_equal(&o, &before, sizeof(o));	/* nothing changed */
}

static void test_rejections(void **state)
{
	expect_reject("size=abc", "size");
	expect_reject("size=0", "size");
	expect_reject("size=", "size");
	expect_reject("size", "size");
	expect_reject("size=0%", "size");
	expect_reject("chunk=3K", "chunk");
	expect_reject("chunk=2K", "chunk");
	expect_reject("chunk=2M", "chunk");
	expect_reject("comp=foo", "comp");
	expect_reject("comp=zstd:0", "comp");
	expect_reject("comp=zstd:20", "comp");
	expect_reject("comp=zstd:", "comp");
	expect_reject("mode=999", "mode");
	expect_reject("mode=17777", "mode");
	expect_reject("uid=-1", "uid");
	expect_reject("gid=x", "gid");
	expect_reject("wbcache=maybe", "wbcache");
	expect_reject("mlock=sometimes", "mlock");
	expect_reject("max_threads=1", "max_threads");
	expect_reject("max_background=0", "max_background");
	expect_reject("workers=257", "workers");
	expect_reject("workers=-1", "workers");
	expect_reject("workers=", "workers");
	expect_reject("staging=512K", "staging");
	expect_reject("staging=2T", "staging");
	expect_reject("staging=lots", "staging");
	expect_reject("read_ahead=3K", "read_ahead");
	expect_reject("read_ahead=128M", "read_ahead");
	expect_reject("read_ahead=", "read_ahead");
	expect_reject("recompress=lz4", "recompress"); /* cannot shrink */
	expect_reject("recompress=brotli", "recompress");
	expect_reject("recompress_dict=maybe", "recompress_dict");
	expect_reject("recompress=zstd:30", "recompress");
	expect_reject("recompress_idle=-1", "recompress_idle");
	expect_reject("recompress_idle=soon", "recompress_idle");
}

static void test_ownership(void **state)
{
	assert_true(zr_opts_is_ours("size=1G"));
	assert_true(zr_opts_is_ours("comp"));
	assert_false(zr_opts_is_ours("allow_other"));
	assert_false(zr_opts_is_ours("sizes=1"));
	assert_false(zr_opts_is_ours("siz=1"));
	assert_non_null(strstr(zr_opts_help(), "chunk=SIZE"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_each_option),
		cmocka_unit_test(test_rejections),
		cmocka_unit_test(test_recompress),
		cmocka_unit_test(test_ownership),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
