# t_options.sh - command line, mount options, unmounting.  Each case
# mounts its own instance(s) under $W.
ZMOUNT=no

# bad_option OPT WORD - mounting with -o OPT fails, names WORD, mounts nothing
bad_option() {
	local m=$W/bad out rc
	mkdir -p "$m"
	echo "$m" >>"$REG"
	out=$(timeout 20 "$ZRAMFS" "$m" -o "$1" 2>&1 </dev/null); rc=$?
	if is_mounted "$m"; then
		fusermount3 -uz "$m"
		fail "-o $1: mounted anyway"
	fi
	[ $rc != 0 ] || fail "-o $1: exit status 0"
	[ $rc != 124 ] || fail "-o $1: hung"
	echo "$out" | grep -q -- "$2" || fail "-o $1: message does not name '$2': $out"
	[ "$(echo "$out" | grep -c .)" -le 2 ] || note "-o $1: message is $(echo "$out" | grep -c .) lines: $out"
}

case_bad_options() {
	need_zramfs
	bad_option chunk=3K chunk
	bad_option chunk=2K chunk
	bad_option chunk=2M chunk
	bad_option comp=foo comp
	bad_option size=abc size
	bad_option bogus bogus
	bad_option zstd:99 zstd
	bad_option comp=zstd:99 comp
	bad_option nr_inodes=-5 nr_inodes
	bad_option mode=99x mode
	bad_option read_ahead=3K read_ahead
	bad_option read_ahead=128M read_ahead
	bad_option recompress=lz4 recompress
	bad_option recompress=brotli recompress
	bad_option recompress_idle=soon recompress_idle
	bad_option recompress_dict=maybe recompress_dict
}

case_help_version() {
	need_zramfs
	local out
	out=$(timeout 10 "$ZRAMFS" --help 2>&1) || fail "--help exit status $?"
	echo "$out" | grep -q 'size=' || fail "--help does not mention size=: $out"
	out=$(timeout 10 "$ZRAMFS" --version 2>&1) || fail "--version exit status $?"
	echo "$out" | grep -Eq '[0-9]+\.[0-9]+' || fail "--version prints no version: $out"
	out=$(timeout 10 "$ZRAMFS" 2>&1) && fail "no arguments: exit status 0"
	[ -n "$out" ] || fail "no arguments: no message"
}

case_source_argument() {
	need_zramfs
	local m=$W/src
	mkdir -p "$m"; echo "$m" >>"$REG"
	timeout 20 "$ZRAMFS" myzram "$m" -o size=64M || fail "mount with SOURCE"
	wait_until 10 is_mounted "$m" || fail "not mounted"
	awk -v d="$m" '$2 == d { print $1, $3 }' /proc/mounts | grep -Eq '^myzram fuse(\.zramfs)? ' ||
		note "mount entry: $(awk -v d="$m" '$2 == d' /proc/mounts)"
	awk -v d="$m" '$2 == d { print $3 }' /proc/mounts | grep -q '^fuse' || fail "fstype is not fuse*"
	echo hi >"$m/x" && [ "$(cat "$m/x")" = hi ] || fail "I/O on the mount"
	assert_eq "$(df -B1 --output=size "$m" | tail -n1 | tr -d ' ')" 67108864 "size=64M"
	zumount "$m" || fail "unmount"
	is_mounted "$m" && fail "still mounted"
	return 0
}

case_root_mode_uid_gid() {
	local m=$W/r
	zmount "$m" "size=16M,mode=0710,uid=1234,gid=5678" || fail "mount"
	assert_eq "$(stat -c '%a %u %g' "$m")" "710 1234 5678" "root dir attributes"
	zumount "$m" || fail "unmount"
	zmount "$m" "size=16M,mode=1777" || fail "mount mode=1777"
	assert_eq "$(stat -c '%a %u %g' "$m")" "1777 0 0" "root dir with mode=1777 (owner: the caller, root)"
	zumount "$m" || fail "unmount"
}

case_mount_t_fuse() {
	need_zramfs
	command -v zramfs >/dev/null || skip "zramfs not installed in PATH"
	local m=$W/mt
	mkdir -p "$m"; echo "$m" >>"$REG"
	timeout 20 mount -t fuse.zramfs zramfs "$m" -o size=64M || fail "mount -t fuse.zramfs"
	wait_until 10 is_mounted "$m" || fail "not mounted"
	echo x >"$m/f" || fail "write"
	zumount "$m" || fail "unmount"
}

