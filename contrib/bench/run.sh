#!/bin/bash
# run.sh - `make bench`: zramfs beside tmpfs and ext4 on zram, same run, same
# data (issue 8).
#
#   sudo make bench                 # full: 3 runs each, linux-6.1 tar, 1 GiB
#   sudo BENCH_QUICK=1 make bench   # quick: 1 run, 136 MiB subset, 256 MiB
#
# Targets, mounted one after another: tmpfs; ext4 on /dev/zram0 (lz4,
# lzo-rle); zramfs comp=none, lz4, zstd:1, zstd:3.  On each, per run, on a
# fresh mount: untar, build, rm -rf (RAM left), stream, fio random, metadata.
# Then the swap workload (contrib/bench/swap.sh): a memory hog swapping to
# zram and to a zramfs swap file (lz4; SWAP_TARGETS for more).
# Each run logs its phase times and the CPU share the host stole.
# Memory is measured from outside: tmpfs by Shmem (/proc/meminfo), zram by
# mm_stat's mem_used_total, zramfs by the daemon's VmRSS growth and by its own
# user.zramfs.stats mem_used_total (both shown).  Everything is a delta from
# the freshly mounted, empty target.
#
# Environment:
#   BENCH_QUICK=1      quick mode (one run, smaller data, build = defconfig only)
#   BENCH_RUNS=N       runs per target (default 3, quick 1)
#   BENCH_TARGETS="…"  subset of: tmpfs zram-lz4 zram-lzo-rle zramfs-none
#                      zramfs-lz4 zramfs-zstd:1 zramfs-zstd:3 (zramfs-OPTS:
#                      anything after "zramfs-" is a comp= value, and
#                      ",chunk=16K" etc. may follow)
#   BENCH_OUT=DIR      results (default build/bench): latest.txt, latest.csv,
#                      latest-memory.png, samples/ (memory samples, and
#                      the daemon's smaps when empty and after the rm)
#   BENCH_BUILD=DIR    the kernel directory the build compiles (fs/fat/)
#   BENCH_TAR=FILE     the big tar (/var/tmp/zr-bench/linux-source-6.1.tar)
#   SWAP_TARGETS="…"   the swap section's targets (zram-lz4 zramfs-lz4)
#   ZRAMFS=PATH        the daemon (build/zramfs)
#
# /dev/zram0 is used only if it is unused (initstate 0, not mounted, not
# swap, no holders); otherwise the zram columns say "refused".  On exit,
# failure or Ctrl-C nothing is left mounted and zram0 is reset.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u -o pipefail
export LC_ALL=C

TOP=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$TOP/contrib/bench
ZRAMFS=${ZRAMFS:-$TOP/build/zramfs}
QUICK=${BENCH_QUICK:-0}; [ "$QUICK" = 0 ] && QUICK=
OUT=${BENCH_OUT:-$TOP/build/bench}
BIGTAR=${BENCH_TAR:-/var/tmp/zr-bench/linux-source-6.1.tar}
QUICKTAR=$(dirname "$BIGTAR")/quick-linux-v2.tar
if [ -n "$QUICK" ]; then
	RUNS=${BENCH_RUNS:-1} STREAM_MIB=256 FIO_RT=1 NFILES=10000 BUILD=
else
	RUNS=${BENCH_RUNS:-3} STREAM_MIB=1024 FIO_RT=2 NFILES=100000 BUILD=${BENCH_BUILD:-fs/fat/}
fi
TARGETS=(${BENCH_TARGETS:-tmpfs zram-lz4 zram-lzo-rle zramfs-none zramfs-lz4 zramfs-zstd:1 zramfs-zstd:3})
ZRAM=/sys/block/zram0

