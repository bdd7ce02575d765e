/** Public surface of the disk layer, for device models and the CLI. */
export { type BlockDevice, SECTOR_SIZE } from './block-device.js';
export { DiskFormatError } from './errors.js';
export { openImage, chainPaths, type OpenedImage, type OpenOptions, type ImageFormat, type Subformat } from './open-image.js';
export { openSnapshot } from './snapshot.js';
export { createImage, type CreateImageOptions } from './create-image.js';
export { convertImage, type ConvertTarget } from './convert-image.js';
export { imageInfo, formatInfoText, type ImageInfo } from './info.js';
export { checkImage, type CheckReport } from './check.js';
export { parseSize } from './size.js';
