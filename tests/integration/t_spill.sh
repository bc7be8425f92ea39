# t_spill.sh - the writeback tier: -o spill=DIR, mem_limit, the writeback
# control, bad spill directories.  Cases mount their own instances under
# $W (on /var/tmp, not tmpfs).
ZMOUNT=no

spill_data() {
	# real data: a slice of the linux source tar and binaries
	local out=$1 mib=$2 tar=/var/tmp/zr-bench/linux-source-6.1.tar
	{
		find /usr/lib /usr/bin -type f -size +100k 2>/dev/null | head -n 400 | xargs cat 2>/dev/null | head -c $((mib / 4 * 1048576))
		if [ -r "$tar" ]; then head -c $((mib * 1048576)) "$tar"; else
			find /usr/share /usr/include -type f 2>/dev/null | xargs cat 2>/dev/null | head -c $((mib * 1048576)); fi
	} | head -c $((mib * 1048576)) >"$out"
	assert_eq "$(fsize "$out")" $((mib * 1048576)) "test data size"
}

case_bad_dir() {
	need_zramfs
	local m=$W/bad out ro=$W/ro
	mkdir -p "$m"
	out=$("$ZRAMFS" "$m" -o spill=/nonexistent/zr-spill 2>&1) && fail "mount with a missing spill dir succeeded"
	echo "$out" | grep -q "/nonexistent/zr-spill" || fail "message does not name the dir: $out"
	out=$("$ZRAMFS" "$m" -o spill=/etc/passwd 2>&1) && fail "mount with a file as spill dir succeeded"
	echo "$out" | grep -q "/etc/passwd.*Not a directory" || fail "message: $out"
	mkdir -p "$ro"
	mount --bind "$ro" "$ro" && mount -o remount,ro,bind "$ro" || skip "cannot make a read-only bind mount"
	out=$("$ZRAMFS" "$m" -o spill="$ro" 2>&1)
	local rc=$?
	umount "$ro"
	[ $rc = 0 ] && fail "mount with a read-only spill dir succeeded"
	echo "$out" | grep -q "$ro.*Read-only" || fail "message: $out"
	is_mounted "$m" && fail "mounted anyway"
	return 0
}

case_mem_limit_without_spill() {
	need_zramfs
	local m=$W/nospill out
	zmount "$m" "mem_limit=16M" || fail "mount"
	head -c 33554432 /dev/urandom >"$W/rand"
	out=$(dd if="$W/rand" of="$m/big" bs=1M conv=fsync status=none 2>&1) && fail "32 MiB of random data fit in mem_limit=16M"
	echo "$out" | grep -q "No space left on device" || fail "dd error is not ENOSPC: $out"
	assert_eq "$(getfattr --only-values -n user.zramfs.mem_limit "$m")" 16777216 "mem_limit read back"
	assert_eq "$(zstat mem_limit "$m")" 16777216 "mem_limit in stats"
	out=$(setfattr -n user.zramfs.writeback -v all "$m" 2>&1) && fail "writeback without spill succeeded"
	echo "$out" | grep -q "No such device" || fail "writeback without spill: $out"
	zumount "$m" || fail "unmount"
}

