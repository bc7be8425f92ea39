# t_swap.sh - swap on a zramfs: a swap file on the mount, through a loop
# device with direct I/O, filled by a memory hog (zr_hog) kept in a small
# memory cgroup (v1) so that it must swap; every page must verify.  Also
# contrib/zramfs-swap.  Cases mount their own instances under $W.
#
# Cleanup: each case registers sw_cleanup on EXIT (and turns TERM, INT,
# HUP into an exit), so a failed assertion or the runner's timeout still
# kills the hog (every process in the cgroup), swapoffs, detaches the loop
# device, removes the cgroup and unmounts.  The hog runs in the background
# and the case waits for it with `wait`, which a signal interrupts at once.
ZMOUNT=no

# Mount options and file chunk size of the swap zramfs (contrib/zramfs-swap's).
SWAP_OPTS=${SWAP_OPTS:-mlock,max_background=256,staging=4M}
SWAP_CHUNK=${SWAP_CHUNK:-16K}
SW_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SW_PRIO=32000		# ours first, whatever other swap the machine has
# the hog ends before the runner's per-case timeout does
SW_HOG_TIMEOUT=${SW_HOG_TIMEOUT:-$(( ${ZR_TIMEOUT:-90} > 40 ? ${ZR_TIMEOUT:-90} - 25 : 15 ))}

# state of the case, for sw_cleanup
SW_MNT="" SW_FILE="" SW_LOOP="" SW_CG="" SW_HOGPID="" SW_SAMPLER="" SW_HELPER=""

vmstat() { awk -v k="$1" '$1 == k { print $2 }' /proc/vmstat; }
is_swap() { awk -v d="$1" 'NR > 1 && $1 == d { f = 1 } END { exit !f }' /proc/swaps; }

