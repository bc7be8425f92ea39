#!/bin/bash
# stream.sh - stream-write throughput of zramfs by compression workers, and
# peak memory during a 2 GiB burst (issue 4's "must show").
#
#   sudo sh tests/bench/stream.sh [TAR] [MiB]
#
# TAR defaults to /var/tmp/zr-bench/linux-source-6.1.tar; its first MiB
# (default 448) are copied to /dev/shm so the source is in RAM and
# drop_caches does not turn the benchmark into a disk read.  For each codec
# (zstd:3, lz4) and workers (0 = inline in the FUSE thread, 1, 2) it mounts
# a fresh zramfs, drops caches and times `dd bs=1M conv=fsync` (the fsync
# waits until every chunk is compressed), median of 3.  Then the codec's
# single-core speed on the same slice at the chunk size (64 KiB blocks).
# Last, a burst: the whole tar written twice (cat | head -c 2G), polling
# mem_used_total (getfattr) and the daemon's RSS every 0.2 s.  Each
# getfattr of the stats drains the pool, holding one FUSE thread meanwhile,
# so the burst's MB/s is a little lower than without the polling.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -eu
TOP=$(cd "$(dirname "$0")/../.." && pwd)
ZRAMFS=${ZRAMFS:-$TOP/build/zramfs}
TAR=${1:-/var/tmp/zr-bench/linux-source-6.1.tar}
MIB=${2:-448}
RUNS=${RUNS:-3}
SRC=/dev/shm/zr-stream-$MIB.bin
BURST=/dev/shm/zr-stream-burst.tar
MNT=$(mktemp -d /tmp/zr-stream.XXXXXX)
trap 'set +e; fusermount3 -uz "$MNT" 2>/dev/null; rmdir "$MNT"; rm -f "$SRC" "$BURST"' EXIT

[ -s "$SRC" ] || head -c $((MIB << 20)) "$TAR" >"$SRC"
echo "# $(date -u +%FT%TZ) $(nproc) CPUs, load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# data: first $MIB MiB of $TAR"

zmount() { "$ZRAMFS" "$MNT" -o "size=8G,$1"; for _ in $(seq 50); do
	mountpoint -q "$MNT" && return; sleep 0.1; done; echo "mount failed" >&2; exit 1; }
zumount() { fusermount3 -u "$MNT"; while mountpoint -q "$MNT"; do sleep 0.1; done; }
stat_of() { getfattr --absolute-names --only-values -n user.zramfs.stats "$MNT" | awk -v k="$1" '$1 == k { print $2 }'; }
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

one_run() { # one_run OPTS -> MB/s
	local t0 t1
	zmount "$1"
	sync; echo 3 >/proc/sys/vm/drop_caches
	t0=$(date +%s.%N)
	dd if="$SRC" of="$MNT/f" bs=1M conv=fsync status=none
	t1=$(date +%s.%N)
	[ "$(stat_of dirty_chunks)" = 0 ] || echo "dirty chunks left after fsync" >&2
	zumount
	echo "$t0 $t1" | awk -v b=$((MIB << 20)) '{ printf "%.0f\n", b / ($2 - $1) / 1e6 }'
}

echo "codec workers MB/s(median) runs"
for comp in zstd:3 lz4; do
	for w in 1 2 0; do
		runs=""
		for _ in $(seq "$RUNS"); do runs="$runs $(one_run "comp=$comp,workers=$w")"; done
		echo "$comp $w $(echo $runs | tr ' ' '\n' | median) [$runs ]"
	done
done

echo "# single-core codec speed, 64 KiB blocks (compress MB/s as printed)"
codec_speed() { "$@" 2>&1 | tr '\r' '\n' | grep -o '([^)]*) *, *[0-9.]* MB/s' | tail -n1; }
echo "zstd -b3 -B64K: $(codec_speed zstd -b3 -B64K "$SRC")"
echo "lz4 -b1 -B65536: $(codec_speed lz4 -b1 -B65536 "$SRC")"

# The burst reads the tar from /dev/shm too: from disk it would measure the
# disk (about 70 MB/s here), not a burst.
echo "# burst: 2 GiB (tar twice) as fast as possible, comp=${BURST_COMP:-zstd:3}"
cp "$TAR" "$BURST"
zmount "comp=${BURST_COMP:-zstd:3}"
pid=$(pgrep -n -f "^$ZRAMFS $MNT")
peak_mem=0 peak_rss=0
tar_mib=$(( $(stat -c %s "$BURST") >> 20 ))
( dd if="$BURST" of="$MNT/big" bs=1M status=none
  dd if="$BURST" of="$MNT/big" bs=1M seek="$tar_mib" count=$((2048 - tar_mib)) conv=notrunc status=none
  sync "$MNT/big" ) &
writer=$!
t0=$(date +%s.%N)
while kill -0 $writer 2>/dev/null; do
	m=$(getfattr --absolute-names --only-values -n user.zramfs.stats "$MNT" 2>/dev/null |
		awk '$1 == "mem_used_total" { print $2 }')
	r=$(awk '/^VmRSS/ { print $2 * 1024 }' /proc/$pid/status)
	[ -n "$m" ] && [ "$m" -gt "$peak_mem" ] && peak_mem=$m
	[ "$r" -gt "$peak_rss" ] && peak_rss=$r
	sleep 0.2
done
wait $writer
t1=$(date +%s.%N)
echo "burst MB/s: $(echo "$t0 $t1" | awk '{ printf "%.0f", 2 * 2^30 / ($2 - $1) / 1e6 }')"
echo "peak mem_used_total: $((peak_mem >> 20)) MiB, peak RSS: $((peak_rss >> 20)) MiB"
getfattr --absolute-names --only-values -n user.zramfs.stats "$MNT" |
	grep -E '^(orig_data_size|compr_data_size|mem_used_total|arena_mapped_bytes|heap_bytes|staging_limit|staging_bytes|writer_waits|pool_jobs_done|pool_wakeups|dirty_chunks) '
echo "final RSS: $(( $(awk '/^VmRSS/ { print $2 }' /proc/$pid/status) >> 10 )) MiB, HWM: $(( $(awk '/^VmHWM/ { print $2 }' /proc/$pid/status) >> 10 )) MiB"
zumount
