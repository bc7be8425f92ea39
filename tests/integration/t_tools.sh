# t_tools.sh - contrib/zramfs-stat (table, --bytes, --json, --watch,
# errors), an fstab line and the contrib examples, make install.
ZOPTS="size=128M,chunk=64K"
ZR_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ZSTAT=$ZR_TOP/contrib/zramfs-stat

# near A B WHAT - A within 1 MiB of B (mem_used_total moves by itself as
# idle buffers are given back)
near() { [ "$1" -ge $(($2 - 1048576)) ] && [ "$1" -le $(($2 + 1048576)) ] || fail "$3: $1, want about $2"; }
# row MOUNTPOINT [ARGS] - the table row of MOUNTPOINT
row() { local m=$1; shift; sh "$ZSTAT" "$@" "$m" | awk -v m="$m" '$1 == m'; }

case_table() {
	need_zramfs
	head -c 3000000 /dev/zero >"$Z/zeros"
	seq 1 300000 >"$Z/text"
	sync
	local out hdr r
	out=$(sh "$ZSTAT" "$ZMNT") || fail "zramfs-stat $ZMNT failed"
	hdr=$(echo "$out" | head -n1)
	assert_eq "$(echo "$hdr" | tr -s ' ')" "MOUNTPOINT LIMIT DATA COMPR TOTAL RATIO SPILLED FILES" "header"
	assert_eq "$(echo "$out" | wc -l)" 2 "one row"
	# --bytes: the figures of user.zramfs.stats (the mount is idle)
	r=$(row "$ZMNT" --bytes)
	set -- $r
	assert_eq "$2" 134217728 "LIMIT in bytes"
	assert_eq "$3" "$(zstat orig_data_size)" "DATA = orig_data_size"
	assert_eq "$4" "$(zstat compr_data_size)" "COMPR = compr_data_size"
	near "$5" "$(zstat mem_used_total)" "TOTAL = mem_used_total"
	assert_eq "$6" "$(zstat compr_ratio)" "RATIO = compr_ratio"
	assert_eq "$7" "-" "SPILLED without a spill tier"
	assert_eq "$8" "$(zstat files)" "FILES"
	# human units
	set -- $(row "$ZMNT")
	assert_eq "$2" 128M "LIMIT in human units"
	case $3 in *[0-9][KMG]) ;; *) fail "DATA in human units: '$3'" ;; esac
	# listed without arguments too (from /proc/self/mountinfo)
	sh "$ZSTAT" | awk -v m="$ZMNT" '$1 == m { f = 1 } END { exit !f }' || fail "$ZMNT not listed without arguments"
	# a path inside the mount names the mount
	assert_eq "$(row "$ZMNT" "$Z/text" | wc -l)" 2 "a path inside the mount shows the mount"
}

