/* SYSCALL/SYSRET (STAR/LSTAR/FMASK) and SYSENTER/SYSEXIT (64-bit forms). */
#include "cpu.h"

extern void u_syscall(void), u_sysenter(void), syscall_entry(void), sysenter_entry(void);
extern char u_syscall_ret[];
extern volatile u64 u_result, u_flags, u_cs, u_ss, k_rcx, k_r11, k_cs, k_ss, k_flags, k_rsp;
extern volatile u8 u_rsp_ok;

#define MSR_EFER 0xc0000080
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_FMASK 0xc0000084

static u8 sysenter_stack[4096] __attribute__((aligned(16)));

void run_tests(const struct mb_info *mbi) {
  (void)mbi;
  wrmsr(MSR_EFER, rdmsr(MSR_EFER) | 1); /* SCE */
  wrmsr(MSR_STAR, ((u64)SEL_UCODE32 << 48) | ((u64)SEL_KCODE << 32));
  wrmsr(MSR_LSTAR, (u64)syscall_entry);
  wrmsr(MSR_FMASK, 0x40700); /* AC, DF, IF, TF */
  int t = run_user(u_syscall, user_stack());
  check("SYSCALL/SYSRET round trip from CPL3", t && last_trap.vector == 0x81 && u_result == 42);
  check("SYSCALL loads CS/SS from STAR[47:32]", k_cs == SEL_KCODE && k_ss == SEL_KDATA);
  check("SYSCALL saves the return RIP in RCX", k_rcx == (u64)u_syscall_ret);
  check("SYSCALL saves RFLAGS in R11 and masks them with FMASK", (k_r11 & 0x400) && !(k_flags & 0x40700));
  check("SYSRET returns to CS = STAR[63:48]+16, SS = +8, RPL 3", u_cs == (SEL_UCODE | 3) && u_ss == (SEL_UDATA | 3));
  check("SYSRET restores RFLAGS from R11 (DF)", (u_flags & 0x400) != 0);
  check("SYSCALL/SYSRET leave RSP alone", u_rsp_ok == 1);

  u32 r[4];
  cpuid(0, 0, r);
  int intel = r[1] == 0x756e6547; /* "Genu" */
  wrmsr(0x174, SEL_KCODE);
  wrmsr(0x175, (u64)(sysenter_stack + sizeof sysenter_stack));
  wrmsr(0x176, (u64)sysenter_entry);
  u_result = 0;
  t = run_user(u_sysenter, user_stack());
  if (!intel) {
    /* AMD's long mode has no SYSENTER. */
    check("SYSENTER in long mode is #UD on a non-Intel CPU", t && last_trap.vector == 6);
    return;
  }
  check("SYSENTER/SYSEXIT round trip from CPL3", t && last_trap.vector == 0x81 && u_result == 0x1234);
  check("SYSENTER loads CS from SYSENTER_CS, SS = CS+8, RSP from SYSENTER_ESP",
        k_cs == SEL_KCODE && k_ss == SEL_KDATA && k_rsp == (u64)(sysenter_stack + sizeof sysenter_stack));
  check("SYSENTER clears IF", !(k_flags & 0x200));
  check("SYSEXIT (64-bit) returns to CS = SYSENTER_CS+32, SS = +40, RPL 3", u_cs == (0x28 | 3) && u_ss == (0x30 | 3));
  check("SYSEXIT loads RSP from RCX", u_rsp_ok == 1);
}
