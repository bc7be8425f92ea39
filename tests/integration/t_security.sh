# t_security.sh - what one user can do to another's files on a shared
# mount (-o allow_other,default_permissions), with two real unprivileged
# users created for each case (useradd --system; userdel on exit, also
# when the case fails or times out): A owns files, B tries.  Also the
# controls (root or the mount owner only), the spill file (0600, root's,
# unlinked, out of B's reach) and setuid/setgid bits dropped on a write by
# a non-owner.  Each case mounts its own instance under $W; the two cases
# about permissions also run against tmpfs (ZRAMFS=tmpfs), which checks
# the expectations.
ZMOUNT=no

SEC_USERS=""
SEC_MOUNTS=""

sec_cleanup() {
	local u m
	for m in $SEC_MOUNTS; do
		is_mounted "$m" || continue
		timeout 20 fusermount3 -u "$m" 2>/dev/null || fusermount3 -uz "$m" 2>/dev/null
	done
	for u in $SEC_USERS; do
		userdel "$u" 2>/dev/null || echo "# userdel $u failed" >&2
	done
}

# sec_users - create users A and B: names SA SB, uids UA UB, gids GA GB
sec_users() {
	local u x
	command -v useradd >/dev/null || skip "no useradd"
	# users left by a run that was killed (its case process is gone)
	for u in $(getent passwd | awk -F: '$1 ~ /^zr-sec[ab]-[0-9]+$/ { print $1 }'); do
		kill -0 "${u##*-}" 2>/dev/null || userdel "$u" 2>/dev/null
	done
	trap sec_cleanup EXIT
	trap 'exit 143' TERM INT HUP
	for x in a b; do
		u=zr-sec$x-$$
		useradd --system --no-create-home --shell /usr/sbin/nologin "$u" || fail "useradd $u"
		SEC_USERS="$SEC_USERS $u"
	done
	SA=zr-seca-$$ SB=zr-secb-$$
	UA=$(id -u "$SA") GA=$(id -g "$SA") UB=$(id -u "$SB") GB=$(id -g "$SB")
	assert_ne "$UA" 0 "uid of $SA"
	assert_ne "$GA" "$GB" "groups of A and B"
}

as_a() { setpriv --reuid="$UA" --regid="$GA" --clear-groups -- "$@"; }
as_b() { setpriv --reuid="$UB" --regid="$GB" --clear-groups -- "$@"; }

# sec_mount DIR OPTS - the shared mount: allow_other,default_permissions
sec_mount() {
	zmount "$1" "default_permissions${2:+,$2}" || fail "mount -o allow_other,default_permissions,$2"
	SEC_MOUNTS="$1 $SEC_MOUNTS"
}

# fails_with MESSAGE CMD... - CMD fails and says MESSAGE (coreutils' words
# for an errno: "Permission denied" EACCES, "Operation not permitted" EPERM)
fails_with() {
	local want=$1 out
	shift
	out=$("$@" 2>&1) && fail "$* succeeded, want '$want'"
	echo "$out" | grep -q "$want" || fail "$*: '$out', want '$want'"
}

