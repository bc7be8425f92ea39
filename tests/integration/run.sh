#!/bin/sh
# run.sh - zramfs integration tests.
#
#   ZRAMFS=/abs/build/zramfs TOOLS=/abs/build/tests/tools sh tests/integration/run.sh [t_x.sh ...]
#
# Runs every tests/integration/t_*.sh (or the ones named).  Each case file
# defines cases as functions case_NAME (run in file order) and may set
#   ZOPTS="size=..,..."   options of the zramfs mounted for the file
#   ZMOUNT=no             do not mount a zramfs/tmpfs pair for the file
# Each case runs in its own bash process (its own session, under timeout)
# with lib.sh sourced; see lib.sh for the variables it gets.
#
# Environment:
#   ZRAMFS=tmpfs    run the suite against tmpfs (developing the tests)
#   ZR_CASES=REGEX  only cases whose "file: name" matches
#   ZR_TIMEOUT=SEC  per-case timeout (default 90)
#   ZR_VERBOSE=1    print the output of passing cases too
#   ZR_TRACE=1      run cases under set -x
# Output: "ok N - file: case" / "not ok N - file: case" lines, the failing
# case's output as "#" lines, and finally "P passed, F failed".
if [ -z "${BASH_VERSION:-}" ]; then
	exec bash "$0" "$@"
fi
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
ZRAMFS=${ZRAMFS:-$TOP/build/zramfs}
TOOLS=${TOOLS:-}
ZR_TIMEOUT=${ZR_TIMEOUT:-90}
export LC_ALL=C

IS_TMPFS=0
if [ "$ZRAMFS" = tmpfs ]; then
	IS_TMPFS=1
elif [ ! -x "$ZRAMFS" ]; then
	echo "run.sh: no zramfs daemon at $ZRAMFS (ZRAMFS=tmpfs to test tmpfs)" >&2
	echo "0 passed, 1 failed"
	exit 1
fi
if [ "$(id -u)" != 0 ]; then
	echo "run.sh: the integration tests need root (mounts, mknod, setpriv)" >&2
	echo "0 passed, 1 failed"
	exit 1
fi

WORK=$(mktemp -d /var/tmp/zramfs-it.XXXXXX) || exit 1
chmod 755 "$WORK"
REG=$WORK/mounts
: >"$REG"
CASE_PG=""

cleanup() {
	local d
	trap - EXIT INT TERM HUP
	if [ -n "$CASE_PG" ]; then
		kill -KILL -- "-$CASE_PG" 2>/dev/null
	fi
	if [ -s "$REG" ]; then
		# innermost first
		sort -r -u "$REG" | while IFS= read -r d; do
			grep -q " $d " /proc/mounts 2>/dev/null || continue
			fusermount3 -uz "$d" 2>/dev/null || umount -l "$d" 2>/dev/null
		done
	fi
	timeout 60 rm -rf --one-file-system "$WORK"
}
trap cleanup EXIT
trap 'echo "run.sh: interrupted" >&2; exit 130' INT TERM HUP

# Tools: use the built ones, or build them here (for running run.sh alone).
if [ -z "$TOOLS" ] || [ ! -x "$TOOLS/zr_syscalls" ]; then
	TOOLS=$WORK/tools
	mkdir -p "$TOOLS"
	for src in "$TOP"/tests/tools/*.c; do
		${CC:-cc} -std=gnu11 -O2 -Wall -D_GNU_SOURCE -I"$TOP/include" \
			-o "$TOOLS/$(basename "$src" .c)" "$src" || {
			echo "run.sh: cannot build $src" >&2
			echo "0 passed, 1 failed"
			exit 1
		}
	done
fi
ZR=$TOOLS/zr_syscalls

export ZRAMFS TOOLS ZR IS_TMPFS REG WORK
export U1=4242 U2=4343

pass=0 failn=0 skipn=0 n=0

result() { # result OK|FAIL|SKIP NAME LOGFILE
	n=$((n + 1))
	case $1 in
	OK)   pass=$((pass + 1)); echo "ok $n - $2" ;;
	SKIP) pass=$((pass + 1)); skipn=$((skipn + 1))
	      echo "ok $n - $2 # SKIP $(grep -m1 '^SKIP:' "$3" | sed 's/^SKIP: //')" ;;
	*)    failn=$((failn + 1)); echo "not ok $n - $2" ;;
	esac
	if [ "$1" = FAIL ] || { [ "${ZR_VERBOSE:-0}" = 1 ] && [ -s "$3" ]; }; then
		tail -n 60 "$3" | sed 's/^/#   /'
	fi
}

mount_pair() { # mount_pair FDIR ZOPTS
	local fdir=$1 opts=$2 size
	mkdir -p "$fdir/z" "$fdir/t"
	echo "$fdir/z" >>"$REG"; echo "$fdir/t" >>"$REG"
	size=$(echo "$opts" | tr ',' '\n' | sed -n 's/^size=//p' | tail -n1)
	mount -t tmpfs -o "size=${size:-1G}" tmpfs "$fdir/t" || return 1
	(ZMNT="" . "$HERE/lib.sh" && zmount "$fdir/z" "$opts") >"$fdir/mount.log" 2>&1 || return 1
	return 0
}
unmount_pair() {
	local fdir=$1
	if grep -q " $fdir/z " /proc/mounts; then
		if [ "$IS_TMPFS" = 1 ]; then umount "$fdir/z"; else
			timeout 20 fusermount3 -u "$fdir/z" 2>/dev/null ||
				timeout 20 fusermount3 -uz "$fdir/z"
		fi
	fi
	grep -q " $fdir/t " /proc/mounts && umount "$fdir/t"
	return 0
}
zalive() { timeout 10 stat "$1" >/dev/null 2>&1; }

if [ $# -gt 0 ]; then
	files=""
	for f in "$@"; do
		case $f in */*) ;; *) f=$HERE/$f ;; esac
		files="$files $f"
	done
