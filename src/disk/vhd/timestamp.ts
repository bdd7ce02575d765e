/** VHD timestamps count seconds from 2000-01-01T00:00:00Z. */
const VHD_EPOCH_UNIX = 946684800;

export function vhdNow(): number {
  return Math.max(0, Math.floor(Date.now() / 1000) - VHD_EPOCH_UNIX) >>> 0;
}

export function vhdTimeFromDate(d: Date): number {
  return Math.max(0, Math.floor(d.getTime() / 1000) - VHD_EPOCH_UNIX) >>> 0;
}

export function vhdTimeToDate(t: number): Date {
  return new Date((t + VHD_EPOCH_UNIX) * 1000);
}
