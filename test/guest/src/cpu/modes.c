/* Mode switches: multiboot's 32-bit entry → long mode (boot32.S), compatibility mode, and out of long mode and back. */
#include "cpu.h"

extern void t_compat(void), t_leave_long(void);
extern volatile u32 compat_push_width, compat_result, efer_in_pm, cr0_in_pm, pm_result, efer_back;

void run_tests(const struct mb_info *mbi) {
  (void)mbi;
  u64 efer = rdmsr(0xc0000080);
  u16 cs;
  __asm__ volatile("mov %%cs, %0" : "=r"(cs));
  check("running in 64-bit mode after the 32-bit multiboot entry (EFER.LMA, CS)", (efer & 0x500) == 0x500 && cs == SEL_KCODE);
  t_compat();
  check("compatibility mode: 32-bit default operand size", compat_push_width == 4);
  check("compatibility mode: computes and far-jumps back to 64-bit", compat_result == 0x2468);
  t_leave_long();
  check("clearing CR0.PG in compat mode leaves long mode (EFER.LMA = 0)", (efer_in_pm & 0x500) == 0x100);
  check("32-bit protected mode with paging off", (cr0_in_pm & 0x80000001) == 1 && pm_result == 42);
  check("setting CR0.PG again re-enters long mode (EFER.LMA = 1)", (efer_back & 0x500) == 0x500);
  u64 x = 0x0123456789abcdefull, y;
  __asm__ volatile("mov %1, %0; rol $8, %0" : "=r"(y) : "r"(x));
  check("64-bit operations work after the round trip", y == 0x23456789abcdef01ull);
}
