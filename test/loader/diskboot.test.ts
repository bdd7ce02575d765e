import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/cli/errors.js';
import { buildBootDisk, encodeMbr } from '../../src/disk/build/bootdisk.js';
import { buildExt2, type FsFile } from '../../src/disk/build/ext2.js';
import { MemDevice } from '../../src/disk/fs/mem-device.js';
import { checkImage, openImage } from '../../src/disk/index.js';
import { concatInitrds, findBootEntry } from '../../src/loader/diskboot.js';
import { hasTool, Rng, tempDir } from '../disk/helpers.js';

const MiB = 1 << 20;
const rng = new Rng(5);
const KERNEL = rng.fill(new Uint8Array(1_500_000));
const INITRD = rng.fill(new Uint8Array(700_001));

const HAS_GPT_TOOLS = hasTool('sgdisk', ['--version']) && hasTool('mke2fs', ['-V']) && hasTool('mkfs.vfat', ['--help']) && hasTool('mcopy', ['--version']);
if (!HAS_GPT_TOOLS) process.stderr.write('[diskboot tests] skipping the GPT/ext4/FAT disk: apt-get install gdisk e2fsprogs dosfstools mtools\n');

/** An MBR disk in memory whose partitions are ext2 filesystems from the project's own writer. */
function mbrDisk(parts: Array<{ files: FsFile[]; bootable?: boolean; sizeMiB?: number; raw?: Uint8Array }>): MemDevice {
  const total = 1 + parts.reduce((a, p) => a + (p.sizeMiB ?? 4), 0);
  const dev = new MemDevice(new Uint8Array(total * MiB));
  let lba = 2048;
  const entries = [];
  for (const p of parts) {
    const size = (p.sizeMiB ?? 4) * 2048;
    if (p.raw) dev.bytes.set(p.raw, lba * 512);
    else {
      const img = buildExt2(p.files, size * 512, { time: 0 });
      for (const [b, d] of img.blocks) dev.bytes.set(d, lba * 512 + b * img.blockSize);
    }
    entries.push({ start: lba, size, type: 0x83, bootable: p.bootable ?? false });
    lba += size;
  }
  dev.write(encodeMbr(entries), 0);
  return dev;
}