die() { echo "bench: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (mounts, /dev/zram0, drop_caches)"
[ -x "$ZRAMFS" ] || die "$ZRAMFS missing: run make first (or set ZRAMFS)"

# ---------------------------------------------------------------- cleanup
MNT= WORK= PID= SAMPLER= ZRAM_SET= KIND=
cleanup() {
	trap - EXIT INT TERM
	set +e
	cd /
	[ -n "$SAMPLER" ] && { kill "$SAMPLER" 2>/dev/null; wait "$SAMPLER" 2>/dev/null; }
	for j in $(jobs -p); do kill "$j" 2>/dev/null; done
	if [ -n "$PID" ]; then
		fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -uz "$MNT" 2>/dev/null
		for _ in $(seq 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$PID" 2>/dev/null; wait "$PID" 2>/dev/null
	fi
	if [ -n "$MNT" ] && mountpoint -q "$MNT"; then
		for _ in 1 2 3 4 5; do umount "$MNT" 2>/dev/null && break; sleep 1; done
		mountpoint -q "$MNT" && umount -l "$MNT"
	fi
	if [ -n "$ZRAM_SET" ]; then
		for _ in 1 2 3 4 5; do echo 1 >$ZRAM/reset 2>/dev/null && break; sleep 1; done
		[ "$(cat $ZRAM/initstate)" = 0 ] || echo "bench: could not reset /dev/zram0" >&2
	fi
	[ -n "$MNT" ] && rmdir "$MNT" 2>/dev/null
	[ -n "$WORK" ] && rm -rf "$WORK"
}
trap cleanup EXIT
trap 'echo "bench: interrupted" >&2; exit 130' INT TERM

# ---------------------------------------------------------------- prerequisites
need=()
command -v fio >/dev/null || need+=(fio)
command -v gnuplot >/dev/null || need+=(gnuplot-nox)
command -v getfattr >/dev/null || need+=(attr)
command -v fusermount3 >/dev/null || need+=(fuse3)
command -v mkfs.ext4 >/dev/null || need+=(e2fsprogs)
command -v python3 >/dev/null || need+=(python3)
for c in gcc:gcc make:make flex:flex bison:bison bc:bc xz:xz-utils; do
	command -v ${c%%:*} >/dev/null || need+=(${c#*:})
done
for p in libelf-dev libssl-dev; do dpkg -s $p >/dev/null 2>&1 || need+=($p); done
[ -s "$BIGTAR" ] || [ -r /usr/src/linux-source-6.1.tar.xz ] || need+=(linux-source-6.1)
if [ ${#need[@]} -gt 0 ]; then
	echo "bench: installing ${need[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null ||
		die "apt-get install ${need[*]} failed"
fi

# ---------------------------------------------------------------- data
mkdir -p "$(dirname "$BIGTAR")" "$OUT/samples"
if [ ! -s "$BIGTAR" ]; then
	echo "bench: decompressing /usr/src/linux-source-6.1.tar.xz to $BIGTAR (once)"
	xz -dc /usr/src/linux-source-6.1.tar.xz >"$BIGTAR.tmp" && mv "$BIGTAR.tmp" "$BIGTAR" ||
		die "cannot write $BIGTAR"
fi
if [ -n "$QUICK" ] && [ ! -s "$QUICKTAR" ]; then
	# The tree without the C files of drivers, sound, fs, net and tools,
	# the docs' text, device trees, selftests and non-x86 arch sources:
	# 21K files, 136 MiB, and `make defconfig` still works in it.
	echo "bench: making the quick subset $QUICKTAR (once)"
	q=$(mktemp -d /var/tmp/zr-bench-q.XXXXXX)
	tar -xf "$BIGTAR" -C "$q" --exclude='*/drivers/*.[ch]' --exclude='*/sound/*.[ch]' \
		--exclude='*/fs/*.[ch]' --exclude='*/net/*.[ch]' --exclude='*/tools/*.[ch]' \
		--exclude='*/Documentation/*.rst' --exclude='*/Documentation/*.txt' \
		--exclude='*.dts' --exclude='*.dtsi' --exclude='*/tools/testing/*' \
		--exclude='*/arch/[a-ln-w]*/*.[chS]' &&
		tar -cf "$QUICKTAR.tmp" -C "$q" . && mv "$QUICKTAR.tmp" "$QUICKTAR"
	rm -rf "$q"
	[ -s "$QUICKTAR" ] || die "cannot make $QUICKTAR"
fi
TAR=$BIGTAR; [ -n "$QUICK" ] && TAR=$QUICKTAR
# Expected regular files and their bytes, to verify each untar.
if [ ! -s "$TAR.sum" ] || [ "$TAR.sum" -ot "$TAR" ]; then
	tar -tvf "$TAR" | awk '/^-/ { n++; b += $3 } END { printf "%d %.0f\n", n, b }' >"$TAR.sum"
fi
read -r TAR_FILES TAR_BYTES <"$TAR.sum"
TOPDIR=$(tar -tf "$TAR" | awk -F/ '$1 != "." && $1 != "" { print $1; exit } $1 == "." && $2 != "" { print $2; exit }')

# Sources live in /dev/shm: drop_caches must not turn a workload into a disk
# read.  (They count in Shmem, but before every baseline.)
WORK=$(mktemp -d /dev/shm/zr-bench.XXXXXX)
MNT=$(mktemp -d /var/tmp/zr-bench-mnt.XXXXXX)
cp "$TAR" "$WORK/src.tar"
head -c $((STREAM_MIB << 20)) "$BIGTAR" >"$WORK/stream.bin"
STREAM_MD5=$(md5sum <"$WORK/stream.bin" | cut -d' ' -f1)

# ---------------------------------------------------------------- helpers
now() { echo "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f\n", b - a }'; }
mib() { awk -v x="$1" 'BEGIN { printf "%.1f\n", x / 1048576 }'; }
drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }
shmem_b() { awk '/^Shmem:/ { printf "%.0f\n", $2 * 1024 }' /proc/meminfo; }
status_b() { awk -v k="$1:" '$1 == k { printf "%.0f\n", $2 * 1024 }' /proc/"$PID"/status; }
rss_b() { status_b VmRSS; }
# The daemon's private memory: VmRSS less the file pages (shared library
# code that the work paged in; deleting data cannot give those back).
anon_b() { status_b RssAnon; }
zram_b() { awk '{ print $3 }' $ZRAM/mm_stat; }
stat_of() { getfattr --absolute-names --only-values -n user.zramfs.stats "$MNT" 2>/dev/null |
	awk -v k="$1" '$1 == k { print $2 }'; }
mem_raw() {	# the primary, outside measure of the mounted target, bytes
	case $KIND in tmpfs) shmem_b ;; zram) zram_b ;; zramfs) rss_b ;; esac
}

declare -A RES	# RES[figure|target] = "v1 v2 ..."
rec() { RES["$1|$2"]+="$3 "; }
FAILED=

zram_refusal() {	# prints why /dev/zram0 must not be touched, if so
	[ -e $ZRAM ] || { echo "no /dev/zram0 (modprobe zram)"; return; }
	[ "$(cat $ZRAM/initstate)" = 0 ] || { echo "/dev/zram0 is initialized (in use)"; return; }
	grep -q '^/dev/zram0 ' /proc/mounts && { echo "/dev/zram0 is mounted"; return; }
	grep -q '^/dev/zram0 ' /proc/swaps && { echo "/dev/zram0 is swap"; return; }
	[ -z "$(ls $ZRAM/holders 2>/dev/null)" ] || { echo "/dev/zram0 has holders"; return; }
}

mount_target() {	# target -> mounted on $MNT, KIND, PID set
	local t=$1
	case $t in
	tmpfs)
		KIND=tmpfs
		mount -t tmpfs -o size=8G zr-bench "$MNT" ;;
	zram-*)
		local alg=${t#zram-} why
		KIND=zram
		why=$(zram_refusal); [ -z "$why" ] || { echo "refused: $why"; return 1; }
		grep -qw -- "$alg" $ZRAM/comp_algorithm || { echo "zram has no $alg"; return 1; }
		ZRAM_SET=1
		echo "$alg" >$ZRAM/comp_algorithm && echo 4G >$ZRAM/disksize &&
			mkfs.ext4 -q /dev/zram0 && mount /dev/zram0 "$MNT" ;;
	zramfs-*)
		KIND=zramfs
		"$ZRAMFS" "$MNT" -f -o "size=8G,comp=${t#zramfs-}" >>"$OUT/zramfs.log" 2>&1 &
		PID=$!
		for _ in $(seq 200); do
			mountpoint -q "$MNT" && return 0
			kill -0 "$PID" 2>/dev/null || { PID=; echo "zramfs did not mount (see $OUT/zramfs.log)"; return 1; }
			sleep 0.05
		done
		echo "zramfs did not mount in 10 s"; return 1 ;;
	*) echo "unknown target $t"; return 1 ;;
	esac
}

