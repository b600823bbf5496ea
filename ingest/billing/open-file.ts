import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';

/** A billing file as a stream of its text: gzip is recognised by its magic bytes, not the name. */
export async function openBillingFile(path: string): Promise<Readable> {
  const fh = await open(path, 'r');
  const head = Buffer.alloc(2);
  try {
    await fh.read(head, 0, 2, 0);
  } finally {
    await fh.close();
  }
  const raw = createReadStream(path, { highWaterMark: 1024 * 1024 });
  if (head[0] !== 0x1f || head[1] !== 0x8b) return raw;
  const gunzip = createGunzip();
  // A truncated or corrupt archive surfaces as an error on the stream the parser reads.
  raw.on('error', (err) => gunzip.destroy(err));
  return raw.pipe(gunzip);
}