describe('findBootEntry', () => {
  it('boots a disk from buildBootDisk (dynamic VHD) exactly as written', () => {
    const out = path.join(tempDir('diskboot'), 'boot.vhd');
    const r = buildBootDisk({ out, kernel: KERNEL, initrd: INITRD, append: 'console=ttyS0 root=/dev/sda1', rootFiles: [{ path: '/etc/hostname', data: 'vm\n' }], time: 0 });
    expect(r.partitions).toEqual([{ index: 1, start: MiB, size: r.size - MiB }]);
    expect(checkImage(out).problems).toEqual([]);
    const img = openImage(out, { readOnly: true });
    try {
      expect(img.subformat).toBe('dynamic');
      const e = findBootEntry(img.device, { name: 'boot.vhd' });
      expect(Buffer.compare(e.kernel, KERNEL)).toBe(0);
      expect(Buffer.compare(e.initrd!, INITRD)).toBe(0);
      expect(e).toMatchObject({ append: 'console=ttyS0 root=/dev/sda1', configPath: '/boot/extlinux/extlinux.conf', fsType: 'ext2', warnings: [] });
      expect(e.partition).toMatchObject({ index: 1, bootable: true, type: '0x83' });
    } finally {
      img.device.close();
    }
    // The sparse image holds little more than the payload.
    expect(fs.statSync(out).size).toBeLessThan(KERNEL.length + INITRD.length + 8 * MiB);
    expect(() => buildBootDisk({ out, kernel: KERNEL, append: '' })).toThrow(/already exists/);
  });

  it('boots a separate /boot partition and leaves the root to partition 2', () => {
    const out = path.join(tempDir('diskboot'), 'split.vhd');
    buildBootDisk({ out, kernel: KERNEL, append: 'root=/dev/sda2', separateBoot: true, rootFiles: [{ path: '/sbin/init', data: '#!/bin/sh\n', mode: 0o755 }], sizeMiB: 80 });
    const img = openImage(out, { readOnly: true });
    try {
      const e = findBootEntry(img.device);
      expect(e.configPath).toBe('/extlinux/extlinux.conf');
      expect(e.partition?.index).toBe(1);
      expect(e.initrd).toBeUndefined();
      expect(e.append).toBe('root=/dev/sda2');
      expect(Buffer.compare(e.kernel, KERNEL)).toBe(0);
    } finally {
      img.device.close();
    }
  });

  it('tries the bootable partition first, then the rest in order', () => {
    const grubOnly = { files: [{ path: '/boot/grub/grub.cfg', data: 'menuentry a { linux /boot/k1 one }' }, { path: '/boot/k1', data: 'K1' }] };
    const ext = { files: [{ path: '/extlinux.conf', data: 'LABEL x\nKERNEL /k2\nAPPEND two\n' }, { path: '/k2', data: 'K2' }] };
    expect(findBootEntry(mbrDisk([grubOnly, { ...ext, bootable: true }])).append).toBe('two');
    expect(findBootEntry(mbrDisk([grubOnly, ext])).append).toBe('one');
    // An empty partition first is skipped with a note.
    const e = findBootEntry(mbrDisk([{ files: [], raw: new Uint8Array(0) }, ext]));
    expect(e.partition?.index).toBe(2);
    expect(e.warnings).toEqual(['partition 1: no ext2/3/4 or FAT filesystem']);
  });

  it('concatenates several initrds on 4-byte boundaries and finds /boot paths from a /boot menu', () => {
    const dev = mbrDisk([{ files: [
      { path: '/boot/grub/grub.cfg', data: "set default='0'\nmenuentry 'Deb' {\n linux /vmlinuz-6 ro\n initrd /ucode.img /initrd.img-6\n}\n" },
      { path: '/boot/vmlinuz-6', data: 'KERNEL' },
      { path: '/boot/ucode.img', data: 'abcde' },
      { path: '/boot/initrd.img-6', data: 'XYZ' },
    ] }]);
    const e = findBootEntry(dev);
    expect(new TextDecoder().decode(e.kernel)).toBe('KERNEL');
    expect(Array.from(e.initrd!)).toEqual([...new TextEncoder().encode('abcde'), 0, 0, 0, ...new TextEncoder().encode('XYZ')]);
    expect(e.config).toMatchObject({ format: 'grub', label: 'Deb' });
    expect(concatInitrds([new Uint8Array([1])])).toEqual(new Uint8Array([1]));
  });

  it('reads a whole-disk filesystem without a partition table', () => {
    const img = buildExt2([{ path: '/syslinux.cfg', data: 'DEFAULT /kernel quiet\n' }, { path: '/kernel', data: 'K' }], 4 * MiB, { blockSize: 1024 });
    const dev = new MemDevice(new Uint8Array(4 * MiB));
    for (const [b, d] of img.blocks) dev.bytes.set(d, b * 1024);
    const e = findBootEntry(dev);
    expect(e.partition).toBeNull();
    expect(e.append).toBe('quiet');
  });

  it('explains what it looked at when nothing boots', () => {
    const fail = (dev: MemDevice) => {
      try {
        findBootEntry(dev, { name: 'disk.vhd' });
      } catch (e) {
        expect(e).toBeInstanceOf(UsageError);
        return (e as Error).message;
      }
      throw new Error('booted');
    };
    expect(fail(new MemDevice(new Uint8Array(MiB)))).toMatch(/^disk\.vhd: no partition with a boot configuration \(looked for \/boot\/extlinux\/extlinux\.conf, .*\/boot\/grub2\/grub\.cfg.*\) \[whole disk: no ext2\/3\/4 or FAT filesystem\]$/);
    expect(fail(mbrDisk([{ files: [{ path: '/etc/fstab', data: '' }] }]))).toMatch(/\[partition 1 \(ext2\): no boot configuration\]/);
    const missing = mbrDisk([{ files: [{ path: '/boot/extlinux/extlinux.conf', data: 'LABEL l\nKERNEL /boot/vmlinuz\nINITRD /boot/initrd.img\n' }, { path: '/boot/vmlinuz', data: 'k' }] }]);
    expect(fail(missing)).toBe('disk.vhd: partition 1 (ext2) /boot/extlinux/extlinux.conf: initrd /boot/initrd.img: no such file or directory');
    const com32 = mbrDisk([{ files: [{ path: '/syslinux.cfg', data: 'DEFAULT c\nLABEL c\nCOM32 chain.c32\n' }] }]);
    expect(fail(com32)).toMatch(/^disk\.vhd: partition 1 \(ext2\) \/syslinux\.cfg: default entry 'c' is COM32 chain\.c32/);
    const feature = mbrDisk([{ files: [{ path: '/syslinux.cfg', data: 'x' }] }]);
    feature.bytes[MiB + 1024 + 96] |= 1;
    expect(fail(feature)).toMatch(/\[partition 1: ext filesystem uses incompatible features vmrun cannot read: compression\]/);
  });

  it.skipIf(!HAS_GPT_TOOLS)('boots ext4 /boot/grub/grub.cfg on a GPT disk past an EFI FAT partition', () => {
    const dir = tempDir('diskboot-gpt');
    const src = path.join(dir, 'root');
    fs.mkdirSync(path.join(src, 'boot', 'grub'), { recursive: true });
    fs.writeFileSync(path.join(src, 'boot', 'vmlinuz-6.1'), KERNEL);
    fs.writeFileSync(path.join(src, 'boot', 'initrd.img-6.1'), INITRD);
    fs.writeFileSync(path.join(src, 'boot', 'grub', 'grub.cfg'), "menuentry 'Linux' {\n\tlinux /boot/vmlinuz-6.1 root=PARTLABEL=root\n\tinitrd /boot/initrd.img-6.1\n}\n");
    const disk = path.join(dir, 'disk.img');
    fs.writeFileSync(disk, new Uint8Array(0));
    fs.truncateSync(disk, 48 * MiB);
    const run = (cmd: string, args: string[]) => {
      const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } });
      if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr}`);
    };
    run('sgdisk', ['-n', '1:2048:+8M', '-t', '1:ef00', '-c', '1:esp', '-n', '2:0:0', '-t', '2:8304', '-c', '2:root', disk]);
    const esp = path.join(dir, 'esp.img');
    run('mkfs.vfat', ['-C', esp, String(8 * 1024)]);
    run('mmd', ['-i', esp, '::/EFI']);
    const rootImg = path.join(dir, 'root.img');
    const rootSize = 48 * MiB - (2048 + 8 * 2048) * 512 - 34 * 512;
    run('mke2fs', ['-q', '-F', '-t', 'ext4', '-d', src, rootImg, `${Math.floor(rootSize / 1024)}k`]);
    const bytes = new Uint8Array(fs.readFileSync(disk));
    bytes.set(fs.readFileSync(esp), 2048 * 512);
    bytes.set(fs.readFileSync(rootImg), (2048 + 8 * 2048) * 512);
    const e = findBootEntry(new MemDevice(bytes));
    expect(e.partition).toMatchObject({ index: 2, name: 'root', typeName: 'Linux root (x86-64)' });
    expect(e.fsType).toBe('ext4');
    expect(e.append).toBe('root=PARTLABEL=root');
    expect(Buffer.compare(e.kernel, KERNEL)).toBe(0);
    expect(Buffer.compare(e.initrd!, INITRD)).toBe(0);
    expect(e.warnings).toEqual(['partition 1 (fat12): no boot configuration']);
  });
});
