/* 64-bit → compatibility mode → 64-bit, and 64-bit → compat → 32-bit protected mode (paging off) → long mode. */
    .text
    .code64
    .globl t_compat, t_leave_long

t_compat:
    push %rbx
    pushq $0x38
    lea 1f(%rip), %rax
    push %rax
    lretq
    .code32
1:  mov %esp, %ebx
    push %eax                    /* 4 bytes: the default operand size is 32 here */
    mov %ebx, %ecx
    sub %esp, %ecx
    pop %eax
    mov $0x1234, %eax
    add %eax, %eax
    ljmp $0x08, $2f
    .code64
2:  mov %ecx, compat_push_width(%rip)
    mov %eax, compat_result(%rip)
    pop %rbx
    ret

t_leave_long:
    push %rbx
    pushq $0x38
    lea 1f(%rip), %rax
    push %rax
    lretq
    .code32
1:  mov %cr0, %eax
    and $0x7fffffff, %eax
    mov %eax, %cr0               /* paging off: long mode deactivates, plain 32-bit protected mode */
    jmp 2f
2:  mov $0xc0000080, %ecx
    rdmsr
    mov %eax, efer_in_pm
    mov %cr0, %eax
    mov %eax, cr0_in_pm
    mov $7, %eax
    imul $6, %eax, %eax
    mov %eax, pm_result
    mov %cr0, %eax
    or $0x80000000, %eax
    mov %eax, %cr0               /* LME still set: paging back on re-activates long mode */
    ljmp $0x08, $3f
    .code64
3:  mov $0xc0000080, %ecx
    rdmsr
    mov %eax, efer_back(%rip)
    pop %rbx
    ret

    .data
    .globl compat_push_width, compat_result, efer_in_pm, cr0_in_pm, pm_result, efer_back
    .align 4
compat_push_width: .long 0
compat_result: .long 0
efer_in_pm: .long 0
cr0_in_pm: .long 0
pm_result: .long 0
efer_back: .long 0
