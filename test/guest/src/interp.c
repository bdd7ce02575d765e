/*
 * Benchmark: a switch-dispatch stack-machine interpreter running a bytecode program that counts
 * the primes below a limit by trial division and sums them, then iterates a Fibonacci loop.
 */
#include "guest.h"

const u64 bench_default_scale = 20;

enum op {
  PUSH, LOAD, STORE, ADD, SUB, MUL, MOD, LT, LE, EQ, JZ, JNZ, JMP, DUP, POP, INC, HALT,
};

typedef struct { u8 op; u8 reg; u32 arg; } insn;

static u64 run(const insn *code, u64 *reg) {
  u64 stack[64];
  int sp = 0;
  u64 steps = 0;
  for (u32 pc = 0;;) {
    const insn *i = &code[pc++];
    steps++;
    switch (i->op) {
    case PUSH: stack[sp++] = i->arg; break;
    case LOAD: stack[sp++] = reg[i->reg]; break;
    case STORE: reg[i->reg] = stack[--sp]; break;
    case ADD: sp--; stack[sp - 1] += stack[sp]; break;
    case SUB: sp--; stack[sp - 1] -= stack[sp]; break;
    case MUL: sp--; stack[sp - 1] *= stack[sp]; break;
    case MOD: sp--; stack[sp - 1] = stack[sp] ? stack[sp - 1] % stack[sp] : 0; break;
    case LT: sp--; stack[sp - 1] = stack[sp - 1] < stack[sp]; break;
    case LE: sp--; stack[sp - 1] = stack[sp - 1] <= stack[sp]; break;
    case EQ: sp--; stack[sp - 1] = stack[sp - 1] == stack[sp]; break;
    case JZ: if (!stack[--sp]) pc = i->arg; break;
    case JNZ: if (stack[--sp]) pc = i->arg; break;
    case JMP: pc = i->arg; break;
    case DUP: stack[sp] = stack[sp - 1]; sp++; break;
    case POP: sp--; break;
    case INC: reg[i->reg]++; break;
    case HALT: return steps;
    default: return 0;
    }
  }
}

/* r0 = limit, r1 = n, r2 = d, r3 = count, r4 = sum, r5 = prime flag; then r6/r7 fib, r1 counter */
static const insn program[] = {
  /*  0 */ {PUSH, 0, 2}, {STORE, 1, 0},
  /*  2 outer: while n < limit */
  {LOAD, 1, 0}, {LOAD, 0, 0}, {LT, 0, 0}, {JZ, 0, 34},
  /*  6 */ {PUSH, 0, 1}, {STORE, 5, 0}, {PUSH, 0, 2}, {STORE, 2, 0},
  /* 10 inner: while d * d <= n */
  {LOAD, 2, 0}, {DUP, 0, 0}, {MUL, 0, 0}, {LOAD, 1, 0}, {LE, 0, 0}, {JZ, 0, 25},
  /* 16 if n % d == 0: not prime, stop dividing */
  {LOAD, 1, 0}, {LOAD, 2, 0}, {MOD, 0, 0}, {JNZ, 0, 23}, {PUSH, 0, 0}, {STORE, 5, 0}, {JMP, 0, 25},
  /* 23 */ {INC, 2, 0}, {JMP, 0, 10},
  /* 25 count and sum the primes */
  {LOAD, 5, 0}, {JZ, 0, 32}, {INC, 3, 0}, {LOAD, 4, 0}, {LOAD, 1, 0}, {ADD, 0, 0}, {STORE, 4, 0},
  /* 32 */ {INC, 1, 0}, {JMP, 0, 2},
  /* 34 fib: r6, r7 = 0, 1; limit times: r6, r7 = r7, r6 + r7 */
  {PUSH, 0, 0}, {STORE, 6, 0}, {PUSH, 0, 1}, {STORE, 7, 0}, {PUSH, 0, 0}, {STORE, 1, 0},
  /* 40 */ {LOAD, 1, 0}, {LOAD, 0, 0}, {LT, 0, 0}, {JZ, 0, 52},
  /* 44 */ {LOAD, 6, 0}, {LOAD, 7, 0}, {ADD, 0, 0}, {LOAD, 7, 0}, {STORE, 6, 0}, {STORE, 7, 0},
  /* 50 */ {INC, 1, 0}, {JMP, 0, 40},
  /* 52 */ {HALT, 0, 0},
};

void bench(u64 scale) {
  u64 reg[8] = {0};
  reg[0] = scale * 1000;
  u64 steps = run(program, reg);
  print_str("interp: limit=");
  print_dec(reg[0]);
  print_str(" primes=");
  print_dec(reg[3]);
  print_str(" sum=");
  print_dec(reg[4]);
  print_str(" fib=");
  print_hex(reg[6]);
  print_str(" steps=");
  print_dec(steps);
  print_str("\n");
}
