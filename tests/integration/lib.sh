# lib.sh - helpers sourced by every integration case (bash).
#
# The runner (run.sh) exports, per case:
#   ZMNT  zramfs mount of the case file        TMNT  tmpfs peer mount
#   Z     this case's directory in ZMNT         T     the same in TMNT
#   W     scratch directory on /var/tmp (not a zramfs)
#   ZR    the zr_syscalls tool                  ZRAMFS the daemon
#   IS_TMPFS=1 when the suite runs against tmpfs instead of zramfs (dev mode)
#   REG   file listing mount points to clean up on exit
#   U1 U2 unprivileged numeric uids (used with setpriv)
# A case is a function case_NAME; it passes when it returns 0, is skipped
# when it exits 77 (skip), and fails otherwise (fail prints the reason).

set -u
set -o pipefail

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }
note() { echo "# $*" >&2; }

need_zramfs() { [ "${IS_TMPFS:-0}" = 1 ] && skip "zramfs-specific (running against tmpfs)"; return 0; }

# assert_eq GOT WANT WHAT
assert_eq() { [ "$1" = "$2" ] || fail "$3: got '$1', want '$2'"; }
assert_ne() { [ "$1" != "$2" ] || fail "$3: got '$1', must differ"; }
# assert_le A B WHAT (integers)
assert_le() { [ "$1" -le "$2" ] || fail "$3: $1 > $2"; }
assert_lt() { [ "$1" -lt "$2" ] || fail "$3: $1 >= $2"; }
assert_ge() { [ "$1" -ge "$2" ] || fail "$3: $1 < $2"; }
assert_gt() { [ "$1" -gt "$2" ] || fail "$3: $1 <= $2"; }

# expect_errno ENAME CMD...   - run a zr_syscalls-style command, want ENAME
expect_errno() {
	local want=$1 out
	shift
	out=$("$@" 2>/dev/null | head -n1) || true
	[ "$out" = "$want" ] || fail "$*: got '${out:-<nothing>}', want $want"
}
# expect_ok CMD...            - want "OK" (first word of the first line)
expect_ok() {
	local out
	out=$("$@" 2>&1) || fail "$*: failed: $out"
	case "$out" in OK*) ;; *) fail "$*: got '$out', want OK" ;; esac
}
# must_fail CMD...            - any non-zero exit
must_fail() { if "$@" >/dev/null 2>&1; then fail "$* succeeded, want failure"; fi; }

# run as an unprivileged uid: as_user UID CMD...
as_user() { local u=$1; shift; setpriv --reuid="$u" --regid="$u" --clear-groups -- "$@"; }

# zstat KEY [PATH]  - value of KEY in user.zramfs.stats (mount root default)
zstat_all() { getfattr --only-values -n user.zramfs.stats "${1:-$ZMNT}" 2>/dev/null; }
zstat() {
	local v
	v=$(zstat_all "${2:-$ZMNT}" | awk -v k="$1" '$1 == k { print $2; exit }')
	[ -n "$v" ] || fail "stats key '$1' missing on ${2:-$ZMNT}"
	echo "$v"
}

# zstat_settles KEY WANT WHAT - KEY reaches WANT within 10 s (frees after
# unlink/close are asynchronous in FUSE: FORGET/RELEASE are queued)
zstat_is() { [ "$(zstat "$1" "${3:-$ZMNT}")" = "$2" ]; }
zstat_settles() {
	wait_until 10 zstat_is "$1" "$2" || true
	assert_eq "$(zstat "$1")" "$2" "$3"
}

is_mounted() { awk -v d="$1" '$2 == d { f = 1 } END { exit !f }' /proc/mounts; }

