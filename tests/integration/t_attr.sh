# t_attr.sh - modes, owners, times, permission checks (uids $U1 $U2 via
# setpriv; the mount has allow_other).
ZOPTS="size=256M"

case_chmod() {
	same 'touch f; mkdir d; for m in 0 1 7 70 700 644 755 1777 2755 4755 6777 7777; do
	        chmod $m f; chmod $m d; stat -c "%a %A" f d; done'
}

case_chown() {
	same 'touch f; mkdir d; ln -s f l
	      chown 1234:5678 f; chown 99 d; chgrp 77 d; chown -h 4321:8765 l
	      stat -c "%n %u %g" f d l
	      chmod 6755 f; chown 1:1 f; stat -c "%a" f'
}

# Seconds now, less one: under the writeback cache file times come from
# the kernel's coarse clock, up to a tick (4 ms here) behind date's, so a
# time stamped just after a second began may read as the second before.
coarse_ago() {
	echo $(( $(date +%s) - 1 ))
}

case_utimes() {
	local t
	touch "$Z/f"; touch "$T/f"
	same 'touch -d "2001-02-03 04:05:06.123456789" f; stat -c "%x|%y" f
	      touch -m -d "1999-12-31 23:59:59" f; stat -c "%x|%y" f
	      touch -a -d "@0" f; stat -c "%X %Y" f
	      touch -h -d "2010-01-01" f; stat -c "%Y" f'
	expect_ok "$ZR" utimens "$Z/f" 1000000000.5 2000000000.25
	assert_eq "$("$ZR" times "$Z/f" | cut -d' ' -f1,2)" "1000000000.500000000 2000000000.250000000" "explicit times"
	# UTIME_OMIT keeps, UTIME_NOW sets the current time.  Times come
	# from the coarse clock (a tick behind date's; see coarse_ago)
	t=$(coarse_ago)
	expect_ok "$ZR" utimens "$Z/f" omit now
	set -- $("$ZR" times "$Z/f")
	assert_eq "$1" "1000000000.500000000" "atime after UTIME_OMIT"
	assert_ge "${2%.*}" "$t" "mtime after UTIME_NOW"
	expect_ok "$ZR" utimens "$Z/f" now omit
	set -- $("$ZR" times "$Z/f")
	assert_ge "${1%.*}" "$t" "atime after UTIME_NOW"
	assert_ge "${2%.*}" "$t" "mtime kept by UTIME_OMIT"
	expect_ok "$ZR" utimens "$Z/f" 5 omit
	expect_ok "$ZR" utimens "$Z/f" omit omit
	assert_eq "$("$ZR" times "$Z/f" | cut -d' ' -f1)" "5.000000000" "atime after omit,omit"
	# symlink times (AT_SYMLINK_NOFOLLOW) do not touch the target
	ln -s f "$Z/l"
	expect_ok "$ZR" utimens "$Z/l" 7 7 nofollow
	assert_eq "$(stat -c %Y "$Z/l")" 7 "symlink mtime"
	assert_ne "$(stat -c %Y "$Z/f")" 7 "target mtime must not change"
}

case_mtime_ctime_on_change() {
	local t f=$Z/f
	echo data >"$f"
	touch -d "2000-01-01" "$f"
	t=$(coarse_ago)
	echo more >>"$f"
	assert_ge "$(stat -c %Y "$f")" "$t" "mtime after write"
	assert_ge "$(stat -c %Z "$f")" "$t" "ctime after write"
	touch -d "2000-01-01" "$f"
	truncate -s 2 "$f"
	assert_ge "$(stat -c %Y "$f")" "$t" "mtime after truncate"
	touch -d "2000-01-01" "$f"
	chmod 600 "$f"
	assert_eq "$(stat -c %Y "$f")" "$(date -d 2000-01-01 +%s)" "mtime after chmod (must not change)"
	assert_ge "$(stat -c %Z "$f")" "$t" "ctime after chmod"
	cat "$f" >/dev/null
	assert_eq "$(stat -c %Y "$f")" "$(date -d 2000-01-01 +%s)" "mtime after read"
	# directory mtime/ctime on create / unlink / rename
	mkdir "$Z/d"; touch -d "2000-01-01" "$Z/d"
	: >"$Z/d/new"
	assert_ge "$(stat -c %Y "$Z/d")" "$t" "dir mtime after create"
	touch -d "2000-01-01" "$Z/d"
	rm "$Z/d/new"
	assert_ge "$(stat -c %Y "$Z/d")" "$t" "dir mtime after unlink"
	touch -d "2000-01-01" "$Z/d"
	: >"$Z/x"; mv "$Z/x" "$Z/d/x"
	assert_ge "$(stat -c %Y "$Z/d")" "$t" "dir mtime after rename into it"
	# link count change updates ctime
	touch -d "2000-01-01" "$Z/d/x"
	ln "$Z/d/x" "$Z/d/y"
	assert_ge "$(stat -c %Z "$Z/d/x")" "$t" "ctime after link"
}

