// Differential-testing oracle: executes x86-64 snippets on the host CPU.
//
// Implements the contract in test/oracle/contract.ts. Snippets run in-process,
// in user mode, on an RWX page; the scratch memory sits between PROT_NONE guard
// pages so stray accesses fault instead of corrupting Node. Hardware exceptions
// arrive as signals, are attributed to the snippet only when RIP lies in the
// code page, and unwind with siglongjmp; any other fault is passed on to the
// handler that was installed before (V8 uses SIGSEGV for WebAssembly traps).

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <napi.h>

#include <cpuid.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#if !defined(__x86_64__)
#error "the oracle addon only makes sense on x86-64"
#endif

namespace {

constexpr int kRegs = 17;  // 16 GPRs in encoding order + RFLAGS
constexpr int kRflags = 16;
constexpr uint64_t kStatusFlags = 0x8d5;  // CF PF AF ZF SF OF
constexpr size_t kEpilogueSize = 14;     // absolute jmp to oracle_exit

}  // namespace

// The trampoline: loads the 17-entry state (RSP excepted: the snippet starts on
// the host stack, which generated code never touches) and jumps to the snippet.
// The snippet ends in an absolute jump to oracle_exit (appended by runOne), which
// switches back to the saved host stack before storing the state, so even a
// snippet that clobbers RSP returns cleanly. All scratch storage is RIP-relative
// because every GPR belongs to the snippet while it runs.
extern "C" void oracle_enter(uint64_t* state, const void* code);
extern "C" char oracle_exit[];
asm(R"(
    .text
    .p2align 4
    .globl oracle_enter
    .hidden oracle_enter
    .type oracle_enter, @function
oracle_enter:
    push %rbx
    push %rbp
    push %r12
    push %r13
    push %r14
    push %r15
    mov %rdi, oracle_state_ptr(%rip)
    mov %rsi, oracle_code_ptr(%rip)
    pushq 128(%rdi)
    popfq
    mov %rsp, oracle_host_rsp(%rip)
    mov 0(%rdi), %rax
    mov 8(%rdi), %rcx
    mov 16(%rdi), %rdx
    mov 24(%rdi), %rbx
    mov 40(%rdi), %rbp
    mov 48(%rdi), %rsi
    mov 64(%rdi), %r8
    mov 72(%rdi), %r9
    mov 80(%rdi), %r10
    mov 88(%rdi), %r11
    mov 96(%rdi), %r12
    mov 104(%rdi), %r13
    mov 112(%rdi), %r14
    mov 120(%rdi), %r15
    mov 56(%rdi), %rdi
    jmp *oracle_code_ptr(%rip)

    .globl oracle_exit
    .hidden oracle_exit
oracle_exit:
    mov oracle_host_rsp(%rip), %rsp
    pushfq
    mov %rdi, oracle_tmp(%rip)
    mov oracle_state_ptr(%rip), %rdi
    mov %rax, 0(%rdi)
    mov %rcx, 8(%rdi)
    mov %rdx, 16(%rdi)
    mov %rbx, 24(%rdi)
    mov %rbp, 40(%rdi)
    mov %rsi, 48(%rdi)
    mov %r8, 64(%rdi)
    mov %r9, 72(%rdi)
    mov %r10, 80(%rdi)
    mov %r11, 88(%rdi)
    mov %r12, 96(%rdi)
    mov %r13, 104(%rdi)
    mov %r14, 112(%rdi)
    mov %r15, 120(%rdi)
    mov oracle_tmp(%rip), %rax
    mov %rax, 56(%rdi)
    popq 128(%rdi)
    cld
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbp
    pop %rbx
    ret
    .size oracle_enter, .-oracle_enter

    .bss
    .p2align 3
oracle_state_ptr: .zero 8
oracle_code_ptr: .zero 8
oracle_host_rsp: .zero 8
oracle_tmp: .zero 8
    .text
)");

namespace {

constexpr int kSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP};
constexpr int kNumSignals = sizeof(kSignals) / sizeof(kSignals[0]);

struct FaultCtx {
  sigjmp_buf jb;
  uintptr_t codeLo = 0, codeHi = 0;  // the code page; RIP inside it means "ours"
  uintptr_t codeStart = 0;           // first byte of the current snippet
  volatile sig_atomic_t armed = 0;
  int vector = -1;
  long faultOffset = -1;
  uint64_t regs[kRegs];
  struct sigaction old[kNumSignals];
};

FaultCtx g_ctx;

int signalSlot(int sig) {
  for (int i = 0; i < kNumSignals; i++)
    if (kSignals[i] == sig) return i;
  return -1;
}

