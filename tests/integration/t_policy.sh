# t_policy.sh - subtree stats of directories, the root controls
# (mem_limit, compact) and the user.zramfs.comp policy on files and
# directories: values, inheritance, EINVAL, permissions.  The mount's codec
# is lz4 so a zstd:9 policy has something to beat.
ZOPTS="size=256M,chunk=64K,comp=lz4"

# key KEY TEXT - the value of KEY in a stats text
key() { echo "$2" | awk -v k="$1" '$1 == k { print $2; exit }'; }
# comp_of PATH - user.zramfs.comp of PATH, or nothing
comp_of() { getfattr --only-values -n user.zramfs.comp "$1" 2>/dev/null; }
# text FILE BYTES - compressible text (man pages, headers), BYTES long
text() {
	{ cat /usr/include/*.h /usr/include/*/*.h 2>/dev/null; seq 1 2000000; } | head -c "$2" >"$1"
}
FIGS="size orig_data_size compr_data_size chunks same_chunks huge_chunks compressed_chunks"

case_dir_totals_are_file_sums() {
	need_zramfs
	mkdir -p "$Z/d/sub/deeper" "$Z/d/empty"
	text "$Z/d/text" 1000000
	head -c 300000 /dev/urandom >"$Z/d/sub/rand"
	head -c 262144 /dev/zero >"$Z/d/sub/zeros"
	# sparse: 10 MiB with two chunks written at 5 MiB (holes are chunks)
	truncate -s 10M "$Z/d/sub/deeper/sparse"
	dd if=/dev/urandom of="$Z/d/sub/deeper/sparse" bs=65536 count=2 seek=80 conv=notrunc status=none
	ln -s text "$Z/d/link"
	mkfifo "$Z/d/fifo"
	sync
	# per-file: orig_data_size is what was written, holes excluded
	assert_eq "$(zstat orig_data_size "$Z/d/text")" 1000000 "text file orig_data_size"
	assert_eq "$(zstat orig_data_size "$Z/d/sub/rand")" 300000 "random file orig_data_size"
	assert_eq "$(zstat orig_data_size "$Z/d/sub/zeros")" 262144 "zero file orig_data_size"
	assert_eq "$(zstat orig_data_size "$Z/d/sub/deeper/sparse")" 131072 "sparse file: only the written bytes"
	assert_eq "$(zstat size "$Z/d/sub/deeper/sparse")" 10485760 "sparse file size"
	assert_eq "$(zstat same_chunks "$Z/d/sub/zeros")" 4 "zero file: 4 same-filled chunks"
	# per-directory: the sum over the files below
	local dir k want f out
	for dir in "$Z/d" "$Z/d/sub"; do
		out=$(zstat_all "$dir") || fail "stats of directory $dir"
		for k in $FIGS; do
			want=0
			for f in $(find "$dir" -type f); do
				want=$((want + $(zstat "$k" "$f")))
			done
			assert_eq "$(key "$k" "$out")" "$want" "$k of $dir = sum over its files"
		done
		assert_eq "$(key files "$out")" "$(find "$dir" -type f | wc -l)" "files of $dir"
		assert_eq "$(key dirs "$out")" "$(find "$dir" -type d | wc -l)" "dirs of $dir (itself included)"
	done
	out=$(zstat_all "$Z/d")
	assert_eq "$(key symlinks "$out")" 1 "symlinks of $Z/d"
	assert_eq "$(key specials "$out")" 1 "specials of $Z/d"
	assert_eq "$(key orig_data_size "$out")" $((1000000 + 300000 + 262144 + 131072)) \
		"orig_data_size of $Z/d = bytes written minus holes"
	out=$(zstat_all "$Z/d/empty")
	assert_eq "$(key files "$out") $(key orig_data_size "$out") $(key compr_ratio "$out")" "0 0 0.00" "empty directory"
	# the root keeps the mount's figures, and they cover the subtree
	assert_ge "$(zstat orig_data_size)" $((1000000 + 300000 + 262144 + 131072)) "root orig_data_size"
	zstat mem_used_total >/dev/null
}