case_spill_big() {
	need_zramfs
	local m=$W/big sp=$W/spilldir pid peak=0 rss limit=$((64 * 1048576))
	mkdir -p "$sp"
	spill_data "$W/data" 384
	zmount "$m" "mem_limit=64M,spill=$sp" || fail "mount"
	pid=$(daemon_pid "$m")
	[ -n "$pid" ] || fail "no daemon pid"
	( while kill -0 "$pid" 2>/dev/null; do
		awk '/^VmRSS/ { print $2 }' /proc/"$pid"/status 2>/dev/null
		sleep 0.2
	  done >"$W/rss" ) &
	local sampler=$!
	cp "$W/data" "$m/a" || fail "cp a"
	head -c 67108864 "$W/data" >"$m/b" || fail "write b"
	sync
	assert_gt "$(zstat spilled_chunks "$m")" 0 "spilled_chunks"
	assert_gt "$(zstat spill_bytes "$m")" 0 "spill_bytes"
	assert_eq "$(zstat spill_failed_writes "$m")" 0 "spill_failed_writes"
	echo 3 >/proc/sys/vm/drop_caches
	cmp "$W/data" "$m/a" || fail "a differs after writeback"
	head -c 67108864 "$W/data" | cmp - "$m/b" || fail "b differs after writeback"
	assert_gt "$(zstat spill_reads "$m")" 0 "spill_reads"
	assert_eq "$(zstat spill_failed_reads "$m")" 0 "spill_failed_reads"
	assert_eq "$(ls -A "$sp" | wc -l)" 0 "files in the spill dir"
	kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null
	peak=$(sort -n "$W/rss" | tail -n1)
	note "peak RSS ${peak} KiB, spill_bytes $(zstat spill_bytes "$m"), spill_file_bytes $(zstat spill_file_bytes "$m")"
	sanitized_daemon ||
		assert_le "$((peak * 1024))" $((limit * 5 / 4 + 32 * 1048576)) "peak daemon RSS (KiB*1024)"
	rm "$m/a" "$m/b"
	wait_until 10 zstat_is spilled_chunks 0 "$m" || fail "spilled_chunks after rm: $(zstat spilled_chunks "$m")"
	wait_until 10 zstat_is spill_file_bytes 0 "$m" || fail "spill_file_bytes after rm: $(zstat spill_file_bytes "$m")"
	assert_eq "$(zstat spill_bytes "$m")" 0 "spill_bytes after rm"
	zumount "$m" || fail "unmount"
	rm -f "$W/data"
}

case_writeback_control() {
	need_zramfs
	local m=$W/ctl sp=$W/spill2 c0
	mkdir -p "$sp"
	zmount "$m" "spill=$sp,mode=777" || fail "mount"
	spill_data "$W/d2" 8
	head -c 1048576 /dev/urandom >"$W/rnd"
	cp "$W/d2" "$m/f"; cp "$W/rnd" "$m/r"; sync
	assert_eq "$(zstat spilled_chunks "$m")" 0 "nothing spilled before the control"
	# only root or the mount owner
	as_user "$U1" setfattr -n user.zramfs.writeback -v all "$m" 2>/dev/null && fail "unprivileged writeback succeeded"
	# only on the root, only known values
	setfattr -n user.zramfs.writeback -v all "$m/f" 2>/dev/null && fail "writeback on a file succeeded"
	setfattr -n user.zramfs.writeback -v bogus "$m" 2>/dev/null && fail "writeback=bogus succeeded"
	setfattr -n user.zramfs.writeback -v huge "$m" || fail "writeback=huge"
	assert_eq "$(zstat spilled_chunks "$m")" 16 "huge: the 16 random chunks"
	assert_eq "$(zstat huge_chunks "$m")" 0 "huge_chunks after writeback=huge"
	setfattr -n user.zramfs.writeback -v all "$m" || fail "writeback=all"
	assert_eq "$(zstat compressed_chunks "$m")" 0 "compressed_chunks after writeback=all"
	c0=$(zstat spilled_chunks "$m")
	assert_gt "$c0" 16 "spilled_chunks after all"
	assert_eq "$(zstat compr_data_size "$m")" 0 "compr_data_size after all"
	echo 3 >/proc/sys/vm/drop_caches
	cmp "$W/d2" "$m/f" || fail "f after writeback"
	cmp "$W/rnd" "$m/r" || fail "r after writeback"
	assert_eq "$(zstat promoted_chunks "$m")" 0 "promoted after one read"
	# an overwrite frees its extent
	dd if=/dev/zero of="$m/f" bs=64k count=1 conv=notrunc,fsync status=none
	wait_until 5 zstat_is spilled_chunks $((c0 - 1)) "$m" || fail "spilled after overwrite: $(zstat spilled_chunks "$m")"
	# mem_limit at run time
	setfattr -n user.zramfs.mem_limit -v 32M "$m" || fail "set mem_limit"
	assert_eq "$(zstat mem_limit "$m")" 33554432 "mem_limit after set"
	# read a second time since it was spilled: hot again, promoted
	echo 3 >/proc/sys/vm/drop_caches; cat "$m/r" >/dev/null
	assert_gt "$(zstat promoted_chunks "$m")" 0 "promoted_chunks after reading twice"
	cmp "$W/rnd" "$m/r" || fail "r after promotion"
	rm "$m/f" "$m/r"
	wait_until 10 zstat_is spill_file_bytes 0 "$m" || fail "spill_file_bytes after rm"
	zumount "$m" || fail "unmount"
}

case_spill_limit() {
	need_zramfs
	local m=$W/lim sp=$W/spill3
	mkdir -p "$sp"
	zmount "$m" "spill=$sp,spill_limit=1M" || fail "mount"
	head -c 4194304 /dev/urandom >"$W/r4"
	cp "$W/r4" "$m/r"; sync
	setfattr -n user.zramfs.writeback -v all "$m" || fail "writeback with a full spill must not fail"
	assert_le "$(zstat spill_bytes "$m")" 1048576 "spill_bytes within spill_limit"
	assert_gt "$(zstat spill_failed_writes "$m")" 0 "spill_failed_writes when full"
	assert_gt "$(zstat huge_chunks "$m")" 0 "chunks left in RAM"
	echo 3 >/proc/sys/vm/drop_caches
	cmp "$W/r4" "$m/r" || fail "data with a full spill"
	zumount "$m" || fail "unmount"
}

# The spill directory's own filesystem fills up (a 12 MiB loop-mounted
# ext4): writes end in ENOSPC once RAM (mem_limit) is full too, every byte
# stored reads back right, the failures are counted, the daemon serves on.
case_spill_disk_full() {
	need_zramfs
	local m=$W/dfull sp=$W/smallfs img=$W/small.img
	truncate -s 12M "$img" && mkfs.ext4 -q -F "$img" || skip "cannot make an ext4 image"
	mkdir -p "$sp"
	echo "$sp" >>"$REG"
	mount -o loop "$img" "$sp" || skip "cannot loop-mount"
	zmount "$m" "mem_limit=16M,spill=$sp,size=1G" || fail "mount"
	echo "written before" >"$m/keep"
	spill_data "$W/data" 96
	dd if="$W/data" of="$m/big" bs=1M status=none 2>"$W/dd.err" &&
		fail "96 MiB into 16 MiB of RAM and a 12 MiB spill disk succeeded"
	grep -q "No space left on device" "$W/dd.err" || fail "dd error: $(cat "$W/dd.err")"
	assert_gt "$(zstat spill_failed_writes "$m")" 0 "spill_failed_writes once the disk is full"
	sync; echo 3 >/proc/sys/vm/drop_caches
	local got wrong
	got=$(fsize "$m/big")
	assert_gt "$got" 16777216 "bytes accepted (RAM + spill disk)"
	wrong=$(cmp -l -n "$got" "$W/data" "$m/big" | awk '$3 != "0"' | wc -l)
	assert_eq "$wrong" 0 "bytes stored with wrong contents"
	assert_eq "$(cat "$m/keep")" "written before" "other file intact"
	rm "$m/big"
	wait_until 10 sh -c "echo again >'$m/again'" || fail "writing after freeing space"
	assert_eq "$(cat "$m/again")" again "daemon serves on"
	zumount "$m" || fail "unmount"
	# the daemon exits (closing its spill file) just after fusermount3 returns
	wait_until 10 umount "$sp" || fail "unmount the spill filesystem"
}

# A write larger than the room left under mem_limit must not meet the
# arena's cap while the spill can make room: the workers wait for the
# writeback instead (incompressible data, a 4M limit, 1 MiB writes).
case_big_writes_tiny_limit() {
	need_zramfs
	local m=$W/tiny sp=$W/sp.tiny
	mkdir -p "$m" "$sp"
	echo "$m" >>"$REG"
	"$ZRAMFS" "$m" -o "mem_limit=4M,spill=$sp" || fail "mount"
	head -c 32M /dev/urandom >"$W/rnd"
	dd if="$W/rnd" of="$m/f" bs=1M conv=fsync status=none || fail "dd with a 4M mem_limit and a spill"
	assert_eq "$(zstat enospc_events "$m")" 0 "enospc_events"
	echo 3 >/proc/sys/vm/drop_caches
	cmp "$W/rnd" "$m/f" || fail "content"
	fusermount3 -u "$m"
}
