# t_io.sh - read/write paths: truncate, open flags, O_DIRECT, sparse files,
# SEEK_DATA/SEEK_HOLE, fallocate, copy_file_range, mmap, locks.
# Chunk size 64K (the default) - the hole tests below rely on it.
ZOPTS="size=2G,chunk=64K"

case_truncate() {
	head -c 300000 /dev/urandom >"$W/r"
	same "cp $W/r f
	      truncate -s 100000 f; wc -c < f
	      truncate -s 70000 f; truncate -s 200000 f; wc -c < f
	      truncate -s 65536 f; truncate -s 65537 f; truncate -s 4095 f; truncate -s 131072 f
	      truncate -s +10 f; truncate -s -5 f; wc -c < f; md5sum < f
	      truncate -s 0 f; wc -c < f; truncate -s 5 f; od -An -tx1 f"
	# the zero tail after shrink+grow is really zero
	cp "$W/r" "$Z/g"; truncate -s 1000 "$Z/g"; truncate -s 300000 "$Z/g"
	cmp -n 1000 "$W/r" "$Z/g" || fail "head after shrink/grow"
	cmp -i 1000:0 -n 299000 "$Z/g" /dev/zero || fail "tail after shrink/grow is not zero"
	rm "$Z/g"
	# ftruncate on an open fd (write after truncate)
	same "exec 3<>h; printf abcdef >&3; truncate -s 2 h; printf XY >&3; exec 3>&-; od -An -c h"
}

case_open_trunc_append() {
	same 'printf "1234567890" > f; printf "ab" > f; cat f; echo
	      printf "x" >> f; printf "yz" >> f; cat f; echo
	      head -c 100000 /dev/zero > g; exec 3>>g; printf tail >&3; exec 3>&-; wc -c < g; tail -c 4 g; echo'
	# O_APPEND writes go to EOF even after lseek
	same 'printf 0123456789 > h
	      python3 -c "import os; fd = os.open(\"h\", os.O_WRONLY | os.O_APPEND); os.lseek(fd, 0, 0); os.write(fd, b\"END\"); os.close(fd)"
	      cat h; echo'
	expect_ok "$ZR" open "$Z/f" wronly,trunc
	assert_eq "$(fsize "$Z/f")" 0 "size after O_TRUNC"
	# two concurrent appenders: nothing lost, lines intact
	local i
	( for i in $(seq 1 300); do echo "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa $i" >>"$Z/log"; done ) &
	( for i in $(seq 1 300); do echo "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb $i" >>"$Z/log"; done ) &
	wait
	assert_eq "$(wc -l <"$Z/log")" 600 "lines after concurrent appends"
	assert_eq "$(grep -cvE '^(a{36}|b{36}) [0-9]+$' "$Z/log")" 0 "damaged lines"
}

case_o_excl() {
	expect_ok "$ZR" open "$Z/new" wronly,creat,excl
	expect_errno EEXIST "$ZR" open "$Z/new" wronly,creat,excl
	ln -s nowhere "$Z/dangling"
	expect_errno EEXIST "$ZR" open "$Z/dangling" wronly,creat,excl
	[ ! -e "$Z/nowhere" ] || fail "O_EXCL followed a dangling symlink"
	mkdir "$Z/d"
	expect_errno EEXIST "$ZR" open "$Z/d" rdonly,creat,excl
	# O_CREAT without O_EXCL on an existing file keeps its data
	echo keep >"$Z/k"
	expect_ok "$ZR" open "$Z/k" wronly,creat
	assert_eq "$(cat "$Z/k")" keep "data after O_CREAT"
}

case_o_direct() {
	local bs
	head -c 4194304 /dev/urandom >"$W/src"
	for bs in 4k 1M; do
		rm -f "$Z/d"
		dd if="$W/src" of="$Z/d" bs=$bs oflag=direct status=none || fail "O_DIRECT write bs=$bs"
		cmp "$W/src" "$Z/d" || fail "O_DIRECT write bs=$bs: content"
		dd if="$Z/d" of="$W/back" bs=$bs iflag=direct status=none || fail "O_DIRECT read bs=$bs"
		cmp "$W/src" "$W/back" || fail "O_DIRECT read bs=$bs: content"
	done
	# direct overwrite in the middle, then buffered read
	dd if=/dev/zero of="$Z/d" bs=4k seek=5 count=3 oflag=direct conv=notrunc status=none || fail "O_DIRECT overwrite"
	cp "$W/src" "$W/exp"; dd if=/dev/zero of="$W/exp" bs=4k seek=5 count=3 conv=notrunc status=none
	cmp "$W/exp" "$Z/d" || fail "buffered read after O_DIRECT overwrite"
	# buffered write then direct read of the same range
	dd if="$W/src" of="$Z/d" bs=4k skip=1 count=2 seek=5 conv=notrunc status=none
	dd if="$W/src" of="$W/exp" bs=4k skip=1 count=2 seek=5 conv=notrunc status=none
	dd if="$Z/d" of="$W/back" bs=4k iflag=direct status=none || fail "O_DIRECT re-read"
	cmp "$W/exp" "$W/back" || fail "O_DIRECT read after buffered write"
}

