# SPDX-License-Identifier: GPL-2.0
#
# fuse-wb top-level Makefile.
#
#   make            build fuse_wb.ko against the test kernel (builds the kernel first if needed)
#   make CLIPPY=1   the same, linted by clippy (-Dwarnings)
#   make check      everything CI runs: host tests, clippy, rustfmt, the VM suite
#   make demo       mount a libfuse server over fuse-wb in the VM and show it working
#   make bench      benchmarks in the VM on the bench kernel (no debug options; built
#                   and cached on first use), measured, never failing on speed (README)
#   make bench-module  the bench kernel and fuse_wb.ko for it (tests/out/bench-module)
#   make xfstests XFSTESTS=DIR   the user's built xfstests in the VM: mainline vs fuse-wb
#
# KDIR defaults to the cached test kernel (scripts/build-kernel --print-kdir).

ifneq ($(KERNELRELEASE),)
# Invoked by Kbuild: everything is in ./Kbuild.
include $(src)/Kbuild
else

ROOT := $(CURDIR)
KDIR ?= $(shell $(ROOT)/scripts/build-kernel --print-kdir)
KMAKE := $(MAKE) -C $(KDIR) M=$(ROOT) LLVM=1
export PATH := $(HOME)/.cargo/bin:$(PATH)
CARGO := cargo
CARGO_FLAGS := --locked -q

.PHONY: all modules setup kernel clean clippy fmt fmtcheck hosttest tools check vmtest demo \
        bench bench-seed bench-dirty bench-work bench-setup bench-kernel bench-module xfstests

all: modules

setup:
	@$(ROOT)/scripts/setup

kernel: setup
	@$(ROOT)/scripts/build-kernel

modules: kernel
	+$(KMAKE) modules

clippy: kernel
	+$(KMAKE) CLIPPY=1 modules

fmt:
	rustfmt --edition 2021 --config-path $(KDIR)/.rustfmt.toml rust/fuse_wb_main.rs
	$(CARGO) fmt --all

fmtcheck:
	rustfmt --check --edition 2021 --config-path $(KDIR)/.rustfmt.toml rust/fuse_wb_main.rs
	$(CARGO) fmt --all -- --check

hosttest: kernel
	FUSEWB_KDIR=$(KDIR) $(CARGO) test $(CARGO_FLAGS) --workspace

tools: kernel
	FUSEWB_KDIR=$(KDIR) $(CARGO) build $(CARGO_FLAGS) --release --workspace

check: kernel
	@$(ROOT)/tests/run-checks

demo: modules tools
	@mkdir -p tests/out/bin
	@for ex in hello_ll passthrough_ll; do gcc -O2 -o tests/out/bin/$$ex \
		/usr/share/doc/libfuse3-dev/examples/$$ex.c $$(pkg-config --cflags --libs fuse3); done
	@$(ROOT)/scripts/vm-run $(ROOT)/tests/demo.sh

# xfstests (README "xfstests"): the user's own built tree; without XFSTESTS
# it explains how to get one and exits 0. XFSTESTS_KERNEL=bench runs it on the
# bench kernel (no debug options: faster, but catches fewer kernel bugs).
xfstests: modules tools $(if $(filter bench,$(XFSTESTS_KERNEL)),bench-module)
	@$(ROOT)/tests/xfstests/run

