#!/bin/bash
# swap.sh - the swap workload (issues 7 and 8): a memory hog, confined by a
# cgroup v1 memory limit well below its size, swapping to the kernel's zram
# and to a zramfs file on a loop device, same hog, same limit, one after
# another.
#
#   sudo contrib/bench/swap.sh              # 1 GiB hog in a 256 MiB cgroup
#   SWAP_HOG_MIB=512 SWAP_LIMIT=128M SWAP_TARGETS="zram-lz4 zramfs-lz4" ...
#   SWAP_RUNS=3 ...                          # each target 3 times, then medians
#
# Per target: wall time of the hog (fill, then verify every page twice),
# pswpout/pswpin deltas (/proc/vmstat), the peak of swap in use (/proc/swaps)
# and the peak of the memory holding it, sampled every 0.2 s: zram by
# mm_stat's mem_used_total, zramfs by its stats' mem_used_total and by the
# daemon's RSS growth.  "mem/swapped" is peak memory / peak swap in use.
#
# Targets: zram-lz4 (swap on /dev/zram0), zramfs-CODEC[,OPTS] (a zramfs
# mount with -o mlock,max_background=256,staging=4M,comp=CODEC, swap file
# with SWAP_CHUNK chunks, default 16K); more mount options may follow the
# codec ("zramfs-lz4,staging=2M"), and "spill" adds a spill dir on /var/tmp
# and mem_limit=SWAP_SPILL_LIMIT (default 64M): "zramfs-lz4,spill".
# Nothing is left behind: swap off, loop detached, zram reset, cgroup
# removed, also on failure or Ctrl-C.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u -o pipefail
export LC_ALL=C

TOP=$(cd "$(dirname "$0")/../.." && pwd)
ZRAMFS=${ZRAMFS:-$TOP/build/zramfs}
HOG=${HOG:-$TOP/build/tests/tools/zr_hog}
HOG_MIB=${SWAP_HOG_MIB:-1024}
LIMIT=${SWAP_LIMIT:-256M}
SWAP_SIZE=${SWAP_SIZE:-$((HOG_MIB * 2))M}
SPILL_LIMIT=${SWAP_SPILL_LIMIT:-64M}
TARGETS=(${SWAP_TARGETS:-zram-lz4 zramfs-lz4 zramfs-zstd:1 zramfs-lz4,spill})
ZRAM=/sys/block/zram0
CG=/sys/fs/cgroup/memory/zr-bench-swap.$$

die() { echo "swap bench: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root"
[ -x "$ZRAMFS" ] && [ -x "$HOG" ] || die "build first: make all tools"
[ -d /sys/fs/cgroup/memory ] || die "no cgroup v1 memory controller"
[ -z "$(awk 'NR > 1' /proc/swaps)" ] || die "swap is already active: other swap would take the hog's pages"

MNT= LOOP= ZRAM_SET= SAMPLER= SPILL= LOOPSTAT0=
cleanup() {
	set +e
	[ -n "$SAMPLER" ] && { kill "$SAMPLER"; wait "$SAMPLER"; } 2>/dev/null
	SAMPLER=
	if [ -n "$LOOP" ]; then swapoff "$LOOP"; losetup -d "$LOOP"; LOOP=; fi
	if [ -n "$MNT" ]; then fusermount3 -u "$MNT"; rmdir "$MNT"; MNT=; fi
	[ -n "$SPILL" ] && { rm -rf "$SPILL"; SPILL=; }
	if [ -n "$ZRAM_SET" ]; then
		swapoff /dev/zram0; echo 1 >$ZRAM/reset; ZRAM_SET=
	fi
	[ -d "$CG" ] && rmdir "$CG"
}
trap cleanup EXIT
trap 'echo "swap bench: interrupted" >&2; exit 130' INT TERM

vmstat_get() { awk -v k="$1" '$1 == k { print $2 }' /proc/vmstat; }
swap_used_kib() { awk 'NR > 1 { s += $4 } END { print s + 0 }' /proc/swaps; }

# mem_now KIND - bytes of memory holding the swapped data now
mem_now() {
	case $1 in
	zram) awk '{ print $3 }' $ZRAM/mm_stat ;;
	zramfs) getfattr --only-values -n user.zramfs.stats "$MNT" 2>/dev/null |
		awk '$1 == "mem_used_total" { print $2 }' ;;
	esac
}

