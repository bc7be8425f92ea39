/* SPDX-License-Identifier: MIT */
/*
 * main.c - start-up: parse and validate options, mount, daemonize, run the
 * multithreaded session loop, unmount.
 *
 * Order matters: options are validated and the mount is made before
 * fuse_daemonize(), so every error reaches the terminal and nothing stays
 * mounted after one; threads (the FUSE workers, the housekeeper started in
 * init) are created after it, because it forks.
 */
#include "fs_internal.h"
#include "zramfs/fault.h"
#include "zramfs/malloc_tune.h"

#include <errno.h>
#include <fuse_opt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#ifndef PR_SET_IO_FLUSHER
#define PR_SET_IO_FLUSHER 57	/* Linux 5.6 */
#endif
#ifndef MCL_ONFAULT
#define MCL_ONFAULT 4		/* Linux 4.4 */
#endif

/* Lock pages as they are faulted in: the arena's reserved address space
 * and thread stacks are not made resident up front. */
#define ZR_MLOCK_FLAGS (MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT)

struct cmdline {
	struct zr_opts opts;
	uint64_t ram_bytes;
	const char *nonopt[2];	/* [SOURCE] MOUNTPOINT */
	int nnonopt;
	int bad;		/* an error was printed */
};

static uint64_t physical_ram(void)
{
	long pages = sysconf(_SC_PHYS_PAGES);
	long psize = sysconf(_SC_PAGESIZE);

	return pages > 0 && psize > 0 ? (uint64_t)pages * (uint64_t)psize : 1ULL << 30;
}

static int opt_proc(void *data, const char *arg, int key, struct fuse_args *out)
{
	struct cmdline *c = data;
	char err[256];

	if (key == FUSE_OPT_KEY_NONOPT) {
		if (c->nnonopt == 2) {
			fprintf(stderr, "zramfs: unexpected argument '%s'\n", arg);
			c->bad = 1;
			return 0;
		}
		c->nonopt[c->nnonopt++] = arg;
		return 0;
	}
	if (arg[0] == '-' || !zr_opts_is_ours(arg))
		return 1;	/* libfuse's to judge */
	if (zr_opts_apply(&c->opts, arg, c->ram_bytes, err, sizeof(err))) {
		fprintf(stderr, "zramfs: %s\n", err);
		c->bad = 1;
	}
	return 0;
}

static void usage(const char *prog)
{
	printf("usage: %s [SOURCE] MOUNTPOINT [options]\n\n"
	       "A compressed RAM filesystem.  Unmount with: fusermount3 -u MOUNTPOINT\n\n",
	       prog);
	printf("%s\n", zr_opts_help());
	printf("FUSE options:\n");
	fuse_cmdline_help();
	fuse_lowlevel_help();
}

/* Resolves the mountpoint; explains a stale mount left by a killed daemon. */
static char *resolve_mountpoint(const char *path)
{
	char *real = realpath(path, NULL);

	if (real)
		return real;
	if (errno == ENOTCONN)
		fprintf(stderr, "zramfs: %s is a stale FUSE mount (its daemon died); "
			"run: fusermount3 -uz %s\n", path, path);
	else
		fprintf(stderr, "zramfs: bad mountpoint '%s': %s\n", path,
			strerror(errno));
	return NULL;
}

static int add_mount_opts(struct fuse_args *args, const char *source)
{
	char buf[PATH_MAX + 64];

	/* The kernel checks permissions, sticky bit included, as on tmpfs. */
	if (fuse_opt_add_arg(args, "-odefault_permissions"))
		return -1;
	snprintf(buf, sizeof(buf), "-osubtype=zramfs,fsname=%s",
		 source ? source : "zramfs");
	/* fsname must not carry a comma (it would split the option list) */
	if (strchr(buf + strlen("-osubtype=zramfs,fsname="), ','))
		snprintf(buf, sizeof(buf), "-osubtype=zramfs,fsname=zramfs");
	return fuse_opt_add_arg(args, buf);
}

/* Inherited by every thread and by the daemonized child.  Needs
 * CAP_SYS_RESOURCE; a mount not meant for swap works without it. */
static void mark_io_flusher(const struct zr_opts *opts)
{
	if (!prctl(PR_SET_IO_FLUSHER, 1, 0, 0, 0) || !opts->mlock)
		return;
	fprintf(stderr, "zramfs: warning: cannot mark the daemon as an I/O flusher "
		"(PR_SET_IO_FLUSHER: %s); a swap file on this mount may deadlock "
		"under memory pressure\n", strerror(errno));
}

/* -o mlock is checked before the fork, where the error reaches the
 * terminal, and applied again after it. */
static int check_mlock(const struct zr_opts *opts)
{
	if (!opts->mlock)
		return 0;
	if (mlockall(ZR_MLOCK_FLAGS)) {
		fprintf(stderr, "zramfs: option 'mlock': cannot lock memory: %s "
			"(needs root or CAP_IPC_LOCK and a large RLIMIT_MEMLOCK)\n",
			strerror(errno));
		return -1;
	}
	munlockall();
	return 0;
}

