/** CHS geometry as the VHD spec derives it from a sector count (appendix "CHS calculation"). */
export interface Geometry {
  cylinders: number;
  heads: number;
  sectorsPerTrack: number;
}

export const MAX_CHS_SECTORS = 65535 * 16 * 255;

export function geometryForSectors(totalSectors: number): Geometry {
  const sectors = Math.min(totalSectors, MAX_CHS_SECTORS);
  let spt: number;
  let heads: number;
  let cth: number;
  if (sectors >= 65535 * 16 * 63) {
    spt = 255;
    heads = 16;
    cth = Math.floor(sectors / spt);
  } else {
    spt = 17;
    cth = Math.floor(sectors / spt);
    heads = Math.max(4, Math.floor((cth + 1023) / 1024));
    if (cth >= heads * 1024 || heads > 16) {
      spt = 31;
      heads = 16;
      cth = Math.floor(sectors / spt);
    }
    if (cth >= heads * 1024) {
      spt = 63;
      heads = 16;
      cth = Math.floor(sectors / spt);
    }
  }
  return { cylinders: Math.floor(cth / heads), heads, sectorsPerTrack: spt };
}

export function geometrySectors(g: Geometry): number {
  return g.cylinders * g.heads * g.sectorsPerTrack;
}

/**
 * The size vmrun gives a new VHD: the requested size rounded up until CHS geometry covers
 * it exactly. Virtual PC and QEMU size a VHD from its geometry while Hyper-V uses the
 * footer's current size; a CHS-exact size makes all of them agree. Beyond the largest CHS
 * geometry every reader falls back to the footer size, so no rounding is needed there.
 */
export function vhdSizeFor(requestedBytes: number): { size: number; geometry: Geometry } {
  const sectors = Math.ceil(requestedBytes / 512);
  if (sectors >= MAX_CHS_SECTORS) return { size: sectors * 512, geometry: geometryForSectors(MAX_CHS_SECTORS) };
  for (let extra = 0; ; extra++) {
    const g = geometryForSectors(sectors + extra);
    if (geometrySectors(g) >= sectors) return { size: geometrySectors(g) * 512, geometry: g };
  }
}
