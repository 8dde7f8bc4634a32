# SPDX-License-Identifier: BSD-2-Clause
# vmlet: Kbuild-style build. Quiet by default (V=1 prints the commands),
# out of tree with O=dir, header dependencies through -MMD. `make help`.

VERSION_MAJOR := 0
VERSION := $(VERSION_MAJOR).1.0

srctree := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
comma := ,
# A sanitized build never shares objects with a normal one: without O= it
# goes to build/san-<sanitizers>/ (build/san-address-undefined for
# SAN=address,undefined); with O= it goes where O says, which had better
# not hold a normal build.
ifneq ($(O),)
objtree := $(abspath $(O))
else ifneq ($(SAN),)
objtree := $(srctree)/build/san-$(subst $(comma),-,$(SAN))
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
MANDIR ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
# The guest runtime is musl code, kept out of the host's search paths: its
# own directory with headers, libvmlet-guest.a and the linker script.
GUESTDIR ?= $(LIBDIR)/vmlet-guest

WARN := -Wall -Wextra -Werror
HOST_CFLAGS := -std=gnu11 -O2 -g $(WARN) -fvisibility=hidden -I$(srctree)/lib/include \
	-iquote $(srctree)/lib $(CFLAGS)
# SAN=address,undefined: host library, tools and tests only; guests never.
SAN_FLAGS := $(if $(SAN),-fsanitize=$(SAN) -fno-omit-frame-pointer -fno-sanitize-recover=all)
# VMLET_SAN: lib/confine.c allows what the sanitizer runtimes need.
HOST_CFLAGS += $(SAN_FLAGS) $(if $(SAN),-DVMLET_SAN=1)
HOST_LDFLAGS := $(SAN_FLAGS) $(LDFLAGS)

# Guests: static, non-PIE, laid out by guest/vmlet-guest.ld (at
# VMLET_IMAGE_BASE, one page-aligned segment per permission). The
# GUEST_ARCH_ and GUEST_LINK_ flags are also what vmlet-guest-cc passes.
# Frame pointers, so that a fault comes with a backtrace (lib/backtrace.c);
# measured with --count-insns: 138 -> 139 guest instructions for the demo
# guest's add (vmlet_invoke's frame; GCC keeps no frame in add, a leaf).
GUEST_ARCH_CFLAGS := -fno-pic -fno-stack-protector -fno-omit-frame-pointer
GUEST_LINK_FLAGS := -static -no-pie -Wl,-z,max-page-size=4096 -Wl,--build-id=none
GUEST_LDS := $(srctree)/guest/vmlet-guest.ld
GUEST_CFLAGS := -std=gnu11 -O2 -g $(WARN) $(GUEST_ARCH_CFLAGS) \
	-I$(srctree)/lib/include -I$(srctree)/guest/include
GUEST_LDFLAGS := $(GUEST_LINK_FLAGS) -Wl,-T,$(GUEST_LDS)