# sampler KIND PID OUT - peak swap KiB, peak memory, peak RSS KiB into OUT
sampler() {
	local kind=$1 pid=$2 out=$3 s m r ps=0 pm=0 pr=0
	while :; do
		s=$(swap_used_kib); m=$(mem_now "$kind"); m=${m:-0}
		r=0; [ "$pid" != 0 ] && r=$(awk '/^VmRSS/ { print $2 }' /proc/$pid/status 2>/dev/null)
		[ "$s" -gt "$ps" ] && ps=$s
		[ "$m" -gt "$pm" ] && pm=$m
		[ "${r:-0}" -gt "$pr" ] && pr=$r
		echo "$ps $pm $pr" >"$out.tmp" && mv "$out.tmp" "$out"
		sleep 0.2
	done
}

setup_zram() {
	[ "$(cat $ZRAM/initstate)" = 0 ] || die "/dev/zram0 is in use"
	echo lz4 >$ZRAM/comp_algorithm
	echo "$SWAP_SIZE" >$ZRAM/disksize
	ZRAM_SET=1
	mkswap -q /dev/zram0 >/dev/null && swapon -p 100 /dev/zram0
}

# setup_zramfs CODEC[,OPT...][,spill] - mount, swap file (SWAP_CHUNK), loop, swapon
setup_zramfs() {
	local codec=${1%%,*} extra= o
	for o in $(echo "${1#"$codec"}" | tr ',' ' '); do
		case $o in
		spill) SPILL=$(mktemp -d /var/tmp/zr-swap-spill.XXXXXX)
			extra="$extra,spill=$SPILL,mem_limit=$SPILL_LIMIT" ;;
		*) extra="$extra,$o" ;;
		esac
	done
	MNT=$(mktemp -d /tmp/zr-swap-mnt.XXXXXX)
	"$ZRAMFS" "$MNT" -o "mlock,max_background=${SWAP_MAX_BG:-256},staging=4M,comp=$codec$extra" 2>/dev/null ||
		die "mount zramfs ($1)"
	touch "$MNT/swap"
	setfattr -n user.zramfs.chunk -v "${SWAP_CHUNK:-16K}" "$MNT/swap" || die "chunk xattr"
	truncate -s "$SWAP_SIZE" "$MNT/swap"
	LOOP=$(losetup --find --show --direct-io=on "$MNT/swap") || die "losetup"
	LOOPSTAT0=$(cat "/sys/block/${LOOP#/dev/}/stat")
	mkswap -q "$LOOP" >/dev/null && swapon -p 100 --discard "$LOOP" || die "swapon"
}

daemon_pid() { ps -eo pid=,args= | awk -v d="$MNT" 'index($0, " " d " ") && $2 ~ /zramfs$/ { print $1; exit }'; }

