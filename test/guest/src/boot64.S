/*
 * Entry for vmrun's plain-ELF64 convention (src/loader/README.md): already in long mode with
 * RDI = multiboot info. Switch to the shared GDT and our own stack, then run kmain like boot32.S.
 */
    .text
    .code64
    .globl _start64
_start64:
    cli
    cld
    lgdt gdt_ptr
    mov $boot_stack_top, %rsp
    pushq $0x08
    lea 1f(%rip), %rax
    push %rax
    lretq
1:  mov $0x10, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    mov %eax, %fs
    mov %eax, %gs
    mov %cr0, %rax
    and $~4, %rax
    or $0x22, %rax
    mov %rax, %cr0
    mov %cr4, %rax
    or $((1 << 9) | (1 << 10)), %rax
    mov %rax, %cr4
    xor %ebp, %ebp
    call kmain
    mov %eax, %edi
    call guest_exit