sw_cleanup() {
	local p l
	trap - EXIT TERM INT HUP
	set +e
	[ -n "$SW_SAMPLER" ] && kill "$SW_SAMPLER" 2>/dev/null
	if [ -n "$SW_CG" ] && [ -d "$SW_CG" ]; then
		# the hog (not `timeout`, our child: it reaps the hog and exits,
		# and we reap it; a killed parent would leave the reaping to
		# init, and the cgroup busy until then)
		for p in $(cat "$SW_CG/cgroup.procs" 2>/dev/null); do
			[ "$p" = "$SW_HOGPID" ] || kill -KILL "$p" 2>/dev/null
		done
		[ -n "$SW_HOGPID" ] && wait "$SW_HOGPID" 2>/dev/null
	fi
	# swap first: it matters most, and the runner's KILL comes 5 s after TERM
	if [ -n "$SW_HELPER" ]; then
		"$SW_TOP/contrib/zramfs-swap" off "$SW_HELPER" >&2 || note "cleanup: zramfs-swap off failed"
	fi
	if [ -n "$SW_FILE" ]; then
		for l in $SW_LOOP $(losetup -n -O NAME -j "$SW_FILE" 2>/dev/null); do
			is_swap "$l" && { swapoff "$l" || note "cleanup: swapoff $l failed"; }
			losetup -d "$l" 2>/dev/null
		done
	fi
	if [ -n "$SW_MNT" ] && is_mounted "$SW_MNT"; then
		# the detached loop device closes the file asynchronously
		wait_until 3 zumount "$SW_MNT" || fusermount3 -uz "$SW_MNT"
	fi
	if [ -n "$SW_CG" ] && [ -d "$SW_CG" ]; then
		for p in $(cat "$SW_CG/cgroup.procs" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
		wait_until 3 rmdir "$SW_CG" || note "cleanup: cannot remove $SW_CG: $(cat "$SW_CG/cgroup.procs")"
	fi
	SW_SAMPLER="" SW_CG="" SW_HOGPID="" SW_HELPER="" SW_FILE="" SW_LOOP="" SW_MNT=""
}

# sw_finish - clean up now, and check that it worked
sw_finish() {
	local l=$SW_LOOP m=$SW_MNT f=$SW_FILE
	sw_cleanup
	note "case time ${SECONDS}s (cleanup included)"
	if [ -n "$l" ]; then
		is_swap "$l" && fail "$l still swapping after cleanup"
		losetup -n -O BACK-FILE "$l" 2>/dev/null | grep -qF "$f" &&
			fail "$l still attached to $f after cleanup"
	fi
	[ -n "$m" ] && is_mounted "$m" && fail "$m still mounted after cleanup"
	return 0
}

sw_traps() {
	trap sw_cleanup EXIT
	trap 'exit 143' TERM INT HUP
}

sw_need() {
	need_zramfs
	[ -f /sys/fs/cgroup/memory/cgroup.procs ] || skip "no cgroup v1 memory controller"
	[ -x "$TOOLS/zr_hog" ] || fail "no zr_hog in $TOOLS"
	command -v mkswap >/dev/null && command -v losetup >/dev/null || skip "no util-linux swap tools"
	sw_traps
}

# sw_swapon MNT OPTS MIB [SWAPON ARGS...] - mount, swap file, loop, swapon
sw_swapon() {
	local m=$1 opts=$2 mib=$3
	shift 3
	SW_MNT=$m
	zmount "$m" "$opts" || fail "mount -o $opts"
	SW_FILE=$m/swapfile
	: >"$SW_FILE" || fail "create the swap file"
	setfattr -n user.zramfs.chunk -v "$SWAP_CHUNK" "$SW_FILE" || fail "chunk size"
	truncate -s "${mib}M" "$SW_FILE" || fail "truncate"
	SW_LOOP=$(losetup --find --show --direct-io=on "$SW_FILE") || fail "losetup"
	[ "$(losetup -n -O DIO "$SW_LOOP" | tr -d ' ')" = 1 ] || fail "$SW_LOOP has no direct I/O"
	mkswap "$SW_LOOP" >/dev/null || fail "mkswap"
	swapon --priority "$SW_PRIO" "$@" "$SW_LOOP" || fail "swapon $*"
	is_swap "$SW_LOOP" || fail "$SW_LOOP not in /proc/swaps"
}

# stat_lt KEY LIMIT MNT - user.zramfs.stats KEY of MNT is below LIMIT
stat_lt() {
	local v
	v=$(zstat_all "$3" | awk -v k="$1" '$1 == k { print $2 }')
	[ -n "$v" ] && [ "$v" -lt "$2" ]
}

# sw_sample MNT - record "orig_data_size mem_used_total" every 0.2 s in $W/samples
sw_sample() {
	local m=$1
	( while :; do
		zstat_all "$m" | awk '$1 == "orig_data_size" { o = $2 } $1 == "mem_used_total" { t = $2 }
			END { if (o != "") print o, t }'
		sleep 0.2
	  done >"$W/samples" ) &
	SW_SAMPLER=$!
}
# sw_used_bytes - bytes of $SW_LOOP's swap in use (/proc/swaps, KiB)
sw_used_bytes() {
	awk -v d="$SW_LOOP" '$1 == d { print $4 * 1024 }' /proc/swaps
}

# sw_held_le_used SLACK_MIB MNT - orig_data_size <= swap in use + slack
sw_held_le_used() {
	local u
	u=$(sw_used_bytes)
	[ -n "$u" ] && ! stat_lt orig_data_size $((u + ($1 << 20) + 1)) "$2" && return 1
	[ -n "$u" ]
}

sw_peak() { # sw_peak COLUMN - highest sample
	sort -n -k"$1" "$W/samples" | tail -n1 | awk -v c="$1" '{ print $c + 0 }'
}

# sw_hog LIMIT_MIB HOG_MIB - run zr_hog HOG_MIB in a memory cgroup of
# LIMIT_MIB; fails unless it verified.  Sets HOG_OUT, HOG_SWPOUT, HOG_SWPIN.
sw_hog() {
	local lim=$1 mib=$2 out0 in0 rc
	SW_CG=/sys/fs/cgroup/memory/zrtest.$$
	mkdir "$SW_CG" || fail "mkdir $SW_CG"
	echo "${lim}M" >"$SW_CG/memory.limit_in_bytes" || fail "memory.limit_in_bytes"
	[ -f "$SW_CG/memory.swappiness" ] && echo 100 >"$SW_CG/memory.swappiness"
	out0=$(vmstat pswpout) in0=$(vmstat pswpin)
	sh -c 'echo $$ >"$1/cgroup.procs" && exec timeout "$2" "$3" -s "$4" "$5"' _ \
		"$SW_CG" "$SW_HOG_TIMEOUT" "$TOOLS/zr_hog" "$$" "$mib" >"$W/hog.out" 2>&1 &
	SW_HOGPID=$!
	wait "$SW_HOGPID"
	rc=$?
	SW_HOGPID=""
	HOG_OUT=$(cat "$W/hog.out")
	HOG_SWPOUT=$(( $(vmstat pswpout) - out0 ))
	HOG_SWPIN=$(( $(vmstat pswpin) - in0 ))
	note "$(echo "$HOG_OUT" | tail -n1); pswpout $HOG_SWPOUT pswpin $HOG_SWPIN; cgroup failcnt $(cat "$SW_CG/memory.failcnt")"
	[ $rc = 124 ] && fail "zr_hog $mib timed out after ${SW_HOG_TIMEOUT}s"
	[ $rc = 0 ] || fail "zr_hog $mib exited $rc: $HOG_OUT"
	echo "$HOG_OUT" | grep -q "^hog mib=$mib .* bad=0$" || fail "zr_hog output: $HOG_OUT"
	rmdir "$SW_CG" || fail "rmdir $SW_CG"
	SW_CG=""
}

# zero failures in the daemon's counters
sw_no_errors() {
	assert_eq "$(zstat failed_reads "$1")" 0 "failed_reads"
	assert_eq "$(zstat failed_writes "$1")" 0 "failed_writes"
	assert_eq "$(zstat enospc_events "$1")" 0 "enospc_events"
}

# 320 MiB in a 96 MiB cgroup: >= 224 MiB must go to swap and come back.
case_swap_hog() {
	sw_need
	local m=$W/sh orig
	sw_swapon "$m" "$SWAP_OPTS" 512
	sw_hog 96 320
	assert_ge "$HOG_SWPOUT" 30000 "pswpout (pages)"
	assert_gt "$HOG_SWPIN" 0 "pswpin (pages)"
	# no discard: what swap wrote stays in the file
	orig=$(zstat orig_data_size "$m")
	note "orig_data_size $orig compr_data_size $(zstat compr_data_size "$m") mem_used_total $(zstat mem_used_total "$m")"
	assert_ge "$orig" $((200 << 20)) "orig_data_size after the hog (bytes)"
	sw_no_errors "$m"
	sw_finish
}

# With --discard, freed swap slots are punched: the data goes away.
case_swap_discard() {
	sw_need
	local m=$W/sd peak_o peak_t o keep
	sw_swapon "$m" "$SWAP_OPTS" 512 --discard
	sw_sample "$m"
	sw_hog 96 320
	assert_ge "$HOG_SWPOUT" 30000 "pswpout (pages)"
	# Discards free what swap freed: zramfs holds no more than the swap
	# space still in use, plus the free part of clusters still partly in
	# use (the kernel discards whole free clusters; 22-36 MiB seen here).  A kernel may keep a dead process's pages in
	# the swap cache, their slots in use, until memory pressure reclaims
	# them (6.18.44-fc-v1045 does: SwapCached = Used, 110-170 MiB here),
	# so "in use" is read from /proc/swaps rather than assumed to be 0.
	wait_until 10 sw_held_le_used 64 "$m" ||
		fail "orig_data_size 10 s after the hog: $(zstat orig_data_size "$m"), swap in use $(sw_used_bytes) bytes (+64 MiB)"
	kill "$SW_SAMPLER"; wait "$SW_SAMPLER" 2>/dev/null; SW_SAMPLER=""
	peak_o=$(sw_peak 1) peak_t=$(sw_peak 2) o=$(zstat orig_data_size "$m")
	note "peak orig_data_size $peak_o mem_used_total $peak_t; after: orig_data_size $o mem_used_total $(zstat mem_used_total "$m"); swap in use $(sw_used_bytes); $(grep SwapCached /proc/meminfo | tr -s ' ')"
	assert_ge "$peak_o" $((160 << 20)) "peak orig_data_size (bytes)"
	assert_lt "$o" $((peak_o - (64 << 20))) "orig_data_size after the hog (discards arrived)"
	# Memory falls with the data: at most in proportion, plus what a
	# swap mount keeps on purpose (-o mlock: up to 8 MiB of resident
	# arena spans, ZR_ARENA_RESERVE; the staging buffers, up to
	# staging_limit) and 8 MiB for tables and metadata.
	keep=$(( (8 << 20) + $(zstat staging_limit "$m") + (8 << 20) ))
	wait_until 10 stat_lt mem_used_total $(( peak_t / 1024 * (o / 1024) / (peak_o / 1024) * 1024 + keep )) "$m" ||
		fail "mem_used_total after the hog $(zstat mem_used_total "$m"), peak $peak_t, orig_data_size $o of peak $peak_o; stats: $(zstat_all "$m" | tr '\n' ' ')"
	sw_no_errors "$m"
	sw_finish
}

# Swap beyond mem_limit: cold swapped pages go on to the spill file.
case_swap_spill() {
	sw_need
	local m=$W/ss sp=$W/spill
	mkdir -p "$sp"
	sw_swapon "$m" "spill=$sp,mem_limit=48M,$SWAP_OPTS" 512
	sw_hog 96 320
	assert_ge "$HOG_SWPOUT" 30000 "pswpout (pages)"
	note "spill_written_bytes $(zstat spill_written_bytes "$m") spill_bytes $(zstat spill_bytes "$m") spill_reads $(zstat spill_reads "$m") compr_data_size $(zstat compr_data_size "$m")"
	assert_gt "$(zstat spill_written_bytes "$m")" 0 "spill_written_bytes"
	assert_gt "$(zstat spilled_chunks "$m")" 0 "spilled_chunks (no discard: still held)"
	assert_eq "$(zstat spill_failed_writes "$m")" 0 "spill_failed_writes"
	assert_eq "$(zstat spill_failed_reads "$m")" 0 "spill_failed_reads"
	sw_no_errors "$m"
	assert_le "$(zstat compr_data_size "$m")" $((48 << 20)) "compr_data_size within mem_limit"
	sw_finish
}

# contrib/zramfs-swap on / status / off.
case_swap_helper() {
	sw_need
	local m=$W/zs out l
	export ZRAMFS_SWAP_OPTS=${ZRAMFS_SWAP_OPTS-$SWAP_OPTS}
	export ZRAMFS_SWAP_STATE=$W/zramfs-swap.state
	SW_HELPER=$m SW_MNT=$m SW_FILE=$m/swapfile
	out=$("$SW_TOP/contrib/zramfs-swap" on 256M "$m" 2>&1) || fail "zramfs-swap on: $out"
	echo "$m" >>"$REG"
	is_mounted "$m" || fail "not mounted"
	l=$(losetup -n -O NAME -j "$m/swapfile")
	[ -n "$l" ] || fail "no loop device on $m/swapfile"
	swapon --show=NAME --noheadings | grep -qx "$l" || fail "swapon --show does not list $l"
	out=$("$SW_TOP/contrib/zramfs-swap" status "$m") || fail "status: $out"
	echo "$out" | grep -q "^$l " || fail "status has no swap line: $out"
	echo "$out" | grep -q "^mem_used_total [0-9]" || fail "status has no mem_used_total: $out"
	echo "$out" | grep -q "^orig_data_size [0-9]" || fail "status has no orig_data_size: $out"
	"$SW_TOP/contrib/zramfs-swap" on 256M "$m" 2>/dev/null && fail "a second 'on' succeeded"
	# the helper's chunk size for swap files, and its mlock mount
	assert_eq "$(getfattr --only-values -n user.zramfs.chunk "$m/swapfile")" 16K \
		"user.zramfs.chunk of the swap file"
	awk '/^VmLck/ { exit !($2 > 0) }' "/proc/$(daemon_pid "$m")/status" ||
		fail "the swap mount's daemon is not locked in memory"
	sw_hog 64 160
	assert_ge "$HOG_SWPOUT" 10000 "pswpout (pages)"
	out=$("$SW_TOP/contrib/zramfs-swap" off "$m" 2>&1) || fail "zramfs-swap off: $out"
	SW_HELPER=""
	is_swap "$l" && fail "$l still swapping"
	losetup -n -O NAME -j "$m/swapfile" 2>/dev/null | grep -q . && fail "loop device left"
	losetup -n -O BACK-FILE "$l" 2>/dev/null | grep -qF "$m/swapfile" && fail "$l still attached"
	is_mounted "$m" && fail "$m still mounted"
	[ -e "$m" ] && fail "$m left behind"
	[ -e "$ZRAMFS_SWAP_STATE" ] && fail "state file left: $(cat "$ZRAMFS_SWAP_STATE")"
	sw_finish
}
