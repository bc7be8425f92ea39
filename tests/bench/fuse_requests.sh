#!/bin/bash
# fuse_requests.sh - count the FUSE requests a workload costs, per opcode,
# under given mount options (request counts are exact where timings on a
# shared machine are noisy).  Workload: untar TAR, sync, read every file
# twice, ls -lR, stat every file.
# usage: tests/bench/fuse_requests.sh TAR [OPTIONS...]   e.g. "" "wbcache=0"
set -u
TAR=$1; shift
ZRAMFS=${ZRAMFS:-$(pwd)/zramfs}
MNT=$(mktemp -d /var/tmp/zr-req.XXXXXX)
LOG=$(mktemp /var/tmp/zr-req-log.XXXXXX)
trap 'fusermount3 -uz "$MNT" 2>/dev/null; rmdir "$MNT"; rm -f "$LOG"' EXIT
for opts in "$@"; do
	"$ZRAMFS" "$MNT" -d -o "size=4G${opts:+,$opts}" 2>"$LOG" & pid=$!
	for _ in $(seq 100); do mountpoint -q "$MNT" && break; sleep 0.05; done
	tar -xf "$TAR" -C "$MNT"; sync
	n_untar=$(grep -c '^unique:.*opcode:' "$LOG")
	find "$MNT" -type f -exec cat {} + >/dev/null
	find "$MNT" -type f -exec cat {} + >/dev/null
	ls -lR "$MNT" >/dev/null; find "$MNT" -type f -exec stat -c %s {} + >/dev/null
	fusermount3 -u "$MNT"; wait $pid
	files=$(tar -tf "$TAR" | grep -vc '/$')
	echo "== options: ${opts:-default}  ($files files; untar alone: $n_untar requests, $(echo "scale=1; $n_untar/$files" | bc)/file)"
	grep -oE 'opcode: [A-Z_]+' "$LOG" | sort | uniq -c | sort -rn | awk '{printf "  %-14s %7d\n", $3, $1}'
done
