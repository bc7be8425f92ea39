# t_xattr.sh - extended attributes and the virtual user.zramfs.* attributes.
ZOPTS="size=256M"

case_user_trusted_roundtrip() {
	same 'touch f; mkdir d
	      setfattr -n user.a -v hello f; setfattr -n user.empty f; setfattr -n user.bin -v 0x00ff00ff f
	      setfattr -n trusted.t -v secret f; setfattr -n user.dir -v dv d
	      setfattr -n user.b -v "$(head -c 3000 /dev/zero | tr "\0" q)" f
	      for i in $(seq 1 40); do setfattr -n user.k$i -v v$i d; done
	      getfattr -n user.a --only-values f; echo; getfattr -e hex -n user.bin f | grep bin
	      getfattr -n trusted.t --only-values f; echo
	      setfattr -n user.a -v changed f; getfattr -n user.a --only-values f; echo
	      setfattr -x user.k7 d; getfattr -d d | grep -c user.k'
	# listxattr lists every name (order may differ)
	assert_eq "$(getfattr -d -m - "$Z/f" | grep -v '^#' | grep . | sort | cut -d= -f1 | tr '\n' ' ')" \
		"trusted.t user.a user.b user.bin user.empty " "names listed on a file"
}

case_create_replace() {
	touch "$Z/f"
	expect_errno ENODATA "$ZR" xset "$Z/f" user.x v replace
	expect_ok "$ZR" xset "$Z/f" user.x v1 create
	expect_errno EEXIST "$ZR" xset "$Z/f" user.x v2 create
	assert_eq "$("$ZR" xget "$Z/f" user.x 100)" "OK 2 v1" "value after failed XATTR_CREATE"
	expect_ok "$ZR" xset "$Z/f" user.x value2 replace
	assert_eq "$("$ZR" xget "$Z/f" user.x 100)" "OK 6 value2" "value after XATTR_REPLACE"
	expect_ok "$ZR" xset "$Z/f" user.x v3
	assert_eq "$("$ZR" xget "$Z/f" user.x 100)" "OK 2 v3" "value after plain set"
}

case_erange_probing() {
	touch "$Z/f"
	"$ZR" xset "$Z/f" user.abc 0123456789 >/dev/null
	"$ZR" xset "$Z/f" user.longer_name xyz >/dev/null
	assert_eq "$("$ZR" xget "$Z/f" user.abc 0)" "OK 10" "size probe"
	expect_errno ERANGE "$ZR" xget "$Z/f" user.abc 9
	assert_eq "$("$ZR" xget "$Z/f" user.abc 10)" "OK 10 0123456789" "exact-size get"
	# list: user.abc\0user.longer_name\0 = 9 + 17 = 26 bytes
	assert_eq "$("$ZR" xlist "$Z/f" 0)" "OK 26" "list size probe"
	expect_errno ERANGE "$ZR" xlist "$Z/f" 25
	assert_eq "$("$ZR" xlist "$Z/f" 26 | sed 1d | sort | tr '\n' ' ')" "user.abc user.longer_name " "list names"
	# an empty list
	touch "$Z/g"
	assert_eq "$("$ZR" xlist "$Z/g" 0)" "OK 0" "empty list size"
}

case_enodata_remove() {
	touch "$Z/f"
	expect_errno ENODATA "$ZR" xget "$Z/f" user.missing 100
	expect_errno ENODATA "$ZR" xremove "$Z/f" user.missing
	"$ZR" xset "$Z/f" user.gone v >/dev/null
	expect_ok "$ZR" xremove "$Z/f" user.gone
	expect_errno ENODATA "$ZR" xget "$Z/f" user.gone 100
	assert_eq "$("$ZR" xlist "$Z/f" 0)" "OK 0" "list after removal"
	# xattrs of a removed file do not come back on a new file of that name
	"$ZR" xset "$Z/f" user.old v >/dev/null
	rm "$Z/f"; touch "$Z/f"
	expect_errno ENODATA "$ZR" xget "$Z/f" user.old 100
	# user.* on symlinks is not allowed (as on tmpfs)
	ln -s f "$Z/l"; ln -s f "$T/l"
	assert_eq "$("$ZR" xset "$Z/l" user.x v)" "$("$ZR" xset "$T/l" user.x v)" "user.* on a symlink"
	# unprivileged users cannot use trusted.*
	chmod 666 "$Z/f"
	must_fail as_user "$U1" setfattr -n trusted.x -v 1 "$Z/f"
	"$ZR" xset "$Z/f" trusted.hidden v >/dev/null
	as_user "$U1" getfattr -d -m - "$Z/f" 2>/dev/null | grep -q trusted && fail "trusted.* visible to a user"
	return 0
}

