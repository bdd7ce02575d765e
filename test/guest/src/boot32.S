/*
 * Multiboot v1 entry (32-bit protected mode, paging off): identity-map 0-4 GiB with 2 MiB
 * user-accessible pages, enable PAE + long mode + SSE, load the shared GDT, then call
 * kmain(mbi) in 64-bit mode and exit through isa-debug-exit with its result.
 */
#define MB_MAGIC 0x1badb002
#define MB_FLAGS 0x3   /* page-aligned modules, memory info */

    .section .multiboot, "a"
    .align 4
    .long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

    .section .boot32, "ax"
    .code32
    .globl _start
_start:
    cli
    cld
    mov %eax, %esi
    mov %ebx, %edx
    mov $boot_stack_top, %esp
    /* Nothing asynchronous may arrive before a test installs its IDT (firmware may have left IRQ0 on). */
    mov $0xff, %al
    out %al, $0xa1
    out %al, $0x21

    mov $boot_pml4, %edi
    mov $(6 * 4096 / 4), %ecx
    xor %eax, %eax
    rep stosl
    movl $(boot_pdpt + 7), boot_pml4
    movl $(boot_pd + 7), boot_pdpt
    movl $(boot_pd + 0x1000 + 7), boot_pdpt + 8
    movl $(boot_pd + 0x2000 + 7), boot_pdpt + 16
    movl $(boot_pd + 0x3000 + 7), boot_pdpt + 24
    xor %ecx, %ecx
1:  mov %ecx, %eax
    shl $21, %eax
    or $0x87, %eax                 /* present, writable, user, 2 MiB */
    mov %eax, boot_pd(,%ecx,8)
    mov %ecx, %eax
    shr $11, %eax
    mov %eax, boot_pd + 4(,%ecx,8)
    inc %ecx
    cmp $2048, %ecx
    jne 1b

    mov %cr4, %eax
    or $((1 << 5) | (1 << 9) | (1 << 10)), %eax   /* PAE, OSFXSR, OSXMMEXCPT */
    mov %eax, %cr4
    mov $boot_pml4, %eax
    mov %eax, %cr3
    mov $0xc0000080, %ecx
    mov %edx, %edi
    rdmsr
    or $(1 << 8), %eax             /* EFER.LME */
    wrmsr
    mov %cr0, %eax
    and $0xfffffffb, %eax          /* EM off: SSE and x87 execute */
    or $0x80000022, %eax           /* PG, NE, MP */
    mov %eax, %cr0
    lgdt gdt_ptr
    ljmp $0x08, $long_entry

    .code64
long_entry:
    mov $0x10, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    mov %eax, %fs
    mov %eax, %gs
    mov $boot_stack_top, %rsp
    mov %edi, %edi                 /* upper halves are undefined after the switch */
    mov %esi, %esi
    xor %ebp, %ebp
    call kmain
    mov %eax, %edi
    call guest_exit