umount_target() {
	cd /
	case $KIND in
	zramfs)
		fusermount3 -u "$MNT"
		for _ in $(seq 300); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
		kill -0 "$PID" 2>/dev/null && { echo "bench: daemon $PID did not exit, killing" >&2; kill -9 "$PID"; }
		wait "$PID" 2>/dev/null; PID= ;;
	zram)
		mountpoint -q "$MNT" && umount "$MNT"
		[ -n "$ZRAM_SET" ] && echo 1 >$ZRAM/reset; ZRAM_SET= ;;
	*)
		mountpoint -q "$MNT" && umount "$MNT" ;;
	esac
}

sampler_start() {	# file: "seconds MiB" every 0.5 s, primary measure minus BASE
	local f=$1 t0=$EPOCHREALTIME
	( while :; do
		m=$(mem_raw 2>/dev/null) || exit 0
		awk -v a="$t0" -v b="$EPOCHREALTIME" -v m="$m" -v z="$BASE" \
			'BEGIN { printf "%.2f %.1f\n", b - a, (m - z) / 1048576 }'
		sleep 0.5
	done ) >"$f" 2>/dev/null &
	SAMPLER=$!
}
sampler_stop() { kill "$SAMPLER" 2>/dev/null; wait "$SAMPLER" 2>/dev/null; SAMPLER=; }

