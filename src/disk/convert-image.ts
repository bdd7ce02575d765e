import { withAtomicOutput } from './atomic-output.js';
import type { BlockDevice } from './block-device.js';
import { copyDevice, type Progress } from './copy.js';
import { openImage, type ImageFormat } from './open-image.js';
import { RawDisk } from './raw-disk.js';
import { writeNewVhd } from './vhd/create.js';
import { FixedVhd } from './vhd/fixed-disk.js';
import { SparseVhd } from './vhd/sparse-disk.js';
import { readVhdStructure } from './vhd/structure.js';

export type ConvertTarget = 'raw' | 'vhd-fixed' | 'vhd-dynamic';

export interface ConvertResult {
  size: number;
}

/** Converts SRC (any supported image, whole chain) into a new DST of the given kind. */
export function convertImage(
  src: string,
  dst: string,
  to: ConvertTarget,
  opts: { format?: ImageFormat | 'auto'; progress?: Progress } = {},
): ConvertResult {
  const source = openImage(src, { readOnly: true, format: opts.format });
  try {
    return withAtomicOutput(dst, (file) => {
      let out: BlockDevice;
      if (to === 'raw') {
        file.truncate(source.device.size);
        out = new RawDisk(file);
      } else {
        writeNewVhd(file, { type: to === 'vhd-fixed' ? 'fixed' : 'dynamic', size: Math.max(512, source.device.size) });
        const s = readVhdStructure(file);
        out = to === 'vhd-fixed' ? new FixedVhd(file, s) : new SparseVhd(file, s, null);
      }
      copyDevice(source.device, out, opts.progress);
      return { size: out.size };
    });
  } finally {
    source.device.close();
  }
}
