# t_basic.sh - file types, names, links; every case compared with tmpfs.
ZOPTS="size=512M"

case_regular_files() {
	local s
	# sizes around page and chunk boundaries
	for s in 0 1 4095 4096 4097 65535 65536 65537 131072 1048579; do
		head -c "$s" /dev/urandom >"$W/r$s"
		cp "$W/r$s" "$Z/f$s"; cp "$W/r$s" "$T/f$s"
	done
	same 'printf "hello\n" > small; printf "x%.0s" $(seq 1 5000) > rep; : > empty; cat small rep | wc -c'
	for s in 0 1 4095 65536 1048579; do
		cmp "$W/r$s" "$Z/f$s" || fail "content of f$s"
		assert_eq "$(fsize "$Z/f$s")" "$s" "size of f$s"
	done
}

case_overwrite_partial() {
	head -c 300000 /dev/urandom >"$W/src"
	head -c 70000 /dev/urandom >"$W/patch"
	cp "$W/src" "$Z/f"; cp "$W/src" "$T/f"
	same "dd if=$W/patch of=f bs=1 seek=65530 count=20 conv=notrunc status=none
	      dd if=$W/patch of=f bs=4096 seek=3 count=1 conv=notrunc status=none
	      dd if=$W/patch of=f bs=1000 seek=123 count=70 conv=notrunc status=none
	      dd if=$W/patch of=f bs=1 seek=299990 count=100 conv=notrunc status=none
	      printf abc | dd of=f bs=1 seek=400000 conv=notrunc status=none
	      wc -c < f"
	cmp "$Z/f" "$T/f" || fail "contents differ"
}

case_directories() {
	same 'mkdir -p a/b/c/d/e a/x a/y; mkdir a/b/c2; rmdir a/y
	      stat -c "%n %h" a a/b a/b/c a/b/c/d/e
	      ls a | sort'
	# readdir offsets with many entries
	same 'mkdir many; for i in $(seq 1 1500); do : > many/file_$i; done
	      ls many | wc -l; ls -f many | wc -l
	      rm many/file_1*; ls many | wc -l'
}

case_names() {
	local n255 n256
	n255=$(printf 'n%.0s' $(seq 1 255)); n256=${n255}x
	same "touch -- 'with space' 'tab	x' \$'new\\nline' 'ünïcødé-ß' '-dash' '.hidden' '...' '$n255'
	      ls -A | LC_ALL=C sort | od -c | tail -3"
	expect_errno ENAMETOOLONG "$ZR" open "$Z/$n256" wronly,creat
	expect_errno ENAMETOOLONG "$ZR" mkdir "$Z/$n256"
	expect_errno ENAMETOOLONG "$ZR" symlink x "$Z/$n256"
	expect_errno ENAMETOOLONG "$ZR" open "$T/$n256" wronly,creat
	[ -e "$Z/$n255" ] || fail "255-char name missing"
}

case_symlinks() {
	local long
	long=$(printf 'L%.0s' $(seq 1 4000))
	same "echo data > target; mkdir dir; echo in > dir/in
	      ln -s target rel; ln -s $Z/target abs_z_does_not_matter; ln -s nowhere dangling
	      ln -s dir dlink; ln -s ../target dir/up; ln -s '$long' longlink
	      readlink rel dangling dir/up; cat rel dlink/in dir/up
	      stat -c '%s %F' rel longlink; test -e dangling || echo dangling-ok
	      readlink longlink | wc -c"
	# lstat size is the target length; an absolute target is kept verbatim
	assert_eq "$(readlink "$Z/abs_z_does_not_matter")" "$Z/target" "absolute target"
	expect_errno ENAMETOOLONG "$ZR" symlink "$(printf 'L%.0s' $(seq 1 4096))" "$Z/toolong"
	# loops
	ln -s loop1 "$Z/loop2"; ln -s loop2 "$Z/loop1"
	expect_errno ELOOP "$ZR" open "$Z/loop1" rdonly
	expect_errno ELOOP "$ZR" open "$Z/rel" rdonly,nofollow
}

case_hardlinks() {
	same 'echo one > a; ln a b; ln b c; mkdir d; ln a d/e
	      stat -c "%n %h" a b c d/e
	      echo two >> c; cat a; rm a b; stat -c "%n %h" c d/e; cat d/e
	      ln c d/f; mv d/f g; stat -c "%n %h" c g'
	[ "$(stat -c %i "$Z/c")" = "$(stat -c %i "$Z/g")" ] || fail "hard links have different inode numbers"
	expect_errno EEXIST "$ZR" link "$Z/c" "$Z/g"
	expect_errno EPERM "$ZR" link "$Z/d" "$Z/dirlink"
	expect_errno ENOENT "$ZR" link "$Z/nonexistent" "$Z/x"
}

case_fifo() {
	same 'mkfifo -m 640 p; stat -c "%F %a" p'
	( echo "through the pipe" >"$Z/p" ) &
	local got
	got=$(timeout 10 cat "$Z/p") || fail "reading the fifo failed/hung"
	wait
	assert_eq "$got" "through the pipe" "fifo data"
}

case_socket() {
	expect_ok "$ZR" mksock "$Z/sock"
	expect_ok "$ZR" mksock "$T/sock"
	cmp_trees "$Z" "$T"
	[ -S "$Z/sock" ] || fail "not a socket"
	rm "$Z/sock" "$T/sock"
	# a live socket: server and client through a socket inode on the mount
	timeout 20 python3 - "$Z/live" <<'EOF' || fail "unix socket round trip failed"
import os, socket, sys
p = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(p); s.listen(1)
c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
c.connect(p)
a, _ = s.accept()
c.sendall(b"ping")
assert a.recv(4) == b"ping"
EOF
}

case_device_nodes() {
	same 'mknod -m 600 cdev c 1 3; mknod -m 644 bdev b 7 0; mknod -m 600 c2 c 4095 1048575
	      stat -c "%n %F %t:%T %a" cdev bdev c2'
	# permissions and rdev survive a copy
	same 'cp -a cdev cdev.copy; stat -c "%F %t:%T" cdev.copy'
}

case_errors() {
	mkdir -p "$Z/ne/sub" "$T/ne/sub"; : >"$Z/file"
	expect_errno ENOTEMPTY "$ZR" rmdir "$Z/ne"
	expect_errno ENOTEMPTY "$ZR" rmdir "$T/ne"
	expect_errno ENOTDIR "$ZR" rmdir "$Z/file"
	expect_errno EISDIR "$ZR" unlink "$Z/ne"
	expect_errno EEXIST "$ZR" mkdir "$Z/ne"
	expect_errno ENOENT "$ZR" open "$Z/missing" rdonly
	expect_errno ENOTDIR "$ZR" open "$Z/file/x" rdonly
	expect_errno EISDIR "$ZR" open "$Z/ne" wronly
	expect_errno ENOTDIR "$ZR" open "$Z/file" rdonly,directory
	expect_errno EINVAL "$ZR" rmdir "$Z/ne/sub/."
	[ -d "$Z/ne/sub" ] || fail "ne/sub vanished"
}
