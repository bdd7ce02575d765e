/*
 * Differential-testing oracle: executes x86-64 snippets on the host CPU.
 *
 * Implements the contract in test/oracle/contract.ts. Snippets run in-process,
 * in user mode, on an RWX page; the scratch memory sits between PROT_NONE guard
 * pages so stray accesses fault instead of corrupting Node. Hardware exceptions
 * arrive as signals, are attributed to the snippet only when RIP lies in the
 * code page, and unwind with siglongjmp; any other fault is passed on to the
 * handler that was installed before (V8 uses SIGSEGV for WebAssembly traps).
 *
 * Written in the common subset of C and C++ so that the node-addon-api binding
 * (oracle.cc) and the plain N-API fallback (oracle_napi.c, for hosts with a C
 * compiler only) share every line that touches the machine.
 */
#ifndef VMRUN_ORACLE_CORE_H
#define VMRUN_ORACLE_CORE_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <cpuid.h>
#include <setjmp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#if !defined(__x86_64__) || !defined(__linux__)
#error "the oracle addon only makes sense on x86-64 Linux"
#endif

#define ORACLE_REGS 17           /* 16 GPRs in encoding order + RFLAGS */
#define ORACLE_RFLAGS 16
#define ORACLE_STATUS_FLAGS 0x8d5ull /* CF PF AF ZF SF OF */
#define ORACLE_EPILOGUE 14       /* jmp qword [rip+0]; dq oracle_exit */
#define ORACLE_ALT_STACK (256 * 1024)

#ifdef __cplusplus
extern "C" {
#endif
void oracle_enter(uint64_t* state, const void* code);
extern char oracle_exit[];
#ifdef __cplusplus
}
#endif

/*
 * The trampoline loads the 17-entry state (RSP excepted: the snippet starts on
 * the host stack, which generated code never touches) and jumps to the snippet.
 * The snippet ends in an absolute jump to oracle_exit, which switches back to
 * the saved host stack before storing the state, so even a snippet that
 * clobbers RSP returns cleanly. Scratch storage is RIP-relative because every
 * GPR belongs to the snippet while it runs.
 */
__asm__(
    ".text\n"
    ".p2align 4\n"
    ".globl oracle_enter\n"
    ".hidden oracle_enter\n"
    ".type oracle_enter, @function\n"
    "oracle_enter:\n"
    "  push %rbx\n"
    "  push %rbp\n"
    "  push %r12\n"
    "  push %r13\n"
    "  push %r14\n"
    "  push %r15\n"
    "  mov %rdi, oracle_state_ptr(%rip)\n"
    "  mov %rsi, oracle_code_ptr(%rip)\n"
    "  pushq 128(%rdi)\n"
    "  popfq\n"
    "  mov %rsp, oracle_host_rsp(%rip)\n"
    "  mov 0(%rdi), %rax\n"
    "  mov 8(%rdi), %rcx\n"
    "  mov 16(%rdi), %rdx\n"
    "  mov 24(%rdi), %rbx\n"
    "  mov 40(%rdi), %rbp\n"
    "  mov 48(%rdi), %rsi\n"
    "  mov 64(%rdi), %r8\n"
    "  mov 72(%rdi), %r9\n"
    "  mov 80(%rdi), %r10\n"
    "  mov 88(%rdi), %r11\n"
    "  mov 96(%rdi), %r12\n"
    "  mov 104(%rdi), %r13\n"
    "  mov 112(%rdi), %r14\n"
    "  mov 120(%rdi), %r15\n"
    "  mov 56(%rdi), %rdi\n"
    "  jmp *oracle_code_ptr(%rip)\n"
    ".globl oracle_exit\n"
    ".hidden oracle_exit\n"
    "oracle_exit:\n"
    "  mov oracle_host_rsp(%rip), %rsp\n"
    "  pushfq\n"
    "  mov %rdi, oracle_tmp(%rip)\n"
    "  mov oracle_state_ptr(%rip), %rdi\n"
    "  mov %rax, 0(%rdi)\n"
    "  mov %rcx, 8(%rdi)\n"
    "  mov %rdx, 16(%rdi)\n"
    "  mov %rbx, 24(%rdi)\n"
    "  mov %rbp, 40(%rdi)\n"
    "  mov %rsi, 48(%rdi)\n"
    "  mov %r8, 64(%rdi)\n"
    "  mov %r9, 72(%rdi)\n"
    "  mov %r10, 80(%rdi)\n"
    "  mov %r11, 88(%rdi)\n"
    "  mov %r12, 96(%rdi)\n"
    "  mov %r13, 104(%rdi)\n"
    "  mov %r14, 112(%rdi)\n"
    "  mov %r15, 120(%rdi)\n"
    "  mov oracle_tmp(%rip), %rax\n"
    "  mov %rax, 56(%rdi)\n"
    "  popq 128(%rdi)\n"
    "  cld\n"
    "  pop %r15\n"
    "  pop %r14\n"
    "  pop %r13\n"
    "  pop %r12\n"
    "  pop %rbp\n"
    "  pop %rbx\n"
    "  ret\n"
    ".size oracle_enter, .-oracle_enter\n"
    ".bss\n"
    ".p2align 3\n"
    "oracle_state_ptr: .zero 8\n"
    "oracle_code_ptr: .zero 8\n"
    "oracle_host_rsp: .zero 8\n"
    "oracle_tmp: .zero 8\n"
    ".text\n");

