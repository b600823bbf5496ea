import { setTimeout as sleep } from 'node:timers/promises';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { TOPICS } from '../../core/bus/topics.ts';
import type { BillingSourceConfig } from '../../core/config/ingest/billing.ts';
import { mutationTarget } from '../../core/clickhouse/ddl.ts';
import type { Config } from '../../core/config/schema.ts';
import { SourceStats, type Source, type SourceContext, type SourceState } from '../source.ts';
import { DEFAULT_GROUP } from '../writer/index.ts';
import { writeBillingDeadLetters } from './dead-letters.ts';
import { FocusFileError } from './focus.ts';
import { loadedState, recordLoad, type LoadedState } from './loads.ts';
import { DirectoryStore } from './store-dir.ts';
import { loadBillingFile } from './load-file.ts';
import { S3Store } from './store-s3.ts';
import { unchanged, type BillingStore, type StoredFile } from './store.ts';

/**
 * A billing source: every intervalSeconds it lists the files of its store (a directory, or an
 * S3 bucket prefix: store.ts) and loads each new or changed one exactly once. billing_loads
 * remembers key, size, mtime, ETag, SHA-256 and billing periods; a listed file is unchanged
 * when its ETag (S3), else its size and mtime, match the last load. Identical content under
 * any key loads nothing.
 *
 * Restatement: a file whose billing period this source already has rows for (from an earlier
 * poll) replaces that (SourceName, BillingPeriodStart) slice. Ordering against the async writer:
 * first wait until the writer group has no lag on the billing topic (earlier rows are in
 * ClickHouse, not in flight), then delete with mutations_sync=2, then publish the new rows.
 * Window: rows of that slice published by another process between the wait and the delete
 * would be deleted too; one source per directory or prefix avoids it. Files of one period found
 * in the same poll (multi-part exports) load together without deleting each other; a part that
 * arrives in a later poll counts as a restatement.
 * A changed file at a key already loaded (or a load that was interrupted) first deletes the
 * rows that came from that key, so a restart never doubles a file. A store that fails mid-poll
 * (listing or download) fails the poll: what loaded stays recorded, the rest is retried next time.
 */

const LAG_WAIT_MS = 5 * 60_000;

