# SPDX-License-Identifier: BSD-2-Clause
# vmlet: Kbuild-style build. Quiet by default (V=1 prints the commands),
# out of tree with O=dir, header dependencies through -MMD. `make help`.

VERSION_MAJOR := 0
VERSION := $(VERSION_MAJOR).1.0

srctree := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
ifneq ($(O),)
objtree := $(abspath $(O))
else
objtree := $(srctree)
endif

ifeq ($(V),1)
Q :=
msg =
else
Q := @
msg = @printf '  %-7s %s\n' '$(1)' '$(patsubst $(objtree)/%,%,$(2))'
endif

CC ?= cc
GUEST_CC ?= musl-gcc
PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BINDIR ?= $(PREFIX)/bin

WARN := -Wall -Wextra -Werror
HOST_CFLAGS := -std=gnu11 -O2 -g $(WARN) -fvisibility=hidden -I$(srctree)/lib/include \
	-iquote $(srctree)/lib $(CFLAGS)
SAN_FLAGS := $(if $(SAN),-fsanitize=$(SAN) -fno-omit-frame-pointer)
HOST_CFLAGS += $(SAN_FLAGS)
HOST_LDFLAGS := $(SAN_FLAGS) $(LDFLAGS)

# Guests: static, non-PIE, linked at VMLET_IMAGE_BASE with 4 KiB-aligned,
# separate code and data segments so each gets its own page permissions.
GUEST_CFLAGS := -std=gnu11 -O2 -g $(WARN) -fno-pic -fno-stack-protector \
	-I$(srctree)/lib/include -I$(srctree)/guest/include
GUEST_LDFLAGS := -static -no-pie -Wl,-Ttext-segment=0x100000 -Wl,-z,max-page-size=4096 \
	-Wl,-z,separate-code -Wl,--build-id=none