void onSignal(int sig, siginfo_t* info, void* uctxRaw) {
  auto* uc = static_cast<ucontext_t*>(uctxRaw);
  greg_t* g = uc->uc_mcontext.gregs;
  uintptr_t rip = static_cast<uintptr_t>(g[REG_RIP]);
  // Traps leave RIP after the instruction, which may be the page end.
  if (g_ctx.armed && rip >= g_ctx.codeLo && rip <= g_ctx.codeHi) {
    g_ctx.armed = 0;
    g_ctx.vector = static_cast<int>(g[REG_TRAPNO]);
    g_ctx.faultOffset = static_cast<long>(rip - g_ctx.codeStart);
    uint64_t* r = g_ctx.regs;
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
    r[kRflags] = g[REG_EFL];
    siglongjmp(g_ctx.jb, 1);
  }
  // Not ours: hand it to whoever had it before.
  int slot = signalSlot(sig);
  const struct sigaction& prev = g_ctx.old[slot];
  if (prev.sa_flags & SA_SIGINFO) {
    if (prev.sa_sigaction) {
      prev.sa_sigaction(sig, info, uctxRaw);
      return;
    }
  } else if (prev.sa_handler != SIG_DFL && prev.sa_handler != SIG_IGN) {
    prev.sa_handler(sig);
    return;
  }
  // Default disposition: reinstate it and let the instruction fault again.
  sigaction(sig, &prev, nullptr);
}

// Faults are delivered on an alternate stack: a hand-written snippet may have
// moved RSP anywhere, and the kernel cannot push a signal frame there.
constexpr size_t kAltStackSize = 256 * 1024;
void* g_altStack = nullptr;
stack_t g_oldAltStack;

