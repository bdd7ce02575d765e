export { buildExt2, type Ext2Image, type Ext2Options, type FsFile } from './ext2.js';
export { buildBootDisk, encodeMbr, extlinuxConf, filesFromDir, type BootDiskOptions, type BootDiskResult } from './bootdisk.js';
