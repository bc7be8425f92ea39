# t_crash.sh - the daemon killed with SIGKILL while it holds spilled data
# (and while clients are busy on it): the mount says "Transport endpoint
# is not connected", the README's recovery (fusermount3 -uz) clears it,
# nothing is left in the spill directory, nobody hangs, and a new mount on
# the same mountpoint and spill directory works.  Own mounts under $W.
ZMOUNT=no

# alive PID - running (not gone, not a zombie)
alive() { [ -e "/proc/$1" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }
dead() { ! alive "$1"; }
in_proc_mounts() { grep -q " $1 " /proc/mounts; }

# spill_fds PID DIR - the daemon's descriptors on files in DIR
spill_fds() {
	local fd t
	for fd in /proc/"$1"/fd/*; do
		t=$(readlink "$fd") || continue
		case $t in "$2"/*) echo "$t" ;; esac
	done
}

# kill9_recover MOUNT PID - SIGKILL, ENOTCONN, fusermount3 -uz, unmounted
kill9_recover() {
	local m=$1 pid=$2 out
	kill -KILL "$pid" || fail "kill -9 $pid"
	wait_until 10 dead "$pid" || fail "daemon $pid alive 10 s after SIGKILL"
	out=$(timeout 10 stat "$m" 2>&1) && fail "stat of the dead mount succeeded: $out"
	echo "$out" | grep -q "Transport endpoint is not connected" || fail "stat after kill -9: '$out'"
	out=$(timeout 10 ls "$m" 2>&1) && fail "ls of the dead mount succeeded"
	echo "$out" | grep -q "Transport endpoint is not connected" || fail "ls after kill -9: '$out'"
	in_proc_mounts "$m" || note "mount entry gone before fusermount3 -uz"
	out=$(timeout 20 fusermount3 -uz "$m" 2>&1) || fail "fusermount3 -uz: $out"
	wait_until 10 sh -c "! grep -q ' $m ' /proc/mounts" || fail "still mounted after fusermount3 -uz"
	timeout 10 stat "$m" >/dev/null || fail "mountpoint unusable after fusermount3 -uz"
}

# spilled MOUNT - chunks are in the spill file
spilled() { [ "$(zstat spilled_chunks "$1")" -gt 0 ]; }

case_kill9_spill() {
	need_zramfs
	local m=$W/k sp=$W/sp pid fds
	mkdir -p "$sp"
	zmount "$m" "mem_limit=4M,spill=$sp" || fail "mount"
	pid=$(daemon_pid "$m")
	[ -n "$pid" ] || fail "no daemon pid"
	seq 1 20000000 | head -c 32M >"$W/data"
	dd if="$W/data" of="$m/f" bs=1M conv=fsync status=none || fail "write 32 MiB"
	wait_until 10 spilled "$m" || fail "nothing spilled: $(zstat_all "$m" | grep -E '^(spill|mem_)' | tr '\n' ' ')"
	note "before kill -9: spilled_chunks $(zstat spilled_chunks "$m"), spill_file_bytes $(zstat spill_file_bytes "$m")"
	fds=$(spill_fds "$pid" "$sp")
	assert_eq "$(echo "$fds" | grep -c .)" 1 "daemon descriptors on the spill dir"
	case $fds in *" (deleted)") ;; *) fail "spill file not unlinked: $fds" ;; esac
	assert_eq "$(ls -A "$sp" | wc -l)" 0 "entries in the spill dir before the crash"

	kill9_recover "$m" "$pid"
	assert_eq "$(ls -A "$sp" | wc -l)" 0 "entries in the spill dir after the crash"
	# nothing holds the old spill file any more (its blocks are freed)
	assert_eq "$(ls -l /proc/[0-9]*/fd/ 2>/dev/null | grep -cF -- "$sp/")" 0 "descriptors on the old spill file"

	# a new mount on the same mountpoint and spill dir
	zmount "$m" "mem_limit=4M,spill=$sp" || fail "remount after kill -9"
	pid=$(daemon_pid "$m")
	assert_eq "$(ls -A "$m" | wc -l)" 0 "entries in the new mount"
	dd if="$W/data" of="$m/f" bs=1M conv=fsync status=none || fail "write 32 MiB after the remount"
	wait_until 10 spilled "$m" || fail "nothing spilled after the remount"
	echo 3 >/proc/sys/vm/drop_caches
	cmp "$W/data" "$m/f" || fail "data after the remount"
	assert_eq "$(spill_fds "$pid" "$sp" | grep -c .)" 1 "spill files of the new daemon"
	zumount "$m" || fail "unmount"
	wait_until 10 dead "$pid" || fail "daemon still running after the unmount"
	assert_eq "$(ls -A "$sp" | wc -l)" 0 "entries in the spill dir after the unmount"
}

# Clients writing, reading and renaming when the daemon dies: they get
# errors (ENOTCONN), none hangs; the recovery works the same.
case_kill9_under_load() {
	need_zramfs
	CLIENT=$TOOLS/zr_client
	local m=$W/l sp=$W/sp2 pid i pids="" p left
	mkdir -p "$sp"
	zmount "$m" "mem_limit=8M,spill=$sp,max_threads=4,workers=2" || fail "mount"
	pid=$(daemon_pid "$m")
	[ -n "$pid" ] || fail "no daemon pid"
	for i in 1 2 3 4 5 6 7 8; do
		"$CLIENT" -t 60 -n "$i" "$m" >/dev/null 2>"$W/c$i.err" &
		pids="$pids $!"
	done
	( head -c 48M /dev/urandom >"$m/big" ) 2>/dev/null &
	pids="$pids $!"
	sleep 3
	kill9_recover "$m" "$pid"
	wait_until 15 sh -c "for p in $pids; do kill -0 \$p 2>/dev/null && exit 1; done; exit 0" || {
		left=""
		for p in $pids; do kill -0 "$p" 2>/dev/null && left="$left $p($(cat /proc/$p/wchan 2>/dev/null))"; done
		fail "clients still running 15 s after the crash:$left"
	}
	for p in $pids; do wait "$p" 2>/dev/null; done
	note "client errors: $(cat "$W"/c*.err | sed 's/^zr_client [0-9]*: \([a-z/ ]*\) [^ ]*: /\1: /' | sort | uniq -c | tr '\n' ';')"
	assert_eq "$(ls -A "$sp" | wc -l)" 0 "entries in the spill dir after the crash"
	zmount "$m" "mem_limit=4M,spill=$sp" || fail "remount after kill -9"
	echo again >"$m/f" && [ "$(cat "$m/f")" = again ] || fail "I/O after the remount"
	zumount "$m" || fail "unmount"
}