# B against A's 0600 file in a sticky directory, A's 0700 directory, and
# A's file hard-linked by B: only what POSIX says must fail, with its errno.
case_other_users_files() {
	local m=$W/m s out
	sec_users
	sec_mount "$m" "mode=755"
	mkdir "$m/tmp" "$m/a" "$m/b"
	chmod 1777 "$m/tmp"
	chown "$UA:$GA" "$m/a"; chmod 700 "$m/a"
	chown "$UB:$GB" "$m/b"
	s=$m/tmp/secret
	echo "A's secret" >"$s"
	setfattr -n user.note -v private "$s"
	chown "$UA:$GA" "$s"; chmod 600 "$s"
	echo "A's private" >"$m/a/p"; chown "$UA:$GA" "$m/a/p"
	# the owner can (the checks below fail for the right reason)
	assert_eq "$(as_a cat "$s")" "A's secret" "A reads its file"
	expect_ok as_a "$ZR" open "$s" wronly,append
	assert_eq "$(as_a cat "$m/a/p")" "A's private" "A reads in its dir"

	# read, write, truncate: EACCES
	expect_errno EACCES as_b "$ZR" open "$s" rdonly
	expect_errno EACCES as_b "$ZR" open "$s" wronly
	expect_errno EACCES as_b "$ZR" open "$s" rdwr,trunc
	expect_errno EACCES as_b "$ZR" open "$s" wronly,append
	expect_errno EACCES as_b "$ZR" trunc "$s" 0
	fails_with "Permission denied" as_b cat "$s"
	# attributes only the owner may change: EPERM
	fails_with "Operation not permitted" as_b chmod 666 "$s"
	fails_with "Operation not permitted" as_b chown "$UB" "$s"
	fails_with "Operation not permitted" as_b chgrp "$GB" "$s"
	expect_errno EPERM as_b "$ZR" utimens "$s" 5 5
	expect_errno EACCES as_b "$ZR" utimens "$s" now now
	# the sticky directory: no unlink, no rename away, no rename over it
	expect_errno EPERM as_b "$ZR" unlink "$s"
	expect_errno EPERM as_b "$ZR" rename2 "$s" "$m/tmp/taken"
	expect_errno EPERM as_b "$ZR" rename2 "$s" "$m/b/taken"
	as_b sh -c "echo B >'$m/tmp/bf'" || fail "B creates a file in the sticky dir"
	expect_errno EPERM as_b "$ZR" rename2 "$m/tmp/bf" "$s"
	expect_errno EPERM as_b "$ZR" rename2 "$m/tmp/bf" "$s" exchange
	# xattrs: user.* needs read / write permission; the policy is A's
	expect_errno EACCES as_b "$ZR" xget "$s" user.note 100
	expect_errno EACCES as_b "$ZR" xset "$s" user.note changed
	expect_errno EACCES as_b "$ZR" xremove "$s" user.note
	expect_errno EACCES as_b "$ZR" xget "$s" user.zramfs.stats 0
	expect_errno EACCES as_b "$ZR" xset "$s" user.zramfs.comp zstd
	expect_errno EACCES as_b "$ZR" xset "$s" user.zramfs.chunk 4K
	expect_errno EACCES as_b "$ZR" xset "$s" user.zramfs.recompress zstd
	# A's 0700 directory: nothing inside can be reached
	fails_with "Permission denied" as_b ls "$m/a"
	fails_with "Permission denied" as_b stat "$m/a/p"
	expect_errno EACCES as_b "$ZR" open "$m/a/p" rdonly
	expect_errno EACCES as_b "$ZR" open "$m/a/new" wronly,creat
	expect_errno EACCES as_b "$ZR" mkdir "$m/a/d"
	expect_errno EACCES as_b "$ZR" unlink "$m/a/p"
	expect_errno EACCES as_b "$ZR" rename2 "$m/a/p" "$m/b/p"
	# a hard link B makes (refused under fs.protected_hardlinks=1) does not
	# open the file either, and B can remove it from its own directory
	out=$(as_b "$ZR" link "$s" "$m/b/l" 2>/dev/null | head -n1)
	note "B links A's 0600 file: ${out:-nothing} (fs.protected_hardlinks=$(cat /proc/sys/fs/protected_hardlinks 2>/dev/null))"
	case $out in
	OK*)
		expect_errno EACCES as_b "$ZR" open "$m/b/l" rdonly
		expect_errno EACCES as_b "$ZR" open "$m/b/l" wronly
		expect_errno EACCES as_b "$ZR" trunc "$m/b/l" 0
		expect_ok as_b "$ZR" unlink "$m/b/l"
		;;
	EPERM) ;;
	*) fail "B's link to A's file: '$out', want OK or EPERM" ;;
	esac
	# a hard link root makes in B's directory: still A's inode, still
	# closed to B, and B may remove the name from its own directory
	ln "$s" "$m/b/rl" || fail "root links A's file into B's dir"
	expect_errno EACCES as_b "$ZR" open "$m/b/rl" rdonly
	expect_errno EACCES as_b "$ZR" open "$m/b/rl" wronly
	fails_with "Operation not permitted" as_b chmod 644 "$m/b/rl"
	expect_ok as_b "$ZR" unlink "$m/b/rl"
	# and nothing changed
	assert_eq "$(cat "$s")" "A's secret" "A's file content"
	assert_eq "$(stat -c '%a %u %g %h' "$s")" "600 $UA $GA 1" "A's file mode, owner, links"
	assert_eq "$(getfattr --only-values -n user.note "$s" 2>/dev/null)" private "A's xattr"
	assert_eq "$(cat "$m/a/p")" "A's private" "A's file in its dir"
	zumount "$m" || fail "unmount"
}