case_json() {
	need_zramfs
	seq 1 100000 >"$Z/text"; sync
	local out
	out=$(sh "$ZSTAT" --json "$ZMNT") || fail "zramfs-stat --json failed"
	if command -v python3 >/dev/null; then
		echo "$out" | python3 -m json.tool >/dev/null || fail "invalid JSON: $out"
		local got
		got=$(echo "$out" | python3 -c 'import json, sys
d = json.load(sys.stdin)["filesystems"][0]
print(d["mountpoint"], d["orig_data_size"], d["compr_data_size"], d["spill_bytes"], d["files"], d["mem_used_total"])')
		assert_eq "${got% *}" "$ZMNT $(zstat orig_data_size) $(zstat compr_data_size) None $(zstat files)" "JSON values"
		near "${got##* }" "$(zstat mem_used_total)" "JSON mem_used_total"
	else
		echo "$out" | grep -q "\"mountpoint\": \"$ZMNT\"" || fail "mountpoint in JSON: $out"
		echo "$out" | grep -q "\"orig_data_size\": $(zstat orig_data_size)," || fail "orig_data_size in JSON: $out"
	fi
	# nothing to show: an empty list, still valid JSON
	out=$(sh "$ZSTAT" --json /var/tmp 2>/dev/null)
	assert_eq "$out" '{"filesystems": []}' "JSON for a path that is not a zramfs"
	# JSON string escaping of an odd mount point
	# (not through zmount: /proc/mounts shows the space as \040)
	local m="$W/odd \"dir\""
	mkdir -p "$m"
	trap 'fusermount3 -uz "$m" 2>/dev/null' EXIT
	timeout 20 "$ZRAMFS" "$m" -o size=16M || fail "mount odd name"
	listed() { sh "$ZSTAT" | grep -qF "$m"; }
	wait_until 10 listed || fail "mount point with a space not listed"
	out=$(sh "$ZSTAT" --json "$m") || fail "zramfs-stat --json on '$m'"
	if command -v python3 >/dev/null; then
		assert_eq "$(echo "$out" | python3 -c 'import json, sys; print(json.load(sys.stdin)["filesystems"][0]["mountpoint"])')" "$m" "escaped mount point"
	fi
	fusermount3 -u "$m" || fail "unmount odd name"
}

case_errors_and_help() {
	local out rc
	out=$(sh "$ZSTAT" /var/tmp 2>&1); rc=$?
	assert_eq "$rc" 1 "exit status for a path that is not a zramfs"
	echo "$out" | grep -q "not on a zramfs" || fail "message for a non-zramfs path: $out"
	out=$(sh "$ZSTAT" "$ZMNT" /proc 2>/dev/null); rc=$?
	assert_eq "$rc" 1 "exit status with one good and one bad path"
	[ "${IS_TMPFS:-0}" = 1 ] || echo "$out" | grep -q "^$ZMNT " || fail "the good path is still shown: $out"
	sh "$ZSTAT" --watch abc >/dev/null 2>&1; assert_eq "$?" 2 "--watch abc"
	sh "$ZSTAT" --watch 0 >/dev/null 2>&1; assert_eq "$?" 2 "--watch 0"
	sh "$ZSTAT" --bogus >/dev/null 2>&1; assert_eq "$?" 2 "unknown option"
	sh "$ZSTAT" --help | grep -q -- "--json" || fail "--help"
	# no getfattr: a clear message
	mkdir -p "$W/bin"
	for t in awk stat sed cat; do ln -sf "$(command -v $t)" "$W/bin/$t"; done
	out=$(PATH=$W/bin /bin/sh "$ZSTAT" 2>&1); rc=$?
	assert_eq "$rc" 2 "exit status without getfattr"
	echo "$out" | grep -q "getfattr not found" || fail "message without getfattr: $out"
}

case_watch() {
	need_zramfs
	local out
	out=$(timeout 2.5 sh "$ZSTAT" --watch 1 "$ZMNT")
	assert_ge "$(echo "$out" | grep -c '^MOUNTPOINT')" 2 "--watch 1 prints every second"
}

case_fstab_line() {
	need_zramfs
	local m=$W/fst
	[ "$(basename "$ZRAMFS")" = zramfs ] || skip "daemon not named zramfs"
	mkdir -p "$m"; echo "$m" >>"$REG"
	# the example's /tmp line, pointed at a scratch dir
	grep -E '^zramfs[[:space:]]+/tmp[[:space:]]+fuse\.zramfs' "$ZR_TOP/contrib/fstab.example" >"$W/line" ||
		fail "no /tmp line in contrib/fstab.example"
	awk -v m="$m" '{ $2 = m; print }' "$W/line" >"$W/fstab"
	# mount(8) runs the helper without our PATH: mount.fuse finds the
	# daemon in the default one, where `make install` puts it; for the
	# test a link in /usr/local/sbin stands in (removed after)
	local link=
	if ! env -i sh -c 'command -v zramfs' >/dev/null; then
		link=/usr/local/sbin/zramfs
		ln -s "$ZRAMFS" "$link" || skip "cannot link the daemon into /usr/local/sbin"
		trap 'rm -f /usr/local/sbin/zramfs' EXIT
	fi
	timeout 20 mount -T "$W/fstab" "$m" || fail "mount from an fstab line: $(cat "$W/fstab")"
	[ -n "$link" ] && rm -f "$link"
	wait_until 10 is_mounted "$m" || fail "not mounted"
	awk -v m="$m" '$5 == m { print $0 }' /proc/self/mountinfo | grep -q ' - fuse\.zramfs ' || fail "fstype fuse.zramfs"
	assert_eq "$(stat -c %a "$m")" 1777 "mode=1777 from the fstab line"
	awk -v m="$m" '$2 == m { print $4 }' /proc/mounts | grep -q nosuid || fail "nosuid"
	echo x >"$m/f" || fail "write"
	row "$m" >/dev/null || fail "zramfs-stat on the fstab mount"
	zumount "$m" || fail "unmount"
}

case_contrib_units() {
	local u=$ZR_TOP/contrib/systemd/tmp.mount
	[ -f "$u" ] || fail "no $u"
	grep -qx 'Type=fuse.zramfs' "$u" || fail "Type= in tmp.mount"
	grep -qx 'What=zramfs' "$u" || fail "What= in tmp.mount"
	grep -qx 'Where=/tmp' "$u" || fail "Where= in tmp.mount"
	grep -q '^Options=.*mode=1777' "$u" || fail "Options= in tmp.mount"
	if command -v systemd-analyze >/dev/null && [ -d /run/systemd/system ]; then
		systemd-analyze verify "$u" 2>&1 | grep -v 'not found' | grep -qi error && fail "systemd-analyze verify $u"
	fi
	return 0
}

case_make_install() {
	local d=$W/inst
	# -o: install what is built, do not rebuild here
	make -s -C "$ZR_TOP" -o all -o "$ZRAMFS" install DESTDIR="$d" PREFIX=/usr DAEMON="$ZRAMFS" >"$W/log" 2>&1 ||
		fail "make install: $(cat "$W/log")"
	for f in usr/bin/zramfs usr/bin/zramfs-stat usr/share/man/man1/zramfs.1 \
		usr/lib/systemd/system/zramfs@.service usr/share/zramfs/tmp.mount \
		usr/share/zramfs/fstab.example; do
		[ -e "$d/$f" ] || fail "make install did not install $f"
	done
	[ -x "$d/usr/bin/zramfs-stat" ] || fail "zramfs-stat not executable"
	grep -qx 'ExecStart=/usr/bin/zramfs zramfs %f -o ${ZRAMFS_OPTS},nodev,nosuid' \
		"$d/usr/lib/systemd/system/zramfs@.service" || fail "BINDIR in the installed service"
	make -s -C "$ZR_TOP" uninstall DESTDIR="$d" PREFIX=/usr >"$W/log" 2>&1 || fail "make uninstall: $(cat "$W/log")"
	assert_eq "$(find "$d" -type f | wc -l)" 0 "files left after make uninstall"
}