LIB_SRCS := $(wildcard $(srctree)/lib/*.c)
LIB_OBJS := $(patsubst $(srctree)/%.c,$(objtree)/%.o,$(LIB_SRCS))
LIBA := $(objtree)/lib/libvmlet.a
LIBSO := $(objtree)/lib/libvmlet.so.$(VERSION)
LIBSO_MAJOR := libvmlet.so.$(VERSION_MAJOR)
# What libvmlet links against (libvmlet.pc says the same).
LIB_LIBS := -luring -lseccomp -lpthread

GUEST_OBJS := $(addprefix $(objtree)/guest/,runtime.o random.o syscall.o entry.o invoke.o)
GUEST_LIB := $(objtree)/guest/libvmlet-guest.a
DEMO := $(objtree)/guest/examples/demo.elf

# Wasm guests (vmlet-wasm-cc): the runtime that implements Debian's
# wasm-rt.h in the guest, and the glue generator the wrapper runs.
WASM_RT_H ?= /usr/include/wasm-rt.h
WASM_OBJS := $(addprefix $(objtree)/guest/wasm/,rt.o wasi.o)
WASM_LIB := $(objtree)/guest/libvmlet-wasm.a
WASM_INC := $(objtree)/guest/wasm/include
WASM_WRAPPER := $(objtree)/guest/vmlet-wasm-cc
# The guest toolchain as installed, for the tests: bin/ and the guest
# directory where the wrappers look for it.
GUESTREL := $(shell realpath -m --relative-to=$(BINDIR) $(GUESTDIR))
LOCAL := $(objtree)/guest/local
LOCAL_GUESTDIR := $(abspath $(LOCAL)/bin/$(GUESTREL))
LOCAL_STAMP := $(LOCAL)/.stamp
WASM_CC := $(LOCAL)/bin/vmlet-wasm-cc

# The JavaScript guest: Debian's Duktape (duktape-dev) built as it is
# shipped, with our settings appended to its duk_config.h in the build tree.
DUKTAPE_DIR ?= /usr/share/duktape
JS_DIR := $(objtree)/runtimes/js
JS_ELF := $(JS_DIR)/vmlet-js.elf
JS_OBJS := $(JS_DIR)/engine.o $(JS_DIR)/js.o

TOOLS := $(objtree)/tools/vmlet $(objtree)/tools/vmlet-trace $(objtree)/tools/vmlet-serve
# vmlet-serve (tools/serve/): an HTTP front end; its native baseline loads
# a guest's source built for the host with the guest API of native_guest.c.
SERVE_SRCS := $(filter-out %/native_guest.c,$(wildcard $(srctree)/tools/serve/*.c))
SERVE_OBJS := $(patsubst $(srctree)/%.c,$(objtree)/%.o,$(SERVE_SRCS)) \
	$(objtree)/tools/serve/wasmcache.o
SERVE_LIBS := -lmicrohttpd -ljansson -ldl
NATIVE_RT := $(srctree)/tools/serve/native_guest.c $(srctree)/guest/invoke.S
DEMO_NATIVE := $(objtree)/guest/examples/demo.native.so
SERVE_UNIT := $(objtree)/tools/serve/vmlet-serve.service
PC := $(objtree)/lib/libvmlet.pc
GUEST_WRAPPER := $(objtree)/guest/vmlet-guest-cc

MAN1 := $(sort $(wildcard $(srctree)/man/man1/*.1))
MAN3 := $(sort $(wildcard $(srctree)/man/man3/*.3))
MAN5 := $(sort $(wildcard $(srctree)/man/man5/*.5))
MAN7 := $(sort $(wildcard $(srctree)/man/man7/*.7))

# BPF: CO-RE objects against the running kernel's BTF, and their skeletons.
CLANG ?= clang
# Debian puts it in /usr/sbin, which a root shell from su (without -) lacks in PATH.
BPFTOOL ?= $(or $(shell command -v bpftool),/usr/sbin/bpftool)
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
# Wasm test modules (wasm_test): hand-written (.wat, wat2wasm) and C
# programs for WASI (clang --target=wasm32-wasi with Debian's wasi-libc),
# each compiled into a guest image with the staged vmlet-wasm-cc.
# Debian's wasi-libc is where clang looks for wasm32-wasi (no --sysroot).
WASM_CFLAGS :=
WASM_WATS := $(wildcard $(srctree)/selftests/kvm/wasm/*.wat)
WASM_CS := $(wildcard $(srctree)/selftests/kvm/wasm/*.c)
WASM_TESTS := $(patsubst $(srctree)/%.wat,$(objtree)/%.elf,$(WASM_WATS)) \
	$(patsubst $(srctree)/%.c,$(objtree)/%.elf,$(WASM_CS))
.SECONDARY: $(WASM_TESTS:.elf=.wasm)
# bench: its host program, and what it runs besides vmlet (see
# selftests/bench/main.c): the QEMU guest, the process, the Wasm module.
BENCH_SRCS := $(wildcard $(srctree)/selftests/bench/*.c)
BENCH_OBJS := $(patsubst $(srctree)/%.c,$(objtree)/%.o,$(BENCH_SRCS))
# Hostile guests (hostile_test): each misbehaves in its own way.
HOSTILE_GUESTS := $(patsubst $(srctree)/%.c,$(objtree)/%.elf,$(wildcard $(srctree)/guest/tests/*.c))
BENCH := $(objtree)/selftests/bench/bench
BENCH_QEMU_BOOT := $(objtree)/selftests/bench/qemu/boot.bin
BENCH_PROCESS := $(objtree)/selftests/bench/process/add
BENCH_WASM := $(objtree)/selftests/bench/wasm/add.wasm
BENCH_GUESTS := $(objtree)/selftests/kvm/state_guest.elf $(objtree)/selftests/kvm/hostcall_guest.elf
# wasm-guest: one module as a vmlet guest and, through the same wasm2c
# output and Debian's libwasm-rt-impl.a, natively in bench (cg: guard
# pages, Debian's default; cc: explicit bounds checks, as in guests).
BENCH_WASM_DIR := $(objtree)/selftests/bench/wasm
BENCH_CHECKSUM := $(BENCH_WASM_DIR)/checksum.elf
# The same with the bounds checks compiled out (bench only: not safe).
BENCH_UNCHECKED := $(BENCH_WASM_DIR)/checksum_unchecked.elf
BENCH_NATIVE_OBJS := $(addprefix $(BENCH_WASM_DIR)/,native_cg.o native_cc.o checksum_cg.o \
	checksum_cc.o)
BENCH_ALL := $(BENCH) $(BENCH_QEMU_BOOT) $(BENCH_PROCESS) $(BENCH_WASM) $(BENCH_GUESTS) \
	$(BENCH_CHECKSUM) $(BENCH_UNCHECKED) $(JS_ELF)
BENCH_DEFS := -DDEMO_ELF='"$(DEMO)"' -DVMLET_TRACE='"$(objtree)/tools/vmlet-trace"' \
	-DSTATE_ELF='"$(objtree)/selftests/kvm/state_guest.elf"' \
	-DHOSTCALL_ELF='"$(objtree)/selftests/kvm/hostcall_guest.elf"' \
	-DVMTEST='"$(srctree)/scripts/vmtest.sh"' -DQEMU='"qemu-system-x86_64"' \
	-DQEMU_BOOT='"$(BENCH_QEMU_BOOT)"' -DPROCESS_ADD='"$(BENCH_PROCESS)"' -DNODE='"node"' \
	-DWASM_JS='"$(srctree)/selftests/bench/wasm/bench.js"' -DWASM_ADD='"$(BENCH_WASM)"' \
	-DJS_ELF='"$(JS_ELF)"' -DJS_BENCH='"$(srctree)/selftests/bench/js/bench.js"' \
	-DJS_HANDLER='"$(srctree)/selftests/bench/js/handler.js"' \
	-DWASM_CHECKSUM_ELF='"$(BENCH_CHECKSUM)"' -DWASM_UNCHECKED_ELF='"$(BENCH_UNCHECKED)"' \
	-DWASM_SUM='"$(BENCH_WASM_DIR)/checksum.wasm"'

# libFuzzer harnesses: clang whatever CC is, and the library sources they
# test compiled again for them (coverage, ASan, UBSan) into their own
# archive, apart from the library's objects. CFLAGS is not passed: it is
# for CC, and CC may be gcc.
FUZZ_CC ?= clang
FUZZ_SECS ?= 20
FUZZ_CFLAGS := -std=gnu11 -O1 -g $(WARN) -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer -I$(srctree)/lib/include -iquote $(srctree)/lib
FUZZ_LIB_OBJS := $(addprefix $(objtree)/selftests/fuzz/lib/,corepath.o elf.o frame.o gdbproto.o \
	hostreq.o image.o layout.o mem.o snapcpu.o snapfmt.o symtab.o)
FUZZ_LIBA := $(objtree)/selftests/fuzz/lib/libvmlet-fuzz.a
FUZZERS := $(patsubst $(srctree)/%.c,$(objtree)/%,$(wildcard $(srctree)/selftests/fuzz/*_fuzz.c))

CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck)

.DELETE_ON_ERROR:
.PHONY: all run check tests examples bench bench-service fuzz fuzzers clean install uninstall help deps \
	format-check FORCE

all: $(LIBA) $(LIBSO) $(PC) $(GUEST_LIB) $(GUEST_WRAPPER) $(WASM_LIB) $(WASM_WRAPPER) $(DEMO) \
	$(JS_ELF) $(BPF_SKELS) $(TOOLS) $(DEMO_NATIVE) $(SERVE_UNIT)

help:
	@echo 'Targets:'
	@echo '  all          library, guest runtime, demo guest, tools (default)'
	@echo '  run          build and run the demo guest through the vmlet CLI'
	@echo '  check        run every test (VM tests in a QEMU VM without /dev/kvm; VM=1 forces it)'
	@echo '  bench        vmlet against the KVM floor, QEMU, a process and Wasm (bench/),'
	@echo '               then vmlet-serve under wrk (the service group)'
	@echo '  bench-service  the service group alone: vmlet-serve per lifecycle under wrk'
	@echo '  examples     build examples/ against a staged install (O/examples/stage)'
	@echo '  fuzz         build the libFuzzer harnesses (clang), run each FUZZ_SECS (20) seconds'
	@echo '  install      install into DESTDIR/PREFIX (LIBDIR, INCLUDEDIR, BINDIR, MANDIR,'
	@echo '               PKGCONFIGDIR, GUESTDIR, SYSTEMDUNITDIR)'
	@echo '  uninstall    remove what install put there'
	@echo '  clean        remove build output'
	@echo '  format-check check formatting against .clang-format'
	@echo 'Options: V=1 (show commands), O=dir (build out of tree),'
	@echo '         SAN=address,undefined (sanitized host code; default O=build/san-address-undefined)'

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
		-Wl,-z,defs -o $@ $(LIB_OBJS) $(HOST_LDFLAGS) $(LIB_LIBS)
	$(Q)ln -sf $(notdir $@) $(objtree)/lib/$(LIBSO_MAJOR)
	$(Q)ln -sf $(LIBSO_MAJOR) $(objtree)/lib/libvmlet.so

# --- guest runtime and guests -----------------------------------------------

$(objtree)/guest/syscall.o $(objtree)/guest/random.o: GUEST_EXTRA := -mgeneral-regs-only

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

# Debian's wasm-rt.h, alone in a directory: not the rest of /usr/include.
$(WASM_INC)/wasm-rt.h:
	$(Q)mkdir -p $(@D)
	$(Q)ln -sf $(WASM_RT_H) $@

$(WASM_OBJS): GUEST_EXTRA := -I$(WASM_INC)
$(WASM_OBJS): | $(WASM_INC)/wasm-rt.h

$(WASM_LIB): $(WASM_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(LOCAL_STAMP): $(GUEST_LIB) $(WASM_LIB) $(GUEST_WRAPPER) $(WASM_WRAPPER) $(GUEST_LDS) \
		$(srctree)/guest/wasm/glue.awk $(srctree)/lib/include/vmlet/abi.h \
		$(wildcard $(srctree)/guest/include/vmlet/*.h)
	$(call msg,STAGE,$(LOCAL))
	$(Q)install -d $(LOCAL)/bin $(LOCAL_GUESTDIR)/include/vmlet
	$(Q)install -m 755 $(GUEST_WRAPPER) $(WASM_WRAPPER) $(LOCAL)/bin/
	$(Q)install -m 644 $(GUEST_LIB) $(WASM_LIB) $(GUEST_LDS) $(LOCAL_GUESTDIR)/
	$(Q)install -m 644 $(srctree)/guest/wasm/glue.awk $(LOCAL_GUESTDIR)/vmlet-wasm-glue.awk
	$(Q)install -m 644 $(srctree)/lib/include/vmlet/abi.h $(srctree)/guest/include/vmlet/*.h \
		$(LOCAL_GUESTDIR)/include/vmlet/
	$(Q)touch $@

$(objtree)/%.elf: $(srctree)/%.c $(GUEST_LIB) $(GUEST_LDS)
	$(call msg,GUESTLD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(GUEST_CC) $(GUEST_CFLAGS) -MMD -MP $(GUEST_LDFLAGS) -o $@ $< $(GUEST_LIB) -lm

# The engine's sources are linked, not copied, into the build tree so that
# their `#include "duk_config.h"` finds ours, which includes Debian's and
# then sets what runtimes/js/duk_config_vmlet.h says.
$(JS_DIR)/duk_config.h: $(srctree)/runtimes/js/duk_config_vmlet.h $(DUKTAPE_DIR)/duk_config.h
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)ln -sf $(DUKTAPE_DIR)/duktape.c $(DUKTAPE_DIR)/duktape.h $(@D)/
	$(Q)printf '#include "%s"\n#include "%s"\n' $(DUKTAPE_DIR)/duk_config.h \
		$(srctree)/runtimes/js/duk_config_vmlet.h > $@

# Third-party code, compiled in runtimes/js/engine.c (which adds a reader
# of the compiler's position): its own warnings are not ours to fail on.
$(JS_DIR)/engine.o: $(srctree)/runtimes/js/engine.c $(JS_DIR)/duk_config.h
	$(call msg,GUESTCC,$@)
	$(Q)$(GUEST_CC) -std=gnu11 -O2 -g -w $(GUEST_ARCH_CFLAGS) -I$(srctree)/guest/include \
		-I$(JS_DIR) -c -o $@ $<

$(JS_DIR)/js.o: $(srctree)/runtimes/js/js.c $(JS_DIR)/duk_config.h
	$(call msg,GUESTCC,$@)
	$(Q)$(GUEST_CC) $(GUEST_CFLAGS) -I$(JS_DIR) -MMD -MP -c -o $@ $<

$(JS_ELF): $(JS_OBJS) $(GUEST_LIB) $(GUEST_LDS)
	$(call msg,GUESTLD,$@)
	$(Q)$(GUEST_CC) $(GUEST_CFLAGS) $(GUEST_LDFLAGS) -o $@ $(JS_OBJS) $(GUEST_LIB) -lm

$(objtree)/lib/js.o: HOST_CFLAGS += -DVMLET_JS_IMAGE_PATH='"$(GUESTDIR)/vmlet-js.elf"'

# --- files that carry install paths -----------------------------------------

# Like Kbuild's filechk: regenerated on every make, but written (and shown)
# only when the text changes, so `make install PREFIX=/usr` after `make`
# rewrites libvmlet.pc and nothing depends on a stale one.
SUBST := -e 's|@VERSION@|$(VERSION)|g' -e 's|@PREFIX@|$(PREFIX)|g' \
	-e 's|@LIBDIR@|$(LIBDIR)|g' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' \
	-e 's|@GUESTREL@|$(GUESTREL)|g' -e 's|@WASM_RT_H@|$(WASM_RT_H)|g' \
	-e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSTEMDUNITDIR@|$(SYSTEMDUNITDIR)|g' \
	-e 's|@MUSL_GCC@|$(GUEST_CC)|g' -e 's|@GUEST_CFLAGS@|$(GUEST_ARCH_CFLAGS)|g' \
	-e 's|@GUEST_LDFLAGS@|$(GUEST_LINK_FLAGS)|g'

define gen
	$(Q)mkdir -p $(@D)
	$(Q)sed $(SUBST) $< >$@.tmp && if cmp -s $@.tmp $@; then rm -f $@.tmp; else \
		$(if $(Q),printf '  %-7s %s\n' GEN '$(patsubst $(objtree)/%,%,$@)';) \
		chmod $(1) $@.tmp && mv -f $@.tmp $@; fi
endef

$(PC): $(srctree)/lib/libvmlet.pc.in FORCE
	$(call gen,644)

$(GUEST_WRAPPER): $(srctree)/guest/vmlet-guest-cc.in FORCE
	$(call gen,755)

$(WASM_WRAPPER): $(srctree)/guest/vmlet-wasm-cc.in FORCE
	$(call gen,755)

$(SERVE_UNIT): $(srctree)/tools/serve/vmlet-serve.service.in FORCE
	$(call gen,644)

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

# The CLI: one program, each command a file of tools/cli/ (main.c dispatches).
$(objtree)/tools/vmlet: $(wildcard $(srctree)/tools/cli/*.c) $(LIBA)
	$(call msg,CCLD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(HOST_CFLAGS) -iquote $(srctree)/tools/cli -MMD -MP -o $@ $(filter %.c,$^) $(LIBA) \
		$(HOST_LDFLAGS) $(LIB_LIBS) -lm

# .wasm modules go through the cache `vmlet wasm run` uses (tools/cli/wasmcache.c).
$(objtree)/tools/serve/%.o: $(srctree)/tools/serve/%.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(HOST_CFLAGS) -iquote $(srctree)/tools/cli -MMD -MP -c -o $@ $<

$(objtree)/tools/serve/wasmcache.o: $(srctree)/tools/cli/wasmcache.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(HOST_CFLAGS) -MMD -MP -c -o $@ $<

$(objtree)/tools/vmlet-serve: $(SERVE_OBJS) $(LIBA)
	$(call msg,CCLD,$@)
	$(Q)$(CC) -o $@ $(SERVE_OBJS) $(LIBA) $(HOST_LDFLAGS) $(SERVE_LIBS) $(LIB_LIBS) -lm

# A guest's functions as a host shared object, for vmlet-serve --native.
$(objtree)/%.native.so: $(srctree)/%.c $(NATIVE_RT)
	$(call msg,CCLD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -std=gnu11 -O2 -g $(WARN) -fPIC -shared -fvisibility=hidden -Dmain=vmlet_native_main \
		-I$(srctree)/lib/include -I$(srctree)/guest/include -iquote $(srctree)/tools/serve \
		-MMD -MP -o $@ $< $(NATIVE_RT) -lm

$(objtree)/tools/%: $(srctree)/tools/%.c $(LIBA)
	$(call msg,CCLD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(HOST_CFLAGS) -MMD -MP -o $@ $< $(LIBA) $(HOST_LDFLAGS) $(LIB_LIBS) -lm

# --- tests ------------------------------------------------------------------

$(objtree)/selftests/unit/%: $(srctree)/selftests/unit/%.c $(LIBA)
	$(call msg,CCLD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(HOST_CFLAGS) -Wno-error=unused-parameter -MMD -MP -o $@ $< $(LIBA) \
		$(HOST_LDFLAGS) $(CHECK_LIBS) $(LIB_LIBS)

$(objtree)/selftests/kvm/%_test: $(srctree)/selftests/kvm/%_test.c $(LIBA)
	$(call msg,CCLD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(HOST_CFLAGS) -DGUEST_DIR='"$(objtree)/selftests/kvm"' \
		-DHOSTILE_DIR='"$(objtree)/guest/tests"' -DDEMO_ELF='"$(DEMO)"' \
		-DJS_ELF='"$(JS_ELF)"' -DWASM_DIR='"$(objtree)/selftests/kvm/wasm"' -MMD -MP -o $@ $< \
		$(LIBA) $(HOST_LDFLAGS) $(TEST_WRAP) $(LIB_LIBS) -lm

# svcfault_test makes the service's ring fail where the kernel seldom does.
$(objtree)/selftests/kvm/svcfault_test: TEST_WRAP := -Wl,--wrap=vmlet_ring_send,--wrap=io_uring_submit,--wrap=io_uring_submit_and_wait

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

$(objtree)/selftests/bench/%.o: $(srctree)/selftests/bench/%.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(HOST_CFLAGS) $(BENCH_DEFS) -MMD -MP -c -o $@ $<

$(BENCH): $(BENCH_OBJS) $(BENCH_NATIVE_OBJS) $(LIBA)
	$(call msg,CCLD,$@)
	$(Q)$(CC) -o $@ $(BENCH_OBJS) $(BENCH_NATIVE_OBJS) $(LIBA) $(HOST_LDFLAGS) $(LIB_LIBS) \
		-lwasm-rt-impl -lm

$(BENCH_WASM_DIR)/checksum.wasm: $(srctree)/selftests/bench/wasm/checksum.c
	$(call msg,WASMCC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) --target=wasm32 -nostdlib -O2 $(WARN) -Wl,--no-entry \
		-Wl,--initial-memory=262144 -Wl,--max-memory=262144 -o $@ $<

$(BENCH_CHECKSUM): $(BENCH_WASM_DIR)/checksum.wasm $(LOCAL_STAMP)
	$(call msg,WASM2VM,$@)
	$(Q)$(WASM_CC) $< -o $@

$(BENCH_UNCHECKED): $(BENCH_WASM_DIR)/checksum.wasm $(LOCAL_STAMP) \
		$(srctree)/selftests/bench/wasm/wasm2c-unchecked.sh
	$(call msg,WASM2VM,$@)
	$(Q)VMLET_WASM2C=$(srctree)/selftests/bench/wasm/wasm2c-unchecked.sh $(WASM_CC) $< -o $@

$(BENCH_WASM_DIR)/checksum_%.c: $(BENCH_WASM_DIR)/checksum.wasm
	$(call msg,WASM2C,$@)
	$(Q)wasm2c -n $* -o $@ $<

.SECONDARY: $(BENCH_WASM_DIR)/checksum_cg.c $(BENCH_WASM_DIR)/checksum_cc.c $(BENCH_WASM_DIR)/checksum.wasm

NATIVE_CFLAGS = -O2 -g -w -fno-strict-aliasing -DM=$* -DMODULE_H='"checksum_$*.h"' \
	-I$(BENCH_WASM_DIR) $(if $(filter cc,$*),-DWASM_RT_MEMCHECK_SIGNAL_HANDLER=0)

$(BENCH_WASM_DIR)/checksum_%.o: $(BENCH_WASM_DIR)/checksum_%.c
	$(call msg,CC,$@)
	$(Q)$(CC) $(NATIVE_CFLAGS) -c -o $@ $<

$(BENCH_WASM_DIR)/native_%.o: $(srctree)/selftests/bench/wasm/native.c \
		$(BENCH_WASM_DIR)/checksum_%.c
	$(call msg,CC,$@)
	$(Q)$(CC) $(NATIVE_CFLAGS) -c -o $@ $<

# 16-bit code at the reset vector of a 64 KiB firmware image.
$(BENCH_QEMU_BOOT): $(srctree)/selftests/bench/qemu/boot.S
	$(call msg,AS,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -m32 -c -o $(@:.bin=.o) $<
	$(Q)$(LD) -m elf_i386 -Ttext=0 --oformat=binary -o $@ $(@:.bin=.o)

$(BENCH_PROCESS): $(srctree)/selftests/bench/process/add.c
	$(call msg,MUSLCC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(GUEST_CC) -std=gnu11 -O2 $(WARN) -static -o $@ $<

# exc.wat throws: the exception-handling proposal.
$(objtree)/selftests/kvm/wasm/exc.wasm: WAT2WASM_FLAGS := --enable-exceptions

$(objtree)/selftests/kvm/wasm/%.wasm: $(srctree)/selftests/kvm/wasm/%.wat
	$(call msg,WAT2WASM,$@)
	$(Q)mkdir -p $(@D)
	$(Q)wat2wasm $(WAT2WASM_FLAGS) -o $@ $<

$(objtree)/selftests/kvm/wasm/%.wasm: $(srctree)/selftests/kvm/wasm/%.c
	$(call msg,WASMCC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) --target=wasm32-wasi $(WASM_CFLAGS) -O2 $(WARN) -o $@ $<

# lib.c has no main(): a WASI reactor, its exports called one by one.
$(objtree)/selftests/kvm/wasm/lib.wasm: WASM_CFLAGS := -mexec-model=reactor

$(objtree)/selftests/kvm/wasm/%.elf: $(objtree)/selftests/kvm/wasm/%.wasm $(LOCAL_STAMP)
	$(call msg,WASM2VM,$@)
	$(Q)$(WASM_CC) $< -o $@

$(BENCH_WASM): $(srctree)/selftests/bench/wasm/add.wat
	$(call msg,WAT2WASM,$@)
	$(Q)mkdir -p $(@D)
	$(Q)wat2wasm -o $@ $<

tests: all $(UNIT_TESTS) $(KVM_TESTS) $(KVM_GUESTS) $(HOSTILE_GUESTS) $(WASM_TESTS)

$(objtree)/selftests/fuzz/lib/%.o: $(srctree)/lib/%.c
	$(call msg,FUZZCC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(FUZZ_LIBA): $(FUZZ_LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(objtree)/selftests/fuzz/%_fuzz: $(srctree)/selftests/fuzz/%_fuzz.c $(FUZZ_LIBA)
	$(call msg,FUZZLD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -MMD -MP -o $@ $< $(FUZZ_LIBA)

fuzzers: $(FUZZERS)

# --- top-level jobs ---------------------------------------------------------

run: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(srctree)/scripts/vmtest.sh $(srctree)/scripts/demo.sh $(objtree)

# A user's view: install into a stage, then build examples/ with nothing but
# pkg-config (host program) and vmlet-guest-cc (guest) from that stage.
EXAMPLES := $(objtree)/examples
STAGE := $(EXAMPLES)/stage

examples: all
	$(Q)rm -rf $(STAGE)
	$(Q)$(MAKE) --no-print-directory install DESTDIR=$(STAGE)
	$(Q)PKG_CONFIG_LIBDIR=$(STAGE)$(PKGCONFIGDIR) PKG_CONFIG_SYSROOT_DIR=$(STAGE) \
		PATH=$(STAGE)$(BINDIR):$$PATH $(MAKE) --no-print-directory \
		-C $(srctree)/examples O=$(EXAMPLES) V=$(V) \
		$(if $(SAN),LDFLAGS='$(SAN_FLAGS)')

check: deps
	$(Q)$(MAKE) --no-print-directory tests examples
	$(Q)VM=$(VM) $(srctree)/scripts/check.sh $(objtree)

fuzz: deps
	$(Q)$(MAKE) --no-print-directory fuzzers
	$(Q)V=$(V) $(srctree)/scripts/fuzz.sh $(FUZZ_SECS) $(FUZZERS)

# The service group (vmlet-serve under wrk, scripts/bench-service.sh) runs
# after bench's own groups, into the same directory; `make bench-service`
# runs it alone.
bench:
	$(Q)$(srctree)/scripts/deps.sh build bench
	$(Q)$(MAKE) --no-print-directory all $(BENCH_ALL)
	$(Q)status=0; $(srctree)/scripts/bench.sh $(BENCH) $(objtree)/bench || status=1; \
		$(srctree)/scripts/bench-service.sh $(objtree) $(objtree)/bench || status=1; \
		exit $$status

bench-service:
	$(Q)$(srctree)/scripts/deps.sh build bench
	$(Q)$(MAKE) --no-print-directory all $(BENCH_WASM)
	$(Q)$(srctree)/scripts/bench-service.sh $(objtree) $(objtree)/bench

format-check:
	$(Q)clang-format --dry-run --Werror $(LIB_SRCS) $(srctree)/lib/*.h \
		$(srctree)/lib/include/*.h $(srctree)/lib/include/vmlet/*.h $(srctree)/tools/*.c \
		$(srctree)/tools/cli/*.[ch] $(srctree)/tools/serve/*.[ch] \
		$(BENCH_SRCS) $(srctree)/selftests/bench/*.h

# What install puts where; uninstall removes exactly these, then the
# directories that only vmlet uses, if they are empty.
INSTALLED := $(addprefix $(LIBDIR)/,libvmlet.a libvmlet.so.$(VERSION) $(LIBSO_MAJOR) libvmlet.so) \
	$(PKGCONFIGDIR)/libvmlet.pc $(INCLUDEDIR)/vmlet.h $(INCLUDEDIR)/vmlet/abi.h \
	$(addprefix $(GUESTDIR)/,libvmlet-guest.a vmlet-guest.ld include/vmlet/abi.h \
		include/vmlet/guest.h libvmlet-wasm.a vmlet-wasm-glue.awk include/vmlet/wasm.h \
		vmlet-js.elf) \
	$(BINDIR)/vmlet $(BINDIR)/vmlet-trace $(BINDIR)/vmlet-serve $(BINDIR)/vmlet-guest-cc \
	$(BINDIR)/vmlet-wasm-cc $(SYSTEMDUNITDIR)/vmlet-serve.service \
	$(patsubst $(srctree)/man/%,$(MANDIR)/%,$(MAN1) $(MAN3) $(MAN5) $(MAN7))
INSTALLED_DIRS := $(GUESTDIR)/include/vmlet $(GUESTDIR)/include $(GUESTDIR) $(INCLUDEDIR)/vmlet

install: all
	$(call msg,INSTALL,$(DESTDIR)$(PREFIX))
	$(Q)install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(INCLUDEDIR)/vmlet \
		$(DESTDIR)$(GUESTDIR)/include/vmlet $(DESTDIR)$(BINDIR) \
		$(addprefix $(DESTDIR)$(MANDIR)/,man1 man3 man5 man7) $(DESTDIR)$(SYSTEMDUNITDIR)
	$(Q)install -m 644 $(LIBA) $(DESTDIR)$(LIBDIR)/
	$(Q)install -m 755 $(LIBSO) $(DESTDIR)$(LIBDIR)/
	$(Q)ln -sf libvmlet.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(LIBSO_MAJOR)
	$(Q)ln -sf $(LIBSO_MAJOR) $(DESTDIR)$(LIBDIR)/libvmlet.so
	$(Q)install -m 644 $(PC) $(DESTDIR)$(PKGCONFIGDIR)/
	$(Q)install -m 644 $(srctree)/lib/include/vmlet.h $(DESTDIR)$(INCLUDEDIR)/
	$(Q)install -m 644 $(srctree)/lib/include/vmlet/abi.h $(DESTDIR)$(INCLUDEDIR)/vmlet/
	$(Q)install -m 644 $(GUEST_LIB) $(WASM_LIB) $(GUEST_LDS) $(JS_ELF) $(DESTDIR)$(GUESTDIR)/
	$(Q)install -m 644 $(srctree)/guest/wasm/glue.awk $(DESTDIR)$(GUESTDIR)/vmlet-wasm-glue.awk
	$(Q)install -m 644 $(srctree)/lib/include/vmlet/abi.h $(srctree)/guest/include/vmlet/guest.h \
		$(srctree)/guest/include/vmlet/wasm.h $(DESTDIR)$(GUESTDIR)/include/vmlet/
	$(Q)install -m 755 $(TOOLS) $(GUEST_WRAPPER) $(WASM_WRAPPER) $(DESTDIR)$(BINDIR)/
	$(Q)install -m 644 $(SERVE_UNIT) $(DESTDIR)$(SYSTEMDUNITDIR)/
	$(Q)install -m 644 $(MAN1) $(DESTDIR)$(MANDIR)/man1/
	$(Q)install -m 644 $(MAN3) $(DESTDIR)$(MANDIR)/man3/
	$(Q)install -m 644 $(MAN5) $(DESTDIR)$(MANDIR)/man5/
	$(Q)install -m 644 $(MAN7) $(DESTDIR)$(MANDIR)/man7/

uninstall:
	$(call msg,UNINST,$(DESTDIR)$(PREFIX))
	$(Q)rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	$(Q)for d in $(addprefix $(DESTDIR),$(INSTALLED_DIRS)); do \
		[ ! -d "$$d" ] || rmdir --ignore-fail-on-non-empty "$$d"; done

clean:
	$(Q)rm -f $(LIB_OBJS) $(LIBA) $(objtree)/lib/libvmlet.so* $(GUEST_OBJS) $(GUEST_LIB) \
		$(WASM_OBJS) $(WASM_LIB) $(WASM_WRAPPER) $(WASM_INC)/wasm-rt.h $(WASM_TESTS) \
		$(DEMO) $(JS_ELF) $(JS_OBJS) $(JS_DIR)/duk_config.h $(TOOLS) $(PC) $(GUEST_WRAPPER) \
		$(UNIT_TESTS) $(KVM_TESTS) $(KVM_GUESTS) \
		$(HOSTILE_GUESTS) $(SERVE_OBJS) $(DEMO_NATIVE) $(SERVE_UNIT) \
		$(BENCH) $(BENCH_OBJS) $(BENCH_QEMU_BOOT) $(BENCH_QEMU_BOOT:.bin=.o) \
		$(BENCH_PROCESS) $(BENCH_WASM) $(BENCH_CHECKSUM) $(BENCH_UNCHECKED) $(BENCH_NATIVE_OBJS) \
		$(BENCH_WASM_DIR)/checksum.wasm $(BENCH_WASM_DIR)/checksum_c[cg].[ch] $(EXAMPLES)/embed \
		$(EXAMPLES)/hello.elf $(EXAMPLES)/js \
		$(FUZZ_LIB_OBJS) $(FUZZ_LIBA) $(FUZZERS) $(BPF_OBJS) $(BPF_SKELS) \
		$(objtree)/bpf/vmlinux.h
	$(Q)rm -rf $(STAGE) $(LOCAL)
	$(Q)find $(objtree) -path $(objtree)/build -prune -o -name '*.d' -exec rm -f {} +

# Not build/: sanitized trees there have their own .d files.
-include $(shell find $(objtree) -path $(objtree)/build -prune -o -name '*.d' -print 2>/dev/null)
