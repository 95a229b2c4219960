// int64_t km_interruptible_syscall(const int* interrupt, int64_t nr, a1, a2, a3, a4, a5, a6)
// See interruptible_syscall.h. The signal handler treats [window_start, window_end) as "not yet
// in the kernel" (or, at the syscall instruction itself, about to restart) and resumes such a
// thread at km_interruptible_syscall_interrupted, which returns kNotStarted.
        .text
        .globl  km_interruptible_syscall
        .globl  km_interruptible_syscall_window_start
        .globl  km_interruptible_syscall_window_end
        .globl  km_interruptible_syscall_interrupted
        .type   km_interruptible_syscall, @function
km_interruptible_syscall:
        .cfi_startproc
        movq    %rdi, %r11              // the interrupt word (r11 is free until the syscall)
        movq    %rsi, %rax              // nr
        movq    %rdx, %rdi              // a1..a4 come in registers, a5 and a6 on the stack
        movq    %rcx, %rsi
        movq    %r8, %rdx
        movq    %r9, %r10
        movq    8(%rsp), %r8
        movq    16(%rsp), %r9
km_interruptible_syscall_window_start:
        cmpl    $0, (%r11)
        jne     km_interruptible_syscall_interrupted
        syscall
km_interruptible_syscall_window_end:
        ret
km_interruptible_syscall_interrupted:
        movq    $-512, %rax             // kNotStarted
        ret
        .cfi_endproc
        .size   km_interruptible_syscall, .-km_interruptible_syscall
        .section .note.GNU-stack,"",@progbits
