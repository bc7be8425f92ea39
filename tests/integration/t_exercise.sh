# t_exercise.sh - zr_exercise, the model-based random exerciser (pwrite,
# pread, truncate, punch, zero range, fallocate, mmap, rename, link,
# unlink while open, reopen, copy_file_range, SEEK_DATA/SEEK_HOLE), with
# fixed seeds, in every storage configuration: lz4 and zstd:3, workers
# 0 (inline), 1 and 2, chunk 4K and 64K, a 4 MiB mem_limit with a spill
# directory under constant writeback, forced compaction, a full size=
# (ENOSPC, the exerciser's error mode), no writeback cache; and once on
# tmpfs to validate the exerciser itself.  After each configuration the
# files are removed and the mount must hold nothing (orig_data_size 0,
# chunks 0).  Cases mount their own instances under $W.
#
# Each run prints the exerciser's summary line as a note (ZR_VERBOSE=1);
# on a failure, the op log, the offset and bytes that differ, and the
# command that reproduces it.
#
# Soak mode: ZR_SOAK_SECONDS=N runs each seed of each configuration for N
# seconds (zr_exercise -t N) instead of a fixed number of operations
# (ZR_EXERCISE_OPS, default 3000); give run.sh a ZR_TIMEOUT that covers
# it (about 4 * N + 30 per case), e.g.
#   ZR_SOAK_SECONDS=60 ZR_TIMEOUT=300 ZR_CASES=exercise sh tests/integration/run.sh
ZMOUNT=no

EX_OPS=${ZR_EXERCISE_OPS:-3000}
EX_SEEDS="1 2 3"

# ex_mount DIR OPTS - zmount, and unmount it when the case exits early
ex_mount() {
	zmount "$1" "$2" || fail "mount -o $2"
	unmount_on_exit "$1"
}

ex_len() {
	if [ -n "${ZR_SOAK_SECONDS:-}" ]; then echo "-t $ZR_SOAK_SECONDS"; else echo "-n $EX_OPS"; fi
}

# ex_run MNT MOUNT_OPTS SEED [EXERCISER ARGS...] - one run in MNT/ex.SEED,
# then its files removed
ex_run() {
	local m=$1 opts=$2 seed=$3 out rc
	shift 3
	out=$("$TOOLS/zr_exercise" -s "$seed" $(ex_len) "$@" "$m/ex.$seed" 2>&1)
	rc=$?
	if [ $rc != 0 ]; then
		echo "$out" | tail -n 40 >&2
		fail "zr_exercise failed (rc $rc); reproduce: mount with -o '$opts', then" \
			"${ZR_EXERCISE_ALLOW_ERRORS:+ZR_EXERCISE_ALLOW_ERRORS=1 }zr_exercise -s $seed $(ex_len) $* DIR"
	fi
	note "-o ${opts:-(defaults)}: $(echo "$out" | tail -n1)"
	rm -rf "$m/ex.$seed" || fail "rm -rf $m/ex.$seed"
}

# ex_empty MNT - after removing everything the mount holds no data
ex_empty() {
	local ZMNT=$1
	zstat_settles orig_data_size 0 "orig_data_size after removing all files"
	zstat_settles chunks 0 "chunks after removing all files"
	zstat_settles files 0 "files after removing all files"
	zstat_settles dirty_chunks 0 "dirty_chunks after removing all files"
	zstat_settles compr_data_size 0 "compr_data_size after removing all files"
}

# ex_config NAME MOUNT_OPTS [EXERCISER ARGS...] - mount, run the seeds, check, unmount
ex_config() {
	need_zramfs
	local name=$1 opts=$2 m=$W/$1 s
	shift 2
	ex_mount "$m" "$opts"
	for s in $EX_SEEDS; do
		ex_run "$m" "$opts" "$s" "$@"
	done
	ex_empty "$m"
	zumount "$m" || fail "unmount $m"
}

# -S: fsync before each SEEK_DATA/SEEK_HOLE (see case_seek_dirty_pages)

case_tmpfs_reference() {
	local m=$W/tmpfs s
	mkdir -p "$m"
	echo "$m" >>"$REG"
	mount -t tmpfs -o size=256M tmpfs "$m" || skip "cannot mount tmpfs"
	unmount_on_exit "$m"
	for s in $EX_SEEDS; do
		ex_run "$m" tmpfs "$s"
	done
	umount "$m" || fail "umount tmpfs"
}

case_lz4_default() { ex_config lz4 "" -S; }
case_lz4_inline() { ex_config lz4_w0 "workers=0" -S; }
case_lz4_chunk4k_workers1() { ex_config lz4_4k_w1 "chunk=4K,workers=1" -S; }
case_zstd_workers2() { ex_config zstd_w2 "comp=zstd:3,workers=2" -S; }
case_zstd_chunk4k_inline() { ex_config zstd_4k_w0 "comp=zstd:3,chunk=4K,workers=0" -S; }
case_zstd_chunk4k_workers1() { ex_config zstd_4k_w1 "comp=zstd:3,chunk=4K,workers=1" -S; }
# no writeback cache: writes reach the daemon at once, lseek checked as is
case_no_wbcache() { ex_config nowb "wbcache=0,workers=1"; }

# bg_control MNT ATTR VALUE PERIOD - set a control xattr on MNT in a loop
# (the runner kills the case's process group; ex_stop_bg does it first)
bg_control() {
	local m=$1 a=$2 v=$3 p=$4
	while is_mounted "$m"; do
		setfattr -n "$a" -v "$v" "$m" 2>/dev/null
		sleep "$p"
	done
}
ex_stop_bg() { kill "$@" 2>/dev/null; wait "$@" 2>/dev/null; return 0; }