# The read-ahead zramfs sets on its device, as the kernel reports it.
# (set by the daemon just after the mount appears: wait for it)
bdi_read_ahead_kb() { cat "/sys/class/bdi/$(mountpoint -d "$1")/read_ahead_kb"; }
read_ahead_is() { [ "$(bdi_read_ahead_kb "$1")" = "$2" ]; }

case_read_ahead() {
	need_zramfs
	local m=$W/ra
	zmount "$m" "size=64M" || fail "mount"
	wait_until 10 read_ahead_is "$m" 1024
	assert_eq "$(bdi_read_ahead_kb "$m")" 1024 "default read_ahead (KiB)"
	head -c 8M /dev/urandom >"$W/ra.src"
	cp "$W/ra.src" "$m/f" && sync && echo 3 >/proc/sys/vm/drop_caches
	cmp -s "$W/ra.src" "$m/f" || fail "data read back with read-ahead differs"
	zumount "$m" || fail "unmount"
	zmount "$m" "size=64M,read_ahead=256K" || fail "mount read_ahead=256K"
	wait_until 10 read_ahead_is "$m" 256
	assert_eq "$(bdi_read_ahead_kb "$m")" 256 "read_ahead=256K"
	zumount "$m" || fail "unmount"
	zmount "$m" "size=64M,read_ahead=0" || fail "mount read_ahead=0"
	ls "$m" >/dev/null	# INIT answered; nothing else would change it
	assert_eq "$(bdi_read_ahead_kb "$m")" 128 "read_ahead=0 keeps the kernel's default"
	zumount "$m" || fail "unmount"
}