# Benchmarks (README "Benchmarks"): part 1 (the seed's case) in a VM with
# BENCH_MEM (its 2 GiB source and the copy both live in guest tmpfs), part 2
# (dirty memory during a 4 GiB copy) in a 512 MiB VM, part 3 (four writers,
# reads, small files; the 1 GiB file read and the writers' 1 GiB live in
# guest tmpfs) with BENCH_MEM. The BENCH_* sizes and subsets are passed into
# the guest. Part 1's defaults wait about 2 h for the added WRITE latencies
# alone (its plan line says so), hence its timeout of 6 h.
BENCH_MEM ?= 6G
BENCH_TIMEOUT ?= 21600
BENCH_DIRTY_TIMEOUT ?= 7200
BENCH_WORK_TIMEOUT ?= 7200
BENCH_VARS := BENCH_CP_MB BENCH_DD_MB BENCH_BIG_MB BENCH_LATENCIES BENCH_CONFIGS \
        BENCH_THREADS BENCH_MAX_WRITES BENCH_REPS \
        BENCH_VERIFY BENCH_DROP_CACHES BENCH_DIRTY_BACKEND BENCH_DIRTY_DIR BENCH_DIRTY_LATENCY_US \
        BENCH_WORK_LATENCIES BENCH_WORK_MB BENCH_READ_MB BENCH_RANDOM_READS BENCH_SMALL_FILES
BENCH_RUN := VM_RUN_ENV="$(BENCH_VARS)" $(ROOT)/scripts/vm-run --kernel bench
BENCH_BIN := $(ROOT)/target/release/fusewb-bench
BENCH_MODULE_DIR := $(ROOT)/tests/out/bench-module

bench-setup:
	@$(ROOT)/scripts/setup --bench

bench-kernel: bench-setup
	@FUSEWB_KERNEL=bench $(ROOT)/scripts/build-kernel

# The module for the bench kernel, built from a copy of the sources (tracked
# and new files, timestamps kept so that rebuilds are incremental): the
# repository's own fuse_wb.ko is the debug kernel's.
bench-module: bench-kernel
	@mkdir -p $(BENCH_MODULE_DIR)
	@git -C $(ROOT) ls-files -co --exclude-standard -- Kbuild Makefile rust include scripts | \
		(cd $(ROOT) && xargs cp -p --parents -t $(BENCH_MODULE_DIR))
	+$(MAKE) -C $$(FUSEWB_KERNEL=bench $(ROOT)/scripts/build-kernel --print-kdir) \
		M=$(BENCH_MODULE_DIR) LLVM=1 modules

# The seed part's plot, drawn on the host from its per-run TSV.
BENCH_PLOT := /usr/bin/python3 $(ROOT)/tools/fusewb-bench/plot.py $(ROOT)/tests/out/bench-seed.tsv \
	$(ROOT)/tests/out/bench-seed.png

bench: bench-module tools
	@$(BENCH_RUN) --mem $(BENCH_MEM) --timeout $(BENCH_TIMEOUT) $(BENCH_BIN) seed; s1=$$?; \
	$(BENCH_PLOT) || s1=1; \
	$(BENCH_RUN) --mem 512M --timeout $(BENCH_DIRTY_TIMEOUT) $(BENCH_BIN) dirty; s2=$$?; \
	$(BENCH_RUN) --mem $(BENCH_MEM) --timeout $(BENCH_WORK_TIMEOUT) $(BENCH_BIN) work; s3=$$?; \
	echo "make bench: part 1 (seed) exit status $$s1, part 2 (dirty) exit status $$s2," \
		"part 3 (work) exit status $$s3; results in tests/out/bench-seed.txt (.tsv, .png)," \
		"tests/out/bench-dirty.txt, tests/out/bench-work.txt (.tsv)"; \
	[ $$s1 = 0 ] && [ $$s2 = 0 ] && [ $$s3 = 0 ]

bench-seed: bench-module tools
	@$(BENCH_RUN) --mem $(BENCH_MEM) --timeout $(BENCH_TIMEOUT) $(BENCH_BIN) seed; s=$$?; \
	$(BENCH_PLOT) || s=1; exit $$s

bench-dirty: bench-module tools
	@$(BENCH_RUN) --mem 512M --timeout $(BENCH_DIRTY_TIMEOUT) $(BENCH_BIN) dirty

bench-work: bench-module tools
	@$(BENCH_RUN) --mem $(BENCH_MEM) --timeout $(BENCH_WORK_TIMEOUT) $(BENCH_BIN) work

clean:
	+$(KMAKE) clean
	$(CARGO) clean

endif
