/* 4-level paging: 4 KiB/2 MiB/1 GiB pages, A/D bits, #PF error codes and CR2, WP, NX, reserved bits,
   INVLPG, global code pages remapped under a global flush (INVPCID, CR4.PGE). */
#include "cpu.h"

#define P 1ull
#define RW 2ull
#define US 4ull
#define A 0x20ull
#define D 0x40ull
#define PS 0x80ull
#define XD (1ull << 63)
#define VA 0x8000000000ull /* PML4 slot 1: nothing else maps here */

static u64 pdpt[512] __attribute__((aligned(4096)));
static u64 pd[512] __attribute__((aligned(4096)));
static u64 pt[512] __attribute__((aligned(4096)));
static u8 frame_a[4096] __attribute__((aligned(4096)));
static u8 frame_b[4096] __attribute__((aligned(4096)));
static u8 frame_code[4096] __attribute__((aligned(4096)));
static u8 frame_code2[4096] __attribute__((aligned(4096)));
static volatile u32 ran_code;
#define G 0x100ull
static volatile u64 marker = 0x5a5a1234abcd0001ull;
extern u64 boot_pml4[];
extern void t_pf_read(u64), t_pf_write(u64);
extern char pf_read_at[], pf_write_at[];

volatile u64 user_addr;
__asm__(
  ".text\n"
  "u_read:\n"
  "  mov user_addr(%rip), %rax\n"
  ".globl u_read_at\n"
  "u_read_at:\n"
  "  mov (%rax), %rax\n"
  "  int $0x81\n");
extern void u_read(void);
extern char u_read_at[];

static u64 page(int i) { return VA + (u64)i * 4096; }
/* The barrier keeps page-table stores from being moved past the access that needs them. */
static u64 rd(u64 va) { __asm__ volatile("" ::: "memory"); return *(volatile u64 *)va; }

/* `movl $v, ran_code; ret` at the start of a code frame. */
static void put_code(u8 *frame, u32 v) {
  u32 addr = (u32)(u64)&ran_code;
  u8 code[] = { 0xc7, 0x04, 0x25, addr, addr >> 8, addr >> 16, addr >> 24, v, v >> 8, v >> 16, v >> 24, 0xc3 };
  for (unsigned i = 0; i < sizeof code; i++) frame[i] = code[i];
}

static u32 run_page8(void) {
  ran_code = 0;
  try_call((void (*)(u64))page(8), 0);
  return ran_code;
}

/* A global page of code, run, then pointed at another frame: a global flush must make the new code
   run (an emulator that caches translated code by linear address must notice the new mapping). */
static void global_code_remap(void) {
  u32 r[4];
  cpuid(1, 0, r);
  if (!(r[3] & (1u << 13))) { print_str("SKIP global pages (no CPUID.PGE)\n"); return; }
  write_cr4(read_cr4() | 0x80);
  put_code(frame_code, 1);
  put_code(frame_code2, 2);
  pt[8] = (u64)frame_code | P | RW | G;
  invlpg((void *)page(8));
  u32 first = run_page8();
  check("global code page runs", first == 1 && run_page8() == 1);
  cpuid(7, 0, r);
  if (r[1] & (1u << 10)) {
    struct { u64 pcid, addr; } desc = { 0, 0 };
    pt[8] = (u64)frame_code2 | P | RW | G;
    __asm__ volatile("invpcid %0, %1" : : "m"(desc), "r"(2ull) : "memory");
    check("INVPCID (all, with globals) makes remapped global code run", run_page8() == 2);
    __asm__ volatile("invpcid %0, %1" : : "m"(desc), "r"(2ull) : "memory");
    check("unchanged global code still runs after INVPCID", run_page8() == 2);
  } else {
    print_str("SKIP INVPCID (no CPUID.INVPCID)\n");
  }
  pt[8] = (u64)frame_code | P | RW | G;
  u64 cr4 = read_cr4();
  write_cr4(cr4 & ~0x80ull);
  write_cr4(cr4);
  check("toggling CR4.PGE makes remapped global code run", run_page8() == 1);
  pt[8] = 0;
  invlpg((void *)page(8));
}