LIB_SRCS := $(wildcard $(srctree)/lib/*.c)
LIB_OBJS := $(patsubst $(srctree)/%.c,$(objtree)/%.o,$(LIB_SRCS))
LIBA := $(objtree)/lib/libvmlet.a
LIBSO := $(objtree)/lib/libvmlet.so.$(VERSION)
LIBSO_MAJOR := libvmlet.so.$(VERSION_MAJOR)

GUEST_OBJS := $(addprefix $(objtree)/guest/,runtime.o syscall.o entry.o)
GUEST_LIB := $(objtree)/guest/libvmlet-guest.a
DEMO := $(objtree)/guest/examples/demo.elf

TOOLS := $(objtree)/tools/vmlet $(objtree)/tools/vmlet-trace

# BPF: CO-RE objects against the running kernel's BTF, and their skeletons.
CLANG ?= clang
BPFTOOL ?= bpftool
VMLINUX_BTF ?= /sys/kernel/btf/vmlinux
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_x86 $(WARN) -Wno-unused-parameter -I$(objtree)/bpf -I$(srctree)/bpf \
	-I/usr/include/$(shell $(CC) -dumpmachine 2>/dev/null || echo x86_64-linux-gnu)
BPF_SRCS := $(wildcard $(srctree)/bpf/*.bpf.c)
BPF_OBJS := $(patsubst $(srctree)/%.bpf.c,$(objtree)/%.bpf.o,$(BPF_SRCS))
BPF_SKELS := $(patsubst %.bpf.o,%.skel.h,$(BPF_OBJS))
.SECONDARY: $(BPF_OBJS)
BPF_LIBS := $(shell pkg-config --libs libbpf 2>/dev/null || echo -lbpf) -lelf -lz

UNIT_SRCS := $(wildcard $(srctree)/selftests/unit/*_test.c)
UNIT_TESTS := $(patsubst $(srctree)/%.c,$(objtree)/%,$(UNIT_SRCS))
KVM_SRCS := $(wildcard $(srctree)/selftests/kvm/*_test.c)
KVM_TESTS := $(patsubst $(srctree)/%.c,$(objtree)/%,$(KVM_SRCS))
KVM_GUESTS := $(patsubst $(srctree)/%.c,$(objtree)/%.elf,$(wildcard $(srctree)/selftests/kvm/*_guest.c))
BENCH := $(objtree)/selftests/bench/bench

CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck)

.DELETE_ON_ERROR:
.PHONY: all run check tests bench clean install uninstall help deps format-check

all: $(LIBA) $(LIBSO) $(GUEST_LIB) $(DEMO) $(BPF_SKELS) $(TOOLS)

help:
	@echo 'Targets:'
	@echo '  all          library, guest runtime, demo guest, tools (default)'
	@echo '  run          build and run the demo guest through the vmlet CLI'
	@echo '  check        run every test (VM tests in a QEMU VM without /dev/kvm; VM=1 forces it)'
	@echo '  bench        print benchmark figures against the raw KVM floor'
	@echo '  install      install into DESTDIR/PREFIX'
	@echo '  clean        remove build output'
	@echo '  format-check check formatting against .clang-format'
	@echo 'Options: V=1 (show commands), O=dir (build out of tree), SAN=address,undefined'

deps:
	$(Q)$(srctree)/scripts/deps.sh build

# --- host library -----------------------------------------------------------

$(objtree)/lib/%.o: $(srctree)/lib/%.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(HOST_CFLAGS) -fPIC -MMD -MP -c -o $@ $<

$(LIBA): $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(LIBSO): $(LIB_OBJS) $(srctree)/lib/libvmlet.map
	$(call msg,LD,$@)
	$(Q)$(CC) -shared -Wl,-soname,$(LIBSO_MAJOR) -Wl,--version-script=$(srctree)/lib/libvmlet.map \
		-Wl,-z,defs -o $@ $(LIB_OBJS) $(HOST_LDFLAGS) -lpthread
	$(Q)ln -sf $(notdir $@) $(objtree)/lib/$(LIBSO_MAJOR)
	$(Q)ln -sf $(LIBSO_MAJOR) $(objtree)/lib/libvmlet.so

# --- guest runtime and guests -----------------------------------------------

$(objtree)/guest/syscall.o: GUEST_EXTRA := -mgeneral-regs-only

$(objtree)/guest/%.o: $(srctree)/guest/%.c
	$(call msg,GUESTCC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(GUEST_CC) $(GUEST_CFLAGS) $(GUEST_EXTRA) -MMD -MP -c -o $@ $<

$(objtree)/guest/%.o: $(srctree)/guest/%.S
	$(call msg,GUESTAS,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(GUEST_CC) $(GUEST_CFLAGS) -MMD -MP -c -o $@ $<

$(GUEST_LIB): $(GUEST_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(objtree)/%.elf: $(srctree)/%.c $(GUEST_LIB)
	$(call msg,GUESTLD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(GUEST_CC) $(GUEST_CFLAGS) -MMD -MP $(GUEST_LDFLAGS) -o $@ $< $(GUEST_LIB) -lm

# --- BPF programs -----------------------------------------------------------

$(objtree)/bpf/vmlinux.h: $(VMLINUX_BTF)
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(BPFTOOL) btf dump file $< format c > $@

$(objtree)/bpf/%.bpf.o: $(srctree)/bpf/%.bpf.c $(objtree)/bpf/vmlinux.h
	$(call msg,CLANG,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -MMD -MP -MF $(@:.o=.d) -MT $@ -c -o $(@:.o=.tmp.o) $<
	$(Q)$(BPFTOOL) gen object $@ $(@:.o=.tmp.o)
	$(Q)rm -f $(@:.o=.tmp.o)

$(objtree)/bpf/%.skel.h: $(objtree)/bpf/%.bpf.o
	$(call msg,GENSKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(notdir $*)_bpf > $@

# --- tools ------------------------------------------------------------------

$(objtree)/tools/vmlet-trace: $(srctree)/tools/vmlet-trace.c $(BPF_SKELS)
	$(call msg,CCLD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(HOST_CFLAGS) -I$(objtree)/bpf -I$(srctree)/bpf -DLIBVMLET_SO='"$(LIBSO_MAJOR)"' \
		-DLIBVMLET_LIBDIR='"$(LIBDIR)"' -MMD -MP -o $@ $< $(HOST_LDFLAGS) $(BPF_LIBS)

$(objtree)/tools/%: $(srctree)/tools/%.c $(LIBA)
	$(call msg,CCLD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(HOST_CFLAGS) -MMD -MP -o $@ $< $(LIBA) $(HOST_LDFLAGS) -lpthread -lm

# --- tests ------------------------------------------------------------------

$(objtree)/selftests/unit/%: $(srctree)/selftests/unit/%.c $(LIBA)
	$(call msg,CCLD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(HOST_CFLAGS) -Wno-error=unused-parameter -MMD -MP -o $@ $< $(LIBA) \
		$(HOST_LDFLAGS) $(CHECK_LIBS) -lpthread

$(objtree)/selftests/kvm/%_test: $(srctree)/selftests/kvm/%_test.c $(LIBA)
	$(call msg,CCLD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(HOST_CFLAGS) -DGUEST_DIR='"$(objtree)/selftests/kvm"' \
		-DDEMO_ELF='"$(DEMO)"' -MMD -MP -o $@ $< $(LIBA) $(HOST_LDFLAGS) -lpthread -lm

# trace_test links libvmlet.so, so that vmlet-trace finds the probes in the
# library its process maps, as in a service that links the shared library.
$(objtree)/selftests/kvm/trace_test: $(srctree)/selftests/kvm/trace_test.c $(LIBSO) \
		$(objtree)/tools/vmlet-trace
	$(call msg,CCLD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(HOST_CFLAGS) -I$(srctree)/bpf -DGUEST_DIR='"$(objtree)/selftests/kvm"' \
		-DDEMO_ELF='"$(DEMO)"' -DVMLET_TRACE='"$(objtree)/tools/vmlet-trace"' \
		-DLIBVMLET_SO='"$(objtree)/lib/$(LIBSO_MAJOR)"' -MMD -MP -o $@ $< \
		-L$(objtree)/lib -Wl,-rpath,$(objtree)/lib -lvmlet $(HOST_LDFLAGS) $(BPF_LIBS)

$(BENCH): $(srctree)/selftests/bench/bench.c $(LIBA) $(objtree)/selftests/kvm/state_guest.elf \
		$(objtree)/tools/vmlet-trace
	$(call msg,CCLD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(HOST_CFLAGS) -DDEMO_ELF='"$(DEMO)"' -DVMLET_TRACE='"$(objtree)/tools/vmlet-trace"' \
		-DSTATE_ELF='"$(objtree)/selftests/kvm/state_guest.elf"' -MMD -MP -o $@ $< $(LIBA) \
		$(HOST_LDFLAGS) -lpthread -lm

tests: all $(UNIT_TESTS) $(KVM_TESTS) $(KVM_GUESTS)

# --- top-level jobs ---------------------------------------------------------

run: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(srctree)/scripts/vmtest.sh $(srctree)/scripts/demo.sh $(objtree)

check: deps
	$(Q)$(MAKE) --no-print-directory tests
	$(Q)VM=$(VM) $(srctree)/scripts/check.sh $(objtree)

bench: deps
	$(Q)$(MAKE) --no-print-directory all $(BENCH)
	$(Q)if [ -c /dev/kvm ]; then $(BENCH) $(DEMO); \
	else $(srctree)/scripts/vmtest.sh $(BENCH) $(DEMO); fi

format-check:
	$(Q)clang-format --dry-run --Werror $(LIB_SRCS) $(srctree)/lib/*.h \
		$(srctree)/lib/include/*.h $(srctree)/lib/include/vmlet/*.h $(srctree)/tools/*.c

install: all
	$(Q)install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR)/vmlet $(DESTDIR)$(BINDIR)
	$(Q)install -m 644 $(LIBA) $(DESTDIR)$(LIBDIR)/
	$(Q)install -m 755 $(LIBSO) $(DESTDIR)$(LIBDIR)/
	$(Q)ln -sf libvmlet.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(LIBSO_MAJOR)
	$(Q)ln -sf $(LIBSO_MAJOR) $(DESTDIR)$(LIBDIR)/libvmlet.so
	$(Q)install -m 644 $(srctree)/lib/include/vmlet.h $(DESTDIR)$(INCLUDEDIR)/
	$(Q)install -m 644 $(srctree)/lib/include/vmlet/abi.h $(DESTDIR)$(INCLUDEDIR)/vmlet/
	$(Q)install -m 755 $(TOOLS) $(DESTDIR)$(BINDIR)/

uninstall:
	$(Q)rm -f $(DESTDIR)$(LIBDIR)/libvmlet.a $(DESTDIR)$(LIBDIR)/libvmlet.so* \
		$(DESTDIR)$(INCLUDEDIR)/vmlet.h $(DESTDIR)$(INCLUDEDIR)/vmlet/abi.h \
		$(DESTDIR)$(BINDIR)/vmlet $(DESTDIR)$(BINDIR)/vmlet-trace

clean:
	$(Q)rm -f $(LIB_OBJS) $(LIBA) $(objtree)/lib/libvmlet.so* $(GUEST_OBJS) $(GUEST_LIB) \
		$(DEMO) $(TOOLS) $(UNIT_TESTS) $(KVM_TESTS) $(KVM_GUESTS) $(BENCH) \
		$(BPF_OBJS) $(BPF_SKELS) $(objtree)/bpf/vmlinux.h
	$(Q)find $(objtree) -name '*.d' -delete

-include $(shell find $(objtree) -name '*.d' 2>/dev/null)