run_target() {
	local t=$1 kind pid=0 out=/tmp/zr-swap-peaks.$$ out0 in0 t0 t1 rss0=0 res rc
	case $t in
	zram-lz4) kind=zram; setup_zram ;;
	zramfs-*) kind=zramfs; setup_zramfs "${t#zramfs-}"; pid=$(daemon_pid)
		rss0=$(awk '/^VmRSS/ { print $2 }' /proc/$pid/status) ;;
	*) die "unknown target $t" ;;
	esac
	mkdir -p "$CG"
	echo "$LIMIT" >"$CG/memory.limit_in_bytes"
	[ -e "$CG/memory.swappiness" ] && echo 100 >"$CG/memory.swappiness"
	sync; echo 3 >/proc/sys/vm/drop_caches
	out0=$(vmstat_get pswpout); in0=$(vmstat_get pswpin)
	sampler "$kind" "$pid" "$out" & SAMPLER=$!
	t0=$(date +%s.%N)
	res=$(sh -c 'echo $$ >"$1/cgroup.procs"; exec "$2" "$3"' _ "$CG" "$HOG" "$HOG_MIB"); rc=$?
	t1=$(date +%s.%N)
	sleep 0.5
	kill "$SAMPLER"; wait "$SAMPLER" 2>/dev/null; SAMPLER=
	read -r ps pm pr <"$out"; rm -f "$out"
	printf '%-16s %7.2f %9d %9d %8.1f %8.1f %6.3f %8s  %s\n' "$t" \
		"$(echo "$t1 - $t0" | bc)" $(( $(vmstat_get pswpout) - out0 )) \
		$(( $(vmstat_get pswpin) - in0 )) "$(echo "$ps / 1024" | bc -l)" \
		"$(echo "$pm / 1048576" | bc -l)" "$(echo "$pm / ($ps * 1024 + 1)" | bc -l)" \
		"$([ "$pid" != 0 ] && echo $(( (pr - rss0) / 1024 )) || echo -)" \
		"$( [ $rc = 0 ] && echo "$res" | awk '{ print $4, $5, "verified:", $6 }' || echo "FAILED rc=$rc: $res")"
	# the loop device's counters outlive a detach: a delta from the setup
	[ "$kind" = zramfs ] && echo "$LOOPSTAT0" | cat - "/sys/block/${LOOP#/dev/}/stat" |
		awk 'NR == 1 { r = $1; rs = $3; w = $5; ws = $7; next }
		{ r = $1 - r; rs = $3 - rs; w = $5 - w; ws = $7 - ws
		  printf "#   loop requests: %d reads (avg %.1f KiB), %d writes (avg %.1f KiB)\n",
			r, r ? rs / r / 2 : 0, w, w ? ws / w / 2 : 0 }'
	[ "$kind" = zramfs ] && getfattr --only-values -n user.zramfs.stats "$MNT" 2>/dev/null |
		awk '$1 ~ /^(spilled_chunks|spill_bytes|enospc_events|failed_writes|failed_reads)$/ && $2 != 0 { printf "#   %s %s\n", $1, $2 }'
	rmdir "$CG"
	cleanup
}

# medians FILE - per target, the median of each figure over the runs, and
# time and RAM per swapped byte as ratios to zram-lz4
medians() {
	awk '$1 !~ /^#/ && NF >= 8 { n[$1]++; k = $1 "|" n[$1]
		for (i = 2; i <= 7; i++) v[k, i] = $i; if (!($1 in seen)) { seen[$1] = 1; order[++nt] = $1 } }
	function med(t, i,   a, c, j, x, y, m) {
		c = n[t]; for (j = 1; j <= c; j++) a[j] = v[t "|" j, i] + 0
		for (x = 1; x <= c; x++) for (y = x + 1; y <= c; y++) if (a[y] < a[x]) { m = a[x]; a[x] = a[y]; a[y] = m }
		return c % 2 ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2 }
	END {
		printf "%-22s %7s %6s %9s %9s %8s %8s %6s %6s\n", "target (median)", "time_s", "x_zram", "pswpout", "pswpin", "swap_MiB", "mem_MiB", "mem/sw", "x_zram"
		zt = ("zram-lz4" in n) ? med("zram-lz4", 2) : 0; zm = ("zram-lz4" in n) ? med("zram-lz4", 7) : 0
		for (j = 1; j <= nt; j++) { t = order[j]
			printf "%-22s %7.2f %6s %9d %9d %8.1f %8.1f %6.3f %6s\n", t, med(t, 2),
				zt ? sprintf("%.2f", med(t, 2) / zt) : "-", med(t, 3), med(t, 4), med(t, 5), med(t, 6), med(t, 7),
				zm ? sprintf("%.2f", med(t, 7) / zm) : "-" } }' "$1"
}

RUNS=${SWAP_RUNS:-1}
LINES=$(mktemp /tmp/zr-swap-lines.XXXXXX)
echo "# swap bench $(date -u +%F) $(uname -r), $(nproc) CPUs; hog ${HOG_MIB} MiB in a $LIMIT cgroup; $RUNS run(s)"
printf '%-16s %7s %9s %9s %8s %8s %6s %8s  %s\n' target time_s pswpout pswpin swap_MiB mem_MiB mem/sw rss_MiB result
FAILED=0
for r in $(seq "$RUNS"); do
	for t in "${TARGETS[@]}"; do
		# not in a pipe: run_target's mounts must be the cleanup trap's
		run_target "$t" >"$LINES.one"
		cat "$LINES.one"; cat "$LINES.one" >>"$LINES"
		grep -q FAILED "$LINES.one" && FAILED=1
	done
done
if [ "$RUNS" -gt 1 ]; then echo; medians "$LINES"; fi
rm -f "$LINES" "$LINES.one"
exit $FAILED