case_virtual_not_listed() {
	need_zramfs
	echo data >"$Z/f"
	"$ZR" xlist "$ZMNT" 65536 | grep -q 'user\.zramfs' && fail "listxattr on root shows user.zramfs.*"
	"$ZR" xlist "$Z/f" 65536 | grep -q 'user\.zramfs' && fail "listxattr on a file shows user.zramfs.*"
	getfattr -d -m - "$ZMNT" "$Z/f" 2>/dev/null | grep -q 'user\.zramfs' && fail "getfattr -d shows user.zramfs.*"
	return 0
}

case_stats_attr() {
	need_zramfs
	local k out
	head -c 200000 /dev/urandom >"$Z/f"
	out=$(zstat_all "$ZMNT") || fail "getfattr user.zramfs.stats on root"
	for k in orig_data_size compr_data_size mem_used_total same_chunks huge_chunks files dirs; do
		echo "$out" | grep -Eq "^$k [0-9]+$" || fail "root stats: no numeric '$k' in:
$out"
	done
	out=$(zstat_all "$Z/f") || fail "getfattr user.zramfs.stats on a file"
	echo "$out" | grep -Eq '^size 200000$' || fail "file stats: size 200000 missing:
$out"
	echo "$out" | grep -Eq '^chunks [0-9]+$' || fail "file stats: chunks missing:
$out"
	echo "$out" | grep -Eqi '^(compr|compr_size|compr_data_size|compressed)[a-z_]* [0-9]+$' || fail "file stats: compressed bytes missing:
$out"
	echo "$out" | grep -Eqi '^([a-z]+_)?ratio [0-9.]+' || fail "file stats: ratio missing:
$out"
	# the virtual attribute is read-only
	expect_errno EPERM "$ZR" xset "$ZMNT" user.zramfs.stats x
	expect_errno EPERM "$ZR" xset "$Z/f" user.zramfs.stats x
	must_fail setfattr -n user.zramfs.stats -v 1 "$ZMNT"
	must_fail setfattr -x user.zramfs.stats "$ZMNT"
	# and the size probe agrees with the value
	local n
	n=$("$ZR" xget "$ZMNT" user.zramfs.stats 0 | cut -d' ' -f2)
	assert_gt "$n" 0 "stats size probe"
}

case_tar_xattrs_out() {
	mkdir -p "$Z/src/sub"; echo a >"$Z/src/a"; echo b >"$Z/src/sub/b"
	setfattr -n user.tag -v one "$Z/src/a"
	setfattr -n user.tag -v dir "$Z/src/sub"
	local err
	err=$(cd "$ZMNT" && tar --xattrs --xattrs-include='*' -cf "$W/x.tar" . 2>&1) || fail "tar --xattrs -c of the mount failed: $err"
	[ -z "$err" ] || fail "tar --xattrs printed: $err"
	tar -tvf "$W/x.tar" >/dev/null || fail "tar listing"
	mkdir "$W/out"
	tar --xattrs --xattrs-include='*' -xf "$W/x.tar" -C "$W/out" || fail "tar -x"
	assert_eq "$(getfattr --only-values -n user.tag "$W/out/tar_xattrs_out/src/a")" one "xattr carried by tar"
	getfattr -R -d -m - "$W/out" 2>/dev/null | grep -q 'user\.zramfs' && fail "tar archived virtual user.zramfs.* attributes"
	return 0
}
