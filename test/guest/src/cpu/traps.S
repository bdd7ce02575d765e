/* Exception entry stubs, the common save/restore path, and try_call's landing pad. */
    .text
    .code64

/* Vectors where the CPU pushes an error code: 8, 10-14, 17, 21, 29, 30. */
.macro STUB v
    .align 16
stub_\v:
    .if (\v == 8) || (\v >= 10 && \v <= 14) || (\v == 17) || (\v == 21) || (\v == 29) || (\v == 30)
    .else
    pushq $0
    .endif
    pushq $\v
    jmp trap_common
.endm

    .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    STUB \v
    .endr
    .irp v, 64,65,66,67,128,129
    STUB \v
    .endr

    .section .rodata
    .align 8
    .globl trap_stub_table
trap_stub_table:
    .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .quad \v, stub_\v
    .endr
    .irp v, 64,65,66,67,128,129
    .quad \v, stub_\v
    .endr
    .quad -1, 0

    .text
trap_common:
    push %rax
    push %rbx
    push %rcx
    push %rdx
    push %rsi
    push %rdi
    push %rbp
    push %r8
    push %r9
    push %r10
    push %r11
    push %r12
    push %r13
    push %r14
    push %r15
    mov %rsp, %rdi
    mov %rsp, %rbx
    and $-16, %rsp
    cld
    call trap_dispatch
    mov %rbx, %rsp
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rbp
    pop %rdi
    pop %rsi
    pop %rdx
    pop %rcx
    pop %rbx
    pop %rax
    add $16, %rsp
    iretq

/* int try_call(void (*fn)(u64), u64 arg) */
    .globl try_call, catch_landing
try_call:
    push %rbx
    push %rbp
    push %r12
    push %r13
    push %r14
    push %r15
    sub $8, %rsp                 /* keep the call 16-byte aligned */
    mov %rsp, catch_rsp(%rip)
    movb $1, catch_active(%rip)
    mov %rdi, %rax
    mov %rsi, %rdi
    call *%rax
    movb $0, catch_active(%rip)
    xor %eax, %eax
    jmp 1f
catch_landing:
    mov catch_rsp(%rip), %rsp
    mov $1, %eax
1:  add $8, %rsp
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbp
    pop %rbx
    ret

/* Entered through try_call: iretq to CPL 3 at rdi's target (the u64 argument), stack from user_target_rsp. */
    .globl user_trampoline
user_trampoline:
    pushq $(0x20 | 3)
    pushq user_target_rsp(%rip)
    pushq $0x2
    pushq $(0x28 | 3)
    push %rdi
    iretq

    .data
    .globl catch_rsp, catch_active, user_target_rsp
catch_rsp: .quad 0
user_target_rsp: .quad 0
catch_active: .byte 0
