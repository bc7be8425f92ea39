# t_load.sh - 32 client processes (tests/tools/zr_client.c) doing mixed
# operations on one mount: create, write, read-verify, append, truncate,
# rename, link, unlink, mkdir/rmdir, readdir, stat, xattrs, fsync, and
# renames in a directory they all share.  Every client must finish without
# an error or a wrong byte; the daemon's thread count stays bounded by its
# options; after rm -rf the mount is empty again and the daemon's RSS is
# back near its warmed-up baseline.
#
# Duration: ZR_LOAD_SECONDS.  run.sh gives every case ZR_TIMEOUT (90 s by
# default, no per-case setting), and the case needs ~15 s around the load
# (warm-up, rm -rf, settling): so 45 s by default, 60 s when ZR_TIMEOUT
# is at least 120 (ZR_TIMEOUT=120 ZR_CASES=t_load sh run.sh).
ZMOUNT=no

LOAD_CLIENTS=32
LOAD_THREADS=4		# -o max_threads
LOAD_WORKERS=2		# -o workers
# Threads besides those: main (waits in libfuse's loop), the housekeeper,
# the spill writeback thread (not started here: one of slack).
LOAD_THREADS_OTHER=3
LOAD_RSS_SLACK_KIB=4096

rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }

load_seconds() {
	if [ -n "${ZR_LOAD_SECONDS:-}" ]; then
		echo "$ZR_LOAD_SECONDS"
	elif [ "${ZR_TIMEOUT:-90}" -ge 120 ]; then
		echo 60
	else
		echo 45
	fi
}

# run_clients DIR SECONDS TAG SEEDBASE - LOAD_CLIENTS clients in DIR; fails naming
# the clients that did not exit 0; op counts summed into $W/TAG.sum
run_clients() {
	local dir=$1 secs=$2 tag=$3 sbase=$4 i bad="" pids=""
	mkdir -p "$dir"
	for i in $(seq 1 "$LOAD_CLIENTS"); do
		"$CLIENT" -t "$secs" -n "$i" -s "$((sbase + i))" "$dir" \
			>"$W/$tag.$i.out" 2>"$W/$tag.$i.err" &
		pids="$pids $!"
	done
	i=0
	for p in $pids; do
		i=$((i + 1))
		wait "$p" || bad="$bad $i(rc $?: $(head -c 300 "$W/$tag.$i.err"))"
	done
	[ -z "$bad" ] || fail "$tag: clients failed:$bad"
	cat "$W/$tag".*.out | awk '{ for (i = 3; i <= NF; i++) { split($i, a, "="); s[a[1]] += a[2]; o[a[1]] = i } }
		END { for (k in s) printf "%d %s=%d\n", o[k], k, s[k] }' | sort -n | cut -d' ' -f2 |
		tr '\n' ' ' >"$W/$tag.sum"
}

case_mixed_load() {
	need_zramfs
	CLIENT=$TOOLS/zr_client
	local m=$W/m secs pid base mem0 rss sampler tmax bound t0
	secs=$(load_seconds)
	zmount "$m" "size=2G,max_threads=$LOAD_THREADS,workers=$LOAD_WORKERS" || fail "mount"
	pid=$(daemon_pid "$m")
	[ -n "$pid" ] || fail "no daemon pid"
	ZMNT=$m		# for zstat / zstat_settles

	# warm-up: thread stacks, malloc arenas, codec contexts, reply buffers
	run_clients "$m/warm" 3 warm 1000
	rm -rf "$m/warm" "$m/shared" || fail "rm -rf after the warm-up"
	zstat_settles files 0 "files after the warm-up"
	sleep 1
	base=$(rss_kib "$pid")
	mem0=$(zstat mem_used_total)

	# threads, and RSS (KiB) for the record, 5 times a second
	( while kill -0 "$pid" 2>/dev/null; do
		echo "$(ls "/proc/$pid/task" 2>/dev/null | wc -l) $(rss_kib "$pid")"
		sleep 0.2
	  done >"$W/samples" ) &
	sampler=$!
	t0=$(date +%s)
	run_clients "$m/load" "$secs" load 2000
	note "$LOAD_CLIENTS clients, ${secs} s (took $(( $(date +%s) - t0 )) s): $(cat "$W/load.sum")"
	note "peak RSS $(cut -d' ' -f2 "$W/samples" | sort -n | tail -n1) KiB; stats after the load: $(zstat_all "$m" | awk '$1 ~ /^(orig_data_size|mem_used_total|files|dirs|chunks)$/' | tr '\n' ' ')"
	kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null
	cut -d' ' -f1 "$W/samples" >"$W/threads"

	bound=$((LOAD_THREADS + LOAD_WORKERS + LOAD_THREADS_OTHER))
	tmax=$(sort -n "$W/threads" | tail -n1)
	note "daemon threads: $(sort -n "$W/threads" | uniq -c | awk '{ printf "%s x%s, ", $2, $1 }')max $tmax, bound $bound"
	assert_gt "$(wc -l <"$W/threads")" 10 "thread samples"
	assert_le "$tmax" "$bound" "daemon threads (max_threads + workers + $LOAD_THREADS_OTHER)"

	rm -rf "$m/load" "$m/shared" || fail "rm -rf"
	assert_eq "$(ls -A "$m" | wc -l)" 0 "entries left in the root"
	zstat_settles files 0 "files after rm -rf"
	zstat_settles dirs 1 "dirs after rm -rf (the root)"
	zstat_settles inodes 1 "inodes after rm -rf"
	zstat_settles chunks 0 "chunks after rm -rf"
	zstat_settles orig_data_size 0 "orig_data_size after rm -rf"
	assert_eq "$(zstat xattr_bytes)" 0 "xattr_bytes after rm -rf"
	assert_eq "$(zstat arena_objects)" 0 "arena_objects after rm -rf"
	# emptied spans go back to the OS (the housekeeper compacts)
	zstat_settles arena_mapped_bytes 0 "arena_mapped_bytes after rm -rf"
	# the handle table, staging buffers and freed heap go back once idle
	wait_until 10 sh -c "[ \$(getfattr --only-values -n user.zramfs.stats '$m' 2>/dev/null | awk '\$1 == \"mem_used_total\" { print \$2 }') -le $((mem0 + 1048576)) ]" || true
	assert_le "$(zstat mem_used_total)" "$((mem0 + 1048576))" "mem_used_total after rm -rf (after the warm-up: $mem0)"
	wait_until 10 sh -c "[ \$(awk '/^VmRSS/ { print \$2 }' /proc/$pid/status) -le $((base + LOAD_RSS_SLACK_KIB)) ]" || true
	rss=$(rss_kib "$pid")
	note "daemon RSS: ${base} KiB after the warm-up, ${rss} KiB after the load and rm -rf;" \
		"mem_used_total $mem0 then $(zstat mem_used_total) (heap_bytes $(zstat heap_bytes))"
	if sanitized_daemon; then
		# a sanitizer's allocator keeps freed memory (quarantine, shadow)
		note "sanitizer build: RSS not checked"
	else
		assert_le "$rss" "$((base + LOAD_RSS_SLACK_KIB))" "daemon RSS (KiB) after rm -rf (baseline $base)"
	fi
	zumount "$m" || fail "unmount"
}