case_sparse() {
	truncate -s 1G "$Z/sp"
	assert_eq "$(fsize "$Z/sp")" 1073741824 "size"
	assert_lt "$(du -B1 "$Z/sp" | cut -f1)" 1048576 "du of a 1G sparse file"
	cmp -n 16777216 "$Z/sp" /dev/zero || fail "sparse file reads as zeros"
	printf 'middle' | dd of="$Z/sp" bs=1 seek=536870912 conv=notrunc status=none
	assert_lt "$(du -B1 "$Z/sp" | cut -f1)" 1048576 "du after one small write"
	assert_eq "$(dd if="$Z/sp" bs=1 skip=536870912 count=6 status=none)" middle "data in the middle"
	cmp -i 536870906:0 -n 6 "$Z/sp" /dev/zero || fail "zeros just before the data"
	# a 1T sparse file is fine too
	truncate -s 1T "$Z/huge" || fail "truncate -s 1T"
	assert_lt "$(du -B1 "$Z/huge" | cut -f1)" 1048576 "du of 1T sparse file"
	dd if="$Z/huge" bs=4096 skip=$((268435456 - 1)) count=1 status=none | cmp - <(head -c 4096 /dev/zero) ||
		fail "last block of 1T file"
	rm "$Z/huge" "$Z/sp"
	# writing beyond EOF leaves a zero gap, compared with tmpfs
	same "printf A > g; printf B | dd of=g bs=1 seek=200000 conv=notrunc status=none; md5sum < g; wc -c < g"
}

# SEEK_DATA/SEEK_HOLE are answered from the chunk table with wbcache=0;
# under the writeback cache the kernel answers them itself (all data), as
# it sends them without writing its dirty pages back first.
case_seek_data_hole() {
	local K=65536 m Z=$W/nowb
	zmount "$Z" size=64M,chunk=64K,wbcache=0
	# data [0,64K) hole [64K,1M) data [1M,1M+64K) hole to 2M
	head -c $K /dev/urandom >"$Z/s"
	truncate -s 2097152 "$Z/s"
	head -c $K /dev/urandom | dd of="$Z/s" bs=$K seek=16 conv=notrunc status=none
	m=$("$ZR" seekmap "$Z/s" | tr '\n' ' ')
	assert_eq "$m" "data 0 65536 data 1048576 1114112 end 2097152 " "SEEK_DATA/SEEK_HOLE map"
	assert_eq "$("$ZR" seek "$Z/s" hole 0)" 65536 "SEEK_HOLE from 0"
	assert_eq "$("$ZR" seek "$Z/s" data 65536)" 1048576 "SEEK_DATA from a hole"
	assert_eq "$("$ZR" seek "$Z/s" data 1050000)" 1050000 "SEEK_DATA inside data"
	assert_eq "$("$ZR" seek "$Z/s" hole 1114112)" 1114112 "SEEK_HOLE inside hole"
	expect_errno ENXIO "$ZR" seek "$Z/s" data 1114112
	expect_errno ENXIO "$ZR" seek "$Z/s" data 2097152
	expect_errno ENXIO "$ZR" seek "$Z/s" hole 3000000
	# a fully sparse file and an empty file
	truncate -s 1M "$Z/e"
	expect_errno ENXIO "$ZR" seek "$Z/e" data 0
	assert_eq "$("$ZR" seek "$Z/e" hole 0)" 0 "SEEK_HOLE of sparse file"
	: >"$Z/empty"
	expect_errno ENXIO "$ZR" seek "$Z/empty" data 0
	# a dense file has one data extent up to EOF (implicit hole at EOF)
	head -c 100000 /dev/urandom >"$Z/dense"
	assert_eq "$("$ZR" seekmap "$Z/dense" | tr '\n' ' ')" "data 0 100000 end 100000 " "dense file map"
	# cp --sparse=always keeps the holes
	cp --sparse=always "$Z/s" "$Z/s2"
	cmp "$Z/s" "$Z/s2" || fail "sparse copy content"
	zumount "$Z"
}

