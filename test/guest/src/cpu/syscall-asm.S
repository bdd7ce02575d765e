/* SYSCALL/SYSRET and SYSENTER/SYSEXIT round trips from CPL 3; results land in the globals below. */
    .text
    .code64
    .globl u_syscall, u_syscall_ret, syscall_entry, u_sysenter, u_sysenter_ret, sysenter_entry

u_syscall:
    mov %rsp, %rbx
    mov $21, %eax
    std
    syscall
u_syscall_ret:
    mov %rax, u_result(%rip)
    pushfq
    pop %rax
    mov %rax, u_flags(%rip)
    cld
    mov %cs, %eax
    mov %rax, u_cs(%rip)
    mov %ss, %eax
    mov %rax, u_ss(%rip)
    cmp %rsp, %rbx
    sete u_rsp_ok(%rip)
    int $0x81

syscall_entry:                      /* CPL 0, still on the user stack */
    mov %rcx, k_rcx(%rip)
    mov %r11, k_r11(%rip)
    mov %cs, %edx
    mov %rdx, k_cs(%rip)
    mov %ss, %edx
    mov %rdx, k_ss(%rip)
    pushfq
    pop %rdx
    mov %rdx, k_flags(%rip)
    add %rax, %rax
    sysretq

u_sysenter:
    mov %rsp, %rbx
    mov %rsp, %rcx                  /* SYSEXIT loads RSP from RCX and RIP from RDX */
    lea u_sysenter_ret(%rip), %rdx
    sysenter
u_sysenter_ret:
    mov %rax, u_result(%rip)
    mov %cs, %eax
    mov %rax, u_cs(%rip)
    mov %ss, %eax
    mov %rax, u_ss(%rip)
    cmp %rsp, %rbx
    sete u_rsp_ok(%rip)
    int $0x81

sysenter_entry:
    mov %rsp, k_rsp(%rip)
    mov %cs, %eax
    mov %rax, k_cs(%rip)
    mov %ss, %eax
    mov %rax, k_ss(%rip)
    pushfq
    pop %rax
    mov %rax, k_flags(%rip)
    mov $0x1234, %eax
    sysexitq

    .data
    .globl u_result, u_flags, u_cs, u_ss, u_rsp_ok, k_rcx, k_r11, k_cs, k_ss, k_flags, k_rsp
    .align 8
u_result: .quad 0
u_flags: .quad 0
u_cs: .quad 0
u_ss: .quad 0
k_rcx: .quad 0
k_r11: .quad 0
k_cs: .quad 0
k_ss: .quad 0
k_flags: .quad 0
k_rsp: .quad 0
u_rsp_ok: .byte 0
