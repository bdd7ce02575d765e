/**
 * `npm run images`: builds the guest images the Linux boot tests use from Debian's packages.
 *
 *   .cache/images/vmlinuz            Debian's bzImage (linux-image-6.1.*-amd64)
 *   .cache/images/vmlinux            the same kernel uncompressed, for PVH boot
 *   .cache/images/initramfs.cpio.gz  busybox-static, /init, the virtio modules
 *   .cache/images/modules/           lib/modules/<version>/kernel/drivers/{virtio,block}
 *
 * Outputs already present for the same package versions are reused. Where apt-get or
 * dpkg-deb is missing the script says so and exits 0, so it can run anywhere.
 * VMRUN_IMAGES overrides the output directory.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, cpSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { parseSetupHeader } from '../../src/loader/linux.js';
import { S_IFCHR, S_IFDIR, S_IFLNK, S_IFREG, writeCpio, type CpioEntry } from './cpio.js';
import { buildBootDisk } from '../../src/disk/build/index.js';

const log = (s: string) => process.stdout.write(`images: ${s}\n`);

class Skip extends Error {}

function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function run(cmd: string, args: string[], opts: { cwd?: string; quiet?: boolean } = {}): string {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (status ${r.status}): ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' / ')}`);
  return r.stdout;
}

/** The versioned image package linux-image-amd64 currently points at (e.g. linux-image-6.1.0-41-amd64). */
function kernelPackage(): string | null {
  const r = spawnSync('apt-cache', ['depends', 'linux-image-amd64'], { encoding: 'utf8' });
  if (r.status !== 0) return null;
  const m = /^\s*\|?Depends:\s*(linux-image-6\.1[^\s:]*-amd64)\b/m.exec(r.stdout);
  return m ? m[1] : null;
}

function resolveKernelPackage(): string {
  let pkg = kernelPackage();
  if (!pkg) {
    log('package lists do not know linux-image-amd64: running apt-get update');
    run('apt-get', ['update', '-q']);
    pkg = kernelPackage();
  }
  if (!pkg) throw new Error('apt-cache depends linux-image-amd64 names no linux-image-6.1*-amd64 package');
  return pkg;
}

function candidateVersion(pkg: string): string {
  const out = run('apt-cache', ['policy', pkg]);
  const m = /Candidate:\s*(\S+)/.exec(out);
  if (!m || m[1] === '(none)') throw new Error(`no installable version of ${pkg}`);
  return m[1];
}

/** Downloads `pkg` unless a .deb of its candidate version is already cached; returns the .deb path. */
function download(debs: string, pkg: string): string {
  const version = candidateVersion(pkg);
  // apt-get download keeps the epoch, URL-encoded ("1%3a1.35.0-4").
  const find = () => readdirSync(debs).find((f) => f.startsWith(`${pkg}_${version.replace(/:/g, '%3a')}_`) && f.endsWith('.deb'));
  let deb = find();
  if (deb) { log(`cached ${deb}`); return join(debs, deb); }
  log(`apt-get download ${pkg} (${version})`);
  run('apt-get', ['download', '-q', pkg], { cwd: debs });
  deb = find();
  if (!deb) throw new Error(`apt-get download ${pkg} left no ${pkg}_${version}_*.deb in ${debs}`);
  return join(debs, deb);
}

const XZ_MAGIC = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];
const GZIP_MAGIC = [0x1f, 0x8b];
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];
const startsWith = (b: Uint8Array, m: number[]) => m.every((v, i) => b[i] === v);

/**
 * The uncompressed vmlinux inside a bzImage: the setup header's payload_offset/length locate
 * the compressed kernel (relative to the protected-mode code), whose own magic says which
 * decompressor to use. The build appends the uncompressed size after the stream, which the
 * decompressors must be told to ignore (xz --single-stream).
 */
