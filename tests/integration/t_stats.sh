# t_stats.sh - user.zramfs.stats consistency and statfs.  The cases run in
# order on one mount and build on each other (state in $ZMNT/.. files).
ZOPTS="size=256M,chunk=64K"

st() { zstat "$1"; }
base_file() { echo "$ZMNT/../stats.base"; }

case_empty_baseline() {
	need_zramfs
	assert_eq "$(st orig_data_size)" 0 "orig_data_size of an empty mount"
	assert_eq "$(st compr_data_size)" 0 "compr_data_size of an empty mount"
	assert_eq "$(st same_chunks)" 0 "same_chunks of an empty mount"
	assert_eq "$(st huge_chunks)" 0 "huge_chunks of an empty mount"
	st mem_used_total >"$(base_file)"
}

case_statfs_size() {
	local size avail1 avail2
	size=$(df -B1 --output=size "$ZMNT" | tail -n1 | tr -d ' ')
	assert_eq "$size" 268435456 "df size with size=256M"
	avail1=$(df -B1 --output=avail "$ZMNT" | tail -n1 | tr -d ' ')
	head -c 20971520 /dev/urandom >"$Z/f"
	sync
	avail2=$(df -B1 --output=avail "$ZMNT" | tail -n1 | tr -d ' ')
	assert_lt "$avail2" "$avail1" "free space after writing 20 MiB"
	assert_ge "$((avail1 - avail2))" 20000000 "free space drop after writing 20 MiB"
	rm "$Z/f"; sync
	avail_is() { [ "$(df -B1 --output=avail "$ZMNT" | tail -n1 | tr -d ' ')" = "$1" ]; }
	wait_until 10 avail_is "$avail1" || true
	assert_eq "$(df -B1 --output=avail "$ZMNT" | tail -n1 | tr -d ' ')" "$avail1" "free space after rm (waited up to 10 s)"
	# inode counts move with files
	local i1 i2
	i1=$(df --output=iused "$ZMNT" | tail -n1 | tr -d ' ')
	touch "$Z/a" "$Z/b" "$Z/c"
	i2=$(df --output=iused "$ZMNT" | tail -n1 | tr -d ' ')
	assert_eq "$((i2 - i1))" 3 "inodes used after creating 3 files"
	rm "$Z/a" "$Z/b" "$Z/c"
}

case_data_kinds() {
	need_zramfs
	local o0 s0 h0 c0 o1 s1 h1 c1
	o0=$(st orig_data_size); c0=$(st compr_data_size)
	# 8 MiB of concatenated binaries (compressible)
	find /usr/lib /usr/bin -type f -size +200k 2>/dev/null | head -n 200 | xargs cat 2>/dev/null | head -c 8388608 >"$W/bin"
	assert_eq "$(fsize "$W/bin")" 8388608 "test data size"
	cp "$W/bin" "$Z/bin"; sync
	o1=$(st orig_data_size); c1=$(st compr_data_size)
	assert_eq "$((o1 - o0))" 8388608 "orig_data_size after 8 MiB of binaries"
	assert_lt "$((c1 - c0))" 8388608 "compr_data_size of binaries (must compress)"
	# 4 MiB of zeros: same-filled chunks
	s0=$(st same_chunks); h0=$(st huge_chunks)
	head -c 4194304 /dev/zero >"$Z/zero"; sync
	s1=$(st same_chunks)
	assert_gt "$s1" "$s0" "same_chunks after 4 MiB of zeros"
	assert_eq "$((s1 - s0))" 64 "same_chunks: 4 MiB / 64K chunks"
	assert_eq "$(st orig_data_size)" "$((o1 + 4194304))" "orig_data_size after zeros"
	# 4 MiB of random: incompressible chunks
	head -c 4194304 /dev/urandom >"$Z/rand"; sync
	h1=$(st huge_chunks)
	assert_gt "$h1" "$h0" "huge_chunks after 4 MiB of random data"
	assert_eq "$((h1 - h0))" 64 "huge_chunks: 4 MiB / 64K chunks"
	assert_eq "$(st orig_data_size)" "$((o1 + 8388608))" "orig_data_size after random"
	assert_ge "$(st mem_used_total)" "$(st compr_data_size)" "mem_used_total >= compr_data_size"
	cmp "$W/bin" "$Z/bin" || fail "binaries read back"
	cmp -n 4194304 "$Z/zero" /dev/zero || fail "zeros read back"
}

case_file_stats() {
	need_zramfs
	head -c 300000 /dev/urandom >"$Z/f"; sync
	local out
	out=$(zstat_all "$Z/f")
	echo "$out" | grep -qx 'size 300000' || fail "file size in stats: $out"
	echo "$out" | grep -qx 'chunks 5' || fail "300000 bytes = 5 chunks of 64K: $out"
	# a sparse file: only the written chunk counts
	truncate -s 100M "$Z/sp"; printf x >>"$Z/sp"
	out=$(zstat_all "$Z/sp")
	echo "$out" | grep -qx 'chunks 1' || fail "sparse file chunks: $out"
	echo "$out" | grep -qx 'orig_data_size 1' || echo "$out" | grep -qx 'size 104857601' || fail "sparse file stats: $out"
}