else
	files=$(ls "$HERE"/t_*.sh)
fi

echo "# zramfs integration tests: $( [ "$IS_TMPFS" = 1 ] && echo "tmpfs (dev mode)" || echo "$ZRAMFS")"
for file in $files; do
	fname=$(basename "$file" .sh)
	fdir=$WORK/$fname
	mkdir -p "$fdir"
	cases=$(sed -n 's/^\(case_[A-Za-z0-9_]*\) *().*/\1/p' "$file")
	settings=$(bash -c '. "$1" >/dev/null 2>&1; echo "${ZOPTS-size=1G}|${ZMOUNT-yes}"' _ "$file")
	zopts=${settings%|*}
	zmnt=${settings#*|}
	if [ -n "${ZR_CASES:-}" ]; then
		sel=""
		for c in $cases; do
			echo "$fname: ${c#case_}" | grep -Eq -- "$ZR_CASES" && sel="$sel $c"
		done
		cases=$sel
	fi
	[ -n "$cases" ] || continue
	if [ "$zmnt" = no ]; then echo "# $fname"; else echo "# $fname${zopts:+ (-o $zopts)}"; fi
	mounted=no
	if [ "$zmnt" != no ]; then
		if mount_pair "$fdir" "$zopts"; then
			mounted=yes
		else
			for c in $cases; do
				result FAIL "$fname: ${c#case_}" "$fdir/mount.log"
			done
			unmount_pair "$fdir"
			continue
		fi
	fi
	for c in $cases; do
		name="$fname: ${c#case_}"
		log=$fdir/${c}.log
		scratch=$fdir/w.$c
		mkdir -p "$scratch"
		chmod 755 "$fdir" "$scratch"
		if [ "$mounted" = yes ]; then
			ZMNT=$fdir/z TMNT=$fdir/t
			Z=$ZMNT/${c#case_} T=$TMNT/${c#case_}
			if ! mkdir -p "$Z" "$T" 2>"$log" || ! chmod 755 "$Z" "$T" 2>>"$log"; then
				result FAIL "$name" "$log"
				continue
			fi
		else
			ZMNT="" TMNT="" Z="" T=""
		fi
		pgfile=$scratch/.pgid
		ZMNT=$ZMNT TMNT=$TMNT Z=$Z T=$T W=$scratch \
			timeout -k 5 "$ZR_TIMEOUT" setsid bash -c '
				echo $$ >"$1"
				. "$2/lib.sh"
				. "$3"
				cd "$W" || exit 1
				[ "${ZR_TRACE:-0}" = 1 ] && set -x
				'"$c"'
			' _ "$pgfile" "$HERE" "$file" </dev/null >"$log" 2>&1
		rc=$?
		CASE_PG=$(cat "$pgfile" 2>/dev/null)
		# leftovers of the case (background processes it did not reap)
		[ -n "$CASE_PG" ] && kill -KILL -- "-$CASE_PG" 2>/dev/null
		CASE_PG=""
		# mounts the case made under its scratch dir and left behind
		grep -F "$scratch/" "$REG" 2>/dev/null | sort -r -u | while IFS= read -r d; do
			grep -q " $d " /proc/mounts || continue
			echo "# (left mounted by the case: $d)" >>"$log"
			fusermount3 -uz "$d" 2>/dev/null || umount -l "$d" 2>/dev/null
		done
		[ $rc = 124 ] || [ $rc = 137 ] && echo "FAIL: timed out after ${ZR_TIMEOUT}s" >>"$log"
		status=FAIL
		[ $rc = 0 ] && status=OK
		[ $rc = 77 ] && status=SKIP
		if [ "$mounted" = yes ] && ! zalive "$ZMNT"; then
			echo "FAIL: the zramfs mount died during this case ($(stat "$ZMNT" 2>&1 | head -1))" >>"$log"
			status=FAIL
			unmount_pair "$fdir"
			mount_pair "$fdir" "$zopts" || mounted=broken
		fi
		if [ "$mounted" = broken ]; then
			result "$status" "$name" "$log"
			echo "# remount failed; remaining cases of $fname are skipped as failures"
			mounted=dead
			continue
		fi
		if [ "$mounted" = dead ]; then
			echo "FAIL: no mount" >"$log"
			status=FAIL
		fi
		result "$status" "$name" "$log"
	done
	[ "$zmnt" != no ] && unmount_pair "$fdir"
	timeout 60 rm -rf --one-file-system "$fdir"
done

[ $skipn -gt 0 ] && echo "# $skipn skipped (counted as passed)"
echo "$pass passed, $failn failed"
[ $failn = 0 ]