static void apply_mlock(const struct zr_opts *opts)
{
	if (opts->mlock && mlockall(ZR_MLOCK_FLAGS))
		fuse_log(FUSE_LOG_ERR, "zramfs: mlockall: %s\n", strerror(errno));
}

static int run_loop(struct fuse_session *se, struct fuse_cmdline_opts *copts,
		    const struct zr_opts *opts)
{
	struct fuse_loop_config *cfg;
	int r;

	if (copts->singlethread)
		return fuse_session_loop(se);
	cfg = fuse_loop_cfg_create();
	if (!cfg)
		return -1;
	fuse_loop_cfg_set_clone_fd(cfg, (unsigned)copts->clone_fd);
	/* libfuse's default (UINT_MAX: never reap idle threads) is what we
	 * want, and passing it back makes libfuse complain. */
	if (copts->max_idle_threads != UINT_MAX)
		fuse_loop_cfg_set_idle_threads(cfg, copts->max_idle_threads);
	fuse_loop_cfg_set_max_threads(cfg, opts->max_threads);
	r = fuse_session_loop_mt(se, cfg);
	fuse_loop_cfg_destroy(cfg);
	return r;
}

static int serve(struct fuse_args *args, struct fuse_cmdline_opts *copts,
		 struct zr_fs *fs, const char *mountpoint)
{
	struct fuse_session *se;
	int r = 1;

	se = fuse_session_new(args, &zr_fs_ops, sizeof(zr_fs_ops), fs);
	if (!se)
		return 1;	/* libfuse printed which option it rejected */
	fs->se = se;
	fs->mountpoint = mountpoint;
	if (fuse_set_signal_handlers(se))
		goto out_session;
	if (check_mlock(&fs->opts))
		goto out_signals;
	if (fuse_session_mount(se, mountpoint))
		goto out_signals;
	mark_io_flusher(&fs->opts);
	if (fuse_daemonize(copts->foreground))
		goto out_unmount;
	apply_mlock(&fs->opts);
	/* libfuse reports the signal that ended the loop; SIGTERM, SIGINT
	 * and SIGHUP are the documented ways to stop: a clean exit. */
	r = run_loop(se, copts, &fs->opts);
	r = (r == 0 || r == SIGTERM || r == SIGINT || r == SIGHUP ||
	     r == -SIGTERM || r == -SIGINT || r == -SIGHUP) ? 0 : 1;
out_unmount:
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out_session:
	fuse_session_destroy(se);
	return r;
}

/* fault_env(): ZRAMFS_FAULTS, the fault points and rates of a FAULT=1
 * build (include/zramfs/fault.h); a bad spec, or one given to a build
 * without fault injection, stops the mount.  -1 when it must stop. */
static int fault_env(void)
{
	const char *spec = getenv("ZRAMFS_FAULTS");
	char err[160];

	if (!spec || !*spec)
		return 0;
	if (zr_fault_setup(spec, err, sizeof(err))) {
		fprintf(stderr, "zramfs: ZRAMFS_FAULTS: %s\n", err);
		return -1;
	}
	fprintf(stderr, "zramfs: injecting faults: %s\n", spec);
	return 0;
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts copts;
	struct cmdline c;
	struct zr_fs *fs;
	char *mountpoint;
	int r = 1;

	zr_malloc_tune(argv);
	memset(&c, 0, sizeof(c));
	c.ram_bytes = physical_ram();
	zr_opts_defaults(&c.opts, c.ram_bytes, getuid(), getgid());
	if (fuse_opt_parse(&args, &c, NULL, opt_proc) || c.bad)
		goto out_args;
	if (fuse_parse_cmdline(&args, &copts))
		goto out_args;
	if (fault_env())
		goto out_opts;
	if (copts.show_help) {
		usage(argv[0]);
		r = 0;
		goto out_opts;
	}
	if (copts.show_version) {
		printf("zramfs %s\nFUSE library %s\n", ZRAMFS_VERSION, fuse_pkgversion());
		r = 0;
		goto out_opts;
	}
	if (c.nnonopt == 0) {
		fprintf(stderr, "zramfs: no mountpoint given (try --help)\n");
		goto out_opts;
	}
	mountpoint = resolve_mountpoint(c.nonopt[c.nnonopt - 1]);
	if (!mountpoint)
		goto out_opts;
	if (add_mount_opts(&args, c.nnonopt == 2 ? c.nonopt[0] : NULL))
		goto out_mnt;
	errno = 0;
	fs = zr_fs_new(&c.opts);
	if (!fs) {
		if (errno != EINVAL) /* EINVAL: zr_fs_new() said why */
			fprintf(stderr, "zramfs: out of memory at start-up\n");
		goto out_mnt;
	}
	r = serve(&args, &copts, fs, mountpoint);
	zr_fs_free(fs);
out_mnt:
	free(mountpoint);
out_opts:
	free(copts.mountpoint);
out_args:
	fuse_opt_free_args(&args);
	return r;
}
