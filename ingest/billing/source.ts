import { setTimeout as sleep } from 'node:timers/promises';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { glob } from 'tinyglobby';
import { TOPICS } from '../../core/bus/topics.ts';
import type { BillingSourceConfig } from '../../core/config/ingest/billing.ts';
import type { Config } from '../../core/config/schema.ts';
import { SourceStats, type Source, type SourceContext, type SourceState } from '../source.ts';
import { DEFAULT_GROUP } from '../writer/index.ts';
import { writeBillingDeadLetters } from './dead-letters.ts';
import { FocusFileError } from './focus.ts';
import { loadFocusFile } from './load-file.ts';
import { ensureLoadsTable, loadedState, recordLoad, type LoadedState } from './loads.ts';

/**
 * A billing directory source: every intervalSeconds it lists the files matching the pattern
 * and loads each new or changed one exactly once (billing_loads remembers path, size, mtime,
 * SHA-256 and billing periods). Identical content under any path loads nothing.
 *
 * Restatement: a file whose billing period this source already has rows for (from an earlier
 * poll) replaces that (SourceName, BillingPeriodStart) slice. Ordering against the async writer:
 * first wait until the writer group has no lag on the billing topic (earlier rows are in
 * ClickHouse, not in flight), then delete with mutations_sync=2, then publish the new rows.
 * Window: rows of that slice published by another process between the wait and the delete
 * would be deleted too; one source per directory avoids it. Files of one period found in the
 * same poll (multi-part exports) load together without deleting each other; a part that
 * arrives in a later poll counts as a restatement.
 * A changed file at a path already loaded (or a load that was interrupted) first deletes the
 * rows that came from that path, so a restart never doubles a file.
 */

const LAG_WAIT_MS = 5 * 60_000;

async function sha256(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

export class BillingDirectorySource implements Source {
  readonly kind = 'billing';
  readonly name: string;
  private readonly stats: SourceStats;
  private ctx: SourceContext | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly cfg: BillingSourceConfig) {
    this.name = cfg.name;
    this.stats = new SourceStats(cfg.name, 'billing');
  }

  async start(ctx: SourceContext): Promise<void> {
    this.ctx = ctx;
    await ensureLoadsTable(ctx.clickhouse);
    this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.poll().finally(() => this.schedule(this.cfg.intervalSeconds * 1000));
    }, ms);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  state(): SourceState {
    return this.stats.state();
  }

  /** One pass over the directory; never throws (errors are counted and logged). */
  async poll(): Promise<void> {
    const ctx = this.ctx!;
    try {
      const dir = await stat(this.cfg.path).catch(() => undefined);
      if (!dir?.isDirectory()) throw new Error(`${this.cfg.path}: no such directory`);
      const files = (await glob(this.cfg.pattern, { cwd: this.cfg.path, onlyFiles: true })).sort();
      const state = await loadedState(ctx.clickhouse, this.name);
      const before = new Set(state.periods);
      const replaced = new Set<string>();
      let newest = 0;
      for (const rel of files) {
        if (this.stopped) break;
        newest = Math.max(newest, await this.loadOne(rel, state, before, replaced));
      }
      if (newest) this.stats.lagSeconds = Math.max(0, (Date.now() - newest) / 1000);
    } catch (err) {
      this.stats.lastError = { at: new Date().toISOString(), message: (err as Error).message };
      ctx.log.error({ err }, 'billing poll failed; retrying next interval');
    }
  }

  /** Loads one file if new or changed; returns its mtime. */
  private async loadOne(rel: string, state: LoadedState, before: Set<string>, replaced: Set<string>) {
    const ctx = this.ctx!;
    const abs = join(this.cfg.path, rel);
    const st = await stat(abs);
    const mtimeMs = Math.trunc(st.mtimeMs);
    const prev = state.latest.get(rel);
    const base = { source: this.name, path: rel, size: st.size, mtimeMs, periods: [] as string[] };
    if (prev && prev.status !== 'loading' && prev.size === st.size && prev.mtimeMs === mtimeMs)
      return mtimeMs;
    const hash = await sha256(abs);
    const empty = { ...base, sha256: hash, rows: 0, rejected: 0, error: '' };
    if (state.hashes.has(hash)) {
      // Same bytes as a file already loaded (touched, copied, re-delivered): nothing to add.
      await recordLoad(ctx.clickhouse, { ...empty, status: 'done' });
      state.latest.set(rel, { size: st.size, mtimeMs, sha256: hash, status: 'done' });
      return mtimeMs;
    }
    if (prev) await this.deleteSlice('SourceFile = {file:String}', { file: rel });
    await recordLoad(ctx.clickhouse, { ...empty, status: 'loading' });
    const seen: string[] = [];
    try {
      const r = await loadFocusFile(
        { bus: ctx.bus, clickhouse: ctx.clickhouse },
        {
          sourceName: this.name,
          path: abs,
          sourceFile: rel,
          beforePeriod: async (period) => {
            seen.push(period);
            if (!before.has(period) || replaced.has(period)) return;
            replaced.add(period);
            await this.deleteSlice("BillingPeriodStart = {period:DateTime64(3, 'UTC')}", {
              period: period.replace('T', ' ').replace('Z', ''),
            });
            ctx.log.info({ file: rel, period }, 'restated billing period replaced');
          },
          onBatch: (accepted, rejected) => {
            this.stats.receive(accepted + rejected);
            this.stats.accept(accepted);
            if (rejected) this.stats.reject(rejected, `${rel}: ${rejected} bad rows (see dead_letters)`);
          },
        },
      );
      await recordLoad(ctx.clickhouse, {
        ...empty,
        status: 'done',
        periods: r.periods,
        rows: r.rows,
        rejected: r.rejected,
      });
      state.hashes.add(hash);
      state.latest.set(rel, { size: st.size, mtimeMs, sha256: hash, status: 'done' });
      ctx.log.info(
        { file: rel, rows: r.rows, rejected: r.rejected, periods: r.periods },
        'billing file loaded',
      );
    } catch (err) {
      if (!(err instanceof FocusFileError)) throw err; // transient (ClickHouse, bus): retried next poll
      // The file itself is bad: say so once, and wait for it to change.
      this.stats.receive(1);
      this.stats.reject(1, err.message);
      const reason = err.message.startsWith(`${rel}: `) ? err.message.slice(rel.length + 2) : err.message;
      await writeBillingDeadLetters(ctx.clickhouse, this.name, rel, [{ line: 0, reason, record: [] }]);
      await recordLoad(ctx.clickhouse, { ...empty, status: 'failed', periods: seen, error: err.message });
      state.latest.set(rel, { size: st.size, mtimeMs, sha256: hash, status: 'failed' });
      ctx.log.warn({ file: rel, err: err.message }, 'billing file refused');
    }
    return mtimeMs;
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
      query: `ALTER TABLE billing_focus DELETE WHERE SourceName = {source:String} AND ${where}`,
      query_params: { source: this.name, ...params },
      clickhouse_settings: { mutations_sync: '2' },
    });
  }
}

export function billingSources(config: Config): Source[] {
  return config.ingest.billing.map((c) => new BillingDirectorySource(c));
}
