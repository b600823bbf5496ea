import { performance } from 'node:perf_hooks';
import type { CostDetectConfig } from '../../core/config/detect/cost.ts';
import { detectorScored, detectorTracked } from '../../core/metrics.ts';
import type { Alert, Severity } from '../../core/model/records.ts';
import type { Detector, DetectorContext, DetectorStats } from '../detector.ts';
import { costAlert } from './alert.ts';
import { findDrivers } from './drivers.ts';
import { serviceEnabled, spikeOptions } from './options.ts';
import { evidenceQuery, fetchPeriods, type SeriesId, type SeriesSpec } from './series.ts';
import { DAY_MS, periodMs, scorePeriod, severityOf, type CostSeries, type SpikeScore } from './spike.ts';

/**
 * The batch cost-spike detector. Every intervalSeconds it aggregates billing_focus (usage cost
 * per series and period) over the recent window plus the history the baseline needs, and
 * re-scores exactly the periods whose digest (row count and exact sum) changed since the last
 * pass: new days, late rows, restated days. State per series, in detector_state: each recent
 * period's digest and, when it fired, its alert. A re-scored period that still spikes raises
 * nothing new (same fingerprint); one that no longer spikes resolves its alert; a firing period
 * that leaves the re-score window resolves as aged out, as it will never be re-scored again.
 */

export const COST_DETECTOR = 'cost';

/** [digest, firing severity or '', observed, expected] per period start. */
type PeriodState = [digest: string, severity: Severity | '', observed: number, expected: number];

interface SeriesState {
  id: SeriesId;
  p: Record<string, PeriodState>;
}

export interface PassResult {
  series: number;
  rows: number;
  scored: number;
  fired: number;
  resolved: number;
  /** Where the pass spent its time (ms): the aggregation query, alerts with their drivers queries, state writes. */
  ms: { fetch: number; drivers: number; save: number; total: number };
}

export interface CostDetectorOptions {
  /** Clock, for tests and backfills of a past window. */
  now?: () => number;
  /** false: start() loads state but runs no timer (passes only through runOnce). */
  schedule?: boolean;
}

export interface CostDetector extends Detector {
  /** One full pass now (what the timer runs); for tests and the benchmark. */
  runOnce(): Promise<PassResult>;
}

const ABSENT = '0:0';
/** Drivers queries in flight at once: they wait on ClickHouse, not on this process. */
const DRIVER_QUERIES = 4;