case_setuid_cleared_on_write() {
	local d
	for d in "$Z" "$T"; do
		echo x >"$d/suid"; chmod 6777 "$d/suid"
		echo x >"$d/suid_nogx"; chmod 6775 "$d/suid_nogx"; chmod g-x "$d/suid_nogx"; chmod o+w "$d/suid_nogx"
		as_user "$U1" sh -c "echo y >> '$d/suid'" || fail "user write to 6777 file in $d"
		as_user "$U1" sh -c "echo y >> '$d/suid_nogx'" || fail "user write to 6757 file in $d"
		# also via truncate
		echo x >"$d/suid_tr"; chmod 4777 "$d/suid_tr"
		as_user "$U1" truncate -s 1 "$d/suid_tr" || fail "user truncate in $d"
	done
	assert_eq "$(fmode "$Z/suid")" "$(fmode "$T/suid")" "mode after write by non-owner (tmpfs: $(fmode "$T/suid"))"
	# zramfs clears setgid only together with group-exec (its rule under
	# HANDLE_KILLPRIV_V2, fs_killpriv.c); tmpfs also clears it when the
	# writer is outside the group.  README documents this.
	assert_eq "$(fmode "$T/suid_nogx")" 767 "tmpfs clears setgid without g+x"
	assert_eq "$(fmode "$Z/suid_nogx")" 2767 "FUSE: setuid cleared, setgid kept without g+x"
	assert_eq "$(fmode "$Z/suid_tr")" "$(fmode "$T/suid_tr")" "mode after truncate by non-owner"
	assert_eq "$(fmode "$Z/suid")" 777 "setuid/setgid must be cleared"
	# chown by root clears setuid too
	echo x >"$Z/s2"; chmod 4755 "$Z/s2"; chown "$U1" "$Z/s2"
	assert_eq "$(fmode "$Z/s2")" 755 "setuid after chown"
}

case_permission_checks() {
	echo secret >"$Z/rootfile"; chmod 644 "$Z/rootfile"
	mkdir "$Z/rootdir"; chmod 755 "$Z/rootdir"
	echo private >"$Z/private"; chmod 600 "$Z/private"
	as_user "$U1" cat "$Z/rootfile" >/dev/null || fail "user cannot read 0644 file"
	must_fail as_user "$U1" sh -c "echo x >> '$Z/rootfile'"
	must_fail as_user "$U1" cat "$Z/private"
	must_fail as_user "$U1" touch "$Z/rootdir/new"
	must_fail as_user "$U1" chmod 777 "$Z/rootfile"
	must_fail as_user "$U1" chown "$U1" "$Z/rootfile"
	must_fail as_user "$U1" rm -f "$Z/rootdir"
	must_fail as_user "$U1" touch -d 2000-01-01 "$Z/rootfile"
	expect_errno EACCES as_user "$U1" "$ZR" open "$Z/rootfile" wronly
	expect_errno EACCES as_user "$U1" "$ZR" open "$Z/rootdir/x" wronly,creat
	expect_errno EPERM as_user "$U1" "$ZR" utimens "$Z/rootfile" 5 5
	# UTIME_NOW needs only write permission
	chmod 666 "$Z/rootfile"
	expect_ok as_user "$U1" "$ZR" utimens "$Z/rootfile" now now
	# search permission on directories
	mkdir -p "$Z/noexec/in"; chmod 744 "$Z/noexec"
	expect_errno EACCES as_user "$U1" "$ZR" open "$Z/noexec/in" rdonly
	[ "$(cat "$Z/rootfile")" = secret ] || fail "rootfile changed"
}

