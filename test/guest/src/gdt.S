/* Data shared by both boot stubs: the GDT every test kernel runs with, boot page tables, stack. */
    .section .data
    .align 16
    .globl gdt, gdt_ptr, gdt_tss
gdt:
    .quad 0                       /* 0x00 */
    .quad 0x00af9b000000ffff      /* 0x08 kernel code, 64-bit */
    .quad 0x00cf93000000ffff      /* 0x10 kernel data */
    .quad 0x00cffb000000ffff      /* 0x18 user code, 32-bit (STAR[63:48] base for SYSRET) */
    .quad 0x00cff3000000ffff      /* 0x20 user data (SYSRET SS) */
    .quad 0x00affb000000ffff      /* 0x28 user code, 64-bit (SYSRET/SYSEXIT CS) */
    .quad 0x00cff3000000ffff      /* 0x30 user data (SYSEXIT64 SS = SYSENTER_CS + 40) */
    .quad 0x00cf9b000000ffff      /* 0x38 kernel code, 32-bit (compatibility mode) */
gdt_tss:
    .quad 0, 0                    /* 0x40 TSS, filled in by tests */
    .quad 0, 0                    /* 0x50 second TSS */
    .quad 0x00cf13000000ffff      /* 0x60 data, not present */
    .quad 0x00cff3000000ffff      /* 0x68 data, DPL 3 */
    .quad 0x00cf9f000000ffff      /* 0x70 conforming code, 32-bit (spare) */
gdt_end:
    .align 8
    .word 0, 0, 0
gdt_ptr:
    .word gdt_end - gdt - 1
    .quad gdt

    .section .bss
    .align 4096
    .globl boot_pml4, boot_pdpt, boot_pd, boot_stack_top
boot_pml4: .skip 4096
boot_pdpt: .skip 4096
boot_pd:   .skip 4 * 4096
    .align 16
boot_stack: .skip 65536
boot_stack_top:
