# t_limits.sh - ENOSPC, EFBIG, nr_inodes.  Cases mount their own small
# instances under $W.
ZOPTS="size=64M"

case_enospc() {
	local m=$W/small out
	zmount "$m" "size=8M" || fail "mount size=8M"
	head -c 1000000 /dev/urandom >"$W/keep"
	cp "$W/keep" "$m/keep"
	head -c 16777216 /dev/urandom >"$W/big"
	out=$(dd if="$W/big" of="$m/big" bs=64k status=none 2>&1) && fail "writing 16 MiB into size=8M succeeded"
	echo "$out" | grep -q "No space left on device" || fail "dd error is not ENOSPC: $out"
	# With the writeback cache the error surfaces at close (as on NFS) and
	# the kernel's cached size still counts the pages it could not write
	# back; dropping the inode shows what zramfs stored.
	local got
	sync; echo 3 >/proc/sys/vm/drop_caches
	got=$(fsize "$m/big")
	assert_le "$got" 8388608 "bytes accepted"
	assert_gt "$got" 4000000 "bytes accepted before ENOSPC"
	# Writeback sends several WRITEs at once, so the ones that lost the race
	# for the last space can lie before ones that won: such ranges read as
	# zeros (the loss was reported at close).  No byte may be wrong.
	local wrong
	wrong=$(cmp -l -n "$got" "$W/big" "$m/big" | awk '$3 != "0"' | wc -l)
	assert_eq "$wrong" 0 "bytes stored with wrong contents"
	local differ
	differ=$(cmp -l -n "$got" "$W/big" "$m/big" | wc -l)
	assert_le "$differ" $((got - 4000000)) "at least 4 MB stored intact"
	cmp "$W/keep" "$m/keep" || fail "other file damaged by ENOSPC"
	# freeing space makes room again
	rm "$m/big"
	wait_until 10 dd if="$W/big" of="$m/again" bs=1M count=6 status=none ||
		fail "cannot write 6 MiB after freeing space"
	cmp -n 6291456 "$W/big" "$m/again" || fail "data after refill"
	# sparse files do not count against size=
	truncate -s 1G "$m/sparse" || fail "sparse file larger than size="
	# fallocate beyond the limit is refused
	expect_errno ENOSPC "$ZR" falloc "$m/fa" alloc 0 100M
	zumount "$m" || fail "unmount"
}

case_efbig() {
	need_zramfs
	: >"$Z/f"
	expect_errno EFBIG "$ZR" trunc "$Z/f" 17T
	local out
	out=$(truncate -s 17T "$Z/f" 2>&1) && fail "truncate -s 17T succeeded"
	echo "$out" | grep -q "File too large" || fail "truncate -s 17T: $out"
	assert_eq "$(fsize "$Z/f")" 0 "size after failed truncate"
	# a write past the limit
	out=$(printf x | dd of="$Z/f" bs=1 seek=$((17 << 40)) status=none 2>&1) && fail "write at 17T succeeded"
	echo "$out" | grep -Eq "File too large|Invalid argument" || fail "write at 17T: $out"
	truncate -s 16T "$Z/g" 2>/dev/null; rm -f "$Z/g"
}

case_nr_inodes() {
	local m=$W/ino i made=0
	zmount "$m" "size=16M,nr_inodes=20" || fail "mount nr_inodes=20"
	for i in $(seq 1 40); do
		if : >"$m/f$i" 2>/dev/null; then made=$((made + 1)); else break; fi
	done
	assert_lt "$made" 40 "files created with nr_inodes=20"
	assert_ge "$made" 15 "files created with nr_inodes=20"
	expect_errno ENOSPC "$ZR" open "$m/one-more" wronly,creat
	expect_errno ENOSPC "$ZR" mkdir "$m/dir"
	rm "$m/f1"
	wait_until 10 touch "$m/after-rm" || fail "cannot create after freeing an inode"
	zumount "$m" || fail "unmount"
}

case_name_and_path_limits() {
	local n255
	n255=$(printf 'a%.0s' $(seq 1 255))
	mkdir "$Z/$n255" || fail "255-byte dir name"
	: >"$Z/$n255/$n255" || fail "255-byte file name"
	expect_errno ENAMETOOLONG "$ZR" open "$Z/${n255}b" wronly,creat
	expect_errno ENAMETOOLONG "$ZR" rename2 "$Z/$n255/$n255" "$Z/${n255}b"
	expect_errno ENAMETOOLONG "$ZR" link "$Z/$n255/$n255" "$Z/${n255}b"
	# a deep path (about 3000 bytes)
	local p=$Z i
	for i in $(seq 1 30); do p=$p/dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd; done
	mkdir -p "$p" || fail "deep mkdir -p"
	echo deep >"$p/f"
	assert_eq "$(cat "$p/f")" deep "deep file"
	rm -rf "$Z/dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
}