fio_iops() {	# rw -> IOPS
	local rw=$1 j=$WORK/fio.json
	fio --name="$rw" --filename="$MNT/stream" --size="${STREAM_MIB}M" --bs=4k --rw="$rw" \
		--ioengine=psync --numjobs=2 --buffer_compress_percentage=50 --refill_buffers \
		--time_based --runtime="$FIO_RT" --group_reporting --output-format=json \
		--output="$j" >/dev/null 2>&1 || return 1
	python3 -c 'import json,sys; j=json.load(open(sys.argv[1]))["jobs"][0]
k="write" if "write" in sys.argv[2] else "read"; print("%.0f" % j[k]["iops"])' "$j" "$rw"
}

cpu_ticks() { awk '/^cpu / { print $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat; }
steal_pct() {	# "steal total" at the start -> percent of CPU time stolen since
	local a b; read -r a b <<<"$1"
	cpu_ticks | awk -v a="$a" -v b="$b" '{ printf "%.0f%%\n", ($2 > b ? 100 * ($1 - a) / ($2 - b) : 0) }'
}

phase() {	# name: the wall time since the last phase mark, for the log
	PHASES+=" $1 $(elapsed "$PHASE_T" "$EPOCHREALTIME")"; PHASE_T=$EPOCHREALTIME
}

fail() { echo "  FAIL $1: $2" >&2; rec "$1" "$T" FAIL; FAILED=1; }

# ---------------------------------------------------------------- one run
one_run() {	# target run#
	local t=$1 r=$2 t0 t1 m s why sfx
	sfx=${t//[:,=]/_}
	PHASES= PHASE_T=$EPOCHREALTIME STEAL0=$(cpu_ticks)
	if ! mount_target "$t" >"$WORK/why" 2>&1; then
		why=$(tr '\n' ' ' <"$WORK/why")
		echo "  $t: $why" >&2; NOTE["$t"]=$why; umount_target >/dev/null 2>&1; return 1
	fi
	BASE=$(mem_raw); SBASE= ABASE=
	if [ $KIND = zramfs ]; then
		SBASE=$(stat_of mem_used_total) ABASE=$(anon_b)
		# the daemon's mappings, empty and after the rm: what a
		# difference in RssAnon is made of
		cp /proc/"$PID"/smaps "$OUT/samples/smaps-empty-$sfx-$r.txt"
	fi

	# untar
	sampler_start "$OUT/samples/untar-$sfx-$r.dat"
	t0=$(now); tar -xf "$WORK/src.tar" -C "$MNT"; local rc=$?; sync; t1=$(now)
	sampler_stop
	if [ $rc = 0 ] && [ "$(find "$MNT" -type f -printf '%s\n' | awk '{ n++; b += $1 } END { printf "%d %.0f\n", n, b }')" = "$TAR_FILES $TAR_BYTES" ]; then
		rec untar_s "$t" "$(elapsed "$t0" "$t1")"
		rec logical_mib "$t" "$(mib "$TAR_BYTES")"
		# zramfs: the stats first (reading them waits for the workers)
		[ $KIND = zramfs ] && rec untar_stats_mib "$t" "$(mib $(( $(stat_of mem_used_total) - SBASE )))"
		m=$(( $(mem_raw) - BASE ))
		rec untar_mem_mib "$t" "$(mib "$m")"
		rec untar_ratio "$t" "$(awk -v l="$TAR_BYTES" -v m="$m" 'BEGIN { printf "%.2f\n", (m > 0 ? l / m : 0) }')"
	else
		fail untar_s "tar rc $rc or files/bytes differ from the tar"
	fi
	phase untar
	# At rest: zramfs's idle recompression (-o recompress=auto) re-encodes
	# chunks untouched for 10 s in the background; the root's control
	# finishes what is left now, so the figure does not depend on how long
	# the tree sat.  tmpfs and zram do nothing at rest: measured again.
	t0=$(now)
	if [ $KIND = zramfs ]; then
		setfattr -n user.zramfs.recompress -v all "$MNT" || fail rest_mem_mib "recompress control failed"
		sleep 1 # the housekeeper's next tick trims the coding buffers
		rec rest_stats_mib "$t" "$(mib $(( $(stat_of mem_used_total) - SBASE )))"
		rec recomp_s "$t" "$(elapsed "$t0" "$(now)")"
	fi
	rec rest_mem_mib "$t" "$(mib $(( $(mem_raw) - BASE )))"
	phase rest
	# build, in the extracted tree
	sampler_start "$OUT/samples/build-$sfx-$r.dat"
	t0=$(now)
	( cd "$MNT/$TOPDIR" && make -s defconfig >"$WORK/build.log" 2>&1 &&
		if [ -n "$BUILD" ]; then make -j2 "$BUILD" >>"$WORK/build.log" 2>&1 &&
			[ -s "$BUILD/built-in.a" ]; else [ -s .config ]; fi )
	rc=$?; t1=$(now)
	sampler_stop
	if [ $rc = 0 ]; then rec build_s "$t" "$(elapsed "$t0" "$t1")"
	else fail build_s "build failed: $(tail -n 3 "$WORK/build.log" | tr '\n' ' ')"; fi

	phase build
	# rm -rf: RAM left
	find "$MNT" -mindepth 1 -maxdepth 1 ! -name lost+found -exec rm -rf {} + ; sync
	if [ $KIND = zramfs ]; then
		# The housekeeper gives memory back within about two 1 s ticks
		# of the last free: wait until RSS has not moved for 2.5 s
		# (at most 10 s).
		local prev=-1 same=0
		for _ in $(seq 20); do
			s=$(( $(stat_of mem_used_total) - SBASE )) m=$(mem_raw)
			if [ "$m" = "$prev" ]; then same=$((same + 1)); else same=0; fi
			[ $same -ge 5 ] && break
			prev=$m; sleep 0.5
		done
		rec rm_stats_mib "$t" "$(mib "$s")"
		rec rm_anon_mib "$t" "$(mib $(( $(anon_b) - ABASE )))"
		cp /proc/"$PID"/smaps "$OUT/samples/smaps-rm-$sfx-$r.txt"
	fi
	rec rm_mem_mib "$t" "$(mib $(( $(mem_raw) - BASE )))"
	if [ $KIND = zram ]; then
		fstrim "$MNT"; sync; sleep 0.5
		rec rm_trim_mib "$t" "$(mib $(( $(mem_raw) - BASE )))"
	fi

	phase rm
	# stream: write, sync, drop caches, read back, verify
	drop_caches
	t0=$(now); dd if="$WORK/stream.bin" of="$MNT/stream" bs=1M conv=fsync status=none; rc=$?; t1=$(now)
	rec stream_w "$t" "$(awk -v s="$(elapsed "$t0" "$t1")" -v m=$STREAM_MIB 'BEGIN { printf "%.0f\n", m / s }')"
	drop_caches
	t0=$(now); dd if="$MNT/stream" of=/dev/null bs=1M status=none; t1=$(now)
	# verified from the page cache the timed read filled: what it was served
	if [ $rc = 0 ] && [ "$(md5sum <"$MNT/stream" | cut -d' ' -f1)" = "$STREAM_MD5" ]; then
		rec stream_r "$t" "$(awk -v s="$(elapsed "$t0" "$t1")" -v m=$STREAM_MIB 'BEGIN { printf "%.0f\n", m / s }')"
	else
		fail stream_r "checksum of the read-back stream differs"
	fi

	phase stream
	# random 4K I/O
	if s=$(fio_iops randwrite); then rec fio_w "$t" "$s"; else fail fio_w "fio randwrite failed"; fi
	drop_caches
	if s=$(fio_iops randread); then rec fio_r "$t" "$s"; else fail fio_r "fio randread failed"; fi
	rm -f "$MNT/stream"

	phase fio
	# metadata
	mkdir "$MNT/meta"
	if s=$(python3 "$HERE/meta.py" "$MNT/meta" "$NFILES"); then
		read -r a b c <<<"$s"; rec meta_create "$t" "$a"; rec meta_stat "$t" "$b"; rec meta_delete "$t" "$c"
	else
		fail meta_create "meta.py failed"
	fi
	phase meta
	umount_target
	phase umount
	echo "   phases (s):$PHASES; CPU stolen by the host: $(steal_pct "$STEAL0")"
	return 0
}

# ---------------------------------------------------------------- run
declare -A NOTE
# tee ignores Ctrl-C so that the cleanup's messages still reach the terminal
trap '' PIPE
exec > >(trap '' INT TERM; exec tee "$OUT/latest.txt") 2>&1
T_START=$EPOCHREALTIME STEAL_START=$(cpu_ticks)
echo "# zramfs bench $(date -u +%FT%TZ)  mode: $([ -n "$QUICK" ] && echo quick || echo full), $RUNS run(s) per target"
echo "# machine: $(nproc) vCPU, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)," \
	"$(. /etc/os-release; echo "$PRETTY_NAME"), kernel $(uname -r)"
echo "# zramfs: $ZRAMFS ($(cd "$TOP" && git describe --always --dirty 2>/dev/null))"
echo "# data: $TAR ($TAR_FILES files, $(mib "$TAR_BYTES") MiB); stream ${STREAM_MIB} MiB of $BIGTAR;" \
	"fio on the stream file, ${FIO_RT} s each; metadata $NFILES files; build: $([ -n "$BUILD" ] && echo "make defconfig + make -j2 $BUILD" || echo 'make defconfig only (quick)')"
echo "# load at start: $(uptime)"
why=$(zram_refusal)
[ -n "$why" ] && echo "# REFUSING to touch /dev/zram0: $why — the zram columns are skipped"

for t in "${TARGETS[@]}"; do
	T=$t
	if [ -n "$why" ] && [[ $t == zram-* ]]; then NOTE["$t"]="refused: $why"; continue; fi
	for r in $(seq "$RUNS"); do
		echo "== $t run $r/$RUNS ($(date +%T))"
		one_run "$t" "$r" || { FAILED=1; break; }
	done
done
echo "# load at end: $(uptime); CPU stolen by the host over the run: $(steal_pct "$STEAL_START")"
echo "# wall time: $(awk -v a="$T_START" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f s", b - a }')"

# ---------------------------------------------------------------- report
FIGS=(untar_s logical_mib untar_mem_mib untar_stats_mib untar_ratio rest_mem_mib
	rest_stats_mib recomp_s build_s
	rm_mem_mib rm_trim_mib rm_anon_mib rm_stats_mib stream_w stream_r fio_w fio_r
	meta_create meta_stat meta_delete)
declare -A LABEL=(
	[untar_s]="untar, s" [logical_mib]="logical bytes, MiB"
	[untar_mem_mib]="RAM after untar, MiB" [untar_stats_mib]="  zramfs stats mem_used_total, MiB"
	[untar_ratio]="effective ratio (logical/RAM)" [build_s]="build, s"
	[rest_mem_mib]="RAM at rest (recompressed), MiB" [rest_stats_mib]="  zramfs stats at rest, MiB"
	[recomp_s]="  recompress control (+1 s), s"
	[rm_mem_mib]="RAM after rm -rf, MiB" [rm_trim_mib]="  after fstrim (zram), MiB"
	[rm_anon_mib]="  zramfs RssAnon after rm, MiB"
	[rm_stats_mib]="  zramfs stats after rm, MiB" [stream_w]="stream write, MiB/s"
	[stream_r]="stream read (cold), MiB/s" [fio_w]="fio 4K randwrite, IOPS"
	[fio_r]="fio 4K randread, IOPS" [meta_create]="metadata create, files/s"
	[meta_stat]="metadata stat, files/s" [meta_delete]="metadata delete, files/s")
stats() {	# figure target -> "median min max n" or ""
	local v; v=$(echo ${RES["$1|$2"]:-})
	[ -n "$v" ] || return 0
	[[ $v == *FAIL* ]] && { echo "FAIL FAIL FAIL 0"; return; }
	echo $v | tr ' ' '\n' | sort -g | awk '{ a[NR] = $1 } END {
		m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
		print m, a[1], a[NR], NR }'
}
fmt() { awk -v x="$1" 'BEGIN { if (x == "FAIL" || x == "") print x; else if (x + 0 >= 1000) printf "%.0f", x;
	else if (x + 0 >= 100) printf "%.0f", x; else if (x + 0 >= 10) printf "%.1f", x; else printf "%.2f", x }'; }
