/* Framework for the CPU feature test kernels: IDT, TSS, trap recording, PASS/FAIL reporting. */
#ifndef CPU_H
#define CPU_H
#include "guest.h"

#define SEL_KCODE 0x08
#define SEL_KDATA 0x10
#define SEL_UCODE32 0x18
#define SEL_UDATA 0x20
#define SEL_UCODE 0x28
#define SEL_KCODE32 0x38
#define SEL_TSS 0x40
#define SEL_TSS2 0x50
#define SEL_NOTPRESENT 0x60

/* Interrupt frame as traps.S builds it. */
struct frame {
  u64 r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
  u64 vector, err, rip, cs, rflags, rsp, ss;
};

struct trap_info { u64 vector, err, rip, cs, rflags, rsp, cr2, handler_rsp, handler_rflags; u64 count; };
extern volatile struct trap_info last_trap;

/* Per-vector hook: runs instead of the default "land in try_call" behaviour; may edit the frame. */
extern void (*trap_hook[256])(struct frame *f);

/* Calls fn(arg); returns 0 if it returned, 1 if a trap ended it (details in last_trap). */
int try_call(void (*fn)(u64), u64 arg);
/* Runs fn at CPL 3 on the given stack; user code returns with "int $0x81" (or traps). */
int run_user(void (*fn)(void), void *stack_top);

#define GATE_INT 0xe
#define GATE_TRAP 0xf
void set_gate(int vec, int type, int dpl, int ist);
void set_gate_present(int vec, int present);

struct tss64 {
  u32 reserved0;
  u64 rsp[3];
  u64 reserved1;
  u64 ist[7];
  u64 reserved2;
  u16 reserved3, iomap;
} __attribute__((packed));
extern struct tss64 tss;
void load_tss_desc(int sel, struct tss64 *t, u32 limit);

u64 kstack0_top_addr(void);
u64 ist1_top_addr(void);
u64 ist2_top_addr(void);
void *user_stack(void);

void check(const char *name, int ok);
/* Checks that a trap happened with this vector, error code (-1: none checked) and saved RIP (0: not checked). */
void check_trap(const char *name, int trapped, u64 vector, long err, const void *rip);
void note(const char *s, u64 v);
extern int tests_failed, tests_passed;

void run_tests(const struct mb_info *mbi);

static inline u64 read_cr0(void) { u64 v; __asm__ volatile("mov %%cr0, %0" : "=r"(v)); return v; }
static inline u64 read_cr2(void) { u64 v; __asm__ volatile("mov %%cr2, %0" : "=r"(v)); return v; }
static inline u64 read_cr3(void) { u64 v; __asm__ volatile("mov %%cr3, %0" : "=r"(v)); return v; }
static inline u64 read_cr4(void) { u64 v; __asm__ volatile("mov %%cr4, %0" : "=r"(v)); return v; }
static inline void write_cr0(u64 v) { __asm__ volatile("mov %0, %%cr0" : : "r"(v) : "memory"); }
static inline void write_cr3(u64 v) { __asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory"); }
static inline void write_cr4(u64 v) { __asm__ volatile("mov %0, %%cr4" : : "r"(v) : "memory"); }
static inline u64 rdmsr(u32 msr) { u32 lo, hi; __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr)); return lo | ((u64)hi << 32); }
static inline void wrmsr(u32 msr, u64 v) { __asm__ volatile("wrmsr" : : "c"(msr), "a"((u32)v), "d"((u32)(v >> 32)) : "memory"); }
static inline void cpuid(u32 leaf, u32 sub, u32 r[4]) { __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub)); }
static inline u64 read_flags(void) { u64 f; __asm__ volatile("pushfq; pop %0" : "=r"(f)); return f; }
static inline void invlpg(const void *p) { __asm__ volatile("invlpg (%0)" : : "r"(p) : "memory"); }
#endif