static const int oracle_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP};
#define ORACLE_NSIG ((int)(sizeof oracle_signals / sizeof oracle_signals[0]))

static struct {
  sigjmp_buf jb;
  uintptr_t code_lo, code_hi; /* the code page: RIP inside it means "ours" */
  uintptr_t code_start;
  volatile sig_atomic_t armed;
  int vector;
  long fault_offset;
  uint64_t regs[ORACLE_REGS];
  struct sigaction old[ORACLE_NSIG];
  void* alt_stack;
  stack_t old_alt_stack;
} oracle_ctx;

static void oracle_on_signal(int sig, siginfo_t* info, void* uctx_raw) {
  ucontext_t* uc = (ucontext_t*)uctx_raw;
  greg_t* g = uc->uc_mcontext.gregs;
  uintptr_t rip = (uintptr_t)g[REG_RIP];
  /* Traps leave RIP after the instruction, possibly at the page end. */
  if (oracle_ctx.armed && rip >= oracle_ctx.code_lo && rip <= oracle_ctx.code_hi) {
    uint64_t* r = oracle_ctx.regs;
    oracle_ctx.armed = 0;
    oracle_ctx.vector = (int)g[REG_TRAPNO];
    oracle_ctx.fault_offset = (long)(rip - oracle_ctx.code_start);
    r[0] = g[REG_RAX];
    r[1] = g[REG_RCX];
    r[2] = g[REG_RDX];
    r[3] = g[REG_RBX];
    r[5] = g[REG_RBP];
    r[6] = g[REG_RSI];
    r[7] = g[REG_RDI];
    r[8] = g[REG_R8];
    r[9] = g[REG_R9];
    r[10] = g[REG_R10];
    r[11] = g[REG_R11];
    r[12] = g[REG_R12];
    r[13] = g[REG_R13];
    r[14] = g[REG_R14];
    r[15] = g[REG_R15];
    r[ORACLE_RFLAGS] = g[REG_EFL];
    siglongjmp(oracle_ctx.jb, 1);
  }
  /* Not ours: hand it to whoever had it before. */
  for (int i = 0; i < ORACLE_NSIG; i++) {
    if (oracle_signals[i] != sig) continue;
    const struct sigaction* prev = &oracle_ctx.old[i];
    if (prev->sa_flags & SA_SIGINFO) {
      if (prev->sa_sigaction) {
        prev->sa_sigaction(sig, info, uctx_raw);
        return;
      }
    } else if (prev->sa_handler != SIG_DFL && prev->sa_handler != SIG_IGN) {
      prev->sa_handler(sig);
      return;
    }
    /* Default disposition: reinstate it and let the instruction fault again. */
    sigaction(sig, prev, NULL);
    return;
  }
}

/* Faults are delivered on an alternate stack: a hand-written snippet may have
 * moved RSP anywhere, and the kernel cannot push a signal frame there. */