# The cached totals follow every kind of change.
case_dir_totals_follow_changes() {
	need_zramfs
	mkdir -p "$Z/a/b" "$Z/other"
	text "$Z/a/b/f" 200000
	local o1
	o1=$(zstat orig_data_size "$Z/a")
	assert_eq "$o1" 200000 "after one file"
	assert_eq "$(zstat orig_data_size "$Z/a")" 200000 "read again (cached)"
	head -c 65536 /dev/urandom >>"$Z/a/b/f"; sync
	assert_eq "$(zstat orig_data_size "$Z/a")" 265536 "after an append"
	truncate -s 1000 "$Z/a/b/f"
	assert_eq "$(zstat orig_data_size "$Z/a")" 1000 "after a truncate"
	fallocate -p -o 0 -l 1000 "$Z/a/b/f"
	assert_eq "$(zstat orig_data_size "$Z/a")" 0 "after punching the data"
	text "$Z/a/g" 50000
	assert_eq "$(zstat files "$Z/a")" 2 "after a create"
	mv "$Z/a/g" "$Z/other/g"
	assert_eq "$(zstat files "$Z/a") $(zstat orig_data_size "$Z/a")" "1 0" "after a rename out"
	assert_eq "$(zstat orig_data_size "$Z/other")" 50000 "rename target dir"
	mv "$Z/other" "$Z/a/b/"
	assert_eq "$(zstat orig_data_size "$Z/a")" 50000 "after moving a directory in"
	rm -rf "$Z/a/b"
	assert_eq "$(zstat files "$Z/a") $(zstat dirs "$Z/a") $(zstat orig_data_size "$Z/a")" "0 1 0" "after rm -rf"
}

case_policy_inherited_and_smaller() {
	need_zramfs
	mkdir -p "$Z/old" "$Z/z9"
	text "$W/data" 4194304
	assert_eq "$(comp_of "$Z/z9")" "" "no policy on a new directory"
	setfattr -n user.zramfs.comp -v zstd:9 "$Z/z9" || fail "set policy on a directory"
	assert_eq "$(comp_of "$Z/z9")" "zstd:9" "directory policy reads back"
	mkdir "$Z/z9/sub"
	assert_eq "$(comp_of "$Z/z9/sub")" "zstd:9" "policy inherited by a new subdirectory"
	assert_eq "$(comp_of "$Z/old")" "" "no policy on an unrelated directory"
	cp "$W/data" "$Z/z9/sub/f"
	cp "$W/data" "$Z/old/f"
	sync
	assert_eq "$(comp_of "$Z/z9/sub/f")" "zstd:9" "policy inherited by a file (two levels down)"
	assert_eq "$(comp_of "$Z/old/f")" "lz4" "a file elsewhere uses the mount's codec"
	assert_eq "$(zstat comp "$Z/z9/sub/f")" "zstd:9" "comp in the file's stats"
	local cz cl
	cz=$(zstat compr_data_size "$Z/z9/sub/f")
	cl=$(zstat compr_data_size "$Z/old/f")
	note "4 MiB of text: zstd:9 $cz bytes, lz4 $cl bytes"
	assert_lt "$cz" "$cl" "zstd:9 file smaller than the lz4 one"
	cmp "$W/data" "$Z/z9/sub/f" || fail "zstd:9 data reads back"
	# a file's own policy, set before writing
	: >"$Z/old/g"
	setfattr -n user.zramfs.comp -v zstd:9 "$Z/old/g" || fail "set policy on a file"
	cp "$W/data" "$Z/old/g"; sync
	assert_eq "$(zstat compr_data_size "$Z/old/g")" "$cz" "per-file policy compresses as the inherited one"
	# the MKNOD path (mknod(2) of a regular file) inherits as CREATE does
	if command -v python3 >/dev/null; then
		python3 -c 'import os, stat, sys; os.mknod(sys.argv[1], 0o644 | stat.S_IFREG)' "$Z/z9/m" ||
			fail "mknod of a regular file"
		assert_eq "$(comp_of "$Z/z9/m")" "zstd:9" "file made by mknod(2) inherits"
	fi
	# removing: the directory has none, new files use the mount's codec;
	# a file goes back to the mount's codec
	setfattr -x user.zramfs.comp "$Z/z9" || fail "remove a directory policy"
	assert_eq "$(comp_of "$Z/z9")" "" "policy removed"
	: >"$Z/z9/after"
	assert_eq "$(comp_of "$Z/z9/after")" "lz4" "new file after the removal"
	assert_eq "$(comp_of "$Z/z9/sub")" "zstd:9" "subdirectory keeps its copy"
	setfattr -x user.zramfs.comp "$Z/old/g" || fail "remove a file policy"
	assert_eq "$(comp_of "$Z/old/g")" "lz4" "file back to the mount's codec"
	# never listed, never copied
	getfattr -d -m - "$Z/z9/sub" "$Z/z9/sub/f" 2>/dev/null | grep -q 'user\.zramfs' &&
		fail "policy listed by listxattr"
	cp -a "$Z/z9/sub" "$Z/copy" || fail "cp -a"
	assert_eq "$(comp_of "$Z/copy")" "" "cp -a does not copy a policy"
}

