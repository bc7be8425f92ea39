#!/bin/sh
# arena_bench.sh - build and run the arena benchmark (tests/bench/arena_bench.c).
#
#   sh tests/bench/arena_bench.sh [DIR...]
#
# Default trees: /usr/include and the Linux 6.1 source, extracted once to
# /var/tmp/zr-bench (about 1.5 GB on disk).
set -e
cd "$(dirname "$0")/../.."
make --no-print-directory build/src/arena.o
mkdir -p build/bench
cc -O2 -g -std=gnu11 -Wall -Wextra -Werror -Iinclude -D_GNU_SOURCE -pthread \
	-o build/bench/arena_bench tests/bench/arena_bench.c build/src/arena.o -llz4 -lzstd
if [ $# -eq 0 ]; then
	src=/var/tmp/zr-bench/linux-source-6.1
	if [ ! -d "$src" ] && [ -f /usr/src/linux-source-6.1.tar.xz ]; then
		mkdir -p /var/tmp/zr-bench
		tar -xJf /usr/src/linux-source-6.1.tar.xz -C /var/tmp/zr-bench
	fi
	set -- /usr/include
	[ -d "$src" ] && set -- /usr/include "$src"
fi
exec build/bench/arena_bench "$@"