case_owner_of_new_files() {
	local d
	for d in "$Z" "$T"; do
		mkdir "$d/pub"; chmod 777 "$d/pub"
		mkdir "$d/sgid"; chown 0:777 "$d/sgid"; chmod 2777 "$d/sgid"
		as_user "$U1" sh -c "umask 022; touch '$d/pub/f'; mkdir '$d/pub/d'; touch '$d/sgid/f'; mkdir '$d/sgid/d'; ln -s x '$d/sgid/l'" ||
			fail "user creates in $d"
		as_user "$U1" chmod 640 "$d/pub/f" || fail "owner chmod in $d"
		( umask 027; touch "$d/pub/umask"; mkdir "$d/pub/umaskd" )
	done
	cmp_trees "$Z" "$T"
	assert_eq "$(stat -c '%u:%g %a' "$Z/sgid/d")" "$U1:777 2755" "subdir of setgid dir"
	assert_eq "$(stat -c '%u:%g' "$Z/pub/f")" "$U1:$U1" "owner of new file"
}

case_sticky_dir() {
	local d
	for d in "$Z" "$T"; do
		mkdir "$d/sticky"; chmod 1777 "$d/sticky"
		as_user "$U1" touch "$d/sticky/mine" || fail "create in sticky dir"
		as_user "$U2" touch "$d/sticky/other" || fail "create in sticky dir"
		chmod 666 "$d/sticky/other"
		must_fail as_user "$U1" rm -f "$d/sticky/other"
		must_fail as_user "$U1" mv "$d/sticky/other" "$d/sticky/stolen"
		as_user "$U1" rm "$d/sticky/mine" || fail "owner removes own file in sticky dir ($d)"
		as_user "$U1" sh -c "echo w > '$d/sticky/other'" || fail "write to 0666 file of another user"
	done
	cmp_trees "$Z" "$T"
}

case_root_dir_attrs() {
	# the mount root behaves like any directory: chmod/chown/utimes
	local m
	m=$(stat -c %a "$ZMNT")
	chmod 750 "$ZMNT"; assert_eq "$(stat -c %a "$ZMNT")" 750 "chmod on mount root"
	chown 12:34 "$ZMNT"; assert_eq "$(stat -c %u:%g "$ZMNT")" 12:34 "chown on mount root"
	touch -d 2005-05-05 "$ZMNT"; assert_eq "$(stat -c %Y "$ZMNT")" "$(date -d 2005-05-05 +%s)" "utimes on root"
	chown 0:0 "$ZMNT"; chmod "$m" "$ZMNT"
}

case_cp_preserve_mode() {
	# cp -p / cp -a set system.posix_acl_access with fsetxattr; the resulting
	# mode must be the source's (tmpfs applies the ACL to the mode; a
	# filesystem without ACLs must refuse the attribute so cp falls back
	# to fchmod)
	echo x >"$W/src"; chmod 0751 "$W/src"
	mkdir "$W/srcd"; chmod 0705 "$W/srcd"
	same "cp -p $W/src p; cp -a $W/src a; cp -a $W/srcd d; stat -c '%n %a' p a d"
	assert_eq "$(fmode "$Z/a")" 751 "mode after cp -a"
}

# count_ops LOG OPCODE - requests of that kind in a -d (debug) log
count_ops() { grep -c "opcode: $2 " "$1"; }

case_killpriv_v2_requests() {
	# FUSE_HANDLE_KILLPRIV_V2 (asked for past libfuse 3.14, fs_killpriv.c):
	# the kernel asks for security.capability once per inode, not before
	# every write(2), and a chown needs no GETATTR first.  Counted from
	# the daemon's own -d log of the requests it got.
	local m=$W/dbg log=$W/dbg.log pid before
	need_zramfs
	mkdir -p "$m"
	unmount_on_exit "$m"
	"$ZRAMFS" "$m" -d -o allow_other >"$log" 2>&1 &
	pid=$!
	wait_until 10 is_mounted "$m" || fail "debug mount"
	dd if=/dev/zero of="$m/f" bs=4k count=64 status=none || fail "dd"
	sync "$m/f"
	assert_le "$(count_ops "$log" GETXATTR)" 2 "GETXATTRs for 64 write(2)s"
	stat "$m/f" >/dev/null	# attributes fresh: what follows is chown's
	before=$(count_ops "$log" GETATTR)
	chown 1:1 "$m/f"
	assert_eq "$(count_ops "$log" GETATTR)" "$before" "GETATTRs for a chown"
	# the set-id duty that came with it (t_security: setid_dropped has
	# the other users' side)
	chmod 4755 "$m/f"; chown 2:2 "$m/f"
	assert_eq "$(fmode "$m/f")" 755 "setuid after chown"
	zumount "$m" || fail "unmount"
	wait "$pid" || fail "debug daemon exit status $?"
}
