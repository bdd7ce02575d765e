import { describe, it, expect, beforeEach } from 'vitest';
import { IoBus } from '../../src/devices/iobus.js';
import { Uart16550 } from '../../src/devices/uart.js';
import { IrqRecorder } from './helpers.js';

const B = 0x3f8;

describe('16550A UART', () => {
  let bus: IoBus;
  let irq: IrqRecorder;
  let out: number[];
  let uart: Uart16550;
  beforeEach(() => {
    bus = new IoBus();
    irq = new IrqRecorder();
    out = [];
    uart = new Uart16550(B, 4, irq, (b) => out.push(b));
    bus.register(B, 8, uart);
  });

  it('transmits to the sink with THRE and TEMT always set', () => {
    expect(bus.read(B + 5, 1) & 0x60).toBe(0x60);
    for (const c of 'hi\n') bus.write(B, 1, c.charCodeAt(0));
    expect(String.fromCharCode(...out)).toBe('hi\n');
    expect(bus.read(B + 5, 1) & 0x60).toBe(0x60);
  });

  it('divisor latch shadows RBR/THR and IER under DLAB', () => {
    bus.write(B + 3, 1, 0x80);
    bus.write(B, 1, 0x01); bus.write(B + 1, 1, 0x00);
    expect(bus.read(B, 1)).toBe(0x01);
    expect(bus.read(B + 1, 1)).toBe(0x00);
    bus.write(B + 3, 1, 0x03);
    expect(out).toEqual([]);
    bus.write(B + 1, 1, 0xff);
    expect(bus.read(B + 1, 1)).toBe(0x0f);
    expect(bus.read(B + 3, 1)).toBe(0x03);
    bus.write(B + 7, 1, 0x5a);
    expect(bus.read(B + 7, 1)).toBe(0x5a);
  });

  it('reports a 16550A with FIFOs in IIR', () => {
    expect(bus.read(B + 2, 1)).toBe(0x01);
    bus.write(B + 2, 1, 0x07);
    expect(bus.read(B + 2, 1) >> 6).toBe(3);
  });

  it('THRE interrupt: raised on enable, cleared by IIR read, re-raised after a write (Linux THRE test)', () => {
    bus.write(B + 1, 1, 0x02);
    expect(irq.level(4)).toBe(true);
    expect(bus.read(B + 2, 1) & 0x0f).toBe(0x02);
    expect(irq.level(4)).toBe(false);
    expect(bus.read(B + 2, 1) & 0x0f).toBe(0x01);
    bus.write(B + 1, 1, 0x00);
    bus.write(B + 1, 1, 0x02);
    expect(bus.read(B + 2, 1) & 0x0f).toBe(0x02);
    bus.write(B, 1, 0x41);
    expect(irq.level(4)).toBe(true);
    expect(irq.count(4)).toBe(3);
  });

  it('receives into the FIFO with data-ready, trigger level and timeout interrupts', () => {
    bus.write(B + 2, 1, 0x81); // FIFO on, trigger 8
    bus.write(B + 1, 1, 0x01);
    uart.pushInput([1, 2, 3]);
    expect(bus.read(B + 5, 1) & 1).toBe(1);
    expect(irq.level(4)).toBe(true);
    expect(bus.read(B + 2, 1)).toBe(0xcc); // character timeout below the trigger level
    uart.pushInput([4, 5, 6, 7, 8, 9]);
    expect(bus.read(B + 2, 1)).toBe(0xc4);
    const got: number[] = [];
    while (bus.read(B + 5, 1) & 1) got.push(bus.read(B, 1));
    expect(got).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(irq.level(4)).toBe(false);
  });

  it('holds input beyond 16 bytes in the host queue instead of overrunning', () => {
    bus.write(B + 2, 1, 0x01);
    const data = Array.from({ length: 40 }, (_, i) => i);
    uart.pushInput(data);
    expect(uart.pendingInput).toBe(40);
    const got: number[] = [];
    while (bus.read(B + 5, 1) & 1) got.push(bus.read(B, 1));
    expect(got).toEqual(data);
    expect(bus.read(B + 5, 1) & 0x02).toBe(0);
  });

  it('without FIFOs only one byte is buffered', () => {
    uart.pushInput([7, 8]);
    expect(bus.read(B, 1)).toBe(7);
    expect(bus.read(B, 1)).toBe(8);
    expect(bus.read(B + 5, 1) & 1).toBe(0);
  });

  it('loopback returns transmitted bytes and mirrors modem lines (Linux autoconfig check)', () => {
    bus.write(B + 4, 1, 0x10 | 0x0a); // LOOP | RTS | OUT2
    expect(bus.read(B + 6, 1) & 0xf0).toBe(0x90);
    bus.write(B, 1, 0x55);
    expect(out).toEqual([]);
    expect(bus.read(B, 1)).toBe(0x55);
    bus.write(B, 1, 1); bus.write(B, 1, 2); // FIFO disabled: second byte overruns
    expect(bus.read(B + 5, 1) & 0x02).toBe(0x02);
    expect(bus.read(B + 5, 1) & 0x02).toBe(0);
  });

  it('modem status interrupt on loopback line changes', () => {
    bus.write(B + 6, 1, 0); bus.read(B + 6, 1);
    bus.write(B + 1, 1, 0x08);
    bus.write(B + 4, 1, 0x10);
    expect(irq.level(4)).toBe(true);
    expect(bus.read(B + 2, 1) & 0x0f).toBe(0x00);
    expect(bus.read(B + 6, 1) & 0x0f).not.toBe(0);
    expect(irq.level(4)).toBe(false);
  });
});