case_seek_writeback_cache() {
	need_zramfs
	head -c 65536 /dev/urandom >"$W/r"
	cp "$W/r" "$Z/wb"
	truncate -s 1M "$Z/wb"
	# the kernel's own answer: data up to EOF, the hole at EOF
	assert_eq "$("$ZR" seekmap "$Z/wb" | tr '\n' ' ')" "data 0 1048576 end 1048576 " "seek map under wbcache"
}

case_fallocate() {
	local op
	head -c 1000000 /dev/urandom >"$W/r"
	cp "$W/r" "$Z/f"; cp "$W/r" "$T/f"
	# unaligned and aligned ranges; contents compared with tmpfs after each
	for op in "-l 2000000" "-n -o 2500000 -l 100000" "-p -o 1000 -l 3000" \
	          "-p -o 65536 -l 131072" "-p -o 60000 -l 200000" "-z -o 300000 -l 5000" \
	          "-z -o 393216 -l 65536" "-z -o 900000 -l 300000" "-p -o 1900000 -l 200000" \
	          "-z -n -o 2400000 -l 200000" "-o 3000000 -l 10"; do
		fallocate $op "$Z/f" || fail "fallocate $op"
		case $op in
		-z*)	# tmpfs has no ZERO_RANGE: punch, then extend unless -n
			set -- $op
			local o=${4:-${3}} l
			[ "$2" = -n ] && { o=$4; l=$6; } || { o=$3; l=$5; }
			fallocate -p -o "$o" -l "$l" "$T/f"
			if [ "$2" != -n ] && [ "$(fsize "$T/f")" -lt $((o + l)) ]; then
				truncate -s $((o + l)) "$T/f"
			fi ;;
		*)	fallocate $op "$T/f" ;;
		esac
		assert_eq "$(fsize "$Z/f")" "$(fsize "$T/f")" "size after fallocate $op"
		cmp "$Z/f" "$T/f" || fail "content after fallocate $op"
	done
	# fallocate -k beyond EOF (-n, --keep-size) does not change the size
	: >"$Z/k"
	fallocate -n -l 1M "$Z/k"
	assert_eq "$(fsize "$Z/k")" 0 "size after fallocate -k"
	fallocate -l 1M "$Z/k"
	assert_eq "$(fsize "$Z/k")" 1048576 "size after fallocate -l"
	cmp "$Z/k" <(head -c 1048576 /dev/zero) || fail "fallocated range is zero"
	# punch is KEEP_SIZE only
	expect_ok "$ZR" falloc "$Z/k" punch 0 4096
	assert_eq "$(fsize "$Z/k")" 1048576 "size after punch"
}

case_punch_frees_data() {
	need_zramfs
	local before after
	"$ZR" pattern "$Z/p" 4194304 5 >/dev/null
	sync
	before=$(zstat orig_data_size)
	fallocate -p -o 1048576 -l 2097152 "$Z/p" || fail "punch"
	after=$(zstat orig_data_size)
	assert_eq "$((before - after))" 2097152 "orig_data_size drop after punching 2 MiB"
	# zero range over data must not add data
	fallocate -z -o 0 -l 1048576 "$Z/p"
	assert_le "$(zstat orig_data_size)" "$after" "orig_data_size after zero range"
	cmp -n 3145728 "$Z/p" /dev/zero || fail "zeroed+punched range is not zero"
}