void run_tests(const struct mb_info *mbi) {
  (void)mbi;
  *(u64 *)frame_a = 0xaaaa;
  *(u64 *)frame_b = 0xbbbb;
  boot_pml4[1] = (u64)pdpt | P | RW | US;
  pdpt[0] = (u64)pd | P | RW | US;
  pd[0] = (u64)pt | P | RW | US;
  for (int i = 0; i < 16; i++) pt[i] = 0;
  write_cr3(read_cr3());

  pt[0] = (u64)frame_a | P | RW;
  check("4 KiB page maps its frame", rd(page(0)) == 0xaaaa);
  check("read sets A in the PTE and the PDE, not D", (pt[0] & (A | D)) == A && (pd[0] & A));
  *(volatile u64 *)page(0) = 0xaaab;
  check("write sets D", (pt[0] & D) && *(u64 *)frame_a == 0xaaab);
  *(u64 *)frame_a = 0xaaaa;

  pd[1] = 0 | P | RW | PS;
  if ((u64)&marker < 0x200000) check("2 MiB page", rd(VA + 0x200000 + (u64)&marker) == marker);
  u32 r[4];
  cpuid(0x80000001, 0, r);
  if (r[3] & (1u << 26)) {
    pdpt[1] = 0 | P | RW | PS;
    check("1 GiB page", rd(VA + 0x40000000 + (u64)&marker) == marker);
  } else {
    print_str("SKIP 1 GiB page (no CPUID.PDPE1GB)\n");
  }

  check_trap("#PF read, not present: error 0", try_call(t_pf_read, page(1)), 14, 0, pf_read_at);
  check("CR2 = faulting address", last_trap.cr2 == page(1));
  check_trap("#PF write, not present: error 2", try_call(t_pf_write, page(1) + 8), 14, 2, pf_write_at);
  check("CR2 = faulting address (write)", last_trap.cr2 == page(1) + 8);

  pt[2] = (u64)frame_a | P | RW; /* supervisor page */
  user_addr = page(2);
  check_trap("#PF user read of a supervisor page: error 5", run_user(u_read, user_stack()), 14, 5, u_read_at);
  pt[2] |= US;
  invlpg((void *)page(2));
  int t = run_user(u_read, user_stack());
  check("user read of a user page works", t && last_trap.vector == 0x81);

  pt[3] = (u64)frame_a | P; /* read-only */
  u64 cr0 = read_cr0();
  write_cr0(cr0 | (1u << 16));
  check_trap("#PF supervisor write to read-only with CR0.WP: error 3", try_call(t_pf_write, page(3)), 14, 3, pf_write_at);
  write_cr0(cr0 & ~(1ull << 16));
  check("supervisor write to read-only without CR0.WP succeeds", try_call(t_pf_write, page(3)) == 0 && *(u64 *)frame_a == 1);
  write_cr0(cr0);
  *(u64 *)frame_a = 0xaaaa;

  if (r[3] & (1u << 20)) {
    wrmsr(0xc0000080, rdmsr(0xc0000080) | (1u << 11));
    frame_code[0] = 0xc3; /* ret */
    pt[4] = (u64)frame_code | P | RW | XD;
    pt[5] = (u64)frame_code | P | RW;
    check_trap("#PF instruction fetch from an NX page: error 0x11", try_call((void (*)(u64))page(4), 0), 14, 0x11, (void *)page(4));
    check("CR2 = NX page", last_trap.cr2 == page(4));
    check("executing the same frame without NX works", try_call((void (*)(u64))page(5), 0) == 0);
  } else {
    print_str("SKIP NX (no CPUID.NX)\n");
  }

  cpuid(0x80000000, 0, r);
  u32 maxphys = 36;
  if (r[0] >= 0x80000008) { cpuid(0x80000008, 0, r); maxphys = r[0] & 0xff; }
  if (maxphys < 52) {
    pt[6] = (u64)frame_a | P | RW | (1ull << 51);
    check_trap("#PF reserved bit set: error 9", try_call(t_pf_read, page(6)), 14, 9, pf_read_at);
  }

  pt[7] = (u64)frame_a | P | RW;
  u64 before = rd(page(7));
  pt[7] = (u64)frame_b | P | RW;
  invlpg((void *)page(7));
  check("INVLPG makes a changed PTE visible", before == 0xaaaa && rd(page(7)) == 0xbbbb);
  pt[7] = (u64)frame_a | P | RW;
  write_cr3(read_cr3());
  check("MOV to CR3 flushes the TLB", rd(page(7)) == 0xaaaa);
  global_code_remap();
  boot_pml4[1] = 0;
  write_cr3(read_cr3());
}