/** Runs tasks `limit` at a time; results in task order. */
async function inOrder<T>(tasks: (() => Promise<T>)[], limit: number): Promise<T[]> {
  const out = new Array<T>(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const i = next++;
      out[i] = await tasks[i]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return out;
}

export function costDetector(config: CostDetectConfig, options: CostDetectorOptions = {}): CostDetector {
  const clock = options.now ?? Date.now;
  const spec: SeriesSpec = {
    dimensions: config.dimensions,
    tagKeys: config.tagKeys,
    costColumn: config.costColumn,
    granularity: config.granularity,
  };
  const step = periodMs(config.granularity);
  // History the baseline may reach back to: three lookbacks for idle series, three months of
  // month starts plus their own lookback.
  const historyDays = Math.max(3 * config.lookbackDays, 92 + config.lookbackDays);
  const state = new Map<string, SeriesState>();
  let ctx: DetectorContext | undefined;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;
  let scored = 0;
  let lastError: DetectorStats['lastError'];
  let driverMs = 0;

  const firingCount = () => {
    let n = 0;
    for (const s of state.values()) for (const p of Object.values(s.p)) if (p[1]) n++;
    return n;
  };

  async function alertFor(
    c: DetectorContext,
    id: SeriesId,
    at: number,
    status: 'firing' | 'resolved',
    score: SpikeScore,
    extra: { note?: string; severity?: Severity } = {},
  ): Promise<Alert> {
    const o = spikeOptions(config, id.dims.ServiceName, id.currency);
    const drivers =
      status === 'firing'
        ? await findDrivers(c.clickhouse, spec, id, at, score.baseline, config.maxDrivers)
        : [];
    const from = at - config.lookbackDays * DAY_MS;
    return costAlert({
      spec,
      id,
      at,
      status,
      score,
      minIncrease: o.minIncrease,
      drivers,
      query: evidenceQuery(id, spec, from, at + step),
      now: clock(),
      ...extra,
    });
  }

  async function pass(c: DetectorContext): Promise<PassResult> {
    const started = performance.now();
    driverMs = 0;
    const now = clock();
    const end = Math.floor(now / step) * step + step;
    const rescoreFrom = Math.floor((end - config.rescoreDays * DAY_MS) / step) * step;
    const rows = await fetchPeriods(c.clickhouse, spec, rescoreFrom - historyDays * DAY_MS, end);
    const fetched = performance.now();
    const bySeries = new Map<string, { id: SeriesId; series: CostSeries; digests: Map<number, string> }>();
    for (const r of rows) {
      let s = bySeries.get(r.key);
      if (!s) {
        s = {
          id: { dims: r.dims, tags: r.tags, currency: r.currency },
          series: { values: new Map(), firstAt: r.at },
          digests: new Map(),
        };
        bySeries.set(r.key, s);
      }
      s.series.values.set(r.at, (s.series.values.get(r.at) ?? 0) + r.cost);
      s.series.firstAt = Math.min(s.series.firstAt, r.at);
      if (r.at >= rescoreFrom) s.digests.set(r.at, r.digest);
    }
    // Alerts are built after the loop, their drivers queries a few at a time.
    const pending: (() => Promise<Alert>)[] = [];
    const changed = new Set<string>();
    let periods = 0;
    const result: PassResult = {
      series: bySeries.size,
      rows: rows.length,
      scored: 0,
      fired: 0,
      resolved: 0,
      ms: { fetch: fetched - started, drivers: 0, save: 0, total: 0 },
    };
    for (const key of new Set([...bySeries.keys(), ...state.keys()])) {
      const data = bySeries.get(key);
      const st: SeriesState = state.get(key) ?? { id: data!.id, p: {} };
      const id = data?.id ?? st.id;
      const enabled = serviceEnabled(config, id.dims.ServiceName);
      const o = spikeOptions(config, id.dims.ServiceName, id.currency);
      const series = data?.series ?? { values: new Map<number, number>(), firstAt: Number.MAX_SAFE_INTEGER };
      const ats = new Set<number>([...(data?.digests.keys() ?? []), ...Object.keys(st.p).map(Number)]);
      for (const at of [...ats].sort((a, b) => a - b)) {
        const prev = st.p[at];
        if (at < rescoreFrom) {
          // Leaving the window: never re-scored again, so a firing alert resolves now.
          if (prev?.[1]) {
            const score = {
              observed: prev[2],
              expected: prev[3],
              lower: prev[3],
              upper: prev[3],
              increase: prev[2] - prev[3],
              spike: true,
              score: 0,
              baseline: [],
            };
            const severity = prev[1];
            pending.push(() =>
              alertFor(c, id, at, 'resolved', score, { note: 'aged out of the re-score window', severity }),
            );
            result.resolved++;
          }
          delete st.p[at];
          changed.add(key);
          continue;
        }
        const digest = data?.digests.get(at) ?? ABSENT;
        if (prev?.[0] === digest) continue;
        changed.add(key);
        const score = enabled ? scorePeriod(series, at, o) : undefined;
        periods++;
        const firing = prev?.[1] ?? '';
        if (score?.spike && !firing) {
          pending.push(() => alertFor(c, id, at, 'firing', score));
          result.fired++;
          st.p[at] = [digest, severityOf(score.increase, o.minIncrease), score.observed, score.expected];
        } else if (!score?.spike && firing) {
          const s = score ?? {
            observed: series.values.get(at) ?? 0,
            expected: prev![3],
            lower: 0,
            upper: 0,
            increase: 0,
            spike: false,
            score: 0,
            baseline: [],
          };
          pending.push(() =>
            alertFor(c, id, at, 'resolved', s, {
              note: 'restated below the spike threshold',
              severity: firing,
            }),
          );
          result.resolved++;
          st.p[at] = [digest, '', s.observed, s.expected];
        } else {
          st.p[at] = [digest, firing, score?.observed ?? 0, score?.expected ?? 0];
        }
        // A period gone from the data and not firing needs no memory.
        if (digest === ABSENT && !st.p[at]![1]) delete st.p[at];
      }
      state.set(key, st);
    }
    result.scored = periods;
    scored += periods;
    detectorScored.inc({ detector: COST_DETECTOR }, periods);
    // Alerts first, then state: after a crash in between, the next pass re-emits (same
    // fingerprint) rather than forgetting an alert.
    const building = performance.now();
    const emitted = await inOrder(pending, DRIVER_QUERIES);
    driverMs = performance.now() - building;
    await c.alerts.emit(emitted);
    const saving = performance.now();
    const gone: string[] = [];
    const save: [string, string][] = [];
    for (const key of changed) {
      const st = state.get(key)!;
      if (Object.keys(st.p).length) save.push([key, JSON.stringify(st)]);
      else {
        state.delete(key);
        gone.push(key);
      }
    }
    await c.state.save(COST_DETECTOR, save);
    if (gone.length) await c.state.remove(COST_DETECTOR, gone);
    detectorTracked.set({ detector: COST_DETECTOR }, state.size);
    const done = performance.now();
    result.ms = { ...result.ms, drivers: driverMs, save: done - saving, total: done - started };
    return result;
  }

  const runOnce = async (): Promise<PassResult> => {
    if (!ctx) throw new Error('cost detector not started');
    const c = ctx;
    // One pass at a time: a slow pass makes the next timer tick wait for it.
    const p = (running ?? Promise.resolve()).catch(() => {}).then(() => pass(c));
    running = p;
    return p;
  };

  const tick = () => {
    runOnce().then(
      (r) => ctx?.log.debug(r, 'cost pass'),
      (err: unknown) => {
        lastError = {
          at: new Date().toISOString(),
          message: err instanceof Error ? err.message : String(err),
        };
        ctx?.log.warn({ err }, 'cost pass failed');
      },
    );
  };

  return {
    name: COST_DETECTOR,
    leaderOnly: true,
    runOnce,
    async start(c: DetectorContext) {
      ctx = c;
      for (const [key, value] of await c.state.load(COST_DETECTOR))
        state.set(key, JSON.parse(value) as SeriesState);
      if (!config.enabled || options.schedule === false) return;
      tick();
      timer = setInterval(tick, config.intervalSeconds * 1000);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await running?.catch(() => {});
    },
    stats: () => ({
      name: COST_DETECTOR,
      tracked: state.size,
      scored,
      firing: firingCount(),
      ...(lastError ? { lastError } : {}),
    }),
  };
}
