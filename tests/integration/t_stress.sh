# t_stress.sh - several processes writing overlapping ranges of the same
# files while others read, truncate, punch holes and fsync, with chunks
# being compressed by the worker pool meanwhile; contents verified against
# a tmpfs model (tests/tools/zr_stress.c).  A small staging bound keeps
# writers hitting backpressure.
ZOPTS="size=2G,chunk=64K,comp=zstd:1,workers=2,staging=2M"

stress_tool() {
	[ -x "$TOOLS/zr_stress" ] || fail "no zr_stress in $TOOLS"
	echo "$TOOLS/zr_stress"
}

case_model_and_hammer() {
	local tool seed
	tool=$(stress_tool)
	for seed in 1 2; do
		rm -rf "$Z"/* "$T"/*
		"$tool" "$Z" "$T" "$seed" 6 400 3 || fail "zr_stress seed $seed"
	done
	[ "$IS_TMPFS" = 1 ] && return 0
	# reading the stats drains the pool: nothing may stay dirty
	assert_eq "$(zstat dirty_chunks)" 0 "dirty chunks after the stats sync"
	assert_eq "$(zstat staging_bytes)" 0 "staging held after the stats sync"
	assert_gt "$(zstat pool_jobs_done)" 0 "jobs done by the workers"
}

case_inline_equivalent() {
	# the same load on a workers=0 mount: the model must hold there too
	need_zramfs
	local tool d=$W/inline
	tool=$(stress_tool)
	zmount "$d" "size=1G,workers=0"
	mkdir -p "$W/model"
	"$tool" "$d" "$W/model" 3 4 200 2 || fail "zr_stress inline"
	zumount "$d"
}

case_unlink_while_compressing() {
	# files removed and truncated right after big writes: no data comes
	# back, and once synced the mount holds nothing for them
	local i base=0
	[ "$IS_TMPFS" = 1 ] || base=$(zstat orig_data_size)
	# text-like data that compresses (the workers have work to do)
	seq 1 2000000 | head -c 8M >"$W/src"
	for i in 1 2 3 4 5 6; do cp "$W/src" "$Z/u$i" & done
	wait
	for i in 1 2 3; do rm "$Z/u$i"; done
	for i in 4 5 6; do
		truncate -s 100000 "$Z/u$i"
		cmp -n 100000 "$W/src" "$Z/u$i" || fail "u$i after truncate"
		assert_eq "$(fsize "$Z/u$i")" 100000 "size of u$i"
	done
	sync
	[ "$IS_TMPFS" = 1 ] && return 0
	wait_until 10 zstat_is orig_data_size $((base + 300000)) || true
	assert_eq "$(zstat orig_data_size)" $((base + 300000)) "bytes stored after rm/truncate"
	assert_eq "$(zstat dirty_chunks)" 0 "dirty chunks"
}
