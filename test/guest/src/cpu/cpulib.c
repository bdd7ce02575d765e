#include "cpu.h"

struct gate { u16 off0, sel; u8 ist, type; u16 off1; u32 off2, zero; };
static struct gate idt[256] __attribute__((aligned(16)));
struct tss64 tss __attribute__((aligned(16)));
volatile struct trap_info last_trap;
void (*trap_hook[256])(struct frame *f);
int tests_failed, tests_passed;

extern const u64 trap_stub_table[];
extern u8 catch_landing[], user_trampoline[];
extern volatile u8 catch_active;
extern u64 catch_rsp, user_target_rsp;
extern u64 gdt[];

static u8 kstack0[16384] __attribute__((aligned(16)));
static u8 ist1[16384] __attribute__((aligned(16)));
static u8 ist2[16384] __attribute__((aligned(16)));
static u8 ustack[16384] __attribute__((aligned(16)));

static u64 stub_for(int vec) {
  for (const u64 *p = trap_stub_table; p[0] != (u64)-1; p += 2) if (p[0] == (u64)vec) return p[1];
  return 0;
}

void set_gate(int vec, int type, int dpl, int ist) {
  u64 h = stub_for(vec);
  idt[vec] = (struct gate){ (u16)h, SEL_KCODE, (u8)ist, (u8)(0x80 | (dpl << 5) | type), (u16)(h >> 16), (u32)(h >> 32), 0 };
}

void set_gate_present(int vec, int present) {
  if (present) idt[vec].type |= 0x80;
  else idt[vec].type &= 0x7f;
}

void load_tss_desc(int sel, struct tss64 *t, u32 limit) {
  u64 b = (u64)t;
  int i = sel / 8;
  gdt[i] = (limit & 0xffff) | ((b & 0xffffff) << 16) | (0x89ull << 40) | ((u64)((limit >> 16) & 0xf) << 48) | ((b >> 24 & 0xff) << 56);
  gdt[i + 1] = b >> 32;
}

static void cpu_init(void) {
  for (const u64 *p = trap_stub_table; p[0] != (u64)-1; p += 2) set_gate((int)p[0], GATE_INT, 0, 0);
  set_gate(8, GATE_INT, 0, 1);        /* #DF on its own stack: it may follow a stack problem */
  set_gate(3, GATE_INT, 3, 0);        /* int3 from user mode */
  set_gate(4, GATE_INT, 3, 0);        /* into from user mode */
  set_gate(0x81, GATE_INT, 3, 0);     /* user code returns to the kernel with int $0x81 */
  struct { u16 limit; u64 base; } __attribute__((packed)) idtr = { sizeof idt - 1, (u64)idt };
  __asm__ volatile("lidt %0" : : "m"(idtr));
  tss.rsp[0] = (u64)(kstack0 + sizeof kstack0);
  tss.ist[0] = (u64)(ist1 + sizeof ist1);
  tss.ist[1] = (u64)(ist2 + sizeof ist2);
  tss.iomap = sizeof tss;
  load_tss_desc(SEL_TSS, &tss, sizeof tss - 1);
  __asm__ volatile("ltr %w0" : : "r"(SEL_TSS));
}

u64 kstack0_top_addr(void) { return (u64)(kstack0 + sizeof kstack0); }
u64 ist1_top_addr(void) { return (u64)(ist1 + sizeof ist1); }
u64 ist2_top_addr(void) { return (u64)(ist2 + sizeof ist2); }

void trap_dispatch(struct frame *f) {
  u64 here;
  __asm__ volatile("mov %%rsp, %0" : "=r"(here));
  last_trap.vector = f->vector;
  last_trap.err = f->err;
  last_trap.rip = f->rip;
  last_trap.cs = f->cs;
  last_trap.rflags = f->rflags;
  last_trap.rsp = f->rsp;
  last_trap.cr2 = read_cr2();
  last_trap.handler_rsp = (u64)f;
  last_trap.handler_rflags = read_flags();
  last_trap.count++;
  if (trap_hook[f->vector]) { trap_hook[f->vector](f); return; }
  if (catch_active) {
    catch_active = 0;
    f->rip = (u64)catch_landing;
    f->cs = SEL_KCODE;
    f->ss = SEL_KDATA;
    f->rsp = catch_rsp;
    f->rflags = 2;
    return;
  }
  print_str("FAIL unexpected exception vector=");
  print_dec(f->vector);
  print_str(" err=");
  print_hex(f->err);
  print_str(" rip=");
  print_hex(f->rip);
  print_str("\n");
  (void)here;
  guest_exit(1);
}

int run_user(void (*fn)(void), void *stack_top) {
  user_target_rsp = (u64)stack_top;
  return try_call((void (*)(u64))(void *)user_trampoline, (u64)fn);
}

void *user_stack(void) { return ustack + sizeof ustack; }

void check(const char *name, int ok) {
  print_str(ok ? "PASS " : "FAIL ");
  print_str(name);
  print_str("\n");
  if (ok) tests_passed++;
  else tests_failed++;
}

void note(const char *s, u64 v) {
  print_str("  ");
  print_str(s);
  print_str("=");
  print_hex(v);
  print_str("\n");
}

void check_trap(const char *name, int trapped, u64 vector, long err, const void *rip) {
  int ok = trapped && last_trap.vector == vector && (err < 0 || last_trap.err == (u64)err) && (!rip || last_trap.rip == (u64)rip);
  check(name, ok);
  if (!ok) {
    note("trapped", (u64)trapped);
    note("vector", last_trap.vector);
    note("err", last_trap.err);
    note("rip", last_trap.rip);
    if (rip) note("expected rip", (u64)rip);
  }
}

int kmain(const struct mb_info *mbi) {
  cpu_init();
  run_tests(mbi);
  print_str(tests_failed ? "RESULT FAIL " : "RESULT PASS ");
  print_dec((u64)tests_passed);
  print_str(" passed, ");
  print_dec((u64)tests_failed);
  print_str(" failed\n");
  return tests_failed != 0;
}
