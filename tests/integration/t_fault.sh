# t_fault.sh - fault injection (a daemon built with make FAULT=1, faults
# named in ZRAMFS_FAULTS; include/zramfs/fault.h): under injected arena,
# codec, staging and spill failures the exerciser (zr_exercise, error mode)
# sees only clean errors (ENOSPC, EIO, ENOMEM), never wrong data; the
# daemon neither crashes nor hangs, holds nothing once the files are
# removed, and the stats count the faults.  Skipped when the daemon has no
# fault injection.  Cases mount their own instances under $W.
#
# The strict runs use wbcache=0: with the kernel's writeback cache a
# failed WRITE leaves its pages clean, and the error waits for the next
# fsync or close, so until then a read after the page cache is dropped
# (truncate, fallocate, memory pressure) may show the bytes from before the
# write.  That is the contract of any writeback cache, and the exerciser
# cannot tell it from lost data yet: the writeback-cache run is opt-in,
# ZR_FAULT_WBCACHE=1.
#
#   make check-fault     or
#   make FAULT=1 all tools && ZRAMFS=$PWD/build/fault/zramfs \
#     TOOLS=$PWD/build/fault/tests/tools ZR_CASES=t_fault sh tests/integration/run.sh
# Counts are printed as notes (ZR_VERBOSE=1).
ZMOUNT=no

FAULT_OPS=${ZR_EXERCISE_OPS:-3000}
FAULT_SEEDS="1 2 3"

# need_faults - skip unless the daemon takes ZRAMFS_FAULTS
need_faults() {
	need_zramfs
	ZRAMFS_FAULTS=arena_alloc=0 "$ZRAMFS" --version >/dev/null 2>&1 ||
		skip "daemon built without fault injection (make FAULT=1)"
}

# fault_mount DIR SPEC OPTS - a zramfs injecting SPEC, unmounted when the
# case exits early
fault_mount() {
	local out
	out=$(ZRAMFS_FAULTS=$2 zmount "$1" "$3" 2>&1) || fail "mount -o $3 with ZRAMFS_FAULTS=$2: $out"
	echo "$out" | grep -q "injecting faults: $2" || fail "no start-up note: $out"
	unmount_on_exit "$1"
}

# bg_loop MNT CMD... - run CMD every 0.1 s while MNT is mounted
bg_loop() {
	local m=$1
	shift
	while is_mounted "$m"; do
		"$@" >/dev/null 2>&1
		sleep 0.1
	done
}
bg_stop() { kill "$@" 2>/dev/null; wait "$@" 2>/dev/null; return 0; }

# fault_runs MNT OPTS SPEC [EXERCISER ARGS] - the seeds in error mode; fails
# on a mismatch, a crash or a hang; FAULT_ERRORS gets the errors they saw
fault_runs() {
	local m=$1 opts=$2 spec=$3 s out rc e
	shift 3
	FAULT_ERRORS=0
	for s in $FAULT_SEEDS; do
		out=$(ZR_EXERCISE_ALLOW_ERRORS=1 "$TOOLS/zr_exercise" -s "$s" -n "$FAULT_OPS" \
			"$@" "$m/ex.$s" 2>&1)
		rc=$?
		if [ $rc != 0 ]; then
			echo "$out" | tail -n 40 >&2
			fail "zr_exercise failed (rc $rc) under faults; reproduce (faults are" \
				"random in time, retry a few times): ZRAMFS_FAULTS='$spec'" \
				"zramfs DIR -o '$opts'; ZR_EXERCISE_ALLOW_ERRORS=1 zr_exercise" \
				"-s $s -n $FAULT_OPS $* DIR/ex"
		fi
		echo "$out" | tail -n1 | grep -q " mismatches=0" || fail "summary: $(echo "$out" | tail -n1)"
		e=$(echo "$out" | tail -n1 | sed -n 's/.* errors=\([0-9]*\).*/\1/p')
		FAULT_ERRORS=$((FAULT_ERRORS + ${e:-0}))
		note "$(echo "$out" | tail -n1)"
		zalive_fault "$m"
		rm -rf "$m/ex.$s" || fail "rm -rf $m/ex.$s"
	done
}

# zalive_fault MNT - the daemon still answers
zalive_fault() {
	is_mounted "$1" || fail "$1 is no longer mounted (daemon died)"
	timeout 10 stat "$1" >/dev/null || fail "$1 does not answer"
	timeout 10 getfattr --only-values -n user.zramfs.stats "$1" >/dev/null 2>&1 ||
		fail "$1: no stats"
}

# fault_report MNT [daemon] - the counts as a note; faults were injected
# and the exerciser saw errors (daemon: the daemon returned some; the
# kernel retries a failed readahead quietly, so a read fault may never
# reach the exerciser)
fault_report() {
	local m=$1 k line=""
	for k in faults_injected fault_arena_alloc fault_codec_compress fault_codec_decompress \
		fault_spill_read fault_spill_write fault_stage_alloc failed_reads failed_writes \
		enospc_events; do
		line="$line $k=$(zstat "$k" "$m")"
	done
	note "$line errors_seen=$FAULT_ERRORS mismatches=0"
	assert_gt "$(zstat faults_injected "$m")" 0 "faults_injected"
	if [ "${2:-}" = daemon ]; then
		assert_gt $(($(zstat failed_reads "$m") + $(zstat failed_writes "$m"))) 0 \
			"failed reads and writes"
	else
		assert_gt "$FAULT_ERRORS" 0 "errors the exerciser saw"
	fi
}

