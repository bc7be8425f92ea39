#!/bin/sh
# deps.sh check|install - make sure zramfs's build and test dependencies are
# present.  "install" runs apt-get as root for what is missing; as another
# user it prints the command to run.  "check" only fails with that message.
set -u
mode=${1:-check}
# Debian package : a file that proves it is installed
need="libfuse3-dev:/usr/include/fuse3/fuse_lowlevel.h
fuse3:/bin/fusermount3
liblz4-dev:/usr/include/lz4.h
libzstd-dev:/usr/include/zstd.h
libcmocka-dev:/usr/include/cmocka.h
pkg-config:/usr/bin/pkg-config
attr:/usr/bin/getfattr
rsync:/usr/bin/rsync
gcc:/usr/bin/gcc
make:/usr/bin/make"
missing=""
for entry in $need; do
	pkg=${entry%%:*}; file=${entry#*:}
	[ -e "$file" ] || missing="$missing $pkg"
done
[ -z "$missing" ] && exit 0
if [ "$mode" = install ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	echo "zramfs: installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null && apt-get install -y -q $missing >/dev/null || {
		echo "zramfs: apt-get install$missing failed" >&2; exit 1; }
	exit 0
fi
echo "zramfs: missing packages:$missing" >&2
echo "zramfs: run as root: apt-get install$missing   (or: sudo make deps)" >&2
exit 1
