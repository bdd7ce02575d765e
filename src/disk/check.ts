import { DiskFormatError, describeError } from './errors.js';
import { FdFile, type ImageFile } from './image-file.js';
import { openImage } from './open-image.js';
import { UNUSED_BAT_ENTRY } from './vhd/dynamic-header.js';
import { DiskType } from './vhd/footer.js';
import { looksLikeVhd, readVhdStructure } from './vhd/structure.js';

export interface CheckReport {
  /** Inconsistencies: the image needs repair. */
  problems: string[];
  /** Harmless observations, such as space leaked by an interrupted allocation. */
  notes: string[];
}

/**
 * Verifies an image's structure. Throws DiskFormatError when it cannot be read at all
 * (exit 2); otherwise returns what is wrong (exit 1 when non-empty).
 */
export function checkImage(path: string, format: 'raw' | 'vhd' | 'auto' = 'auto'): CheckReport {
  let file: ImageFile;
  try {
    file = new FdFile(path, true);
  } catch (e) {
    throw new DiskFormatError(`cannot open: ${describeError(e)}`);
  }
  try {
    const isVhd = format === 'vhd' || (format === 'auto' && (/\.(vhd|vpc)$/i.test(path) || looksLikeVhd(file)));
    if (!isVhd) return { problems: [], notes: ['raw image: nothing to check'] };
    const report = checkVhdFile(file);
    if (report.differencing) {
      try {
        const img = openImage(path, { readOnly: true, format: 'vhd' });
        img.device.close();
      } catch (e) {
        report.problems.push(describeError(e));
      }
    }
    return { problems: report.problems, notes: report.notes };
  } finally {
    file.close();
  }
}

/** The file-local part of the check, usable on in-memory images. */
export function checkVhdFile(file: ImageFile): CheckReport & { differencing: boolean } {
  const s = readVhdStructure(file);
  const problems = [...s.issues];
  const notes: string[] = [];
  const f = s.footer;
  if (f.diskType === DiskType.Fixed) {
    if (s.footerPos > f.currentSize) notes.push(`${s.footerPos - f.currentSize} bytes between the disk data and the footer`);
    return { problems, notes, differencing: false };
  }
  const h = s.header!;
  const bat = s.bat!;
  const blocks = Math.ceil(f.currentSize / h.blockSize);
  const sectorsPerBlock = h.blockSize / 512;
  const bm = new Uint8Array(s.bitmapBytes);
  for (let b = 0; b < bat.length; b++) {
    const e = bat[b]!;
    if (e === UNUSED_BAT_ENTRY || b >= blocks) continue;
    if (file.read(bm, e * 512) !== bm.length) {
      problems.push(`block ${b}: bitmap cannot be read`);
      continue;
    }
    const last = b === blocks - 1 ? (f.currentSize - b * h.blockSize) / 512 : sectorsPerBlock;
    for (let sec = last; sec < sectorsPerBlock; sec++) {
      if (bm[sec >>> 3]! & (0x80 >>> (sec & 7))) {
        notes.push(`block ${b}: bitmap marks sectors past the end of the disk`);
        break;
      }
    }
  }
  if (s.footerPos > s.nextFree) {
    notes.push(`${s.footerPos - s.nextFree} bytes of unreferenced space before the footer (an interrupted allocation); the next write reuses it`);
  }
  if (f.originalSize !== f.currentSize) notes.push('disk has been resized since creation');
  return { problems, notes, differencing: f.diskType === DiskType.Differencing };
}