case_copy_file_range() {
	head -c 3000000 /dev/urandom >"$W/r"
	cp "$W/r" "$Z/src"
	local out
	out=$("$ZR" cfr "$Z/src" "$Z/dst") || fail "copy_file_range: $out"
	assert_eq "$out" "OK 3000000" "bytes copied"
	cmp "$W/r" "$Z/dst" || fail "copy_file_range content"
	# with offsets, into the middle of an existing file; compare with tmpfs
	cp "$W/r" "$T/src"; cp "$Z/dst" "$T/dst"
	expect_ok "$ZR" cfr "$Z/src" "$Z/dst" 12345 70000 200000
	expect_ok "$ZR" cfr "$T/src" "$T/dst" 12345 70000 200000
	cmp "$Z/dst" "$T/dst" || fail "copy_file_range with offsets"
	expect_ok "$ZR" cfr "$Z/src" "$Z/dst" 0 3500000 65536
	expect_ok "$ZR" cfr "$T/src" "$T/dst" 0 3500000 65536
	cmp "$Z/dst" "$T/dst" || fail "copy_file_range past EOF"
	# cp --reflink=never (copy_file_range within the mount), in and out
	cp --reflink=never "$W/r" "$Z/x" || fail "cp into the mount"
	cmp "$W/r" "$Z/x" || fail "cp into the mount: content"
	cp --reflink=never "$Z/src" "$Z/cp" || fail "cp"
	cmp "$W/r" "$Z/cp" || fail "cp content"
	cp --reflink=never "$Z/src" "$W/out"
	cmp "$W/r" "$W/out" || fail "cp out of the mount"
}

case_mmap() {
	expect_ok "$ZR" mmap_shared "$Z/m" 3000000
	expect_ok "$ZR" mmap_shared "$Z/small" 100
	expect_ok "$ZR" mmap_private "$Z/m"
	head -c 777777 /dev/urandom >"$Z/r"
	expect_ok "$ZR" mmap_check "$Z/r"
	# what mmap wrote is what tmpfs gets from the same program
	expect_ok "$ZR" mmap_shared "$T/m" 3000000
	cmp "$Z/m" "$T/m" || fail "mmap-written file differs from tmpfs"
	# the tmpfs peer generated by the tool too
	python3 - "$Z/r" <<'EOF' || fail "python mmap write"
import mmap, sys
with open(sys.argv[1], "r+b") as f:
    m = mmap.mmap(f.fileno(), 0)
    m[100:105] = b"HELLO"
    m.flush(); m.close()
with open(sys.argv[1], "rb") as f:
    f.seek(100); assert f.read(5) == b"HELLO"
EOF
}

case_flock() {
	: >"$Z/lk"
	flock "$Z/lk" sh -c ": > '$W/ready'; while [ ! -e '$W/release' ]; do sleep 0.05; done" &
	wait_until 10 test -e "$W/ready" || fail "holder did not start"
	must_fail flock -n "$Z/lk" true
	flock -n -s "$Z/lk" true && fail "shared lock granted while exclusive held"
	: >"$W/release"
	wait
	flock -n "$Z/lk" true || fail "lock not released"
	# shared locks coexist
	flock -s "$Z/lk" sh -c ": > '$W/ready2'; while [ ! -e '$W/release2' ]; do sleep 0.05; done" &
	wait_until 10 test -e "$W/ready2" || fail "shared holder did not start"
	flock -n -s "$Z/lk" true || fail "second shared lock refused"
	must_fail flock -n -x "$Z/lk" true
	: >"$W/release2"
	wait
}

case_fcntl_locks() {
	: >"$Z/lk"
	"$ZR" plock "$Z/lk" hold "$W/ready" "$W/release" >/dev/null &
	wait_until 10 test -e "$W/ready" || fail "holder did not start"
	expect_errno EAGAIN "$ZR" plock "$Z/lk" try
	case $("$ZR" plock "$Z/lk" getlk) in LOCKED*) ;; *) fail "F_GETLK does not see the lock" ;; esac
	: >"$W/release"
	wait
	expect_ok "$ZR" plock "$Z/lk" try
	assert_eq "$("$ZR" plock "$Z/lk" getlk)" UNLOCKED "F_GETLK after release"
}

case_big_file_roundtrip() {
	"$ZR" pattern "$W/p" 50000000 9 >/dev/null
	cp "$W/p" "$Z/big" || fail "write 50 MB"
	cmp "$W/p" "$Z/big" || fail "content of 50 MB file"
	# overwrite every 3rd MiB with random data, then compare with the same done on tmpfs
	cp "$W/p" "$T/big"
	head -c 1048576 /dev/urandom >"$W/rnd"
	local i
	for i in 0 3 6 9 12 15 18 21 24 27 30 33 36 39 42 45; do
		dd if="$W/rnd" of="$Z/big" bs=1M seek=$i conv=notrunc status=none
		dd if="$W/rnd" of="$T/big" bs=1M seek=$i conv=notrunc status=none
	done
	cmp "$Z/big" "$T/big" || fail "after partial overwrites"
}
