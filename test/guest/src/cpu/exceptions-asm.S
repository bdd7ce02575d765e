/* Faulting instruction sequences for exceptions.c; each marks its faulting (or next) instruction. */
    .text
    .code64
#define FN(name) .globl name; name:
#define AT(name) .globl name; name:

FN(t_de)
    xor %ecx, %ecx
    mov $1, %eax
    xor %edx, %edx
AT(de_at)
    div %ecx
    ret

FN(t_db)
    pushfq
    orq $0x100, (%rsp)
    popfq
AT(db_insn)
    nop
AT(db_after)
    nop
    ret

FN(t_bp)
    int3
AT(bp_after)
    ret

FN(t_ud)
AT(ud_at)
    ud2
    ret

FN(t_nm_x87)
AT(nm_x87_at)
    fninit
    ret

FN(t_nm_sse)
AT(nm_sse_at)
    addps %xmm0, %xmm0
    ret

FN(t_load_ds)          /* rdi = selector */
    mov %ds, %eax
AT(load_ds_at)
    mov %edi, %ds
    mov %eax, %ds
    ret

FN(t_int42)
AT(int42_at)
    int $0x42
    ret

FN(t_int43)
AT(int43_at)
    int $0x43
    ret

FN(t_ss)
    movabs $0x8000000000000000, %rbp
AT(ss_at)
    mov (%rbp), %rax
    ret

FN(t_gp_noncanon)
    movabs $0x8000000000000000, %rax
AT(gp_noncanon_at)
    mov (%rax), %rax
    ret

FN(t_gp_ltr)             /* ltr of a data segment */
    mov $0x10, %eax
AT(gp_ltr_at)
    ltr %ax
    ret

FN(t_gp_farret)          /* far return to a data segment */
    pushq $0x10
    lea 1f(%rip), %rax
    push %rax
AT(gp_farret_at)
    lretq
1:  ret

FN(t_ss_load)            /* SS from a not-present descriptor: #SS, not #NP */
    mov %ss, %eax
AT(ss_load_at)
    mov %edi, %ss
    mov %eax, %ss
    ret

FN(t_pf_read)           /* rdi = address */
AT(pf_read_at)
    mov (%rdi), %rax
    ret

FN(t_pf_write)
AT(pf_write_at)
    movq $1, (%rdi)
    ret

FN(t_mf)
    fninit
    sub $8, %rsp
    movw $0x37b, (%rsp)       /* default control word with ZM clear: divide-by-zero unmasked */
    fldcw (%rsp)
    add $8, %rsp
    fld1
    fldz
    fdivrp %st, %st(1)        /* 1/0: pending, reported by the next waiting x87 instruction */
AT(mf_at)
    fwait
    ret

FN(t_xm)
    sub $8, %rsp
    movl $0x1d80, (%rsp)      /* MXCSR default with ZM clear */
    ldmxcsr (%rsp)
    add $8, %rsp
    mov $0x3f800000, %eax
    movd %eax, %xmm0
    xorps %xmm1, %xmm1
AT(xm_at)
    divss %xmm1, %xmm0
    ret

/* User-mode bodies: run by run_user at CPL 3, finishing with int $0x81. */
FN(u_ac)
    pushfq
    orq $0x40000, (%rsp)
    popfq
AT(ac_at)
    mov 1(%rsp), %eax
    int $0x81

FN(u_cli)
AT(u_cli_at)
    cli
    int $0x81

FN(u_hlt)
AT(u_hlt_at)
    hlt
    int $0x81

FN(u_int40)
AT(u_int40_at)
    int $0x40
    int $0x81

FN(u_bp)
    int3
AT(u_bp_after)
    int $0x81

FN(u_rdtsc)
AT(u_rdtsc_at)
    rdtsc
    int $0x81

/* Compatibility mode: #OF from INTO and #BR from BOUND, which 64-bit mode does not have. */
FN(t_compat_of)
    mov $0x10, %eax
    mov %eax, %ds
    pushq $0x38
    lea 1f(%rip), %rax
    push %rax
    lretq
    .code32
1:  mov $0x7f, %al
    add $1, %al
    into
AT(of_after)
    ud2
    .code64

FN(t_compat_br)
    /* Compatibility mode checks segments like protected mode (SDM vol. 3 §5.4.1.1): DS may have been
       left null by an earlier return to CPL 3, so load the flat data segment first. */
    mov $0x10, %eax
    mov %eax, %ds
    pushq $0x38
    lea 1f(%rip), %rax
    push %rax
    lretq
    .code32
1:  mov $100, %eax
AT(br_at)
    bound %eax, bounds
    ud2
    .code64

    .data
    .align 8
bounds: .long 0, 10
