# zramfs - compressed RAM filesystem (FUSE)
#
#   make                 build ./zramfs
#   make check           unit + integration tests on real mounts, then the
#                        unit tests and ASAN_CASES / TSAN_CASES under
#                        ASan+UBSan / TSan,
#                        then the fault-injection build
#   make unit            unit tests only
#   make check-asan      the same under ASan+UBSan      (build/asan)
#   make check-tsan      the same under ThreadSanitizer  (build/tsan)
#   make check-fault     unit tests and the "fault" integration cases with
#                        fault injection compiled in (build/fault)
#   make FAULT=1 ...     any target with fault injection compiled in
#                        (-DZR_FAULT_INJECTION; build/fault, build/SAN-fault):
#                        the daemon then reads ZRAMFS_FAULTS, e.g.
#                        "arena_alloc=0.01,spill_read=0.02,seed=42"
#                        (include/zramfs/fault.h)
#   make valgrind        unit tests under valgrind memcheck
#   make mount MNT=DIR   build and mount zramfs on DIR (OPTS="-o ...")
#   make deps            install missing Debian packages (as root)
#   make install         PREFIX=/usr/local DESTDIR=
#   make fuzz            libFuzzer harnesses (clang)
#   make bench           tmpfs / ext4-on-zram / zramfs benchmark (BENCH_QUICK=1)

VERSION   := 0.1.0
PREFIX    ?= /usr/local
BINDIR    ?= $(PREFIX)/bin
MANDIR    ?= $(PREFIX)/share/man
SAN       ?=
FAULT     ?=
BUILD     ?= build$(if $(SAN),/$(SAN)$(if $(FAULT),-fault),$(if $(FAULT),/fault))

CC        ?= cc
OPT       ?= -O2 -g
WARN      := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
             -Wmissing-prototypes -Wpointer-arith -Wformat=2 -Wvla \
             -Wno-unused-parameter
PKGS      := fuse3 liblz4 libzstd
# Deferred (=): on a fresh machine pkg-config only exists after `make deps`.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null || echo -I/usr/include/fuse3)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lfuse3 -llz4 -lzstd)

SAN_FLAGS_asan := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
SAN_FLAGS_tsan := -fsanitize=thread
SAN_FLAGS  := $(SAN_FLAGS_$(SAN))
FAULT_FLAGS := $(if $(FAULT),-DZR_FAULT_INJECTION)

CPPFLAGS  += -Iinclude -D_GNU_SOURCE -DZRAMFS_VERSION=\"$(VERSION)\" -MMD -MP $(FAULT_FLAGS)
CFLAGS    = -std=gnu11 $(OPT) $(WARN) -pthread $(SAN_FLAGS) $(PKG_CFLAGS) $(EXTRA_CFLAGS)
LDFLAGS   += -pthread $(SAN_FLAGS)
LDLIBS    = $(PKG_LIBS) -lpthread

