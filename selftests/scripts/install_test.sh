#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# install_test.sh: TAP test of `make install` and `make uninstall` into a
# DESTDIR with Debian-style paths (PREFIX=/usr, a multiarch LIBDIR): what
# lands where, the SONAME links, pkg-config through a sysroot, the guest
# compiler wrapper finding its runtime, and an uninstall that removes every
# installed file and nothing else. Uses the build in $VMLET_OBJ (default:
# the source tree).
set -u
src=$(cd "$(dirname "$0")/../.." && pwd)
obj=${VMLET_OBJ:-$src}
tmp=$(mktemp -d /tmp/install_test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
stage=$tmp/stage
libdir=/usr/lib/x86_64-linux-gnu
paths=(PREFIX=/usr "LIBDIR=$libdir")
# shellcheck disable=SC2016 # $(VERSION_MAJOR) is Makefile text
version=$(sed -n 's/^VERSION_MAJOR := *//p' "$src/Makefile")$(sed -n \
	's/^VERSION := $(VERSION_MAJOR)//p' "$src/Makefile")
# shellcheck source=tap.sh
. "$src/selftests/scripts/tap.sh"

# Every file: the library, headers, tools (vmlet-trace too) and every man
# page in the source tree.
files_installed() {
	local f ok=0 man=()
	for f in "$src"/man/man[1357]/*.[1357]; do
		man+=("/usr/share/man/$(basename "$(dirname "$f")")/$(basename "$f")")
	done
	[ "${#man[@]}" -gt 40 ] || {
		echo "# only ${#man[@]} man pages in $src/man"
		ok=1
	}
	for f in $libdir/libvmlet.a $libdir/libvmlet.so.$version $libdir/pkgconfig/libvmlet.pc \
		/usr/include/vmlet.h /usr/include/vmlet/abi.h /usr/bin/vmlet /usr/bin/vmlet-trace \
		/usr/bin/vmlet-serve /usr/bin/vmlet-guest-cc /usr/lib/systemd/system/vmlet-serve.service \
		$libdir/vmlet-guest/libvmlet-guest.a $libdir/vmlet-guest/vmlet-guest.ld \
		$libdir/vmlet-guest/include/vmlet/guest.h $libdir/vmlet-guest/include/vmlet/abi.h \
		"${man[@]}"; do
		[ -f "$stage$f" ] || {
			echo "# missing $f"
			ok=1
		}
	done
	return $ok
}

so_links() {
	[ "$(readlink "$stage$libdir/libvmlet.so")" = libvmlet.so.0 ] &&
		[ "$(readlink "$stage$libdir/libvmlet.so.0")" = "libvmlet.so.$version" ] &&
		readelf -d "$stage$libdir/libvmlet.so.$version" | grep -q 'SONAME.*\[libvmlet.so.0\]'
}

pc_resolves() {
	local got want="-I$stage/usr/include -L$stage$libdir -lvmlet"
	got=$(PKG_CONFIG_LIBDIR=$stage$libdir/pkgconfig PKG_CONFIG_SYSROOT_DIR=$stage \
		pkg-config --cflags --libs libvmlet)
	got=$(printf '%s' "$got" | tr -s ' ' | sed 's/ *$//')
	[ "$got" = "$want" ] || echo "# pkg-config: '$got', want '$want'"
	[ "$got" = "$want" ] &&
		[ "$(PKG_CONFIG_LIBDIR=$stage$libdir/pkgconfig pkg-config --modversion libvmlet)" = \
			"$version" ]
}

# The wrapper finds the staged runtime: the guest header resolves.
guest_cc_compiles() {
	"$stage/usr/bin/vmlet-guest-cc" -Wall -Werror -c -o "$tmp/hello.o" "$src/examples/hello.c" &&
		[ -s "$tmp/hello.o" ]
}

# Everything install put is gone; what was there before stays.
uninstall_exact() {
	local left
	left=$(find "$stage" \( -type f -o -type l \) ! -name keep | sort)
	[ -z "$left" ] || echo "# left behind: $left"
	[ -z "$left" ] && [ -f "$stage$libdir/keep" ] && [ -f "$stage/usr/include/keep" ] &&
		[ ! -e "$stage$libdir/vmlet-guest" ] && [ ! -e "$stage/usr/include/vmlet" ]
}

echo "1..6"
mkdir -p "$stage$libdir" "$stage/usr/include"
touch "$stage$libdir/keep" "$stage/usr/include/keep"
make -s -C "$src" O="$obj" "${paths[@]}" DESTDIR="$stage" install >"$tmp/log" 2>&1 ||
	sed 's/^/# /' "$tmp/log"
check install_puts_every_file files_installed
check install_links_soname so_links
check pkg_config_resolves_in_sysroot pc_resolves
check guest_cc_finds_staged_runtime guest_cc_compiles
make -s -C "$src" O="$obj" "${paths[@]}" DESTDIR="$stage" uninstall >"$tmp/log" 2>&1
check uninstall_succeeds [ $? -eq 0 ]
check uninstall_removes_exactly_what_install_put uninstall_exact

[ "$failed" -eq 0 ]
