/* Every exception vector a test can raise: vector, error code and saved RIP. */
#include "cpu.h"

extern void t_de(u64), t_db(u64), t_bp(u64), t_ud(u64), t_nm_x87(u64), t_nm_sse(u64), t_load_ds(u64), t_int42(u64), t_int43(u64);
extern void t_ss(u64), t_gp_noncanon(u64), t_gp_ltr(u64), t_gp_farret(u64), t_ss_load(u64), t_pf_read(u64), t_pf_write(u64), t_mf(u64), t_xm(u64);
extern void t_compat_of(u64), t_compat_br(u64);
extern void u_ac(void), u_cli(void), u_hlt(void), u_int40(void), u_bp(void), u_rdtsc(void);
extern char de_at[], db_after[], bp_after[], ud_at[], nm_x87_at[], nm_sse_at[], load_ds_at[], int42_at[], int43_at[], ss_at[];
extern char gp_noncanon_at[], gp_ltr_at[], gp_farret_at[], ss_load_at[], pf_read_at[], pf_write_at[], mf_at[], xm_at[], ac_at[];
extern char u_cli_at[], u_hlt_at[], u_int40_at[], u_bp_after[], of_after[], br_at[], u_rdtsc_at[];
extern u64 gdt[];

static struct tss64 tss2;

void run_tests(const struct mb_info *mbi) {
  (void)mbi;
  check_trap("#DE div by zero", try_call(t_de, 0), 0, -1, de_at);

  int t = try_call(t_db, 0);
  u64 dr6;
  __asm__ volatile("mov %%dr6, %0" : "=r"(dr6));
  check_trap("#DB single step (TF) traps after the next instruction", t, 1, -1, db_after);
  check("#DB sets DR6.BS", (dr6 >> 14) & 1);

  check_trap("#BP int3 (trap: RIP after)", try_call(t_bp, 0), 3, -1, bp_after);
  check_trap("#UD ud2", try_call(t_ud, 0), 6, -1, ud_at);

  write_cr0(read_cr0() | 8);
  check_trap("#NM x87 with CR0.TS", try_call(t_nm_x87, 0), 7, -1, nm_x87_at);
  check_trap("#NM SSE with CR0.TS", try_call(t_nm_sse, 0), 7, -1, nm_sse_at);
  __asm__ volatile("clts");

  set_gate_present(0, 0);
  check_trap("#DF: #DE through a not-present gate", try_call(t_de, 0), 8, 0, 0);
  check("#DF runs on IST1", last_trap.handler_rsp <= ist1_top_addr() && last_trap.handler_rsp > ist1_top_addr() - 16384);
  set_gate_present(0, 1);

  set_gate_present(0x42, 0);
  check_trap("#NP int to a not-present gate (IDT error code)", try_call(t_int42, 0), 11, 0x42 * 8 + 2, int42_at);
  set_gate_present(0x42, 1);
  check_trap("#NP loading a not-present data segment", try_call(t_load_ds, SEL_NOTPRESENT), 11, SEL_NOTPRESENT, load_ds_at);

  /* #TS: a gate asking for IST7 while TR's limit ends before the IST7 slot. */
  tss2 = tss;
  load_tss_desc(SEL_TSS2, &tss2, 0x50);
  __asm__ volatile("ltr %w0" : : "r"(SEL_TSS2));
  set_gate(0x43, GATE_INT, 0, 7);
  check_trap("#TS IST slot beyond the TSS limit", try_call(t_int43, 0), 10, SEL_TSS2, int43_at);
  gdt[SEL_TSS / 8] &= ~(2ull << 40); /* clear busy so the TSS can be loaded again */
  __asm__ volatile("ltr %w0" : : "r"(SEL_TSS));

  check_trap("#SS loading SS from a not-present segment", try_call(t_ss_load, SEL_NOTPRESENT), 12, SEL_NOTPRESENT, ss_load_at);
  check_trap("#SS non-canonical stack-segment address", try_call(t_ss, 0), 12, 0, ss_at);
  check_trap("#GP non-canonical address", try_call(t_gp_noncanon, 0), 13, 0, gp_noncanon_at);
  check_trap("#GP selector beyond the GDT limit", try_call(t_load_ds, 0x1000), 13, 0x1000, load_ds_at);
  check_trap("#GP ltr of a data segment", try_call(t_gp_ltr, 0), 13, SEL_KDATA, gp_ltr_at);
  check_trap("#GP far return to a data segment", try_call(t_gp_farret, 0), 13, SEL_KDATA, gp_farret_at);
  check_trap("#GP cli at CPL3", run_user(u_cli, user_stack()), 13, 0, u_cli_at);
  check_trap("#GP hlt at CPL3", run_user(u_hlt, user_stack()), 13, 0, u_hlt_at);
  check_trap("#GP int to a DPL0 gate from CPL3", run_user(u_int40, user_stack()), 13, 0x40 * 8 + 2, u_int40_at);
  check_trap("#BP int3 from CPL3 (DPL3 gate)", run_user(u_bp, user_stack()), 3, -1, u_bp_after);
  check("#BP from CPL3 saved CS has RPL 3", last_trap.cs == (SEL_UCODE | 3));
  int rt = run_user(u_rdtsc, user_stack());
  check("rdtsc at CPL3 without CR4.TSD runs", rt && last_trap.vector == 0x81);
  write_cr4(read_cr4() | 4); /* CR4.TSD */
  check_trap("#GP rdtsc at CPL3 with CR4.TSD", run_user(u_rdtsc, user_stack()), 13, 0, u_rdtsc_at);
  write_cr4(read_cr4() & ~4ull);

  check_trap("#PF read of an unmapped address", try_call(t_pf_read, 0x100000000ull), 14, 0, pf_read_at);
  check("#PF CR2 holds the faulting address", last_trap.cr2 == 0x100000000ull);
  check_trap("#PF write of an unmapped address", try_call(t_pf_write, 0x100000008ull), 14, 2, pf_write_at);
  check("#PF CR2 (write)", last_trap.cr2 == 0x100000008ull);

  check_trap("#MF unmasked x87 divide by zero at the next fwait", try_call(t_mf, 0), 16, -1, mf_at);
  __asm__ volatile("fninit");

  write_cr0(read_cr0() | (1u << 18));
  check_trap("#AC misaligned access at CPL3 with CR0.AM and EFLAGS.AC", run_user(u_ac, user_stack()), 17, 0, ac_at);
  write_cr0(read_cr0() & ~(1ull << 18));

  check_trap("#XM unmasked SSE divide by zero", try_call(t_xm, 0), 19, -1, xm_at);
  u32 mxcsr = 0x1f80;
  __asm__ volatile("ldmxcsr %0" : : "m"(mxcsr));

  check_trap("#OF into in compatibility mode (trap)", try_call(t_compat_of, 0), 4, -1, of_after);
  check_trap("#BR bound in compatibility mode", try_call(t_compat_br, 0), 5, -1, br_at);
  check("exceptions from compatibility mode saved the 32-bit CS", last_trap.cs == SEL_KCODE32);
}