async function sha256(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

export function billingStore(cfg: BillingSourceConfig, dataDir: string): BillingStore {
  return cfg.kind === 's3' ? new S3Store(cfg, dataDir) : new DirectoryStore(cfg.path, cfg.pattern);
}

export class BillingSource implements Source {
  readonly kind = 'billing';
  readonly name: string;
  private readonly stats: SourceStats;
  private ctx: SourceContext | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  /** Polls that failed (store unreachable, ClickHouse down): each retried at the next one. */
  failedPolls = 0;

  constructor(
    private readonly cfg: BillingSourceConfig,
    readonly store: BillingStore,
  ) {
    this.name = cfg.name;
    this.stats = new SourceStats(cfg.name, 'billing');
  }

  start(ctx: SourceContext): Promise<void> {
    this.ctx = ctx;
    this.schedule(0);
    return Promise.resolve();
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.poll().finally(() => this.schedule(this.cfg.intervalSeconds * 1000));
    }, ms);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    this.store.close?.();
  }

  state(): SourceState {
    return this.stats.state();
  }

  /** One pass over the store, after any pass in progress; never throws (errors are counted and logged). */
  poll(): Promise<void> {
    const next = (this.running ?? Promise.resolve()).then(() => this.pollNow());
    this.running = next;
    return next;
  }

  private async pollNow(): Promise<void> {
    const ctx = this.ctx!;
    try {
      const files = await this.store.list();
      const state = await loadedState(ctx.clickhouse, this.name);
      const before = new Set(state.periods);
      const replaced = new Set<string>();
      let newest = 0;
      for (const file of files) {
        if (this.stopped) break;
        await this.loadOne(file, state, before, replaced);
        newest = Math.max(newest, file.mtimeMs);
      }
      if (newest) this.stats.lagSeconds = Math.max(0, (Date.now() - newest) / 1000);
    } catch (err) {
      this.failedPolls++;
      const message = `${this.store.location}: ${(err as Error).message}`;
      this.stats.lastError = { at: new Date().toISOString(), message };
      ctx.log.error({ err: message }, 'billing poll failed; retrying next interval');
    }
  }

  /** Loads one file if new or changed. */
  private async loadOne(file: StoredFile, state: LoadedState, before: Set<string>, replaced: Set<string>) {
    const ctx = this.ctx!;
    const key = file.key;
    const prev = state.latest.get(key);
    if (prev && prev.status !== 'loading' && unchanged(prev, file)) return;
    const local = await this.store.fetch(file);
    try {
      const hash = await sha256(local.path);
      const base = {
        source: this.name,
        path: key,
        size: file.size,
        mtimeMs: file.mtimeMs,
        etag: file.etag ?? '',
        sha256: hash,
        periods: [] as string[],
        rows: 0,
        rejected: 0,
        error: '',
      };
      const remember = (status: 'done' | 'failed') =>
        state.latest.set(key, {
          size: file.size,
          mtimeMs: file.mtimeMs,
          sha256: hash,
          etag: base.etag,
          status,
        });
      if (state.hashes.has(hash)) {
        // Same bytes as a file already loaded (touched, copied, re-delivered): nothing to add.
        await recordLoad(ctx.clickhouse, { ...base, status: 'done' });
        remember('done');
        return;
      }
      if (prev) await this.deleteSlice('SourceFile = {file:String}', { file: key });
      await recordLoad(ctx.clickhouse, { ...base, status: 'loading' });
      const seen: string[] = [];
      try {
        const r = await loadBillingFile(
          { bus: ctx.bus, clickhouse: ctx.clickhouse },
          {
            sourceName: this.name,
            path: local.path,
            sourceFile: key,
            format: this.cfg.format,
            beforePeriod: async (period) => {
              seen.push(period);
              if (!before.has(period) || replaced.has(period)) return;
              replaced.add(period);
              await this.deleteSlice("BillingPeriodStart = {period:DateTime64(3, 'UTC')}", {
                period: period.replace('T', ' ').replace('Z', ''),
              });
              ctx.log.info({ file: key, period }, 'restated billing period replaced');
            },
            onBatch: (accepted, rejected) => {
              this.stats.receive(accepted + rejected);
              this.stats.accept(accepted);
              if (rejected) this.stats.reject(rejected, `${key}: ${rejected} bad rows (see dead_letters)`);
            },
          },
        );
        await recordLoad(ctx.clickhouse, {
          ...base,
          status: 'done',
          periods: r.periods,
          rows: r.rows,
          rejected: r.rejected,
        });
        state.hashes.add(hash);
        remember('done');
        ctx.log.info(
          { file: key, rows: r.rows, rejected: r.rejected, periods: r.periods },
          'billing file loaded',
        );
      } catch (err) {
        if (!(err instanceof FocusFileError)) throw err; // transient (ClickHouse, bus): retried next poll
        // The file itself is bad: say so once, and wait for it to change.
        this.stats.receive(1);
        this.stats.reject(1, err.message);
        const reason = err.message.startsWith(`${key}: `) ? err.message.slice(key.length + 2) : err.message;
        await writeBillingDeadLetters(ctx.clickhouse, this.name, key, [{ line: 0, reason, record: [] }]);
        await recordLoad(ctx.clickhouse, { ...base, status: 'failed', periods: seen, error: err.message });
        remember('failed');
        ctx.log.warn({ file: key, err: err.message }, 'billing file refused');
      }
    } finally {
      await local.cleanup();
    }
  }

  /** Deletes this source's rows matching `where`, once the writer has stored what is in flight. */
  private async deleteSlice(where: string, params: Record<string, string>): Promise<void> {
    const ctx = this.ctx!;
    const until = Date.now() + LAG_WAIT_MS;
    for (;;) {
      const lag = await ctx.bus.lag(DEFAULT_GROUP, TOPICS.billing);
      if (lag.every((l) => l.lag <= 0)) break;
      if (Date.now() > until) {
        ctx.log.warn({ lag }, 'billing writer still lagging; deleting the restated slice anyway');
        break;
      }
      await sleep(200);
    }
    await ctx.clickhouse.command({
      query: `ALTER TABLE ${mutationTarget('billing_focus', ctx.config.clickhouse.cluster)} DELETE WHERE SourceName = {source:String} AND ${where}`,
      query_params: { source: this.name, ...params },
      clickhouse_settings: { mutations_sync: '2' },
    });
  }
}

/** The directory source keeps its old name for code that refers to it. */
export { BillingSource as BillingDirectorySource };

export function billingSources(config: Config): Source[] {
  return config.ingest.billing.map((c) => new BillingSource(c, billingStore(c, config.dataDir)));
}