# mem_limit=4M, files up to 16 MiB each: chunks go to the spill file and
# come back all the time; a loop forces writeback=all on top.
ex_spill() {
	need_zramfs
	local name=$1 opts="mem_limit=4M,spill=$W/spill.$1${2:+,$2}" m=$W/$1 s bg
	mkdir -p "$W/spill.$name"
	ex_mount "$m" "$opts"
	bg_control "$m" user.zramfs.writeback all 0.2 &
	bg=$!
	for s in $EX_SEEDS; do
		ex_run "$m" "$opts" "$s" -S -m 16M
	done
	ex_stop_bg $bg
	assert_gt "$(zstat spill_writes "$m")" 0 "spill_writes"
	assert_gt "$(zstat spill_reads "$m")" 0 "spill_reads"
	assert_eq "$(zstat spill_failed_writes "$m")" 0 "spill_failed_writes"
	assert_eq "$(zstat spill_failed_reads "$m")" 0 "spill_failed_reads"
	note "spill_writes $(zstat spill_writes "$m") spill_reads $(zstat spill_reads "$m") promoted $(zstat promoted_chunks "$m")"
	ex_empty "$m"
	wait_until 10 zstat_is spilled_chunks 0 "$m" || fail "spilled_chunks after rm: $(zstat spilled_chunks "$m")"
	wait_until 10 zstat_is spill_file_bytes 0 "$m" || fail "spill_file_bytes after rm: $(zstat spill_file_bytes "$m")"
	zumount "$m" || fail "unmount $m"
}
case_spill_lz4() { ex_spill spill_lz4 ""; }
case_spill_zstd_chunk4k() { ex_spill spill_zstd_4k "comp=zstd:3,chunk=4K,workers=1"; }
case_spill_inline() { ex_spill spill_w0 "workers=0"; }

# compaction forced every 50 ms while the exerciser frees and rewrites
case_compact_often() {
	need_zramfs
	local m=$W/compact opts="workers=2" s bg
	ex_mount "$m" "$opts"
	bg_control "$m" user.zramfs.compact 1 0.05 &
	bg=$!
	for s in $EX_SEEDS; do
		ex_run "$m" "$opts" "$s" -S
	done
	ex_stop_bg $bg
	assert_gt "$(zstat arena_compactions "$m")" 0 "arena_compactions"
	note "arena_compactions $(zstat arena_compactions "$m") objects_moved $(zstat arena_objects_moved "$m")"
	ex_empty "$m"
	zumount "$m" || fail "unmount"
}

# idle recompression forced every 100 ms (and the background thread, 1 s
# idle) while the exerciser writes, punches, truncates and reads
case_recompress_often() {
	need_zramfs
	local m=$W/recomp opts="workers=2,recompress_idle=1" s bg
	ex_mount "$m" "$opts"
	bg_control "$m" user.zramfs.recompress all 0.1 &
	bg=$!
	for s in $EX_SEEDS; do
		ex_run "$m" "$opts" "$s" -S
	done
	ex_stop_bg $bg
	note "recompressed_chunks $(zstat recompressed_chunks "$m") saved $(zstat recompress_saved_bytes "$m")"
	ex_empty "$m"
	wait_until 10 zstat_is recompress_pending 0 "$m" ||
		fail "recompress_pending after removing all files: $(zstat recompress_pending "$m")"
	zumount "$m" || fail "unmount"
}

# size=6M for 4 files of up to 4 MiB: writes meet ENOSPC; the exerciser's
# error mode adopts what a failed range holds, and checks every other byte.
ex_enospc() {
	need_zramfs
	local m=$W/$1 opts=$2 s
	ex_mount "$m" "$opts"
	for s in $EX_SEEDS; do
		ZR_EXERCISE_ALLOW_ERRORS=1 ex_run "$m" "$opts" "$s" -S
	done
	assert_gt "$(zstat enospc_events "$m")" 0 "enospc_events"
	ex_empty "$m"
	zumount "$m" || fail "unmount"
}
case_enospc() { ex_enospc enospc "size=6M"; }
case_enospc_no_wbcache() { ex_enospc enospc_nowb "size=6M,wbcache=0,chunk=4K"; }

# SEEK_DATA/SEEK_HOLE right after buffered writes, writeback cache on (the
# default), no fsync first: the answer must cover the data written.  (The
# kernel sends FUSE_LSEEK without writing its dirty pages back first.)
case_seek_dirty_pages() {
	need_zramfs
	local m=$W/seek
	ex_mount "$m" ""
	EX_OPS=500 ex_run "$m" "" 1
	ex_empty "$m"
	zumount "$m" || fail "unmount"
}

# The writeback cache sends a write the daemon can store only in part
# (size= reached after some chunks): fsync must then fail, or every byte
# must read back (a short reply to a writeback WRITE is dropped silently
# by the kernel).  The exerciser's enospc case finds it; this is its core.
case_enospc_partial_write() {
	need_zramfs
	local m=$W/partial i
	ex_mount "$m" "size=6M"
	head -c $((6291456 - 100000)) /dev/urandom >"$m/fill" || fail "fill"
	for i in $(seq 6000); do echo "return 0; arena static int chunk $i"; done |
		head -c 196608 >"$W/text"
	if dd if="$W/text" of="$m/f" bs=196608 conv=fsync status=none 2>"$W/dd.err"; then
		echo 3 >/proc/sys/vm/drop_caches
		cmp "$W/text" "$m/f" >/dev/null || fail "fsync succeeded but the file reads back wrong: $(cmp "$W/text" "$m/f" 2>&1 | head -1)"
	else
		grep -q "No space left on device" "$W/dd.err" || fail "dd error: $(cat "$W/dd.err")"
	fi
	rm -f "$m/f" "$m/fill"
	ex_empty "$m"
	zumount "$m" || fail "unmount"
}
