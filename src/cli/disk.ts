import { type Command, Option } from 'commander';
import { UsageError } from './errors.js';
import {
  checkImage,
  convertImage,
  type ConvertTarget,
  createImage,
  formatInfoText,
  imageInfo,
  parseSize,
} from '../disk/index.js';
import { describeError } from '../disk/errors.js';
import { formatSize } from '../disk/size.js';

type Fmt = 'raw' | 'vhd' | 'auto';

/** `vmrun disk …` subcommands (create, info, convert, check). */
export function registerDiskCommands(program: Command): void {
  const disk = program
    .command('disk')
    .description('VHD and raw disk image tools')
    .usage('<command> [options]')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .argument('[command]')
    .argument('[topic]')
    // Without this, a bare `vmrun disk` prints help and exits 0, which scripts would take for success.
    .action((cmd?: string, topic?: string) => {
      if (cmd === 'help') (disk.commands.find((c) => c.name() === topic) ?? disk).help();
      throw new UsageError(cmd ? `unknown disk command '${cmd}' (create, info, convert, check)` : 'disk needs a command: create, info, convert or check');
    });

  disk
    .command('create')
    .description('create a fixed or dynamic VHD, or a differencing VHD over a parent')
    .argument('<file>', 'image to create (must not exist)')
    .option('--size <size>', 'virtual size, e.g. 64M or 10G (rounded up to whole CHS geometry)')
    .addOption(new Option('--type <type>', 'VHD subformat').choices(['fixed', 'dynamic']).default('dynamic'))
    .option('--parent <base>', 'create a differencing disk whose parent is this VHD')
    .option('--block-size <size>', 'dynamic block size (default 2M)')
    .action((file: string, o: { size?: string; type: 'fixed' | 'dynamic'; parent?: string; blockSize?: string }) =>
      guard(file, () => {
        if (o.parent && o.size) throw new UsageError('--size and --parent cannot be combined: a differencing disk has its parent\'s size');
        if (!o.parent && !o.size) throw new UsageError('disk create needs --size SIZE or --parent BASE');
        const footer = createImage(file, {
          type: o.type,
          size: o.size ? parseSize(o.size) : undefined,
          parent: o.parent,
          blockSize: o.blockSize ? parseSize(o.blockSize) : undefined,
        });
        const kind = o.parent ? 'differencing' : o.type;
        process.stdout.write(`created ${file}: ${kind} VHD, ${formatSize(footer.currentSize)} (${footer.currentSize} bytes)\n`);
      }),
    );

  disk
    .command('info')
    .description('show format, sizes and the parent chain of an image')
    .argument('<file>')
    .option('--json', 'machine-readable output')
    .addOption(formatOption())
    .action((file: string, o: { json?: boolean; format: Fmt }) =>
      guard(file, () => {
        const info = imageInfo(file, o.format);
        for (const w of info.warnings) process.stderr.write(`vmrun: warning: ${file}: ${w}\n`);
        process.stdout.write(o.json ? JSON.stringify(info, null, 2) + '\n' : formatInfoText(info));
      }),
    );

  disk
    .command('convert')
    .description('convert an image (with its whole parent chain) into a new image')
    .argument('<src>')
    .argument('<dst>', 'output image (must not exist)')
    .addOption(new Option('--to <kind>', 'output kind').choices(['raw', 'vhd-fixed', 'vhd-dynamic']).makeOptionMandatory())
    .addOption(formatOption())
    .action((src: string, dst: string, o: { to: ConvertTarget; format: Fmt }) =>
      guard(src, () => {
        const bar = process.stderr.isTTY ? progressBar() : undefined;
        try {
          convertImage(src, dst, o.to, { format: o.format, progress: bar?.update });
        } finally {
          bar?.end();
        }
      }),
    );

  disk
    .command('check')
    .description('verify an image: exit 0 if consistent, 1 if not, 2 if unreadable')
    .argument('<file>')
    .addOption(formatOption())
    .action((file: string, o: { format: Fmt }) =>
      guard(file, () => {
        const r = checkImage(file, o.format);
        for (const n of r.notes) process.stdout.write(`${file}: note: ${n}\n`);
        if (r.problems.length === 0) {
          process.stdout.write(`${file}: no inconsistencies found\n`);
          return;
        }
        for (const p of r.problems) process.stdout.write(`${file}: ${p}\n`);
        process.stdout.write(`${file}: ${r.problems.length} inconsistenc${r.problems.length === 1 ? 'y' : 'ies'}\n`);
        process.exitCode = 1;
      }),
    );
}

function formatOption(): Option {
  return new Option('--format <fmt>', 'input format (default: by extension, then by content)').choices(['raw', 'vhd', 'auto']).default('auto');
}

/** Every failure becomes one line naming the file: a usage error, never a stack trace. */
function guard(file: string, body: () => void): void {
  try {
    body();
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`${file}: ${describeError(e)}`);
  }
}

function progressBar(): { update: (done: number, total: number) => void; end: () => void } {
  let last = -1;
  let drawn = false;
  return {
    update(done, total) {
      const pct = total > 0 ? Math.floor((done / total) * 100) : 100;
      if (pct === last) return;
      last = pct;
      drawn = true;
      const width = 30;
      const fill = Math.round((pct / 100) * width);
      process.stderr.write(`\r[${'#'.repeat(fill)}${' '.repeat(width - fill)}] ${String(pct).padStart(3)}% ${formatSize(done)} of ${formatSize(total)}`);
    },
    end() {
      if (drawn) process.stderr.write('\n');
    },
  };
}
