/**
 * Child process of the crash test: opens an image and writes the seeded workload forever,
 * printing "ACK n" once every write with id < n has been flushed. The parent kills it with
 * SIGKILL at a random moment. Usage: crash-writer IMAGE SEED FIRST_ID BATCH
 */
import * as fs from 'node:fs';
import { openImage } from '../../src/disk/open-image.js';
import { payload, Workload } from './crash-pattern.js';

const [image, seedArg, firstArg, batchArg] = process.argv.slice(2);
const img = openImage(image!);
const dev = img.device;
const work = new Workload(Number(seedArg), Number(firstArg), dev.size / 512);
const batch = Number(batchArg);
fs.writeSync(1, 'READY\n');
for (;;) {
  let last = 0;
  for (let i = 0; i < batch; i++) {
    const w = work.next();
    dev.write(payload(w), w.sector * 512);
    last = w.id;
  }
  dev.flush();
  fs.writeSync(1, `ACK ${last + 1}\n`);
}
