/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * vmlet_invoke: load the argument registers from an array (six integer,
 * then eight SSE) and call a registered function; hand back rax, rdx and
 * xmm0 so the dispatcher can read any result type. SSE registers are
 * touched only for functions that take or return floats (flags bit 0 and
 * bit 1): integer-only calls stay clear of SSE, which matters where KVM
 * emulates guest code and its emulator lacks most SSE instructions. It
 * keeps a frame pointer, one instruction more than it needs, so that a
 * fault's backtrace goes on through it to the dispatcher.
 *
 * Plain System V code with no guest dependency: vmlet-serve's native
 * lifecycle (tools/serve/native_guest.c) links it into host code too, so
 * the same registered functions are called the same way without a VM.
 */
	.text

	.globl	vmlet_invoke
	.type	vmlet_invoke, @function
vmlet_invoke:
	push	%rbp			/* a frame, for backtraces (lib/backtrace.c) */
	mov	%rsp, %rbp
	push	%rbx
	push	%rcx			/* VMLET_INVOKE_* flags; rsp 16-byte aligned at the call */
	mov	%rdx, %rbx
	mov	%rdi, %r11
	test	$1, %cl			/* SSE registers only when used: */
	jz	1f			/* KVM's emulator may not know them */
	movdqu	48(%rsi), %xmm0
	movdqu	56(%rsi), %xmm1
	movdqu	64(%rsi), %xmm2
	movdqu	72(%rsi), %xmm3
	movdqu	80(%rsi), %xmm4
	movdqu	88(%rsi), %xmm5
	movdqu	96(%rsi), %xmm6
	movdqu	104(%rsi), %xmm7
1:	mov	0(%rsi), %rdi
	mov	16(%rsi), %rdx
	mov	24(%rsi), %rcx
	mov	32(%rsi), %r8
	mov	40(%rsi), %r9
	mov	8(%rsi), %rsi
	call	*%r11
	mov	%rax, 0(%rbx)
	mov	%rdx, 8(%rbx)
	pop	%rcx
	test	$2, %cl
	jz	2f
	movdqu	%xmm0, 16(%rbx)
2:	pop	%rbx
	pop	%rbp
	ret
	.size	vmlet_invoke, . - vmlet_invoke

	.section .note.GNU-stack, "", @progbits
