/** x86 exception vectors. */
export const enum Vec { DE = 0, DB = 1, NMI = 2, BP = 3, OF = 4, BR = 5, UD = 6, NM = 7, DF = 8, TS = 10, NP = 11, SS = 12, GP = 13, PF = 14, MF = 16, AC = 17, MC = 18, XM = 19, VE = 20, CP = 21 }

/** Vectors that push an error code. */
export const HAS_ERROR_CODE = new Set([8, 10, 11, 12, 13, 14, 17, 21]);

/**
 * A guest exception raised by a helper or the MMU. It unwinds out of the running block (through Wasm)
 * to the dispatcher, which delivers it through the IDT. RIP in the state is the faulting instruction.
 */
export class GuestFault {
  constructor(readonly vector: number, readonly errorCode: number = -1) {}
}

export const fault = (vector: number, errorCode = -1): GuestFault => new GuestFault(vector, HAS_ERROR_CODE.has(vector) ? (errorCode < 0 ? 0 : errorCode) : -1);
