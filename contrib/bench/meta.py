#!/usr/bin/env python3
"""meta.py DIR N - create, stat and delete N small files under DIR.

Files go 1000 to a subdirectory, each holds 100 bytes that name it.  Every
stat checks the size, and a sample of files is read back and compared before
the delete.  Prints "create_ops stat_ops delete_ops" (operations per second,
one operation per file); exits 1 if any check fails.
"""
import os
import sys
import time

def main():
    top, n = sys.argv[1], int(sys.argv[2])
    per_dir = 1000
    dirs = [os.path.join(top, "d%04d" % i) for i in range((n + per_dir - 1) // per_dir)]
    names = [os.path.join(dirs[i // per_dir], "f%06d" % i) for i in range(n)]

    def payload(i):
        return (b"zramfs-bench file %08d " % i).ljust(100, b".")

    t0 = time.monotonic()
    for d in dirs:
        os.mkdir(d)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    for i, p in enumerate(names):
        fd = os.open(p, flags, 0o644)
        os.write(fd, payload(i))
        os.close(fd)
    t1 = time.monotonic()
    bad = 0
    for p in names:
        if os.stat(p).st_size != 100:
            bad += 1
    t2 = time.monotonic()
    for i in range(0, n, max(1, n // 1000)):
        with open(names[i], "rb") as f:
            if f.read() != payload(i):
                bad += 1
    t3 = time.monotonic()
    for p in names:
        os.unlink(p)
    for d in dirs:
        os.rmdir(d)
    t4 = time.monotonic()
    if bad:
        print("meta.py: %d files wrong" % bad, file=sys.stderr)
        sys.exit(1)
    print("%.0f %.0f %.0f" % (n / (t1 - t0), n / (t2 - t1), n / (t4 - t3)))

main()