# Controls on the root: root (the mount owner here) only.  The root is
# mode 777, so the kernel lets B's setxattr through and zramfs decides
# (on a sticky 1777 root the kernel itself refuses user.* attributes of
# a non-owner with EPERM).
# A policy (comp, chunk, recompress) on a file or directory that B may
# write: the owner may set it, B may not.
case_controls() {
	need_zramfs
	local m=$W/c c
	sec_users
	mkdir -p "$W/spill"
	sec_mount "$m" "mode=777,mem_limit=8M,spill=$W/spill"
	assert_eq "$(fmode "$m")" 777 "root mode"
	for c in "mem_limit 1M" "mem_limit 0" "compact 1" "writeback all" "writeback idle"; do
		expect_errno EACCES as_b "$ZR" xset "$m" user.zramfs.${c% *} "${c#* }"
	done
	expect_errno EPERM as_b "$ZR" xset "$m" user.zramfs.stats 1
	assert_eq "$(getfattr --only-values -n user.zramfs.mem_limit "$m" 2>/dev/null)" 8388608 "mem_limit after B's attempts"
	expect_ok "$ZR" xset "$m" user.zramfs.compact 1
	expect_ok "$ZR" xset "$m" user.zramfs.mem_limit 16M
	assert_eq "$(getfattr --only-values -n user.zramfs.mem_limit "$m" 2>/dev/null)" 16777216 "mem_limit set by root"
	# A's world-writable file and directory
	as_a sh -c "mkdir '$m/ad' && chmod 777 '$m/ad' && : >'$m/ad/f' && chmod 666 '$m/ad/f'" ||
		fail "A creates its files"
	for c in "comp zstd:9" "chunk 4K" "recompress zstd"; do
		expect_errno EACCES as_b "$ZR" xset "$m/ad/f" user.zramfs.${c% *} "${c#* }"
	done
	expect_errno EACCES as_b "$ZR" xset "$m/ad" user.zramfs.comp zstd:9
	expect_errno EACCES as_b "$ZR" xset "$m/ad" user.zramfs.chunk 4K
	expect_ok as_a "$ZR" xset "$m/ad/f" user.zramfs.comp zstd:9
	expect_errno EACCES as_b "$ZR" xremove "$m/ad/f" user.zramfs.comp
	assert_eq "$(getfattr --only-values -n user.zramfs.comp "$m/ad/f" 2>/dev/null)" zstd:9 "A's file policy"
	# B's own file in A's writable dir: B's policy
	as_b sh -c "echo b >'$m/ad/bf'" || fail "B creates a file"
	expect_ok as_b "$ZR" xset "$m/ad/bf" user.zramfs.comp lz4
	# B may still write the data of A's 0666 file
	as_b sh -c "echo data >'$m/ad/f'" || fail "B writes A's 0666 file"
	zumount "$m" || fail "unmount"
}

