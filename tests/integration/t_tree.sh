# t_tree.sh - real trees in and out: cp -a, tar, rsync, diff -r.
ZOPTS="size=1G"

# The source tree: /usr/include (about 130 MB on Debian) is too slow for
# a 5-minute suite through FUSE, so take a few of its subtrees plus a bit
# of /usr/share/doc for symlinks.  Copied once per case to $W first.
tree_src() {
	local d
	mkdir -p "$W/src"
	for d in /usr/include/linux /usr/include/x86_64-linux-gnu /usr/include/asm-generic \
	         /usr/include/fuse3 /usr/include/netinet /usr/share/doc/bash; do
		[ -d "$d" ] && cp -a "$d" "$W/src/" 2>/dev/null
	done
	# plus a few odd entries
	ln -s linux "$W/src/link-to-dir"; ln -s /nonexistent "$W/src/dangling"
	ln "$W/src/linux/types.h" "$W/src/hardlink.h" 2>/dev/null || true
	mkfifo "$W/src/fifo"; mknod "$W/src/cdev" c 1 3
	chmod 4755 "$W/src/hardlink.h" 2>/dev/null || true
	chown -h 1234:5678 "$W/src/dangling"
	touch -h -d 2001-01-01 "$W/src/dangling"
	truncate -s 5M "$W/src/sparse"
	[ -n "$(find "$W/src" -type f | head -n 50 | tail -n 1)" ] || skip "no source tree"
}

case_cp_a_in_out() {
	tree_src
	cp -a "$W/src" "$Z/tree" || fail "cp -a into zramfs"
	cp -a "$W/src" "$T/tree" || fail "cp -a into tmpfs"
	cmp_trees "$W/src" "$Z/tree"  # diff -r after cp -a in
	cmp_trees "$Z" "$T"
	# times preserved (files and symlinks)
	assert_eq "$(cd "$Z/tree" && find . -printf '%p %T@\n' | sort | md5sum)" \
		"$(cd "$W/src" && find . -printf '%p %T@\n' | sort | md5sum)" "timestamps after cp -a"
	cp -a "$Z/tree" "$W/back" || fail "cp -a out of zramfs"
	cmp_trees "$W/src" "$W/back"  # diff -r after cp -a out
	assert_eq "$(cd "$W/back" && find . -printf '%p %y %m %U %G %s %T@\n' | sort | md5sum)" \
		"$(cd "$W/src" && find . -printf '%p %y %m %U %G %s %T@\n' | sort | md5sum)" "metadata after the round trip"
	# apparent size of the whole tree agrees
	assert_eq "$(du -s --apparent-size -B1 "$Z/tree" | cut -f1)" "$(du -s --apparent-size -B1 "$T/tree" | cut -f1)" "apparent size"
	rm -rf "$Z/tree" || fail "rm -rf tree"
	[ -z "$(ls -A "$Z")" ] || fail "directory not empty after rm -rf"
}

case_tar_in_out() {
	tree_src
	tar -C "$W/src" -cf "$W/in.tar" . || fail "tar c source"
	mkdir "$Z/x" "$T/x"
	tar -C "$Z/x" -xpf "$W/in.tar" || fail "tar x into zramfs"
	tar -C "$T/x" -xpf "$W/in.tar" || fail "tar x into tmpfs"
	cmp_trees "$Z" "$T"
	(cd "$Z/x" && tar -cf - .) >"$W/out.tar" || fail "tar c out of zramfs"
	mkdir "$W/out"
	tar -C "$W/out" -xpf "$W/out.tar" || fail "tar x of the archive made on zramfs"
	cmp_trees "$W/src" "$W/out"  # diff -r after tar round trip
	# tar's own compare mode
	(cd "$Z/x" && tar -df "$W/in.tar") || fail "tar -d reports differences"
}

case_rsync() {
	command -v rsync >/dev/null || skip "rsync not installed"
	tree_src
	setfattr -n user.r -v 1 "$W/src/linux/types.h"
	rsync -aHX "$W/src/" "$Z/r/" || fail "rsync -aHX into zramfs"
	rsync -aHX "$W/src/" "$T/r/" || fail "rsync -aHX into tmpfs"
	cmp_trees "$Z" "$T"
	rsync -aHX "$Z/r/" "$W/rs/" || fail "rsync -aHX out of zramfs"
	cmp_trees "$W/src" "$W/rs"  # diff after rsync out
	assert_eq "$(getfattr --only-values -n user.r "$W/rs/linux/types.h")" 1 "xattr through rsync"
	# a second rsync finds nothing to do
	assert_eq "$(rsync -aHXi "$W/src/" "$Z/r/" | wc -l)" 0 "rsync itemized changes on an identical tree"
}