case_bad_values_change_nothing() {
	need_zramfs
	mkdir -p "$Z/d"; : >"$Z/f"
	setfattr -n user.zramfs.comp -v zstd:5 "$Z/d"
	setfattr -n user.zramfs.comp -v zstd:5 "$Z/f"
	local v p
	for v in bogus zstd:99 zstd: lz4:1x "" "zstd:5 " gzip; do
		for p in "$Z/d" "$Z/f"; do
			expect_errno EINVAL "$ZR" xset "$p" user.zramfs.comp "$v"
			assert_eq "$(comp_of "$p")" zstd:5 "$p after bad comp value '$v'"
		done
	done
	setfattr -n user.zramfs.comp -v "$(printf 'zstd:7\n')" "$Z/f" 2>/dev/null
	"$ZR" xset "$Z/f" user.zramfs.comp "$(printf 'lz4\n')" >/dev/null
	assert_eq "$(comp_of "$Z/f")" lz4 "one trailing newline is accepted"
	# mem_limit
	local m0
	m0=$(getfattr --only-values -n user.zramfs.mem_limit "$ZMNT") || fail "read mem_limit"
	for v in 12Q -1 "" abc 99999999999999999999999 1.5G; do
		expect_errno EINVAL "$ZR" xset "$ZMNT" user.zramfs.mem_limit "$v"
	done
	assert_eq "$(getfattr --only-values -n user.zramfs.mem_limit "$ZMNT")" "$m0" "mem_limit after bad values"
	# compact takes only 1
	expect_errno EINVAL "$ZR" xset "$ZMNT" user.zramfs.compact 2
	# stats are read-only; controls only on the root; unknown names
	expect_errno EPERM "$ZR" xset "$Z/d" user.zramfs.stats 1
	expect_errno EPERM "$ZR" xset "$Z/d" user.zramfs.mem_limit 1M
	expect_errno EPERM "$ZR" xset "$Z/f" user.zramfs.compact 1
	# writeback: idle|huge|all on the root; without -o spill, ENODEV
	expect_errno EINVAL "$ZR" xset "$ZMNT" user.zramfs.writeback 1
	expect_errno ENODEV "$ZR" xset "$ZMNT" user.zramfs.writeback all
	expect_errno EPERM "$ZR" xset "$Z/f" user.zramfs.writeback all
	expect_errno EPERM "$ZR" xset "$Z/d" user.zramfs.recompress zstd:19
	expect_errno ENODATA "$ZR" xget "$ZMNT" user.zramfs.writeback 100
	expect_errno ENODATA "$ZR" xget "$ZMNT" user.zramfs.compact 100
	expect_errno ENODATA "$ZR" xget "$Z/d" user.zramfs.mem_limit 100
	expect_errno ERANGE "$ZR" xget "$Z/f" user.zramfs.comp 2
	expect_errno EPERM "$ZR" xremove "$ZMNT" user.zramfs.mem_limit
}

case_mem_limit() {
	need_zramfs
	assert_eq "$(getfattr --only-values -n user.zramfs.mem_limit "$ZMNT")" 0 "no limit by default"
	setfattr -n user.zramfs.mem_limit -v 4M "$ZMNT" || fail "set mem_limit 4M"
	assert_eq "$(getfattr --only-values -n user.zramfs.mem_limit "$ZMNT")" 4194304 "mem_limit reads back in bytes"
	assert_eq "$(zstat arena_cap)" 4194304 "arena_cap follows mem_limit"
	# 16 MiB of random data cannot fit in 4 MiB of arena
	if dd if=/dev/urandom of="$Z/big" bs=1M count=16 conv=fsync status=none 2>/dev/null; then
		fail "16 MiB of random data written under a 4 MiB mem_limit"
	fi
	rm -f "$Z/big"
	setfattr -n user.zramfs.mem_limit -v 0 "$ZMNT" || fail "set mem_limit 0"
	assert_eq "$(zstat arena_cap)" 0 "no cap after mem_limit 0"
	dd if=/dev/urandom of="$Z/big" bs=1M count=16 conv=fsync status=none || fail "write after lifting the limit"
	rm -f "$Z/big"
	setfattr -n user.zramfs.mem_limit -v 1G "$ZMNT"
	assert_eq "$(getfattr --only-values -n user.zramfs.mem_limit "$ZMNT")" 1073741824 "mem_limit 1G"
	setfattr -n user.zramfs.mem_limit -v 0 "$ZMNT"
}