cell() {	# figure target -> table cell
	local s; s=$(stats "$1" "$2")
	[ -n "$s" ] || { [ -n "${NOTE[$2]:-}" ] && echo "skipped" || echo "—"; return; }
	read -r m lo hi n <<<"$s"
	if [ "$n" -gt 1 ]; then echo "$(fmt "$m") ($(fmt "$lo")–$(fmt "$hi"))"; else fmt "$m"; fi
}
med() { local s; s=$(stats "$1" "$2"); echo "${s%% *}"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || a == "FAIL" || b == "FAIL" || b + 0 == 0) print "—"; else printf "%.2f\n", a / b }'; }

table() {	# kind: value | tmpfs | zram-lz4
	local kind=$1 f t line
	line="| figure |"; for t in "${TARGETS[@]}"; do line+=" $t |"; done; echo "$line"
	line="| --- |"; for t in "${TARGETS[@]}"; do line+=" --- |"; done; echo "$line"
	for f in "${FIGS[@]}"; do
		[ "$kind" != value ] && [[ $f == logical_mib || $f == *_stats_mib || $f == rm_* || $f == recomp_s ]] && continue
		local any=; for t in "${TARGETS[@]}"; do [ -n "$(stats $f "$t")" ] && any=1; done
		[ -n "$any" ] || continue
		line="| ${LABEL[$f]} |"
		for t in "${TARGETS[@]}"; do
			if [ "$kind" = value ]; then line+=" $(cell $f "$t") |"
			else line+=" $(ratio "$(med $f "$t")" "$(med $f "$kind")") |"; fi
		done
		echo "$line"
	done
}

