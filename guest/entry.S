/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Guest entry points written in assembly.
 *
 * vmlet_syscall_entry: LSTAR. The guest runs in ring 0, so `syscall` does
 * not switch stacks: step over the caller's red zone before pushing
 * anything, keep every register Linux keeps across a syscall, and return
 * with popfq + jmp (sysret would drop to ring 3).
 *
 * vmlet_invoke: load the argument registers from an array (six integer,
 * then eight SSE) and call a registered function; hand back rax, rdx and
 * xmm0 so the dispatcher can read any result type. SSE registers are
 * touched only for functions that take or return floats (flags bit 0 and
 * bit 1): integer-only calls stay clear of SSE, which matters where KVM
 * emulates guest code and its emulator lacks most SSE instructions.
 */
	.text

	.globl	vmlet_syscall_entry
	.type	vmlet_syscall_entry, @function
vmlet_syscall_entry:
	lea	-128(%rsp), %rsp
	push	%rcx
	push	%r11
	push	%rdi
	push	%rsi
	push	%rdx
	push	%r8
	push	%r9
	push	%r10
	push	%rbp
	mov	%rsp, %rbp
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
	mov	%rbp, %rsp
	pop	%rbp
	pop	%r10
	pop	%r9
	pop	%r8
	pop	%rdx
	pop	%rsi
	pop	%rdi
	pop	%r11
	pop	%rcx
	push	%r11
	popfq
	lea	128(%rsp), %rsp
	jmp	*%rcx
	.size	vmlet_syscall_entry, . - vmlet_syscall_entry

	.globl	vmlet_invoke
	.type	vmlet_invoke, @function
vmlet_invoke:
	push	%rbx
	push	%rcx			/* VMLET_INVOKE_* flags */
	sub	$8, %rsp		/* rsp 16-byte aligned at the call */
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
	add	$8, %rsp
	pop	%rcx
	test	$2, %cl
	jz	2f
	movdqu	%xmm0, 16(%rbx)
2:	pop	%rbx
	ret
	.size	vmlet_invoke, . - vmlet_invoke

	.section .note.GNU-stack, "", @progbits