case_size_suffixes() {
	need_zramfs
	local m=$W/s o want
	for o in "size=1G:1073741824" "size=300M:314572800" "size=65536K:67108864" "size=12345678:12345678"; do
		want=${o#*:}
		zmount "$m" "${o%%:*}" || fail "mount -o ${o%%:*}"
		local got
		got=$(df -B1 --output=size "$m" | tail -n1 | tr -d ' ')
		# statfs reports whole blocks: allow rounding down to the block size
		local bs
		bs=$(stat -f -c %S "$m")
		assert_le "$got" "$want" "df size for ${o%%:*}"
		assert_gt "$got" "$((want - bs))" "df size for ${o%%:*}"
		zumount "$m" || fail "unmount"
	done
}

# ---- unmounting --------------------------------------------------------

case_sigterm_unmounts() {
	need_zramfs
	local m=$W/term pid rc
	mkdir -p "$m"; echo "$m" >>"$REG"
	"$ZRAMFS" "$m" -f -o size=32M </dev/null >"$W/log" 2>&1 &
	pid=$!
	wait_until 10 is_mounted "$m" || fail "not mounted: $(cat "$W/log")"
	echo data >"$m/f"
	kill -TERM "$pid"
	wait_until 10 sh -c "! kill -0 $pid 2>/dev/null" || fail "daemon still running 10 s after SIGTERM"
	wait "$pid"; rc=$?
	assert_eq "$rc" 0 "daemon exit status after SIGTERM"
	is_mounted "$m" && fail "still mounted after SIGTERM"
	return 0
}

case_fusermount_u() {
	need_zramfs
	local m=$W/fu pid
	mkdir -p "$m"; echo "$m" >>"$REG"
	"$ZRAMFS" "$m" -f -o size=32M </dev/null >"$W/log" 2>&1 &
	pid=$!
	wait_until 10 is_mounted "$m" || fail "not mounted: $(cat "$W/log")"
	# busy: an open file keeps the mount (plain -u fails with EBUSY)
	exec 3<>"$m/open"
	if fusermount3 -u "$m" 2>/dev/null; then
		exec 3>&-
		fail "fusermount3 -u succeeded with an open file"
	fi
	exec 3>&-
	fusermount3 -u "$m" || fail "fusermount3 -u"
	is_mounted "$m" && fail "still mounted"
	wait_until 10 sh -c "! kill -0 $pid 2>/dev/null" || fail "daemon still running after fusermount3 -u"
	wait "$pid" || fail "daemon exit status $? after fusermount3 -u"
	# daemonized mode too: the daemon goes away after the unmount
	zmount "$m" "size=32M" || fail "mount (daemon mode)"
	local dpid
	dpid=$(for p in /proc/[0-9]*; do
		tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF " $m " && echo "${p#/proc/}"; done | head -n1)
	zumount "$m" || fail "fusermount3 -u (daemon mode)"
	if [ -n "$dpid" ]; then
		wait_until 10 sh -c "! kill -0 $dpid 2>/dev/null" || fail "daemonized zramfs $dpid still running after unmount"
	fi
	return 0
}

case_kill9_recovery() {
	need_zramfs
	local m=$W/k9 pid
	mkdir -p "$m"; echo "$m" >>"$REG"
	"$ZRAMFS" "$m" -f -o size=32M </dev/null >"$W/log" 2>&1 &
	pid=$!
	wait_until 10 is_mounted "$m" || fail "not mounted"
	echo data >"$m/f"
	kill -KILL "$pid"; wait "$pid" 2>/dev/null
	local out
	out=$(timeout 10 stat "$m" 2>&1) && note "stat after kill -9 succeeded?"
	echo "$out" | grep -q "not connected" || note "stat after kill -9: $out"
	timeout 20 fusermount3 -uz "$m" || fail "fusermount3 -uz after kill -9"
	wait_until 10 sh -c "! grep -q ' $m ' /proc/mounts" || fail "still mounted after fusermount3 -uz"
	# the mount point is usable again
	zmount "$m" "size=32M" || fail "remount after kill -9"
	echo again >"$m/f" && [ "$(cat "$m/f")" = again ] || fail "I/O after remount"
	zumount "$m" || fail "unmount"
}

# -o mlock (swap files): the daemon's pages are locked as it touches them,
# memory still goes back to the OS on delete, and a daemon that may not
# mark itself an I/O flusher says so at mount time.
case_mlock() {
	need_zramfs
	local m=$W/mlock pid out lck rss_full rss_empty
	bad_option mlock=sometimes mlock
	mkdir -p "$m"
	echo "$m" >>"$REG"
	out=$("$ZRAMFS" "$m" -o mlock,size=1G 2>&1) || fail "mount -o mlock: $out"
	if ! capsh --has-p=cap_sys_resource 2>/dev/null; then
		echo "$out" | grep -q "PR_SET_IO_FLUSHER" || fail "no I/O flusher warning: '$out'"
	fi
	pid=$(daemon_pid "$m")
	[ -n "$pid" ] || fail "daemon not found"
	head -c 64M /dev/urandom >"$m/f"
	sync
	lck=$(awk '/^VmLck/ { print $2 }' /proc/$pid/status)
	rss_full=$(awk '/^VmRSS/ { print $2 }' /proc/$pid/status)
	assert_ge "$lck" "$rss_full" "VmLck (kB) covers the resident set"
	assert_ge "$rss_full" 65536 "RSS (kB) holds the 64 MiB file"
	rm "$m/f"
	wait_until 10 sh -c "[ \$(awk '/^VmRSS/ { print \$2 }' /proc/$pid/status) -lt 40000 ]" || true
	rss_empty=$(awk '/^VmRSS/ { print $2 }' /proc/$pid/status)
	assert_lt "$rss_empty" 40000 "RSS (kB) after rm under mlock"
	fusermount3 -u "$m"
}

# After rm -rf the daemon holds no more memory than the empty mount did
# (make bench's goal: <= 1 MiB).  Anonymous memory: the code pages of
# libzstd that the first compression maps in belong to the page cache.
anon_kib() { awk '/^RssAnon/ { print $2 }' "/proc/$1/status"; }

case_rm_returns_ram() {
	need_zramfs
	sanitized_daemon && skip "sanitizer build: its allocator keeps freed memory"
	local m=$W/rr pid base peak left
	zmount "$m" "size=1G,comp=zstd:3" || fail "mount"
	pid=$(daemon_pid "$m")
	[ -n "$pid" ] || fail "daemon not found"
	tr '\0' '\n' </proc/"$pid"/environ | grep -q '^GLIBC_TUNABLES=.*tcache_count=0' ||
		fail "daemon runs with the per-thread malloc cache on"
	ls "$m" >/dev/null
	base=$(anon_kib "$pid")
	cp -a /usr/include "$m/inc" || fail "cp -a /usr/include"
	tar -C /usr -cf "$m/big" include || fail "tar to one big file"
	sync
	peak=$(anon_kib "$pid")
	rm -rf "$m/inc" "$m/big" || fail "rm -rf"
	wait_until 10 zstat_is files 0 "$m" || fail "files left after rm -rf: $(zstat files "$m")"
	wait_until 15 sh -c "[ \$(awk '/^RssAnon/ { print \$2 }' /proc/$pid/status) -le $((base + 1024)) ]" || true
	left=$(anon_kib "$pid")
	note "daemon anonymous RSS: empty $base KiB, full $peak KiB, after rm -rf $left KiB"
	assert_le "$left" "$((base + 1024))" "anonymous RSS (KiB) after rm -rf (empty mount: $base)"
	zumount "$m" || fail "unmount"
}

# Idle recompression: the same files take less arena with it than without
# (by exactly what the stats say it saved), read back identical, and the
# root's control does it on demand.  Four copies of the headers are more
# than the 16 MiB a dictionary waits for: it is made, and makes them
# smaller than recompress_dict=0 does.
case_recompress() {
	need_zramfs
	local off=$W/rc_off on=$W/rc_on ask=$W/rc_ask nod=$W/rc_nodict a b c saved out i
	zmount "$off" "size=256M,recompress=off" || fail "mount recompress=off"
	zmount "$on" "size=256M,recompress_idle=1" || fail "mount recompress_idle=1"
	zmount "$ask" "size=256M,recompress_idle=0" || fail "mount recompress_idle=0"
	zmount "$nod" "size=256M,recompress_idle=0,recompress_dict=0" || fail "mount recompress_dict=0"
	for m in "$off" "$on" "$ask" "$nod"; do
		for i in 1 2 3 4; do cp -a /usr/include/linux "$m/inc$i" || fail "cp -a to $m"; done
	done
	sync
	assert_eq "$(zstat recompress_pending "$off")" 0 "recompress=off: pending"
	out=$(setfattr -n user.zramfs.recompress -v all "$off" 2>&1) && fail "control with recompress=off succeeded"
	echo "$out" | grep -q "No such device" || fail "control with recompress=off: $out"
	# the background thread, unasked
	wait_until 60 zstat_is recompress_pending 0 "$on" ||
		fail "background recompression left $(zstat recompress_pending "$on") chunks"
	a=$(zstat compr_data_size "$off") b=$(zstat compr_data_size "$on")
	saved=$(zstat recompress_saved_bytes "$on")
	note "compr_data_size: lz4 $a, recompressed $b (saved $saved, $(zstat recompressed_chunks "$on") chunks)"
	assert_gt "$(zstat recompressed_chunks "$on")" 0 "recompressed_chunks"
	assert_lt "$b" "$(( a * 95 / 100 ))" "compr_data_size after recompression (lz4: $a)"
	assert_eq "$((b + saved))" "$a" "compr_data_size + recompress_saved_bytes"
	# on demand only (recompress_idle=0)
	assert_gt "$(zstat recompress_pending "$ask")" 0 "recompress_idle=0: pending before the control"
	assert_eq "$(zstat recompressed_chunks "$ask")" 0 "recompress_idle=0: done before the control"
	out=$(setfattr -n user.zramfs.recompress -v soon "$ask" 2>&1) && fail "control value 'soon' accepted"
	echo "$out" | grep -q "Invalid argument" || fail "control value 'soon': $out"
	setfattr -n user.zramfs.recompress -v all "$ask" || fail "recompress control"
	assert_eq "$(zstat recompress_pending "$ask")" 0 "pending after the control"
	assert_eq "$(zstat compr_data_size "$ask")" "$b" "compr_data_size after the control"
	# the dictionary
	setfattr -n user.zramfs.recompress -v all "$nod" || fail "recompress control (no dictionary)"
	c=$(zstat compr_data_size "$nod")
	note "compr_data_size without a dictionary $c, dictionary $(zstat dict_bytes "$on") bytes"
	assert_gt "$(zstat dict_bytes "$on")" 0 "dict_bytes (background)"
	assert_gt "$(zstat dict_bytes "$ask")" 0 "dict_bytes (control)"
	assert_eq "$(zstat dict_bytes "$nod")" 0 "dict_bytes with recompress_dict=0"
	assert_eq "$(zstat dict_bytes "$off")" 0 "dict_bytes with recompress=off"
	assert_lt "$b" "$(( c * 95 / 100 ))" "compr_data_size with the dictionary (without: $c)"
	echo 3 >/proc/sys/vm/drop_caches
	for m in "$on" "$ask" "$nod"; do
		for i in 1 2 3 4; do
			diff -r /usr/include/linux "$m/inc$i" >/dev/null || fail "$m/inc$i differs"
		done
	done
	for m in "$off" "$on" "$ask" "$nod"; do zumount "$m" || fail "unmount $m"; done
}

# A spill directory inside a zramfs mount is refused by name.
case_spill_on_zramfs() {
	need_zramfs
	local m=$W/outer m2=$W/inner out
	mkdir -p "$m" "$m2"
	echo "$m" >>"$REG"
	echo "$m2" >>"$REG"
	"$ZRAMFS" "$m" -o size=64M || fail "mount"
	mkdir "$m/spill"
	out=$("$ZRAMFS" "$m2" -o "spill=$m/spill" 2>&1) && fail "spill on zramfs accepted"
	echo "$out" | grep -q "$m/spill is on a zramfs mount" || fail "message: $out"
	is_mounted "$m2" && fail "mounted anyway"
	fusermount3 -u "$m"
}