function extractVmlinux(bz: Uint8Array, out: string): void {
  const h = parseSetupHeader(bz);
  const start = h.kernelOffset + h.payloadOffset;
  if (!h.payloadLength || start + h.payloadLength > bz.length) throw new Error('bzImage has no payload_offset/payload_length (boot protocol 2.08+ needed)');
  const payload = bz.subarray(start, start + h.payloadLength);
  let elf: Uint8Array;
  if (startsWith(payload, XZ_MAGIC) || startsWith(payload, ZSTD_MAGIC)) {
    const [tool, args] = startsWith(payload, XZ_MAGIC) ? ['xz', ['-dc', '--single-stream']] : ['zstd', ['-dcq']];
    if (!have(tool)) throw new Error(`the kernel payload is ${tool}-compressed and ${tool} is not installed`);
    const fd = openSync(out, 'w');
    try {
      const r = spawnSync(tool, args as string[], { input: payload, stdio: ['pipe', fd, 'pipe'] });
      if (r.status !== 0) throw new Error(`${tool} failed on the kernel payload: ${r.stderr?.toString().trim()}`);
    } finally {
      closeSync(fd);
    }
    elf = readFileSync(out).subarray(0, 4);
  } else if (startsWith(payload, GZIP_MAGIC)) {
    const data = gunzipSync(payload);
    writeFileSync(out, data);
    elf = data;
  } else {
    const magic = Array.from(payload.subarray(0, 6), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new Error(`unsupported kernel payload compression (magic ${magic})`);
  }
  if (!(elf[0] === 0x7f && elf[1] === 0x45 && elf[2] === 0x4c && elf[3] === 0x46)) throw new Error('the decompressed kernel payload is not an ELF file');
}

/** Copies kernel modules needed later for virtio disks, uncompressing .ko.xz so busybox insmod can load them. */
function copyModules(from: string, to: string): string[] {
  const copied: string[] = [];
  const walk = (dir: string) => {
    for (const f of readdirSync(dir)) {
      const p = join(dir, f);
      if (statSync(p).isDirectory()) { walk(p); continue; }
      const dest = join(to, relative(from, p));
      mkdirSync(resolve(dest, '..'), { recursive: true });
      if (f.endsWith('.ko.xz')) {
        writeFileSync(dest.slice(0, -3), spawnSync('xz', ['-dc', p], { maxBuffer: 256 << 20 }).stdout);
        copied.push(dest.slice(0, -3));
      } else if (f.endsWith('.ko')) {
        cpSync(p, dest);
        copied.push(dest);
      }
    }
  };
  if (existsSync(from)) walk(from);
  return copied;
}

/** Modules for mounting the test disk, in load order (there is no modprobe/depmod in the initramfs). */
const FS_MODULES = ['lib/crc16.ko', 'fs/mbcache.ko', 'fs/jbd2/jbd2.ko', 'crypto/crc32c_generic.ko', 'lib/libcrc32c.ko', 'fs/ext4/ext4.ko'];

const INIT_SCRIPT = `#!/bin/busybox sh
# vmrun's test initramfs: bring up the pseudo file systems and give the console a shell.
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "vmrun-init: reached /init"
echo "vmrun-init: kernel $(uname -r), modules in /lib/modules"
# vmrun.test=1 on the command line: the conformance checks, then power off through ACPI S5.
if grep -q 'vmrun.test=1' /proc/cmdline; then
  for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk crc16 mbcache jbd2 crc32c_generic libcrc32c ext4; do
    f=$(find /lib/modules -name "$m.ko" | head -n 1)
    [ -n "$f" ] && insmod "$f"
  done
  echo "vmrun-test: uname: $(uname -a)"
  mkdir -p /mnt
  i=0
  while [ ! -b /dev/vda1 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
  if mount -t ext2 /dev/vda1 /mnt || mount -t ext4 /dev/vda1 /mnt; then
    echo "written by vmrun's conformance test" > /mnt/vmrun-test.txt
    sync
    umount /mnt
    mount -o ro /dev/vda1 /mnt
    echo "vmrun-test: read back: $(cat /mnt/vmrun-test.txt)"
    umount /mnt
    # the disk's root filesystem (partition 2), when the disk has one
    if mount -o ro -t ext2 /dev/vda2 /mnt 2>/dev/null || mount -o ro -t ext4 /dev/vda2 /mnt 2>/dev/null; then
      echo "vmrun-test: root partition: $(cat /mnt/etc/vmrun-root)"
      umount /mnt
    fi
  else
    echo "vmrun-test: no virtio disk to mount"
  fi
  echo "vmrun-test: done"
  poweroff -f
fi
if command -v setsid >/dev/null && command -v cttyhack >/dev/null; then
  exec setsid cttyhack sh
fi
exec sh
`;

/** The initramfs: busybox, /init, the mount points, a console node (the kernel opens it before /init), modules. */
function buildInitramfs(busybox: Uint8Array, modulesRoot: string): Uint8Array {
  const dir = (name: string): CpioEntry => ({ name, mode: S_IFDIR | 0o755 });
  const entries: CpioEntry[] = [
    dir('bin'), dir('sbin'), dir('usr'), dir('usr/bin'), dir('usr/sbin'), dir('dev'), dir('proc'), dir('sys'),
    dir('tmp'), dir('root'), dir('etc'), dir('lib'), dir('lib/modules'),
    { name: 'dev/console', mode: S_IFCHR | 0o600, rdev: { major: 5, minor: 1 } },
    { name: 'dev/null', mode: S_IFCHR | 0o666, rdev: { major: 1, minor: 3 } },
    { name: 'bin/busybox', mode: S_IFREG | 0o755, data: busybox },
    { name: 'bin/sh', mode: S_IFLNK | 0o777, data: 'busybox' },
    { name: 'init', mode: S_IFREG | 0o755, data: INIT_SCRIPT },
  ];
  const seen = new Set(entries.map((e) => e.name));
  const walk = (abs: string, rel: string) => {
    for (const f of readdirSync(abs).sort()) {
      const p = join(abs, f), r = `${rel}/${f}`;
      if (statSync(p).isDirectory()) {
        if (!seen.has(r)) { entries.push(dir(r)); seen.add(r); }
        walk(p, r);
      } else {
        entries.push({ name: r, mode: S_IFREG | 0o644, data: readFileSync(p) });
      }
    }
  };
  if (existsSync(modulesRoot)) walk(modulesRoot, 'lib/modules');
  return gzipSync(writeCpio(entries), { level: 9 });
}

function main(): void {
  const out = resolve(process.env.VMRUN_IMAGES ?? '.cache/images');
  for (const tool of ['apt-get', 'apt-cache', 'dpkg-deb']) {
    if (!have(tool)) throw new Skip(`skipped: ${tool === 'dpkg-deb' ? 'dpkg-deb' : 'apt-get'} not available`);
  }
  const debs = join(out, 'debs');
  mkdirSync(debs, { recursive: true });
  const kpkg = resolveKernelPackage();
  // the recipe's version goes into the stamp: a changed recipe rebuilds cached images
  const stamp = `recipe 2\n${kpkg} ${candidateVersion(kpkg)}\nbusybox-static ${candidateVersion('busybox-static')}\n`;
  const stampFile = join(out, 'versions.txt');
  const outputs = ['vmlinuz', 'vmlinux', 'initramfs.cpio.gz', 'debian.vhd'].map((f) => join(out, f));
  if (outputs.every(existsSync) && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) {
    log(`up to date in ${out} (${stamp.trim().replace(/\n/g, ', ')})`);
    return;
  }
  const kdeb = download(debs, kpkg);
  const bdeb = download(debs, 'busybox-static');

  // The kernel package unpacks to ~400 MB of modules; keep only what the images need.
  const tmp = join(out, 'extract');
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    log(`dpkg-deb -x ${relative(out, kdeb)}`);
    run('dpkg-deb', ['-x', kdeb, join(tmp, 'kernel')]);
    const boot = join(tmp, 'kernel', 'boot');
    const vmlinuz = readdirSync(boot).find((f) => f.startsWith('vmlinuz-'));
    if (!vmlinuz) throw new Error(`${kpkg} contains no /boot/vmlinuz-*`);
    const kver = vmlinuz.slice('vmlinuz-'.length);
    cpSync(join(boot, vmlinuz), outputs[0]);
    log(`vmlinuz <- /boot/${vmlinuz}`);
    const bz = readFileSync(outputs[0]);
    extractVmlinux(bz, outputs[1]);
    log(`vmlinux <- payload of the bzImage (${statSync(outputs[1]).size} bytes)`);

    const modsOut = join(out, 'modules');
    rmSync(modsOut, { recursive: true, force: true });
    const modsIn = join(tmp, 'kernel', 'lib', 'modules', kver, 'kernel', 'drivers');
    const kos = ['virtio', 'block'].flatMap((d) => copyModules(join(modsIn, d), join(modsOut, kver, 'kernel', 'drivers', d)));
    // ext4 (which also mounts ext2) and what it needs are modules in Debian's kernel
    const kernelDir = join(tmp, 'kernel', 'lib', 'modules', kver, 'kernel');
    for (const rel of FS_MODULES) {
      const src = join(kernelDir, rel);
      if (!existsSync(src)) continue;
      const dest = join(modsOut, kver, 'kernel', rel);
      mkdirSync(resolve(dest, '..'), { recursive: true });
      cpSync(src, dest);
      kos.push(dest);
    }
    log(`modules: ${kos.length} from drivers/{virtio,block} -> ${relative(out, modsOut)}/`);

    log(`dpkg-deb -x ${relative(out, bdeb)}`);
    run('dpkg-deb', ['-x', bdeb, join(tmp, 'busybox')]);
    const bbPath = ['bin/busybox', 'usr/bin/busybox'].map((p) => join(tmp, 'busybox', p)).find(existsSync);
    if (!bbPath) throw new Error('busybox-static contains no bin/busybox');
    // Only virtio and virtio_blk go into the initramfs: the rest of drivers/block is not needed to boot.
    const initModules = join(tmp, 'initmods');
    for (const ko of kos) {
      const rel = relative(modsOut, ko);
      if (/\/virtio\/|virtio_blk\.ko$|\/fs\/|\/lib\/crc16|crc32c/.test(ko)) { mkdirSync(resolve(join(initModules, rel), '..'), { recursive: true }); cpSync(ko, join(initModules, rel)); }
    }
    const initramfs = buildInitramfs(readFileSync(bbPath), initModules);
    writeFileSync(outputs[2], initramfs);
    log(`initramfs.cpio.gz <- busybox, /init, virtio modules (${initramfs.length} bytes)`);
    // A bootable disk for `vmrun debian.vhd`: MBR, an active ext2 /boot (kernel, initramfs,
    // extlinux.conf) and an ext2 root with busybox (usable with root=/dev/vda2 init=/bin/sh).
    const busybox = readFileSync(bbPath);
    const rootFiles = [
      { path: '/bin/busybox', data: busybox, mode: 0o755 },
      { path: '/bin/sh', symlink: 'busybox' },
      ...['dev', 'proc', 'sys', 'tmp', 'mnt'].map((d) => ({ path: `/${d}`, dir: true })),
      { path: '/etc/vmrun-root', data: `Debian ${kver} root filesystem written by vmrun's image builder\n` },
    ];
    const disk = buildBootDisk({ out: outputs[3], kernel: bz, initrd: initramfs, append: 'console=ttyS0 cryptomgr.notests=1 panic=-1', sizeMiB: 64, separateBoot: true, rootFiles, overwrite: true, time: 0 });
    log(`debian.vhd <- dynamic VHD: ext2 /boot with extlinux.conf, ext2 root with busybox (${disk.size} bytes virtual)`);
    writeFileSync(stampFile, stamp);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  log(`done: ${out}`);
}

try {
  main();
} catch (e) {
  if (e instanceof Skip) {
    process.stdout.write(`images: ${e.message}\n`);
    process.exit(0);
  }
  process.stderr.write(`images: ${(e as Error).message}\n`);
  process.exit(1);
}
