# t_chunks.sh - the same data round trip with every chunk size x codec,
# compared with the same operations on tmpfs ($T of this file's peer mount).
ZOPTS="size=64M"

roundtrip() { # roundtrip CHUNK COMP
	local m=$W/m t=$T
	zmount "$m" "size=128M,chunk=$1,comp=$2" || fail "mount chunk=$1 comp=$2"
	"$ZR" pattern "$W/p" 3145851 4 >/dev/null      # 3 MiB + 123, mixed data
	head -c 300000 /dev/urandom >"$W/r"
	local d
	for d in "$m" "$t"; do
		cp "$W/p" "$d/f"
		# partial overwrites at unaligned and chunk-straddling offsets
		dd if="$W/r" of="$d/f" bs=1 seek=4095 count=2 conv=notrunc status=none
		dd if="$W/r" of="$d/f" bs=1000 seek=65 count=3 conv=notrunc status=none
		dd if="$W/r" of="$d/f" bs=4096 seek=255 count=2 conv=notrunc status=none
		dd if="$W/r" of="$d/f" bs=100000 seek=10 count=1 conv=notrunc status=none
		dd if=/dev/zero of="$d/f" bs=65536 seek=20 count=3 conv=notrunc status=none
		head -c 70000 /dev/zero | dd of="$d/f" bs=1 seek=2000000 conv=notrunc status=none
		printf tail >>"$d/f"
		truncate -s 3000001 "$d/f"; truncate -s 3500000 "$d/f"
		dd if="$W/r" of="$d/f" bs=1 seek=3400000 count=5000 conv=notrunc status=none
		# a second, small file and an overwrite in place with itself
		printf 'small' >"$d/s"
		cp "$W/r" "$d/r"; dd if="$d/r" of="$d/r" bs=4096 skip=1 seek=2 count=10 conv=notrunc status=none
	done
	cmp "$m/f" "$t/f" || fail "f differs from tmpfs (chunk=$1 comp=$2)"
	cmp "$m/s" "$t/s" || fail "s differs (chunk=$1 comp=$2)"
	cmp "$m/r" "$t/r" || fail "r differs (chunk=$1 comp=$2)"
	# and after dropping the page cache (forces reads from the daemon)
	sync; echo 3 >/proc/sys/vm/drop_caches
	cmp "$m/f" "$t/f" || fail "f differs after drop_caches (chunk=$1 comp=$2)"
	cmp "$m/r" "$t/r" || fail "r differs after drop_caches (chunk=$1 comp=$2)"
	if [ "${IS_TMPFS:-0}" != 1 ]; then
		assert_eq "$(zstat chunk_size "$m")" "$(numfmt --from=iec "$1")" "chunk_size in stats"
		assert_eq "$(zstat comp "$m")" "$2" "comp in stats"
		[ "$2" = none ] && assert_ge "$(zstat compr_data_size "$m")" "$(( $(zstat orig_data_size "$m") - $(zstat same_chunks "$m") * $(numfmt --from=iec "$1") ))" \
			"comp=none stores data uncompressed"
	fi
	rm -f "$t/f" "$t/s" "$t/r"
	zumount "$m" || fail "unmount"
}

case_chunk4K_none() { roundtrip 4K none; }
case_chunk4K_lz4() { roundtrip 4K lz4; }
case_chunk4K_zstd3() { roundtrip 4K zstd:3; }
case_chunk64K_none() { roundtrip 64K none; }
case_chunk64K_lz4() { roundtrip 64K lz4; }
case_chunk64K_zstd3() { roundtrip 64K zstd:3; }
case_chunk64K_lz4hc() { roundtrip 64K lz4hc:4; }
case_chunk1M_none() { roundtrip 1M none; }
case_chunk1M_lz4() { roundtrip 1M lz4; }
case_chunk1M_zstd3() { roundtrip 1M zstd:3; }