echo
echo "## Results (median (min–max) of $RUNS run(s); RAM is a delta from the empty mount)"
echo
table value
echo
echo "### Ratio to tmpfs"
echo
table tmpfs
echo
echo "### Ratio to ext4 on zram lz4"
echo
table zram-lz4
for t in "${TARGETS[@]}"; do [ -n "${NOTE[$t]:-}" ] && echo "note: $t: ${NOTE[$t]}"; done
echo "note: zramfs RAM = daemon VmRSS growth; its own mem_used_total on the indented row;"
echo "      after rm also RssAnon growth (VmRSS less library code pages the work paged in)."
[ -n "$BUILD" ] || echo "note: quick mode: build = make defconfig only."

# ---------------------------------------------------------------- goals
echo
echo "## Goals (issue 8)"
goal() {	# text value op limit
	local v=$2
	if [ "$v" = "—" ] || [ -z "$v" ]; then printf '%-62s %8s  %s\n' "$1" "—" "n/a"; return; fi
	local ok; ok=$(awk -v v="$v" -v l="$4" -v op="$3" 'BEGIN { print (op == "<=" ? v <= l : v >= l) ? "PASS" : "MISS" }')
	printf '%-62s %8s  %s\n' "$1" "$v" "$ok"
}
Z=zram-lz4
goal "RAM untar: zramfs lz4 / ext4-zram lz4 <= 0.80" "$(ratio "$(med untar_mem_mib zramfs-lz4)" "$(med untar_mem_mib $Z)")" "<=" 0.80
goal "  (by zramfs stats)" "$(ratio "$(med untar_stats_mib zramfs-lz4)" "$(med untar_mem_mib $Z)")" "<=" 0.80
goal "RAM untar: zramfs zstd:3 / ext4-zram lz4 <= 0.55" "$(ratio "$(med untar_mem_mib zramfs-zstd:3)" "$(med untar_mem_mib $Z)")" "<=" 0.55
goal "  (by zramfs stats)" "$(ratio "$(med untar_stats_mib zramfs-zstd:3)" "$(med untar_mem_mib $Z)")" "<=" 0.55
goal "RAM at rest: zramfs lz4 / ext4-zram lz4 <= 0.80" "$(ratio "$(med rest_mem_mib zramfs-lz4)" "$(med rest_mem_mib $Z)")" "<=" 0.80
goal "  (by zramfs stats)" "$(ratio "$(med rest_stats_mib zramfs-lz4)" "$(med rest_mem_mib $Z)")" "<=" 0.80
goal "RAM at rest: zramfs zstd:3 / ext4-zram lz4 <= 0.55" "$(ratio "$(med rest_mem_mib zramfs-zstd:3)" "$(med rest_mem_mib $Z)")" "<=" 0.55
goal "  (by zramfs stats)" "$(ratio "$(med rest_stats_mib zramfs-zstd:3)" "$(med rest_mem_mib $Z)")" "<=" 0.55
for t in "${TARGETS[@]}"; do
	[[ $t == zramfs-* ]] || continue
	goal "RAM after rm -rf, $t (RSS), MiB <= 1" "$(med rm_mem_mib "$t")" "<=" 1
	goal "RAM after rm -rf, $t (RssAnon), MiB <= 1" "$(med rm_anon_mib "$t")" "<=" 1
	goal "RAM after rm -rf, $t (stats), MiB <= 1" "$(med rm_stats_mib "$t")" "<=" 1