case_permissions() {
	need_zramfs
	# an open root, so the kernel's own write check lets the requests through
	# and the refusals below are zramfs's (not sticky: in a sticky directory
	# the kernel refuses user.* xattrs to non-owners itself, EPERM)
	chmod 777 "$ZMNT"
	chmod 1777 "$Z"
	mkdir "$Z/rootdir"; chmod 777 "$Z/rootdir"
	text "$Z/rootfile" 100000; chmod 666 "$Z/rootfile"
	as_user "$U1" sh -c "echo hi >'$Z/mine' && mkdir '$Z/mydir'" || fail "unprivileged create"
	# controls: root or the mount owner (root here) only
	expect_errno EACCES as_user "$U1" "$ZR" xset "$ZMNT" user.zramfs.compact 1
	expect_errno EACCES as_user "$U1" "$ZR" xset "$ZMNT" user.zramfs.mem_limit 1M
	assert_eq "$(getfattr --only-values -n user.zramfs.mem_limit "$ZMNT")" 0 "mem_limit unchanged"
	# policy: the owner of the inode (even with write permission, not others)
	as_user "$U1" setfattr -n user.zramfs.comp -v zstd:9 "$Z/mine" || fail "owner sets a file policy"
	as_user "$U1" setfattr -n user.zramfs.comp -v zstd:9 "$Z/mydir" || fail "owner sets a directory policy"
	assert_eq "$(comp_of "$Z/mine") $(comp_of "$Z/mydir")" "zstd:9 zstd:9" "owner's policies"
	expect_errno EACCES as_user "$U1" "$ZR" xset "$Z/rootfile" user.zramfs.comp zstd:9
	expect_errno EACCES as_user "$U1" "$ZR" xset "$Z/rootdir" user.zramfs.comp zstd:9
	expect_errno EACCES as_user "$U1" "$ZR" xremove "$Z/rootfile" user.zramfs.comp
	expect_errno EACCES as_user "$U2" "$ZR" xset "$Z/mine" user.zramfs.comp lz4
	assert_eq "$(comp_of "$Z/rootfile") $(comp_of "$Z/mine")" "lz4 zstd:9" "policies unchanged"
	# root may set anyone's
	setfattr -n user.zramfs.comp -v zstd:1 "$Z/mine" || fail "root sets U1's policy"
	# stats: readable by whoever may read the inode
	as_user "$U1" getfattr --only-values -n user.zramfs.stats "$Z/rootfile" | grep -qx 'orig_data_size 100000' ||
		fail "user reads the stats of a readable file"
	as_user "$U1" getfattr --only-values -n user.zramfs.stats "$Z/rootdir" | grep -q '^files 0$' ||
		fail "user reads the stats of a directory"
	as_user "$U1" getfattr --only-values -n user.zramfs.stats "$ZMNT" | grep -q '^mem_used_total ' ||
		fail "user reads the mount's stats"
	as_user "$U2" getfattr --only-values -n user.zramfs.comp "$Z/mine" | grep -qx 'zstd:1' ||
		fail "user reads another user's file policy"
	chmod 755 "$ZMNT"
}

case_recompress() {
	need_zramfs
	text "$Z/rc" 2000000
	truncate -s 3M "$Z/rc"			# a hole at the end stays a hole
	sync
	local sum before after
	sum=$(md5sum <"$Z/rc")
	before=$(zstat compr_data_size "$Z/rc")
	setfattr -n user.zramfs.recompress -v zstd:19 "$Z/rc" || fail "recompress with zstd:19"
	after=$(zstat compr_data_size "$Z/rc")
	assert_lt "$after" "$before" "compressed bytes after recompress"
	assert_eq "$(comp_of "$Z/rc")" "zstd:19" "recompress sets the file's codec"
	assert_eq "$(zstat orig_data_size "$Z/rc")" 2000000 "the hole is not filled"
	sync; echo 3 >/proc/sys/vm/drop_caches
	assert_eq "$(md5sum <"$Z/rc")" "$sum" "contents after recompress"
	# refused: none, garbage, a directory, another user's file
	expect_errno EINVAL "$ZR" xset "$Z/rc" user.zramfs.recompress none
	expect_errno EINVAL "$ZR" xset "$Z/rc" user.zramfs.recompress zstd:99
	mkdir "$Z/rcdir"
	expect_errno EPERM "$ZR" xset "$Z/rcdir" user.zramfs.recompress zstd:3
	chmod 666 "$Z/rc"
	expect_errno EACCES as_user "$U1" "$ZR" xset "$Z/rc" user.zramfs.recompress lz4
	assert_eq "$(zstat compr_data_size "$Z/rc")" "$after" "refusals change nothing"
}