bool installHandlers() {
  if (!g_altStack) {
    void* p = mmap(nullptr, kAltStackSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return false;
    g_altStack = p;
  }
  stack_t ss;
  ss.ss_sp = g_altStack;
  ss.ss_size = kAltStackSize;
  ss.ss_flags = 0;
  if (sigaltstack(&ss, &g_oldAltStack) != 0) return false;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = onSignal;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  for (int i = 0; i < kNumSignals; i++) {
    if (sigaction(kSignals[i], &sa, &g_ctx.old[i]) != 0) {
      for (int j = 0; j < i; j++) sigaction(kSignals[j], &g_ctx.old[j], nullptr);
      sigaltstack(&g_oldAltStack, nullptr);
      return false;
    }
  }
  return true;
}

void restoreHandlers() {
  for (int i = 0; i < kNumSignals; i++) sigaction(kSignals[i], &g_ctx.old[i], nullptr);
  sigaltstack(&g_oldAltStack, nullptr);
}

size_t pageSize() { return static_cast<size_t>(sysconf(_SC_PAGESIZE)); }

size_t roundUp(size_t n, size_t to) { return (n + to - 1) / to * to; }

// Runs snippet `code` with state `st` (in/out, 17 entries) and scratch at `scratch`.
// Returns the vector, or -1; *faultOffset receives RIP - code start.
int runOne(uint8_t* codePage, size_t codePageSize, const uint8_t* code, size_t len,
           uint64_t* st, uint8_t* scratch, long* faultOffset) {
  memcpy(codePage, code, len);
  // jmp qword ptr [rip+0]; dq oracle_exit
  static const uint8_t kJmp[6] = {0xff, 0x25, 0, 0, 0, 0};
  memcpy(codePage + len, kJmp, sizeof kJmp);
  uintptr_t exitAddr = reinterpret_cast<uintptr_t>(oracle_exit);
  memcpy(codePage + len + sizeof kJmp, &exitAddr, sizeof exitAddr);
  g_ctx.codeLo = reinterpret_cast<uintptr_t>(codePage);
  g_ctx.codeHi = g_ctx.codeLo + codePageSize;
  g_ctx.codeStart = g_ctx.codeLo;

  uint64_t rspIn = st[4];
  uint64_t work[kRegs];
  memcpy(work, st, sizeof work);
  work[15] = reinterpret_cast<uintptr_t>(scratch);
  // Only the status flags come from the caller; IF and bit 1 as the host needs.
  work[kRflags] = (st[kRflags] & kStatusFlags) | 0x202;

  g_ctx.vector = -1;
  g_ctx.faultOffset = -1;
  if (sigsetjmp(g_ctx.jb, 1) == 0) {
    g_ctx.armed = 1;
    oracle_enter(work, codePage);
    g_ctx.armed = 0;
    memcpy(st, work, sizeof work);
  } else {
    memcpy(st, g_ctx.regs, sizeof g_ctx.regs);
  }
  st[4] = rspIn;
  *faultOffset = g_ctx.faultOffset;
  return g_ctx.vector;
}

// runBatch(code, offsets, regs, mem, memSize, faults)
//   code:    Uint8Array, all snippets concatenated
//   offsets: Uint32Array(n + 1), snippet i is code[offsets[i], offsets[i+1])
//   regs:    BigUint64Array(17 n), in/out
//   mem:     Uint8Array(memSize n), in/out
//   faults:  Int32Array(2 n), out: (vector, faultOffset) pairs
Napi::Value RunBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 6 || !info[0].IsTypedArray() || !info[1].IsTypedArray() ||
      !info[2].IsTypedArray() || !info[3].IsTypedArray() || !info[4].IsNumber() ||
      !info[5].IsTypedArray()) {
    Napi::TypeError::New(env, "runBatch(code, offsets, regs, mem, memSize, faults)")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto code = info[0].As<Napi::Uint8Array>();
  auto offsets = info[1].As<Napi::Uint32Array>();
  auto regs = info[2].As<Napi::TypedArrayOf<uint64_t>>();
  auto mem = info[3].As<Napi::Uint8Array>();
  size_t memSize = info[4].As<Napi::Number>().Uint32Value();
  auto faults = info[5].As<Napi::Int32Array>();
  if (offsets.ElementLength() < 1) {
    Napi::RangeError::New(env, "offsets must have n + 1 entries").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  size_t n = offsets.ElementLength() - 1;
  if (regs.TypedArrayType() != napi_biguint64_array || regs.ElementLength() != n * kRegs ||
      mem.ElementLength() != n * memSize || faults.ElementLength() != 2 * n || memSize == 0 ||
      offsets[n] > code.ElementLength()) {
    Napi::RangeError::New(env, "runBatch: inconsistent array sizes").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  size_t maxLen = 0;
  for (size_t i = 0; i < n; i++) {
    if (offsets[i + 1] < offsets[i]) {
      Napi::RangeError::New(env, "runBatch: offsets must be non-decreasing")
          .ThrowAsJavaScriptException();
      return env.Undefined();
    }
    size_t len = offsets[i + 1] - offsets[i];
    if (len > maxLen) maxLen = len;
  }

  const size_t page = pageSize();
  const size_t codePageSize = roundUp(maxLen + kEpilogueSize, page);
  const size_t scratchSpan = roundUp(memSize, page);
  // guard | scratch | guard, scratch placed flush against the upper guard.
  const size_t scratchMapSize = scratchSpan + 2 * page;

  void* codeMap = mmap(nullptr, codePageSize, PROT_READ | PROT_WRITE | PROT_EXEC,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (codeMap == MAP_FAILED) {
    Napi::Error::New(env, "runBatch: cannot map an executable page").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  void* scratchMap = mmap(nullptr, scratchMapSize, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (scratchMap == MAP_FAILED ||
      mprotect(static_cast<uint8_t*>(scratchMap) + page, scratchSpan, PROT_READ | PROT_WRITE) != 0) {
    munmap(codeMap, codePageSize);
    if (scratchMap != MAP_FAILED) munmap(scratchMap, scratchMapSize);
    Napi::Error::New(env, "runBatch: cannot map scratch memory").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  uint8_t* scratch = static_cast<uint8_t*>(scratchMap) + page + scratchSpan - memSize;

  if (!installHandlers()) {
    munmap(codeMap, codePageSize);
    munmap(scratchMap, scratchMapSize);
    Napi::Error::New(env, "runBatch: sigaction failed").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  uint8_t* codeBytes = code.Data();
  uint64_t* regData = regs.Data();
  uint8_t* memData = mem.Data();
  int32_t* faultData = faults.Data();
  for (size_t i = 0; i < n; i++) {
    uint8_t* snippetMem = memData + i * memSize;
    memcpy(scratch, snippetMem, memSize);
    long off = -1;
    int vec = runOne(static_cast<uint8_t*>(codeMap), codePageSize, codeBytes + offsets[i],
                     offsets[i + 1] - offsets[i], regData + i * kRegs, scratch, &off);
    memcpy(snippetMem, scratch, memSize);
    faultData[2 * i] = vec;
    faultData[2 * i + 1] = static_cast<int32_t>(off);
  }
  restoreHandlers();
  munmap(codeMap, codePageSize);
  munmap(scratchMap, scratchMapSize);
  return env.Undefined();
}

// cpuid(leaf, subleaf) -> [eax, ebx, ecx, edx]
Napi::Value Cpuid(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t leaf = info.Length() > 0 ? info[0].As<Napi::Number>().Uint32Value() : 0;
  uint32_t sub = info.Length() > 1 ? info[1].As<Napi::Number>().Uint32Value() : 0;
  unsigned a = 0, b = 0, c = 0, d = 0;
  __cpuid_count(leaf, sub, a, b, c, d);
  auto out = Napi::Uint32Array::New(env, 4);
  out[0] = a;
  out[1] = b;
  out[2] = c;
  out[3] = d;
  return out;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("runBatch", Napi::Function::New(env, RunBatch));
  exports.Set("cpuid", Napi::Function::New(env, Cpuid));
  return exports;
}

}  // namespace

NODE_API_MODULE(oracle, Init)
