import { watch, type FSWatcher } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { durationMs } from '../../core/config/ingest/scrape.ts';

/**
 * Prometheus file-based service discovery: files of `[{"targets": [...], "labels": {...}}]`
 * (JSON, or YAML for .yml/.yaml), matched by patterns with wildcards in the last path segment.
 * Re-read when their directory changes (fs.watch) and every refresh_interval as a fallback, as
 * Prometheus does. A file that fails to parse keeps its last good target groups.
 */

export interface TargetGroup {
  targets: string[];
  labels: Record<string, string>;
  /** The file it came from. */
  source: string;
}

export interface FileSdOptions {
  files: string[];
  refresh_interval: string;
  onUpdate(groups: TargetGroup[]): void;
  onError(message: string): void;
}

function globRegex(pattern: string): RegExp {
  let re = '';
  for (const ch of pattern) {
    if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else re += ch.replace(/[.+^${}()|\\[\]]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

const HOST_PORT = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/;

/** One file's target groups, or the reason it is not valid. */
export function parseTargetFile(file: string, text: string): TargetGroup[] {
  const doc: unknown = /\.ya?ml$/.test(file) ? parseYaml(text) : JSON.parse(text);
  if (doc === null || doc === undefined) return [];
  if (!Array.isArray(doc)) throw new Error('expected a list of target groups');
  return doc.map((g: unknown, i) => {
    if (typeof g !== 'object' || g === null) throw new Error(`group ${i}: expected an object`);
    const { targets = [], labels = {} } = g as { targets?: unknown; labels?: unknown };
    if (!Array.isArray(targets)) throw new Error(`group ${i}: targets must be a list`);
    for (const t of targets)
      if (typeof t !== 'string' || !HOST_PORT.test(t))
        throw new Error(`group ${i}: target ${JSON.stringify(t)} is not host:port`);
    if (typeof labels !== 'object' || labels === null || Array.isArray(labels))
      throw new Error(`group ${i}: labels must be a mapping`);
    for (const [k, v] of Object.entries(labels))
      if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(k) || typeof v !== 'string')
        throw new Error(`group ${i}: label ${k} must be a valid name with a string value`);
    return { targets: targets as string[], labels: labels as Record<string, string>, source: file };
  });
}

export class FileSd {
  private readonly lastGood = new Map<string, TargetGroup[]>();
  private readonly watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private last = '';
  private running: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(private readonly opts: FileSdOptions) {}

  async start(): Promise<void> {
    await this.refresh();
    for (const dir of new Set(this.opts.files.map((f) => dirname(f)))) {
      try {
        const w = watch(dir, () => this.schedule());
        w.on('error', () => {}); // the periodic refresh still covers the directory
        this.watchers.push(w);
      } catch {
        // A directory that does not exist yet: the periodic refresh picks it up.
      }
    }
    this.timer = setInterval(() => this.schedule(), durationMs(this.opts.refresh_interval));
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.debounce);
    for (const w of this.watchers) w.close();
    await this.running;
  }

  /** Editors write in several steps (truncate, write, rename): read once they are done. */
  private schedule(): void {
    if (this.stopped) return;
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => {
      this.running = this.running.then(() => this.refresh());
    }, 50);
  }

  private async refresh(): Promise<void> {
    if (this.stopped) return;
    const files = new Set<string>();
    for (const pattern of this.opts.files) {
      const dir = dirname(pattern);
      const re = globRegex(basename(pattern));
      const names = await readdir(dir).catch(() => [] as string[]);
      for (const n of names) if (re.test(n)) files.add(join(dir, n));
    }
    for (const f of this.lastGood.keys()) if (!files.has(f)) this.lastGood.delete(f);
    for (const f of [...files].sort()) {
      try {
        this.lastGood.set(f, parseTargetFile(f, await readFile(f, 'utf8')));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') this.lastGood.delete(f);
        else this.opts.onError(`file_sd ${f}: ${(err as Error).message}`);
      }
    }
    const groups = [...this.lastGood.values()].flat();
    const key = JSON.stringify(groups);
    if (key !== this.last && !this.stopped) {
      this.last = key;
      this.opts.onUpdate(groups);
    }
  }
}