static int oracle_install_handlers(void) {
  struct sigaction sa;
  stack_t ss;
  if (!oracle_ctx.alt_stack) {
    void* p = mmap(NULL, ORACLE_ALT_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return 0;
    oracle_ctx.alt_stack = p;
  }
  ss.ss_sp = oracle_ctx.alt_stack;
  ss.ss_size = ORACLE_ALT_STACK;
  ss.ss_flags = 0;
  if (sigaltstack(&ss, &oracle_ctx.old_alt_stack) != 0) return 0;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = oracle_on_signal;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  for (int i = 0; i < ORACLE_NSIG; i++) {
    if (sigaction(oracle_signals[i], &sa, &oracle_ctx.old[i]) != 0) {
      for (int j = 0; j < i; j++) sigaction(oracle_signals[j], &oracle_ctx.old[j], NULL);
      sigaltstack(&oracle_ctx.old_alt_stack, NULL);
      return 0;
    }
  }
  return 1;
}

static void oracle_restore_handlers(void) {
  for (int i = 0; i < ORACLE_NSIG; i++) sigaction(oracle_signals[i], &oracle_ctx.old[i], NULL);
  sigaltstack(&oracle_ctx.old_alt_stack, NULL);
}

static size_t oracle_round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

/* Runs one snippet with state `st` (17 entries, in/out) and scratch at `scratch`.
 * Returns the vector or -1; *fault_offset receives RIP - code start. */
static int oracle_run_one(uint8_t* code_page, size_t code_page_size, const uint8_t* code, size_t len,
                          uint64_t* st, uint8_t* scratch, long* fault_offset) {
  static const uint8_t jmp_rip0[6] = {0xff, 0x25, 0, 0, 0, 0};
  uintptr_t exit_addr = (uintptr_t)oracle_exit;
  uint64_t rsp_in = st[4];
  uint64_t work[ORACLE_REGS];

  memcpy(code_page, code, len);
  memcpy(code_page + len, jmp_rip0, sizeof jmp_rip0);
  memcpy(code_page + len + sizeof jmp_rip0, &exit_addr, sizeof exit_addr);
  oracle_ctx.code_lo = (uintptr_t)code_page;
  oracle_ctx.code_hi = oracle_ctx.code_lo + code_page_size;
  oracle_ctx.code_start = oracle_ctx.code_lo;

  memcpy(work, st, sizeof work);
  work[15] = (uintptr_t)scratch;
  /* Only the status flags come from the caller; IF and bit 1 as the host needs. */
  work[ORACLE_RFLAGS] = (st[ORACLE_RFLAGS] & ORACLE_STATUS_FLAGS) | 0x202;

  oracle_ctx.vector = -1;
  oracle_ctx.fault_offset = -1;
  if (sigsetjmp(oracle_ctx.jb, 1) == 0) {
    oracle_ctx.armed = 1;
    oracle_enter(work, code_page);
    oracle_ctx.armed = 0;
    memcpy(st, work, sizeof work);
  } else {
    memcpy(st, oracle_ctx.regs, sizeof oracle_ctx.regs);
  }
  st[4] = rsp_in;
  *fault_offset = oracle_ctx.fault_offset;
  return oracle_ctx.vector;
}

/*
 * Runs n snippets: snippet i is code[offsets[i], offsets[i+1]), its registers
 * regs[17 i ..] and its scratch mem[mem_size i ..], both updated in place;
 * faults[2 i], faults[2 i + 1] receive (vector, fault offset). Returns NULL or
 * an error message. The caller has validated the array sizes.
 */
static const char* oracle_run_batch(const uint8_t* code, const uint32_t* offsets, size_t n, uint64_t* regs,
                                    uint8_t* mem, size_t mem_size, int32_t* faults) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  size_t max_len = 0;
  for (size_t i = 0; i < n; i++) {
    if (offsets[i + 1] < offsets[i]) return "runBatch: offsets must be non-decreasing";
    if (offsets[i + 1] - offsets[i] > max_len) max_len = offsets[i + 1] - offsets[i];
  }
  size_t code_page_size = oracle_round_up(max_len + ORACLE_EPILOGUE, page);
  size_t scratch_span = oracle_round_up(mem_size, page);
  /* guard | scratch | guard, the scratch flush against the upper guard */
  size_t scratch_map_size = scratch_span + 2 * page;

  void* code_map = mmap(NULL, code_page_size, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (code_map == MAP_FAILED) return "runBatch: cannot map an executable page";
  void* scratch_map = mmap(NULL, scratch_map_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (scratch_map == MAP_FAILED ||
      mprotect((uint8_t*)scratch_map + page, scratch_span, PROT_READ | PROT_WRITE) != 0) {
    munmap(code_map, code_page_size);
    if (scratch_map != MAP_FAILED) munmap(scratch_map, scratch_map_size);
    return "runBatch: cannot map scratch memory";
  }
  uint8_t* scratch = (uint8_t*)scratch_map + page + scratch_span - mem_size;
  if (!oracle_install_handlers()) {
    munmap(code_map, code_page_size);
    munmap(scratch_map, scratch_map_size);
    return "runBatch: cannot install signal handlers";
  }
  for (size_t i = 0; i < n; i++) {
    uint8_t* snippet_mem = mem + i * mem_size;
    long off = -1;
    memcpy(scratch, snippet_mem, mem_size);
    int vec = oracle_run_one((uint8_t*)code_map, code_page_size, code + offsets[i], offsets[i + 1] - offsets[i],
                             regs + i * ORACLE_REGS, scratch, &off);
    memcpy(snippet_mem, scratch, mem_size);
    faults[2 * i] = vec;
    faults[2 * i + 1] = (int32_t)off;
  }
  oracle_restore_handlers();
  munmap(code_map, code_page_size);
  munmap(scratch_map, scratch_map_size);
  return NULL;
}

static void oracle_cpuid(uint32_t leaf, uint32_t sub, uint32_t out[4]) {
  unsigned a = 0, b = 0, c = 0, d = 0;
  __cpuid_count(leaf, sub, a, b, c, d);
  out[0] = a;
  out[1] = b;
  out[2] = c;
  out[3] = d;
}

#endif /* VMRUN_ORACLE_CORE_H */
