import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { glob } from 'tinyglobby';
import type { BillingStore, FetchedFile, StoredFile } from './store.ts';

/** Billing files in a local (or mounted) directory, matched by a glob relative to it. */
export class DirectoryStore implements BillingStore {
  readonly location: string;

  constructor(
    private readonly dir: string,
    private readonly pattern: string,
  ) {
    this.location = dir;
  }

  async list(): Promise<StoredFile[]> {
    const st = await stat(this.dir).catch(() => undefined);
    if (!st?.isDirectory()) throw new Error(`${this.dir}: no such directory`);
    const files: StoredFile[] = [];
    for (const key of (await glob(this.pattern, { cwd: this.dir, onlyFiles: true })).sort()) {
      // A file removed between the glob and the stat is simply not there this time.
      const f = await stat(join(this.dir, key)).catch(() => undefined);
      if (f?.isFile()) files.push({ key, size: f.size, mtimeMs: Math.trunc(f.mtimeMs) });
    }
    return files;
  }

  fetch(file: StoredFile): Promise<FetchedFile> {
    return Promise.resolve({ path: join(this.dir, file.key), cleanup: () => Promise.resolve() });
  }
}
