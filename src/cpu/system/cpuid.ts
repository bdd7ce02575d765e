// CPUID: advertise exactly what is implemented. Other modules flip FEATURES when they land.
import type { Cpu } from '../cpu.js';

export const FEATURES = {
  /** x87 FPU (FPU bit), FXSAVE/FXRSTOR, SSE, SSE2 (sem/sse.ts, sem/x87.ts). */
  fpu: true,
  fxsr: true,
  sse: true,
  sse2: true,
  sse3: true,
  ssse3: true,
  sse41: true,
  sse42: true,
  xsave: true,
  vmx: false,
  /** Local APIC present (platform wires it): APIC bit, x2APIC, TSC-deadline. */
  apic: false,
  x2apic: false,
  tscDeadline: false,
};

function str4(s: string, i: number): number {
  return (s.charCodeAt(i) | (s.charCodeAt(i + 1) << 8) | (s.charCodeAt(i + 2) << 16) | (s.charCodeAt(i + 3) << 24)) >>> 0;
}

const VENDOR = 'GenuineIntel';
const BRAND = 'vmrun x86-64 CPU @ 1.00GHz'.padEnd(48, '\0');
const MAX_BASIC = 0x16;
const MAX_EXT = 0x80000008;

export function cpuid(cpu: Cpu, leaf: number, sub: number): [number, number, number, number] {
  const F = FEATURES;
  if (leaf >= 0x80000000 ? leaf > MAX_EXT : leaf > MAX_BASIC) leaf = MAX_BASIC; // Intel: out-of-range → highest basic leaf
  switch (leaf) {
    case 0: return [MAX_BASIC, str4(VENDOR, 0), str4(VENDOR, 8), str4(VENDOR, 4)];
    case 1: {
      const eax = 0x000206a1; // family 6, model 0x2a, stepping 1
      const ebx = (0 << 24) | (1 << 16) | (8 << 8); // APIC ID 0, 1 logical CPU, CLFLUSH 64 bytes
      let ecx = (1 << 13) /*CX16*/ | (1 << 17) /*PCID*/ | (1 << 22) /*MOVBE*/ | (1 << 23) /*POPCNT*/;
      if (F.sse3) ecx |= 1;
      if (F.ssse3) ecx |= 1 << 9;
      if (F.sse41) ecx |= 1 << 19;
      if (F.sse42) ecx |= 1 << 20;
      if (F.x2apic) ecx |= 1 << 21;
      if (F.tscDeadline) ecx |= 1 << 24;
      if (F.xsave) ecx |= 1 << 26;
      if (F.xsave && (cpu.st.cr4 & (1 << 18))) ecx |= 1 << 27; // OSXSAVE mirrors CR4
      if (F.vmx) ecx |= 1 << 5;
      let edx = (1 << 2) /*DE*/ | (1 << 3) /*PSE*/ | (1 << 4) /*TSC*/ | (1 << 5) /*MSR*/ | (1 << 6) /*PAE*/ | (1 << 8) /*CX8*/ |
        (1 << 11) /*SEP*/ | (1 << 12) /*MTRR*/ | (1 << 13) /*PGE*/ | (1 << 15) /*CMOV*/ | (1 << 16) /*PAT*/ | (1 << 17) /*PSE36*/ | (1 << 19) /*CLFSH*/;
      if (F.fpu) edx |= 1;
      if (F.apic) edx |= 1 << 9;
      if (F.fxsr) edx |= 1 << 24;
      if (F.sse) edx |= 1 << 25;
      if (F.sse2) edx |= 1 << 26;
      return [eax, ebx, ecx >>> 0, edx >>> 0];
    }
    case 7:
      if (sub !== 0) return [0, 0, 0, 0];
      // SMEP, ERMS, INVPCID, ADX, SMAP; ECX: UMIP; EDX: SERIALIZE, IA32_ARCH_CAPABILITIES (msr.ts).
      // SERIALIZE lets Linux's sync_core() skip its IRET-to-self (a far return through the stack).
      return [0, (1 << 7) | (1 << 9) | (1 << 10) | (1 << 19) | (1 << 20), 1 << 2, (1 << 14) | (1 << 29)];
    case 0xd: {
      // XSAVE: x87 and SSE state only (legacy region + header = 576 bytes); XSAVEOPT supported
      if (!F.xsave) return [0, 0, 0, 0];
      if (sub === 0) return [3, 576, 576, 0];
      if (sub === 1) return [1, 0, 0, 0];
      return [0, 0, 0, 0];
    }
    case 0x15: return [1, 1, 1_000_000_000, 0]; // TSC = crystal (1 GHz) * 1/1
    case 0x16: return [1000, 1000, 100, 0];
    case 0x80000000: return [MAX_EXT, 0, 0, 0];
    case 0x80000001: return [0, 0, (1 << 0) /*LAHF*/ | (1 << 5) /*LZCNT*/, (1 << 11) /*SYSCALL*/ | (1 << 20) /*NX*/ | (1 << 26) /*1G pages*/ | (1 << 27) /*RDTSCP*/ | (1 << 29) /*LM*/];
    case 0x80000002: case 0x80000003: case 0x80000004: {
      const o = (leaf - 0x80000002) * 16;
      return [str4(BRAND, o), str4(BRAND, o + 4), str4(BRAND, o + 8), str4(BRAND, o + 12)];
    }
    case 0x80000007: return [0, 0, 0, 1 << 8]; // invariant TSC
    case 0x80000008: return [0x3028, 0, 0, 0]; // 40-bit physical, 48-bit linear
    default: return [0, 0, 0, 0];
  }
}