# wait_until SECONDS CMD... - poll CMD every 0.1 s
wait_until() {
	local n=$(( $1 * 10 )); shift
	while [ $n -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}

# zmount DIR [OPTS] [EXTRA ARGS...] - mount a zramfs (tmpfs in dev mode)
zmount() {
	local dir=$1 opts=${2:-}
	shift; [ $# -gt 0 ] && shift
	mkdir -p "$dir"
	echo "$dir" >>"$REG"
	if [ "${IS_TMPFS:-0}" = 1 ]; then
		local o="" kv
		for kv in ${opts//,/ }; do
			case $kv in size=*|mode=*|uid=*|gid=*|nr_inodes=*) o="$o,$kv" ;; esac
		done
		mount -t tmpfs -o "rw${o}" tmpfs "$dir"
		return
	fi
	timeout 20 "$ZRAMFS" "$@" "$dir" -o "allow_other${opts:+,$opts}" || return 1
	wait_until 10 is_mounted "$dir" || return 1
}
zumount() {
	if [ "${IS_TMPFS:-0}" = 1 ]; then umount "$1"; return; fi
	timeout 20 fusermount3 -u "$1"
}

# tree_sig DIR - type, mode, owner, links, size (not for dirs), rdev, link
#                target, content checksum of everything under DIR
tree_sig() {
	(
		cd "$1" || exit 1
		find . -mindepth 1 -print0 | LC_ALL=C sort -z |
			xargs -0r stat -c '%n|%F|%a|%u:%g|%h|%s|%t:%T|%N' |
			awk -F'|' -v OFS='|' '$2 == "directory" { $6 = "-" } { print }'
		find . -type f -print0 | LC_ALL=C sort -z | xargs -0r md5sum
	)
}
# xattr_sig DIR - user./trusted. xattrs of everything under DIR, sorted
xattr_sig() {
	(
		cd "$1" || exit 1
		find . -print0 | xargs -0r getfattr -h -d -e hex -m '^(user|trusted)\.' -- 2>/dev/null |
			awk '/^# file: / { f = substr($0, 9); next } NF { print f ": " $0 }' |
			LC_ALL=C sort
	)
}
# cmp_trees A B - fail with a diff when the trees differ
cmp_trees() {
	local d
	d=$(diff -U0 <(tree_sig "$1") <(tree_sig "$2")) ||
		fail "trees differ ($1 vs $2):
$(echo "$d" | grep "^[-+][^-+]" | LC_ALL=C sort -s -k1.2 | head -24)"
	d=$(diff -U0 <(xattr_sig "$1") <(xattr_sig "$2")) ||
		fail "xattrs differ ($1 vs $2):
$(echo "$d" | grep "^[-+][^-+]" | LC_ALL=C sort -s -k1.2 | head -24)"
}

# same 'SHELL COMMANDS' - run them in $Z and in $T (relative paths only),
# compare exit status and output, then the resulting trees.  The commands
# must succeed (same_rc: any exit status, as long as both agree).
same() { SAME_NEED_OK=1 same_rc "$1"; }
same_rc() {
	local zo to zrc trc
	zo=$(cd "$Z" && eval "$1" 2>&1); zrc=$?
	to=$(cd "$T" && eval "$1" 2>&1); trc=$?
	[ "$zrc" = "$trc" ] || fail "exit status differs: zramfs $zrc, tmpfs $trc for: $1
zramfs output: $zo
tmpfs output: $to"
	[ "$zo" = "$to" ] || fail "output differs for: $1
--- zramfs:
$zo
--- tmpfs:
$to"
	[ "${SAME_NEED_OK:-0}" = 0 ] || [ "$zrc" = 0 ] || fail "exit status $zrc for: $1
output: $zo"
	cmp_trees "$Z" "$T"
}

# in_both 'SHELL COMMANDS' - run in $Z and $T, each must succeed
in_both() {
	(cd "$Z" && eval "$1") || fail "in zramfs: $1"
	(cd "$T" && eval "$1") || fail "in tmpfs: $1"
}

# fsize PATH / fmode PATH
fsize() { stat -c %s "$1"; }
fmode() { stat -c %a "$1"; }

# sanitized_daemon - the daemon is an ASan/TSan build (its RSS is shadow
# memory and quarantine: RSS bounds do not apply)
sanitized_daemon() { ldd "$ZRAMFS" 2>/dev/null | grep -Eq 'lib(asan|tsan)'; }

# daemon_pid MOUNTPOINT - the zramfs serving it
daemon_pid() {
	ps -eo pid=,args= | awk -v d="$1" '$2 ~ /zramfs$/ && index($0, " " d " ") { print $1; exit }'
}

# unmount_on_exit DIR - lazily unmount DIR if the case exits before it does
CASE_MNTS=""
unmount_on_exit() {
	CASE_MNTS="$CASE_MNTS $1"
	trap unmount_case_mounts EXIT
}
unmount_case_mounts() {
	local d
	for d in $CASE_MNTS; do
		is_mounted "$d" || continue
		fusermount3 -uz "$d" 2>/dev/null || umount -l "$d" 2>/dev/null
	done
}