case_overwrite_and_holes() {
	need_zramfs
	local o0
	o0=$(st orig_data_size)
	head -c 1048576 /dev/urandom >"$Z/ow"; sync
	assert_eq "$(st orig_data_size)" "$((o0 + 1048576))" "after 1 MiB"
	dd if=/dev/urandom of="$Z/ow" bs=4096 count=10 seek=3 conv=notrunc status=none; sync
	assert_eq "$(st orig_data_size)" "$((o0 + 1048576))" "overwrite must not grow orig_data_size"
	truncate -s 10M "$Z/ow"; sync
	assert_eq "$(st orig_data_size)" "$((o0 + 1048576))" "extending truncate adds only a hole"
	truncate -s 65536 "$Z/ow"; sync
	assert_eq "$(st orig_data_size)" "$((o0 + 65536))" "shrinking truncate frees"
	truncate -s 1000 "$Z/ow"; sync
	assert_eq "$(st orig_data_size)" "$((o0 + 1000))" "orig_data_size counts bytes, not chunks"
	rm "$Z/ow"
	zstat_settles orig_data_size "$o0" "after rm"
}

case_unlinked_open_file() {
	local o0 during
	o0=$( [ "${IS_TMPFS:-0}" = 1 ] && echo 0 || st orig_data_size)
	# data survives unlink while open (checked by the tool), and stats
	# still count it while open
	if [ "${IS_TMPFS:-0}" = 1 ]; then
		expect_ok "$ZR" unlinked "$Z/u" 3000000
	else
		expect_ok "$ZR" unlinked "$Z/u" 3000000 "getfattr --only-values -n user.zramfs.stats '$ZMNT' > '$W/during' 2>/dev/null"
		during=$(awk '$1 == "orig_data_size" { print $2 }' "$W/during")
		assert_eq "$during" "$((o0 + 3000000))" "orig_data_size while unlinked but open"
		sync
		zstat_settles orig_data_size "$o0" "orig_data_size after the last close (waited up to 10 s)"
	fi
	# the same with a shell fd
	head -c 500000 /dev/urandom >"$W/r"
	cp "$W/r" "$Z/v"
	exec 3<"$Z/v"
	rm "$Z/v"
	[ ! -e "$Z/v" ] || fail "still there after rm"
	cmp - "$W/r" <&3 || fail "data through fd after rm"
	exec 3<&-
	# a new file with the same name is a different file
	echo new >"$Z/v"
	assert_eq "$(cat "$Z/v")" new "new file of the same name"
	rm "$Z/v"
}

# A delete gives its memory back even when it is small beside the mount:
# 3 MiB of raw (incompressible) chunks under 100 MiB of others is below
# both the arena's reuse-cache bound and its compaction trigger, so only
# the housekeeper's idle purge returns it.
case_small_delete_returns_memory() {
	need_zramfs
	local m1
	head -c 100M /dev/urandom >"$Z/keep" || fail "write keep"
	head -c 3M /dev/urandom >"$Z/small" || fail "write small"
	sync
	m1=$(st mem_used_total)
	rm "$Z/small"; sync
	freed() { [ "$(st mem_used_total)" -le $((m1 - 2621440)) ]; }
	wait_until 10 freed || fail "mem_used_total $(st mem_used_total) 10 s after deleting 3 MiB, was $m1"
	rm "$Z/keep"
}

case_cleanup_returns_to_baseline() {
	need_zramfs
	local base
	find "$ZMNT" -mindepth 1 -delete || fail "rm everything"
	sync
	zstat_settles orig_data_size 0 "orig_data_size after rm everything"
	zstat_settles compr_data_size 0 "compr_data_size after rm everything"
	base=$(cat "$(base_file)" 2>/dev/null) || skip "baseline case did not run"
	mem_near() { [ "$(st mem_used_total)" -le $((base + 2097152)) ]; }
	wait_until 10 mem_near || true
	mem_near || fail "mem_used_total $(st mem_used_total) after rm everything, empty-mount baseline $base (+2 MiB allowed)
$(zstat_all | grep -E '^(heap_bytes|table_bytes|arena_mapped_bytes|arena_meta_bytes|arena_objects) ')"
	# everything below the mount root is gone: no files, the root alone
	assert_eq "files=$(st files) dirs=$(st dirs)" "files=0 dirs=1" "file/dir counts after rm"
}

case_compact() {
	need_zramfs
	# fill, punch every other chunk, compact: data intact, memory not higher
	"$ZR" pattern "$Z/c" 8388608 11 >/dev/null
	local i m1 m2
	for i in $(seq 0 2 126); do fallocate -p -o $((i * 65536)) -l 65536 "$Z/c"; done
	sync
	m1=$(st mem_used_total)
	setfattr -n user.zramfs.compact -v 1 "$ZMNT" || fail "compaction request refused for root"
	m2=$(st mem_used_total)
	assert_le "$m2" "$m1" "mem_used_total after compaction"
	"$ZR" pattern "$W/c" 8388608 11 >/dev/null
	for i in $(seq 0 2 126); do fallocate -p -o $((i * 65536)) -l 65536 "$W/c"; done
	cmp "$W/c" "$Z/c" || fail "data after compaction"
	# root only
	must_fail as_user "$U1" setfattr -n user.zramfs.compact -v 1 "$ZMNT"
	rm "$Z/c"
}
