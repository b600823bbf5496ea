import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Read positions of tailed files, keyed by device and inode so that a file renamed by
 * rotation keeps its position. Saved atomically (write + rename) after the records up to
 * `offset` were published: a restart resumes there, neither skipping nor repeating a line.
 */

export interface Checkpoint {
  path: string;
  offset: number;
  /** Lines before `offset`, for line numbers in errors. */
  line: number;
}

export class CheckpointStore {
  private entries = new Map<string, Checkpoint>();
  /** False until a store was loaded from disk: tells a first start from a restart. */
  existed = false;

  constructor(readonly file: string) {}

  static key(dev: number | bigint, ino: number | bigint): string {
    return `${dev}:${ino}`;
  }

  async load(): Promise<void> {
    try {
      const data = JSON.parse(await readFile(this.file, 'utf8')) as Record<string, Checkpoint>;
      this.entries = new Map(Object.entries(data));
      this.existed = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }

  get(key: string): Checkpoint | undefined {
    return this.entries.get(key);
  }

  set(key: string, cp: Checkpoint): void {
    this.entries.set(key, cp);
  }

  /** Drops entries of files that are gone, so the store does not grow forever. */
  retain(keys: Set<string>): void {
    for (const k of this.entries.keys()) if (!keys.has(k)) this.entries.delete(k);
  }

  async save(): Promise<void> {
    await mkdir(dirname(this.file), { recursive: true });
    const tmp = `${this.file}.tmp`;
    await writeFile(tmp, JSON.stringify(Object.fromEntries(this.entries)));
    await rename(tmp, this.file);
    this.existed = true;
  }
}
