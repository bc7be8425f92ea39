/* SPDX-License-Identifier: MIT */
/*
 * malloc_tune.c - glibc settings that let deletes give memory back
 * (see include/zramfs/malloc_tune.h).
 *
 * After `rm -rf` of an untarred kernel tree and a build in it, with all
 * data and metadata freed (mem_used_total back to an empty mount's), the
 * daemon's RSS stayed 2.5-3.5 MiB above the empty mount's: free heap that
 * malloc kept, for three reasons (smaps diff and malloc_info()):
 *
 * - glibc raises its mmap threshold to the size of any mmapped block
 *   freed (up to 32 MiB), and its trim threshold to twice that.  Freeing
 *   one zstd context (1.3 MiB, mmapped) let every arena keep megabytes of
 *   free memory at its top.  Fixed thresholds (setting them turns the
 *   adjustment off): blocks of 128 KiB and more (codec contexts, libfuse's
 *   request buffers) are mmapped and unmapped on free.
 * - malloc_trim() returns free pages inside an arena but never the top of
 *   a thread's arena, and each thread that allocates gets its own arena.
 *   With one arena, the housekeeper's malloc_trim() reaches everything.
 *   Our allocations are a few per FUSE request, under locks of our own
 *   anyway: the shared arena lock costs nothing measurable (README).
 * - Each thread's tcache keeps up to 7 freed blocks of every small size,
 *   scattered over the heap: they pin their pages and stop free neighbours
 *   from merging, and only the thread's exit flushes them.  This alone
 *   kept about 2 MiB.  glibc can turn the tcache off only through the
 *   GLIBC_TUNABLES environment variable, read at start-up, hence the
 *   re-exec before anything else happens.
 *
 * Measured together: 0.27 MiB of anonymous memory above the empty mount
 * (was 2.9), of which 0.25 MiB are the pages libfuse's two request buffers
 * were written through.
 */
#include "zramfs/malloc_tune.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ALLOC_MMAP_THRESHOLD (128u << 10)
#define ALLOC_TRIM_THRESHOLD (128u << 10)
#define ALLOC_ARENAS 1
#define TUNABLES_MAX 4096

int zr_malloc_tunables(const char *cur, char *out, size_t outlen)
{
	int n;

	if (cur && strstr(cur, ZR_TCACHE_TUNABLE))
		return 0;
	n = snprintf(out, outlen, "%s%s" ZR_TCACHE_TUNABLE "0",
		     cur && *cur ? cur : "", cur && *cur ? ":" : "");
	return n < 0 || (size_t)n >= outlen ? -1 : 1;
}

static void reexec_without_tcache(char *argv[])
{
	const char *cur = getenv("GLIBC_TUNABLES");
	char val[TUNABLES_MAX], *saved = NULL;

	if (zr_malloc_tunables(cur, val, sizeof(val)) != 1)
		return;
	if (cur && !(saved = strdup(cur)))
		return;
	if (!setenv("GLIBC_TUNABLES", val, 1))
		execv("/proc/self/exe", argv);
	/* Still here: run with the tcache, and the environment as it was. */
	if (saved)
		setenv("GLIBC_TUNABLES", saved, 1);
	else
		unsetenv("GLIBC_TUNABLES");
	free(saved);
}

void zr_malloc_tune(char *argv[])
{
	reexec_without_tcache(argv);
	/* A refusal (a sanitizer's allocator has its own rules) only costs
	 * memory kept after deletes: not worth stopping for. */
	mallopt(M_MMAP_THRESHOLD, ALLOC_MMAP_THRESHOLD);
	mallopt(M_TRIM_THRESHOLD, ALLOC_TRIM_THRESHOLD);
	mallopt(M_TOP_PAD, 0);
	mallopt(M_ARENA_MAX, ALLOC_ARENAS);
}
