export * from './constants.js';
export * from './virtqueue.js';
export * from './pci-transport.js';
export * from './blk.js';
export * from './attach.js';
