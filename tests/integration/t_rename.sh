# t_rename.sh - rename(2)/renameat2(2) semantics, compared with tmpfs.
ZOPTS="size=256M"

case_across_dirs() {
	same 'mkdir -p a/sub b; echo f > a/f; echo g > a/sub/g; head -c 200000 /dev/zero | tr "\0" x > a/big
	      mv a/f b/f; mv a/big b/; mv a/sub b/sub2
	      stat -c "%n %h" a b b/sub2; cat b/f b/sub2/g; wc -c < b/big; ls a'
}

case_over_existing() {
	same 'echo old > t1; echo new > s1; ln t1 t1link
	      mv s1 t1; cat t1 t1link; stat -c "%h" t1 t1link
	      mkdir d1 d2 full; touch full/x; mv d1 d2; ls -d d1 2>&1 || true; ls -d d2'
	# file over dir / dir over file / dir over non-empty dir
	mkdir -p "$Z/dir" "$Z/ne/x"; : >"$Z/file"; mkdir "$Z/empty"
	expect_errno EISDIR "$ZR" rename2 "$Z/file" "$Z/dir"
	expect_errno ENOTDIR "$ZR" rename2 "$Z/dir" "$Z/file"
	expect_errno ENOTEMPTY "$ZR" rename2 "$Z/empty" "$Z/ne"
	expect_ok "$ZR" rename2 "$Z/ne" "$Z/empty"
	[ -d "$Z/empty/x" ] && [ ! -e "$Z/ne" ] || fail "dir over empty dir not done"
	# renaming a file onto its own hard link is a no-op
	: >"$Z/h1"; ln "$Z/h1" "$Z/h2"
	expect_ok "$ZR" rename2 "$Z/h1" "$Z/h2"
	[ -e "$Z/h1" ] && [ -e "$Z/h2" ] || fail "rename onto own hard link removed a name"
	assert_eq "$(stat -c %h "$Z/h2")" 2 "link count after no-op rename"
}

case_noreplace() {
	echo a >"$Z/a"; echo b >"$Z/b"
	expect_errno EEXIST "$ZR" rename2 "$Z/a" "$Z/b" noreplace
	assert_eq "$(cat "$Z/a" "$Z/b" | tr '\n' ' ')" "a b " "contents after failed NOREPLACE"
	expect_ok "$ZR" rename2 "$Z/a" "$Z/c" noreplace
	[ ! -e "$Z/a" ] && [ "$(cat "$Z/c")" = a ] || fail "NOREPLACE rename to a new name"
	mkdir "$Z/d1" "$Z/d2"
	expect_errno EEXIST "$ZR" rename2 "$Z/d1" "$Z/d2" noreplace
}

case_exchange() {
	echo file >"$Z/f"; mkdir -p "$Z/d/sub"; echo in >"$Z/d/sub/x"
	echo file >"$T/f"; mkdir -p "$T/d/sub"; echo in >"$T/d/sub/x"
	expect_ok "$ZR" rename2 "$Z/f" "$Z/d" exchange
	expect_ok "$ZR" rename2 "$T/f" "$T/d" exchange
	cmp_trees "$Z" "$T"
	[ -f "$Z/d" ] && [ "$(cat "$Z/f/sub/x")" = in ] || fail "exchange file<->dir"
	expect_errno ENOENT "$ZR" rename2 "$Z/d" "$Z/missing" exchange
	mkdir -p "$Z/p1/c1" "$Z/p2"; echo 2 >"$Z/p2/c2"
	mkdir -p "$T/p1/c1" "$T/p2"; echo 2 >"$T/p2/c2"
	expect_ok "$ZR" rename2 "$Z/p1/c1" "$Z/p2/c2" exchange
	expect_ok "$ZR" rename2 "$T/p1/c1" "$T/p2/c2" exchange
	cmp_trees "$Z" "$T"
	# exchange + noreplace together is invalid; exchange with itself is fine
	expect_ok "$ZR" rename2 "$Z/f" "$Z/f" exchange
}

case_into_own_subtree() {
	mkdir -p "$Z/top/mid/low"
	expect_errno EINVAL "$ZR" rename2 "$Z/top" "$Z/top/mid/low/top"
	expect_errno EINVAL "$ZR" rename2 "$Z/top" "$Z/top/mid/low" exchange
	expect_errno EINVAL "$ZR" rename2 "$Z/top/mid" "$Z/top/mid/low/new"
	[ -d "$Z/top/mid/low" ] || fail "tree damaged"
}

case_dir_link_counts() {
	same 'mkdir -p p1/a p1/b p2; stat -c "%n %h" p1 p2
	      mv p1/a p2/; stat -c "%n %h" p1 p2 p2/a
	      mv p1/b p2/a/; stat -c "%n %h" p1 p2 p2/a
	      rmdir p2/a/b; stat -c "%n %h" p2/a'
}

case_rename_keeps_inode_and_data() {
	head -c 1000000 /dev/urandom >"$W/d"
	cp "$W/d" "$Z/x"
	local ino
	ino=$(stat -c %i "$Z/x")
	mkdir "$Z/sub"; mv "$Z/x" "$Z/sub/y"
	assert_eq "$(stat -c %i "$Z/sub/y")" "$ino" "inode after rename"
	cmp "$W/d" "$Z/sub/y" || fail "data after rename"
	# open fd follows the file across rename
	exec 3<"$Z/sub/y"
	mv "$Z/sub/y" "$Z/z"
	cmp - "$W/d" <&3 || fail "data via fd opened before rename"
	exec 3<&-
}