# fault_empty MNT - with every file removed the mount holds nothing: no
# chunk, object, stage or extent leaked by a failure path
fault_empty() {
	local ZMNT=$1
	zstat_settles orig_data_size 0 "orig_data_size after removing all files"
	zstat_settles chunks 0 "chunks after removing all files"
	zstat_settles dirty_chunks 0 "dirty_chunks after removing all files"
	zstat_settles compr_data_size 0 "compr_data_size after removing all files"
	zstat_settles arena_objects 0 "arena_objects after removing all files"
	zstat_settles files 0 "files after removing all files"
}

case_fault_spec() {
	need_faults
	local m=$W/spec out
	mkdir -p "$m"
	out=$(ZRAMFS_FAULTS=bogus=1 "$ZRAMFS" "$m" 2>&1) && fail "mount with a bad fault point succeeded"
	echo "$out" | grep -q "unknown fault point 'bogus'" || fail "message: $out"
	out=$(ZRAMFS_FAULTS=arena_alloc=1.5 "$ZRAMFS" "$m" 2>&1) && fail "mount with rate 1.5 succeeded"
	echo "$out" | grep -q "bad rate '1.5' for arena_alloc" || fail "message: $out"
	is_mounted "$m" && fail "mounted anyway"
	# rate 0 everywhere: the keys are there, all 0
	fault_mount "$m" "arena_alloc=0,seed=3" ""
	assert_eq "$(zstat faults_injected "$m")" 0 "faults_injected at rate 0"
	assert_eq "$(zstat fault_stage_alloc "$m")" 0 "fault_stage_alloc at rate 0"
	zumount "$m" || fail "unmount"
}

# Arena, codec and staging faults; a stats reader in a loop syncs the
# store, which frees idle stages, so staging allocates (and fails) often.
fault_exercise() {
	need_faults
	local name=$1 opts=$2 m=$W/$1 bg
	local spec="arena_alloc=0.02,codec_compress=0.02,codec_decompress=0.01,stage_alloc=0.05"
	fault_mount "$m" "$spec" "$opts"
	bg_loop "$m" getfattr --only-values -n user.zramfs.stats "$m" &
	bg=$!
	fault_runs "$m" "$opts" "$spec" -S
	bg_stop $bg
	fault_report "$m"
	assert_gt "$(zstat fault_arena_alloc "$m")" 0 "fault_arena_alloc"
	assert_gt "$(zstat fault_codec_decompress "$m")" 0 "fault_codec_decompress"
	fault_empty "$m"
	zumount "$m" || fail "unmount"
}
case_fault_exercise() { fault_exercise workers "wbcache=0"; }
# (not chunk=4K yet: a 4 MiB read-back after an error decodes 1024 chunks,
# and zr_exercise does not retry a read that fails there)
case_fault_exercise_inline() { fault_exercise inline "wbcache=0,workers=0"; }
case_fault_exercise_wbcache() {
	[ "${ZR_FAULT_WBCACHE:-0}" = 1 ] ||
		skip "writeback cache under faults: opt-in (ZR_FAULT_WBCACHE=1), see the header"
	fault_exercise wbcache ""
}

# Spill read and write faults: mem_limit=4M, files up to 16 MiB, writeback
# forced in a loop: reads of spilled chunks fail with EIO (that read only),
# failed writebacks leave the chunks in RAM.
case_fault_spill() {
	need_faults
	local m=$W/spill sp=$W/spilldir bg
	local spec="spill_read=0.05,spill_write=0.05" opts="spill=$W/spilldir,mem_limit=4M,wbcache=0"
	mkdir -p "$sp"
	fault_mount "$m" "$spec" "$opts"
	bg_loop "$m" setfattr -n user.zramfs.writeback -v all "$m" &
	bg=$!
	fault_runs "$m" "$opts" "$spec" -S -m 16M
	bg_stop $bg
	fault_report "$m" daemon
	assert_gt "$(zstat fault_spill_write "$m")" 0 "fault_spill_write"
	assert_gt "$(zstat fault_spill_read "$m")" 0 "fault_spill_read"
	assert_eq "$(zstat spill_failed_writes "$m")" "$(zstat fault_spill_write "$m")" \
		"spill_failed_writes (every injected write failure, nothing else)"
	assert_gt "$(zstat spill_writes "$m")" 0 "spill_writes"
	note "spill_writes $(zstat spill_writes "$m") spill_reads $(zstat spill_reads "$m")" \
		"spill_failed_reads $(zstat spill_failed_reads "$m") promoted $(zstat promoted_chunks "$m")"
	fault_empty "$m"
	wait_until 10 zstat_is spilled_chunks 0 "$m" || fail "spilled_chunks after rm: $(zstat spilled_chunks "$m")"
	wait_until 10 zstat_is spill_file_bytes 0 "$m" || fail "spill_file_bytes after rm: $(zstat spill_file_bytes "$m")"
	zumount "$m" || fail "unmount"
}