# lz4 -> lz4hc in place: the same lz4 format, smaller; lz4 again cannot
# shrink it and changes nothing.
case_recompress_lz4hc() {
	need_zramfs
	text "$Z/hc" 2000000
	sync
	local sum before after
	sum=$(md5sum <"$Z/hc")
	before=$(zstat compr_data_size "$Z/hc")
	setfattr -n user.zramfs.recompress -v lz4hc:4 "$Z/hc" || fail "recompress with lz4hc:4"
	after=$(zstat compr_data_size "$Z/hc")
	assert_lt "$after" "$before" "compressed bytes after lz4hc"
	assert_eq "$(comp_of "$Z/hc")" "lz4hc:4" "recompress sets the file's codec"
	setfattr -n user.zramfs.recompress -v lz4 "$Z/hc" || fail "recompress with lz4"
	assert_eq "$(zstat compr_data_size "$Z/hc")" "$after" "lz4 keeps the smaller lz4hc chunks"
	sync; echo 3 >/proc/sys/vm/drop_caches
	assert_eq "$(md5sum <"$Z/hc")" "$sum" "contents after recompress"
	expect_errno EINVAL "$ZR" xset "$Z/hc" user.zramfs.recompress lz4hc:13
}

# user.zramfs.chunk: a file's chunk size while it is empty, a directory's
# inherited policy; 4 KiB pages written at random then cost 4 KiB chunks.
case_chunk_policy() {
	need_zramfs
	local f=$Z/c4 d=$Z/cdir
	touch "$f"
	assert_eq "$(getfattr --only-values -n user.zramfs.chunk "$f")" 64K "default chunk"
	setfattr -n user.zramfs.chunk -v 4K "$f" || fail "set 4K"
	assert_eq "$(getfattr --only-values -n user.zramfs.chunk "$f")" 4K "file chunk"
	expect_errno EINVAL "$ZR" xset "$f" user.zramfs.chunk 128K
	expect_errno EINVAL "$ZR" xset "$f" user.zramfs.chunk 3K
	truncate -s 8M "$f"
	for i in 3 77 1000 1500; do
		head -c 4096 /usr/bin/ls | dd of="$f" bs=4096 seek=$i conv=notrunc status=none
	done
	sync
	assert_eq "$(zstat chunks "$f")" 4 "four 4K chunks"
	assert_eq "$(zstat orig_data_size "$f")" 16384 "orig_data_size of four pages"
	expect_errno EBUSY "$ZR" xset "$f" user.zramfs.chunk 16K
	mkdir "$d"
	setfattr -n user.zramfs.chunk -v 16K "$d" || fail "dir policy"
	setfattr -n user.zramfs.comp -v zstd:3 "$d" || fail "dir comp policy"
	touch "$d/new"
	mkdir "$d/sub"
	touch "$d/sub/new"
	assert_eq "$(getfattr --only-values -n user.zramfs.chunk "$d/new")" 16K "inherited by a file"
	assert_eq "$(getfattr --only-values -n user.zramfs.chunk "$d/sub/new")" 16K "inherited through a subdirectory"
	assert_eq "$(comp_of "$d/new")" zstd:3 "comp policy kept beside the chunk policy"
	setfattr -x user.zramfs.chunk "$d" || fail "remove dir chunk policy"
	assert_eq "$(comp_of "$d")" zstd:3 "comp policy survives removing the chunk policy"
	touch "$d/newer"
	assert_eq "$(getfattr --only-values -n user.zramfs.chunk "$d/newer")" 64K "after remove"
	as_user "$U1" setfattr -n user.zramfs.chunk -v 4K "$d/newer" 2>/dev/null && fail "other user set a chunk policy"
	return 0
}
