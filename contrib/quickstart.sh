#!/bin/sh
# quickstart.sh MOUNTPOINT [zramfs options...] - from a fresh clone to a
# mounted zramfs: installs the missing Debian packages (as root, make and a
# compiler included), builds, mounts.  Example:
#   sh contrib/quickstart.sh /mnt/zramfs -o comp=zstd:1,size=4G
set -e
[ $# -ge 1 ] || { echo "usage: sh contrib/quickstart.sh MOUNTPOINT [zramfs options]" >&2; exit 2; }
cd "$(dirname "$0")/.."
sh contrib/deps.sh install
mnt=$1; shift
make mount MNT="$mnt" OPTS="$*"