done
goal "untar: zramfs lz4 / zramfs none <= 1.1" "$(ratio "$(med untar_s zramfs-lz4)" "$(med untar_s zramfs-none)")" "<=" 1.1
goal "untar: zramfs lz4 / ext4-zram lz4 <= 4" "$(ratio "$(med untar_s zramfs-lz4)" "$(med untar_s $Z)")" "<=" 4
goal "stream write: zramfs lz4 / ext4-zram lz4 >= 1.3" "$(ratio "$(med stream_w zramfs-lz4)" "$(med stream_w $Z)")" ">=" 1.3
goal "stream read: zramfs lz4 / ext4-zram lz4 >= 1.0" "$(ratio "$(med stream_r zramfs-lz4)" "$(med stream_r $Z)")" ">=" 1.0
goal "build: zramfs lz4 / tmpfs <= 1.2" "$(ratio "$(med build_s zramfs-lz4)" "$(med build_s tmpfs)")" "<=" 1.2

# ---------------------------------------------------------------- swap
# The swap workload has its own harness (a hog in a memory cgroup, swap on
# zram and on zramfs files); it needs /dev/zram0 free and no other swap.
echo
echo "## Swap: memory hog in a memory cgroup (contrib/bench/swap.sh)"
if [ -n "$why" ]; then
	echo "skipped: $why"