# The spill file: one descriptor of the daemon on an unlinked file in the
# spill dir, 0600 and root's; the dir lists nothing; B cannot open it
# through /proc.  After the unmount the dir is still empty.
case_spill_file() {
	need_zramfs
	local m=$W/s sp=$W/spill pid fd fd_spill="" n=0 t tgt=""
	sec_users
	mkdir -p "$sp"
	sec_mount "$m" "mode=1777,mem_limit=8M,spill=$sp"
	pid=$(daemon_pid "$m")
	[ -n "$pid" ] || fail "no daemon pid"
	seq 1 20000000 | head -c 32M >"$W/r"
	as_a cp "$W/r" "$m/r" || fail "A writes 32 MiB"
	sync
	wait_until 10 sh -c "[ \$(getfattr --only-values -n user.zramfs.stats '$m' | awk '\$1 == \"spilled_chunks\" { print \$2 }') -gt 0 ]" ||
		fail "nothing spilled: $(zstat_all "$m" | grep -E '^(spill|mem_)')"
	for fd in /proc/"$pid"/fd/*; do
		t=$(readlink "$fd") || continue
		case $t in "$sp"/*) n=$((n + 1)); tgt=$t; fd_spill=$fd ;; esac
	done
	assert_eq "$n" 1 "daemon descriptors on files in the spill dir"
	note "spill file: $fd_spill -> $tgt"
	case $tgt in *" (deleted)") ;; *) fail "spill file is not unlinked: $tgt" ;; esac
	assert_eq "$(stat -L -c '%a %u %g %h' "$fd_spill")" "600 0 0 0" "spill file mode, owner, links"
	assert_gt "$(stat -L -c %b "$fd_spill")" 0 "spill file blocks"
	assert_eq "$(ls -A "$sp" | wc -l)" 0 "entries in the spill dir"
	fails_with "Permission denied" as_b cat "$fd_spill"
	fails_with "Permission denied" as_b ls "/proc/$pid/fd"
	fails_with "Permission denied" as_a cat "$fd_spill"
	# the data is A's: B cannot read it through the mount either
	chmod 600 "$m/r"
	fails_with "Permission denied" as_b cat "$m/r"
	cmp "$W/r" "$m/r" || fail "spilled data read back"
	zumount "$m" || fail "unmount"
	wait_until 10 sh -c "! kill -0 $pid 2>/dev/null" || fail "daemon still running after the unmount"
	assert_eq "$(ls -A "$sp" | wc -l)" 0 "entries in the spill dir after the unmount"
}

# setuid is dropped by a write of a user without CAP_FSETID; setgid too
# when the file is group-executable (zramfs's rule under HANDLE_KILLPRIV_V2;
# README).  Root's write keeps both.  With and without the writeback cache.
setid_write() { # setid_write MOUNT
	local m=$1 f
	mkdir -p "$m/d"; chmod 1777 "$m/d"
	for f in gx ngx trunc root; do
		echo data >"$m/d/$f"
		chown "$UA:$GA" "$m/d/$f"
	done
	chmod 6777 "$m/d/gx" "$m/d/trunc" "$m/d/root"
	chmod 6747 "$m/d/ngx"
	as_b sh -c "echo B >>'$m/d/gx'" || fail "B appends to A's 6777 file"
	assert_eq "$(fmode "$m/d/gx")" 777 "mode after B's write (setuid and setgid dropped)"
	as_b sh -c "echo B >>'$m/d/ngx'" || fail "B appends to A's 6747 file"
	assert_eq "$(fmode "$m/d/ngx")" 2747 "mode after B's write (setgid without g+x kept)"
	expect_ok as_b "$ZR" trunc "$m/d/trunc" 2
	assert_eq "$(fmode "$m/d/trunc")" 777 "mode after B's truncate"
	echo root >>"$m/d/root"
	assert_eq "$(fmode "$m/d/root")" 6777 "mode after root's write (CAP_FSETID keeps both)"
	assert_eq "$(cat "$m/d/gx")" "data
B" "content after B's write"
}

case_setid_dropped() {
	sec_users
	sec_mount "$W/wb" "mode=755"
	setid_write "$W/wb"
	zumount "$W/wb" || fail "unmount"
	sec_mount "$W/nowb" "mode=755,wbcache=0"
	setid_write "$W/nowb"
	zumount "$W/nowb" || fail "unmount"
}
