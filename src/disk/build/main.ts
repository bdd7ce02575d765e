/**
 * `node dist/src/disk/build/main.js --kernel K [--initrd I] [--append A] --out disk.vhd`
 * for scripts (npm run images) that want a bootable disk without writing TypeScript.
 */
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import { buildBootDisk, filesFromDir } from './bootdisk.js';

function main(): void {
  const { values } = parseArgs({
    options: {
      kernel: { type: 'string' },
      initrd: { type: 'string' },
      append: { type: 'string', default: '' },
      out: { type: 'string' },
      size: { type: 'string' },
      root: { type: 'string' },
      'separate-boot': { type: 'boolean', default: false },
      format: { type: 'string', default: 'vhd-dynamic' },
      force: { type: 'boolean', default: false },
    },
  });
  if (!values.kernel || !values.out) {
    process.stderr.write('usage: main.js --kernel FILE [--initrd FILE] [--append CMDLINE] [--size MiB] [--root DIR] [--separate-boot] [--format vhd-dynamic|vhd-fixed|raw] [--force] --out DISK\n');
    process.exit(2);
  }
  const format = values.format as 'vhd-dynamic' | 'vhd-fixed' | 'raw';
  if (!['vhd-dynamic', 'vhd-fixed', 'raw'].includes(format)) throw new Error(`bad --format ${format}`);
  const r = buildBootDisk({
    out: values.out,
    kernel: fs.readFileSync(values.kernel),
    initrd: values.initrd ? fs.readFileSync(values.initrd) : undefined,
    append: values.append ?? '',
    sizeMiB: values.size ? Number(values.size) : undefined,
    rootFiles: values.root ? filesFromDir(values.root) : undefined,
    separateBoot: values['separate-boot'],
    format,
    overwrite: values.force,
  });
  process.stdout.write(`${r.path}: ${r.size} bytes, ${r.partitions.length} partition(s)\n`);
}

try {
  main();
} catch (e) {
  process.stderr.write(`mkdisk: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(2);
}