elif [ -n "$(awk 'NR > 1' /proc/swaps)" ]; then
	echo "skipped: swap is already active on this machine"
else
	SWAP_TARGETS=${SWAP_TARGETS:-zram-lz4 zramfs-lz4} SWAP_RUNS=$RUNS SWAP_HOG_MIB=$([ -n "$QUICK" ] && echo 384 || echo 512) \
	SWAP_LIMIT=$([ -n "$QUICK" ] && echo 128M || echo 256M) ZRAMFS=$ZRAMFS \
		bash "$HERE/swap.sh" || FAILED=1
fi

# ---------------------------------------------------------------- CSV, chart
{
	echo "figure,unit_label,target,median,min,max,runs,values"
	for f in "${FIGS[@]}"; do for t in "${TARGETS[@]}"; do
		s=$(stats $f "$t"); [ -n "$s" ] || continue
		read -r m lo hi n <<<"$s"
		echo "$f,\"$(echo ${LABEL[$f]})\",$t,$m,$lo,$hi,$n,\"$(echo ${RES["$f|$t"]})\""
	done; done
} >"$OUT/latest.csv"

plot=$WORK/plot.gp
{
	echo "set terminal pngcairo size 1400,560 font ',10'"
	echo "set output '$OUT/latest-memory.png'"
	echo "set multiplot layout 1,2 title 'zramfs bench $(date -u +%F) ${QUICK:+(quick)}: RAM used (delta from empty mount) vs time, run 1'"
	echo "set grid; set key outside right top; set xlabel 'seconds'; set ylabel 'MiB'"
	for w in untar build; do
		echo "set title '$w'"
		sep="plot"
		for t in "${TARGETS[@]}"; do
			f=$OUT/samples/$w-${t//[:,=]/_}-1.dat
			[ -s "$f" ] || continue
			printf "%s '%s' using 1:2 with lines lw 2 title '%s'" "$sep" "$f" "$t"; sep=","
		done
		[ "$sep" = plot ] && echo "plot 0 notitle" || echo
	done
	echo "unset multiplot"
} >"$plot"
gnuplot "$plot" 2>"$WORK/gnuplot.err" || { echo "gnuplot failed:"; cat "$WORK/gnuplot.err"; }
echo
echo "results: $OUT/latest.txt, $OUT/latest.csv, $OUT/latest-memory.png (samples in $OUT/samples/)"
[ -z "$FAILED" ] || { echo "bench: some workloads FAILED (see above)"; exit 1; }
exit 0
