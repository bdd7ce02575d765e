import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MemDevice } from '../../src/disk/fs/mem-device.js';
import { crc32, guidToBytes, guidToString, readPartitions } from '../../src/disk/partitions.js';
import { encodeMbr } from '../../src/disk/build/bootdisk.js';
import { hasTool, tempDir } from './helpers.js';

const HAS_SFDISK = hasTool('sfdisk');
const HAS_SGDISK = hasTool('sgdisk');
if (!HAS_SFDISK || !HAS_SGDISK) process.stderr.write('[partition tests] skipping sfdisk/sgdisk cases: apt-get install fdisk gdisk\n');

const MiB = 1 << 20;

function tool(cmd: string, args: string[], input?: string): void {
  const r = spawnSync(cmd, args, { input, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
}

function blankImage(size: number): string {
  const f = path.join(tempDir('part'), 'disk.img');
  fs.writeFileSync(f, new Uint8Array(0));
  fs.truncateSync(f, size);
  return f;
}

const load = (f: string) => new MemDevice(new Uint8Array(fs.readFileSync(f)));

describe('crc32 and GUIDs', () => {
  it('matches the IEEE check value', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
  });
  it('round-trips mixed-endian GUIDs', () => {
    const g = 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b';
    expect(guidToString(guidToBytes(g))).toBe(g);
    expect(Array.from(guidToBytes(g).subarray(0, 4))).toEqual([0x28, 0x73, 0x2a, 0xc1]);
  });
});

describe('MBR', () => {
  it('reads primaries and the active flag', () => {
    const d = new MemDevice(new Uint8Array(8 * MiB));
    d.write(encodeMbr([
      { start: 2048, size: 4096, type: 0x83, bootable: false },
      { start: 6144, size: 8192, type: 0x0c, bootable: true },
    ]), 0);
    const t = readPartitions(d);
    expect(t.scheme).toBe('mbr');
    expect(t.partitions.map((p) => [p.index, p.start / 512, p.size / 512, p.type, p.bootable])).toEqual([
      [1, 2048, 4096, '0x83', false],
      [2, 6144, 8192, '0x0c', true],
    ]);
    expect(t.partitions[1]!.typeName).toBe('W95 FAT32 (LBA)');
  });

  it('treats a disk without a signature, or with four empty slots, as unpartitioned', () => {
    const d = new MemDevice(new Uint8Array(MiB));
    expect(readPartitions(d).scheme).toBe('none');
    d.bytes[510] = 0x55;
    d.bytes[511] = 0xaa;
    expect(readPartitions(d)).toEqual({ scheme: 'none', partitions: [], warnings: [] });
  });

  it('does not mistake a FAT boot sector for a partition table', () => {
    const d = new MemDevice(new Uint8Array(MiB));
    d.bytes.set([0xeb, 0x3c, 0x90], 0);
    for (let i = 446; i < 510; i++) d.bytes[i] = (i * 37) & 0xff; // boot code where entries would be
    d.bytes[510] = 0x55;
    d.bytes[511] = 0xaa;
    expect(readPartitions(d).scheme).toBe('none');
  });

  it('clips partitions past the end and drops ones starting outside, with warnings', () => {
    const d = new MemDevice(new Uint8Array(MiB));
    d.write(encodeMbr([
      { start: 100, size: 100000, type: 0x83, bootable: false },
      { start: 5000, size: 10, type: 0x83, bootable: false },
    ]), 0);
    const t = readPartitions(d);
    expect(t.partitions).toHaveLength(1);
    expect(t.partitions[0]!.size).toBe(MiB - 100 * 512);
    expect(t.warnings.join('\n')).toMatch(/truncated[\s\S]*outside/);
  });

  it('survives an EBR chain that loops', () => {
    const d = new MemDevice(new Uint8Array(4 * MiB));
    d.write(encodeMbr([{ start: 2048, size: 4096, type: 0x05, bootable: false }]), 0);
    // EBR at 2048: logical at +63, next EBR at extended+0 (itself).
    const ebr = encodeMbr([
      { start: 63, size: 100, type: 0x83, bootable: false },
      { start: 0, size: 200, type: 0x05, bootable: false },
    ]);
    d.write(ebr, 2048 * 512);
    const t = readPartitions(d);
    expect(t.partitions.map((p) => p.index)).toEqual([5]);
    expect(t.warnings.join()).toMatch(/loops/);
  });

  it.skipIf(!HAS_SFDISK)('reads sfdisk extended and logical partitions', () => {
    const f = blankImage(64 * MiB);
    tool('sfdisk', ['-q', f], 'label: dos\nstart=2048, size=8192, type=83\nstart=10240, size=8192, type=c, bootable\nstart=20480, type=5\nstart=22528, size=4096, type=83\nstart=28672, size=4096, type=82\nstart=34816, size=2048, type=83\n');
    const json = JSON.parse(spawnSync('sfdisk', ['--json', f], { encoding: 'utf8' }).stdout).partitiontable.partitions as Array<{ node: string; start: number; size: number; type: string; bootable?: boolean }>;
    const t = readPartitions(load(f));
    expect(t.scheme).toBe('mbr');
    expect(t.warnings).toEqual([]);
    const expected = json.filter((p) => p.type !== '5').map((p) => [Number(/(\d+)$/.exec(p.node)![1]), p.start * 512, p.size * 512, p.bootable === true]);
    expect(t.partitions.map((p) => [p.index, p.start, p.size, p.bootable])).toEqual(expected);
    expect(t.partitions.map((p) => p.type)).toEqual(['0x83', '0x0c', '0x83', '0x82', '0x83']);
  });
});

describe.skipIf(!HAS_SGDISK)('GPT', () => {
  let cached: string | null = null;
  function gptDisk(): string {
    if (cached) return cached;
    const f = (cached = blankImage(32 * MiB));
    tool('sgdisk', ['-n', '1:2048:+1M', '-t', '1:ef02', '-c', '1:bios', '-n', '2:0:+8M', '-t', '2:8300', '-c', '2:boot part', '-A', '2:set:2', '-n', '3:0:0', '-t', '3:8304', '-c', '3:root', f]);
    return f;
  }
  const expected = (f: string) => {
    const out = spawnSync('sgdisk', ['-p', f], { encoding: 'utf8' }).stdout;
    return out.split('\n').filter((l) => /^\s+\d+\s+\d+/.test(l)).map((l) => l.trim().split(/\s+/)).map((w) => [Number(w[0]), Number(w[1]) * 512, (Number(w[2]) - Number(w[1]) + 1) * 512]);
  };

  it('reads entries, type GUIDs, names and the legacy-bootable attribute', () => {
    const f = gptDisk();
    const t = readPartitions(load(f));
    expect(t.scheme).toBe('gpt');
    expect(t.warnings).toEqual([]);
    expect(t.partitions.map((p) => [p.index, p.start, p.size])).toEqual(expected(f));
    expect(t.partitions.map((p) => [p.name, p.typeName, p.bootable])).toEqual([
      ['bios', 'BIOS boot', false],
      ['boot part', 'Linux filesystem', true],
      ['root', 'Linux root (x86-64)', false],
    ]);
  });

  it('falls back to the backup header when the primary header or its entries are corrupt', () => {
    const f = gptDisk();
    const good = readPartitions(load(f)).partitions;
    const d = load(f);
    d.bytes[512 + 16] ^= 0xff;
    let t = readPartitions(d);
    expect(t.scheme).toBe('gpt');
    expect(t.partitions).toEqual(good);
    expect(t.warnings.join()).toMatch(/primary GPT header: header CRC mismatch.*using the backup GPT/);
    const d2 = load(f);
    d2.bytes[1024 + 40] ^= 0x01; // first entry's first LBA: the entry array CRC no longer matches
    t = readPartitions(d2);
    expect(t.partitions).toEqual(good);
    expect(t.warnings.join()).toMatch(/primary GPT entries: CRC mismatch/);
  });

  it('reports both headers bad and falls back to the protective MBR entries', () => {
    const d = load(gptDisk());
    d.bytes[512 + 16] ^= 0xff;
    d.bytes[d.size - 512 + 16] ^= 0xff;
    const t = readPartitions(d);
    expect(t.scheme).toBe('mbr');
    expect(t.partitions).toEqual([]);
    expect(t.warnings.join()).toMatch(/backup GPT header: header CRC mismatch.*no valid GPT/);
  });
});