# The daemon's FUSE front (fs*.c, main.c); every other src/*.c is a
# library module with no FUSE in it, linked directly into the unit tests.
FS_MODS   := $(patsubst src/%.c,%,$(wildcard src/fs*.c src/main.c))
LIB_MODS  := $(filter-out $(FS_MODS),$(patsubst src/%.c,%,$(wildcard src/*.c)))
UNIT_TESTS := $(patsubst tests/unit/%.c,%,$(wildcard tests/unit/test_*.c))

LIB_OBJS  := $(LIB_MODS:%=$(BUILD)/src/%.o)
FS_OBJS   := $(FS_MODS:%=$(BUILD)/src/%.o)
DAEMON    := $(BUILD)/zramfs
TEST_BINS := $(UNIT_TESTS:%=$(BUILD)/tests/%)
TOOLS     := $(patsubst tests/tools/%.c,$(BUILD)/tests/tools/%,$(wildcard tests/tools/*.c))

.SECONDARY:
.PHONY: fuzz all build-all deps unit run-unit run-integration run-asan run-tsan run-fault check check-asan check-tsan check-fault valgrind integration mount \
        install uninstall clean fuzz bench tools

all: $(DAEMON) $(if $(SAN)$(FAULT),,zramfs)

zramfs: $(DAEMON)
	ln -sf $(DAEMON) zramfs

$(DAEMON): $(LIB_OBJS) $(FS_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/test_%: $(BUILD)/tests/unit/test_%.o $(LIB_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

$(BUILD)/tests/tools/%: $(BUILD)/tests/tools/%.o $(LIB_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

tools: $(TOOLS)

# Install what is missing (root), or say what to install.
deps:
	@sh contrib/deps.sh install

# Top-level targets install dependencies first, then build in a sub-make.
unit: deps
	@$(MAKE) --no-print-directory run-unit

run-unit: $(TEST_BINS)
	@set -e; for t in $(TEST_BINS); do echo "== $$t"; $$t; done

integration: deps
	@$(MAKE) --no-print-directory run-integration

run-integration: all tools
	@ZRAMFS=$(abspath $(DAEMON)) TOOLS=$(abspath $(BUILD)/tests/tools) \
		sh tests/integration/run.sh

# The unit tests also run under ASan+UBSan and TSan: minutes, not hours,
# and they catch what the plain build cannot.
# make check: everything plain, then the unit tests and the integration
# cases most likely to show memory and thread bugs under ASan+UBSan
# (ASAN_CASES: the exerciser in every configuration, stress, spill, basic
# I/O) and TSan (TSAN_CASES: stress and the exerciser with workers, spill,
# compaction and recompression; TSan runs 5-15x slower), then the
# fault-injection build.
# The whole suites under the sanitizers are check-asan and check-tsan.
ASAN_CASES ?= ^t_(exercise|stress|spill|basic|io):
TSAN_CASES ?= ^t_(stress:|exercise: (lz4_default|zstd_workers2|spill_lz4|compact_often|recompress_often))
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
check: deps
	@$(MAKE) --no-print-directory -j$(JOBS) build-all
	@$(MAKE) --no-print-directory run-unit run-integration
	@ZR_CASES='$(ASAN_CASES)' $(MAKE) --no-print-directory run-asan
	@ZR_CASES='$(TSAN_CASES)' $(MAKE) --no-print-directory run-tsan
	@$(MAKE) --no-print-directory run-fault

build-all: all tools $(TEST_BINS)

# Sanitizer reports in the daemon (whose stderr the suite does not show)
# must stop it, so the cases running on it fail.
ASAN_ENV := ASAN_OPTIONS=abort_on_error=1:detect_leaks=0 UBSAN_OPTIONS=halt_on_error=1
# TSan runs the daemon 5-15x slower: t_exercise spill_lz4 took 131-141 s
# under it on a 2-vCPU VM (kernel 6.18.44-fc-v1045), past the default 90 s
# per case.
TSAN_ENV := TSAN_OPTIONS=halt_on_error=1 ZR_TIMEOUT=$${ZR_TIMEOUT:-300}
SAN_MAKE  = $(MAKE) --no-print-directory OPT="-O1 -g"
run-asan:
	@$(SAN_MAKE) -j$(JOBS) SAN=asan build-all
	@$(ASAN_ENV) $(SAN_MAKE) SAN=asan run-unit run-integration
run-tsan:
	@$(SAN_MAKE) -j$(JOBS) SAN=tsan build-all
	@$(TSAN_ENV) $(SAN_MAKE) SAN=tsan run-unit run-integration
run-fault:
	@$(MAKE) --no-print-directory -j$(JOBS) FAULT=1 build-all
	@$(MAKE) --no-print-directory FAULT=1 run-unit
	@ZR_CASES='^t_fault:' $(MAKE) --no-print-directory FAULT=1 run-integration

check-asan: deps
	@$(MAKE) --no-print-directory run-asan

check-tsan: deps
	@$(MAKE) --no-print-directory run-tsan

# Fault injection (issue: clean errors under faults, never wrong data).
check-fault: deps
	@$(MAKE) --no-print-directory run-fault

valgrind: deps $(TEST_BINS)
	@set -e; for t in $(TEST_BINS); do echo "== valgrind $$t"; \
		ZR_TEST_QUICK=1 valgrind -q --error-exitcode=99 --leak-check=full \
		--errors-for-leak-kinds=definite $$t; done

MNT ?= /mnt/zramfs
mount: deps
	@$(MAKE) --no-print-directory all
	@mkdir -p $(MNT)
	./zramfs $(OPTS) $(MNT)
	@echo "zramfs mounted on $(MNT); unmount with: fusermount3 -u $(MNT)"

# tmpfs, ext4 on zram and zramfs side by side, same data (issue 8); root.
# BENCH_QUICK=1 for the 5-minute version.  Results in build/bench/.
bench: all tools
	@ZRAMFS="$${ZRAMFS:-$(abspath $(DAEMON))}" bash contrib/bench/run.sh

UNITDIR   ?= $(PREFIX)/lib/systemd/system
EXAMPLEDIR ?= $(PREFIX)/share/zramfs
# tmp.mount goes with the examples, not into UNITDIR: there it would shadow
# systemd's own tmp.mount and change /tmp at the next boot.
install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(EXAMPLEDIR)
	install -m 755 $(DAEMON) $(DESTDIR)$(BINDIR)/zramfs
	install -m 755 contrib/zramfs-stat $(DESTDIR)$(BINDIR)/zramfs-stat
	install -m 755 contrib/zramfs-swap $(DESTDIR)$(BINDIR)/zramfs-swap
	install -m 644 zramfs.1 $(DESTDIR)$(MANDIR)/man1/zramfs.1
	sed 's|@BINDIR@|$(BINDIR)|g' contrib/systemd/zramfs@.service \
		>$(DESTDIR)$(UNITDIR)/zramfs@.service
	chmod 644 $(DESTDIR)$(UNITDIR)/zramfs@.service
	install -m 644 contrib/systemd/tmp.mount contrib/fstab.example $(DESTDIR)$(EXAMPLEDIR)

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/zramfs $(DESTDIR)$(BINDIR)/zramfs-stat \
		$(DESTDIR)$(BINDIR)/zramfs-swap \
		$(DESTDIR)$(MANDIR)/man1/zramfs.1 $(DESTDIR)$(UNITDIR)/zramfs@.service \
		$(DESTDIR)$(EXAMPLEDIR)/tmp.mount $(DESTDIR)$(EXAMPLEDIR)/fstab.example
	-rmdir $(DESTDIR)$(EXAMPLEDIR) 2>/dev/null

# libFuzzer harnesses: fuzz/fuzz_NAME.c, built with clang against the lib
# modules.  Run one: build/fuzz/fuzz_NAME -max_total_time=600 CORPUS_DIR
FUZZ_NAMES := $(patsubst fuzz/%.c,%,$(wildcard fuzz/fuzz_*.c))
FUZZ_FLAGS := -std=gnu11 -g -O1 -Iinclude -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined
fuzz: deps
	@mkdir -p build/fuzz
	@set -e; for f in $(FUZZ_NAMES); do \
		clang $(FUZZ_FLAGS) -o build/fuzz/$$f fuzz/$$f.c \
			$(foreach m,$(LIB_MODS),src/$(m).c) -llz4 -lzstd -lpthread; \
		echo "built build/fuzz/$$f"; done

clean:
	rm -rf build zramfs

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
