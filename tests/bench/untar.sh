#!/bin/bash
# untar.sh - untar a real source tree into tmpfs and into zramfs variants,
# one after another in the same run; print wall time (ratio to tmpfs),
# logical bytes, memory used, effective ratio, and the daemon's RSS growth
# beside its own mem_used_total.
#
# usage: tests/bench/untar.sh [RUNS] [VARIANT...]
#   VARIANT: tmpfs, or zramfs mount options, e.g. comp=lz4 "comp=zstd:3,chunk=16K"
#   env TAR (default /var/tmp/zr-bench/linux-source-6.1.tar), ZRAMFS (./zramfs)
set -u
RUNS=${1:-3}; shift || true
VARIANTS=("$@")
[ ${#VARIANTS[@]} -gt 0 ] || VARIANTS=(tmpfs comp=none comp=lz4 comp=zstd:1 comp=zstd:3)
TAR=${TAR:-/var/tmp/zr-bench/linux-source-6.1.tar}
ZRAMFS=${ZRAMFS:-$(pwd)/zramfs}
MNT=$(mktemp -d /var/tmp/zr-untar.XXXXXX)
PID=

cleanup() {
	[ -n "$PID" ] && { fusermount3 -uz "$MNT" 2>/dev/null; wait "$PID" 2>/dev/null; }
	mountpoint -q "$MNT" && umount -l "$MNT"
	rmdir "$MNT" 2>/dev/null
}
trap cleanup EXIT INT TERM

[ -r "$TAR" ] || { echo "untar.sh: $TAR missing (xz -dc /usr/src/linux-source-6.1.tar.xz > $TAR)" >&2; exit 1; }
stat_of() { getfattr --only-values -n user.zramfs.stats "$MNT" | awk -v k="$1" '$1==k {print $2}'; }
rss_kib() { awk '/^VmRSS/ {print $2}' /proc/"$1"/status; }
shmem_kib() { awk '/^Shmem:/ {print $2}' /proc/meminfo; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

one_run() {	# variant -> "secs logical_bytes mem_bytes rss_growth_bytes"
	local v=$1 t0 t1 base logical mem rss0 rss1
	if [ "$v" = tmpfs ]; then
		sync; echo 3 > /proc/sys/vm/drop_caches
		base=$(shmem_kib)
		mount -t tmpfs -o size=8G tmpfs "$MNT"
	else
		"$ZRAMFS" "$MNT" -f -o "size=8G,$v" & PID=$!
		for _ in $(seq 100); do mountpoint -q "$MNT" && break; sleep 0.05; done
		rss0=$(rss_kib "$PID")
	fi
	t0=$(date +%s.%N)
	tar -xf "$TAR" -C "$MNT"
	sync
	t1=$(date +%s.%N)
	if [ "$v" = tmpfs ]; then
		logical=$(du -sb --apparent-size "$MNT" | cut -f1)
		mem=$(( ($(shmem_kib) - base) * 1024 ))
		rss1=0; rss0=0
		umount "$MNT"
	else
		logical=$(stat_of orig_data_size); mem=$(stat_of mem_used_total)
		rss1=$(rss_kib "$PID")
		fusermount3 -u "$MNT"; wait "$PID"; PID=
	fi
	echo "$(echo "$t1 - $t0" | bc) $logical $mem $(( (rss1 - rss0) * 1024 ))"
}

printf '%-28s %8s %7s %10s %10s %7s %10s\n' variant secs x_tmpfs logical_MiB mem_MiB ratio rss_gr_MiB
tmpfs_secs=
for v in "${VARIANTS[@]}"; do
	res=()
	for _ in $(seq "$RUNS"); do res+=("$(one_run "$v")"); done
	secs=$(printf '%s\n' "${res[@]}" | cut -d' ' -f1 | median)
	lo=$(printf '%s\n' "${res[@]}" | cut -d' ' -f1 | sort -n | head -1)
	hi=$(printf '%s\n' "${res[@]}" | cut -d' ' -f1 | sort -n | tail -1)
	logical=$(printf '%s\n' "${res[@]}" | cut -d' ' -f2 | median)
	mem=$(printf '%s\n' "${res[@]}" | cut -d' ' -f3 | median)
	rss=$(printf '%s\n' "${res[@]}" | cut -d' ' -f4 | median)
	[ "$v" = tmpfs ] && tmpfs_secs=$secs
	x=-; [ -n "$tmpfs_secs" ] && x=$(echo "scale=2; $secs / $tmpfs_secs" | bc)
	printf '%-28s %8.2f %7s %10.1f %10.1f %7.2f %10.1f   (secs %s..%s)\n' "$v" "$secs" "$x" \
		"$(echo "$logical / 1048576" | bc -l)" "$(echo "$mem / 1048576" | bc -l)" \
		"$(echo "$logical / $mem" | bc -l)" "$(echo "$rss / 1048576" | bc -l)" "$lo" "$hi"
done
