/** What the user passes to the loaders besides the kernel image. */
export interface LoadOptions {
  /** Arguments for the kernel (multiboot passes `${kernelName} ${cmdline}`). */
  cmdline?: string;
  /** The kernel's name as the user gave it; first word of the multiboot command line. Default "kernel". */
  kernelName?: string;
  /** Modules (an initrd, test data), loaded page-aligned above the kernel; `name` is the string the kernel sees. */
  modules?: { name: string; data: Uint8Array }[];
  /** Force a protocol when an image carries several headers (Xen has both multiboot v1 and v2). */
  protocol?: 'multiboot1' | 'multiboot2' | 'elf64';
}
