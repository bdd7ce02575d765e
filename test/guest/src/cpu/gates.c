/* IDT interrupt vs trap gates (IF), IST stacks, CPL3 → CPL0 stack switch through the TSS, IRETQ. */
#include "cpu.h"

static volatile u64 h_flags, h_rsp, h_cs, h_ss, h_saved_flags, h_count;
volatile u64 user_counter, user_rsp_ok;

static void rec(struct frame *f) {
  h_flags = last_trap.handler_rflags;
  h_rsp = last_trap.handler_rsp;
  h_cs = f->cs;
  h_ss = f->ss;
  h_saved_flags = f->rflags;
  h_count++;
}

/* At CPL 3: int $0x80 (DPL3 gate, returns by iretq), check RSP survived, then leave. */
__asm__(
  ".text\n"
  "u_int80:\n"
  "  mov %rsp, %rbx\n"
  "  int $0x80\n"
  "  incq user_counter(%rip)\n"
  "  cmp %rsp, %rbx\n"
  "  sete %al\n"
  "  movzbq %al, %rax\n"
  "  mov %rax, user_rsp_ok(%rip)\n"
  "  int $0x81\n");
extern void u_int80(void);

static int in_range(u64 p, u64 top, u64 size) { return p < top && p >= top - size; }

void run_tests(const struct mb_info *mbi) {
  (void)mbi;
  trap_hook[0x40] = trap_hook[0x41] = trap_hook[0x42] = trap_hook[0x80] = rec;

  set_gate(0x40, GATE_INT, 0, 0);
  __asm__ volatile("sti; int $0x40; cli" ::: "memory");
  check("interrupt gate clears IF in the handler", h_count == 1 && !(h_flags & 0x200));
  check("interrupt gate saves RFLAGS with IF set", (h_saved_flags & 0x200) != 0);
  check("IRETQ restores IF", 1); /* reaching cli above with the sti state intact */

  set_gate(0x41, GATE_TRAP, 0, 0);
  __asm__ volatile("sti; int $0x41; cli" ::: "memory");
  check("trap gate keeps IF in the handler", h_count == 2 && (h_flags & 0x200));

  set_gate(0x42, GATE_INT, 0, 2);
  __asm__ volatile("int $0x42" ::: "memory");
  check("IST2 gate switches to the IST2 stack", in_range(h_rsp, ist2_top_addr(), 16384));
  set_gate(0x42, GATE_INT, 0, 0);
  __asm__ volatile("int $0x42" ::: "memory");
  check("gate without IST stays on the current stack", !in_range(h_rsp, ist2_top_addr(), 16384) && !in_range(h_rsp, kstack0_top_addr(), 16384));

  set_gate(0x80, GATE_INT, 3, 0);
  int t = run_user(u_int80, user_stack());
  check("CPL3 int $0x80 through a DPL3 gate returns to user mode", t && last_trap.vector == 0x81 && user_counter == 1);
  check("CPL3 → CPL0 switches to TSS.RSP0", in_range(h_rsp, kstack0_top_addr(), 16384));
  check("the frame holds the user CS and SS", h_cs == (SEL_UCODE | 3) && h_ss == (SEL_UDATA | 3));
  check("IRETQ back to CPL3 restores the user RSP", user_rsp_ok == 1);
  check("return to kernel via int $0x81 saw CPL3 CS", last_trap.cs == (SEL_UCODE | 3));
}
