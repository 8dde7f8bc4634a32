/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The guest bench boots under QEMU (`-M microvm -bios boot.bin`): a 64 KiB
 * flat firmware image (QEMU wants a multiple of 64 KiB), mapped by QEMU
 * just below 4 GiB. The CPU starts in real mode at its last 16 bytes
 * (the reset vector, CS base 0xffff0000); from there it jumps to the
 * start, computes add(1, 2), writes the byte to the isa-debugcon port
 * 0xe9 and then to isa-debug-exit's port 0xf4, which ends QEMU with
 * status (3 << 1) | 1 = 7. Without an isa-debug-exit device the write
 * goes nowhere and the guest halts with interrupts off: an idle VM, for
 * the density figures. No firmware, no kernel, nothing else runs.
 */
	.code16
	.text
	.globl	_start
_start:
	mov	$1, %al
	add	$2, %al
	out	%al, $0xe9
	out	%al, $0xf4
	cli
1:	hlt
	jmp	1b

	.org	0xfff0
reset:
	jmp	_start

	.org	0x10000
