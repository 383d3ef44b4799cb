# SPDX-License-Identifier: GPL-2.0
#
# fuse-wb top-level Makefile.
#
#   make            build fuse_wb.ko against the test kernel (builds the kernel first if needed)
#   make CLIPPY=1   the same, linted by clippy (-Dwarnings)
#   make check      everything CI runs: host tests, clippy, rustfmt, the VM suite
#   make demo       mount a libfuse server over fuse-wb in the VM and show it working
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

.PHONY: all modules setup kernel clean clippy fmt fmtcheck hosttest tools check vmtest demo

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

clean:
	+$(KMAKE) clean
	$(CARGO) clean

endif
