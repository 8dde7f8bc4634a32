/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Guest entry points written in assembly.
 *
 * vmlet_syscall_entry: LSTAR. The guest runs in ring 0, so `syscall` does
 * not switch stacks: step over the caller's red zone before pushing
 * anything, keep every register Linux keeps across a syscall, and return
 * with popfq + jmp (sysret would drop to ring 3). The return address
 * (rcx) and rbp are pushed first, as a call's frame, so that a backtrace
 * from inside the shim goes on into the code that made the syscall.
 *
 * vmlet_invoke, which calls registered functions, is in invoke.S.
 */
	.text

	.globl	vmlet_syscall_entry
	.type	vmlet_syscall_entry, @function
vmlet_syscall_entry:
	lea	-128(%rsp), %rsp
	push	%rcx			/* with rbp above it: a frame, for backtraces */
	push	%rbp
	mov	%rsp, %rbp
	push	%r11
	push	%rdi
	push	%rsi
	push	%rdx
	push	%r8
	push	%r9
	push	%r10
	and	$-16, %rsp
	sub	$8, %rsp
	push	%r9			/* a6 on the stack */
	mov	%r8, %r9		/* a5 */
	mov	%r10, %r8		/* a4 */
	mov	%rdx, %rcx		/* a3 */
	mov	%rsi, %rdx		/* a2 */
	mov	%rdi, %rsi		/* a1 */
	mov	%rax, %rdi		/* nr */
	call	vmlet_syscall
	lea	-56(%rbp), %rsp		/* the seven registers pushed after rbp */
	pop	%r10
	pop	%r9
	pop	%r8
	pop	%rdx
	pop	%rsi
	pop	%rdi
	pop	%r11
	pop	%rbp
	pop	%rcx
	push	%r11
	popfq
	lea	128(%rsp), %rsp
	jmp	*%rcx
	.size	vmlet_syscall_entry, . - vmlet_syscall_entry

	.section .note.GNU-stack, "", @progbits
