import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { MemoryBus } from '../../core/bus/memory.ts';
import { TOPICS } from '../../core/bus/topics.ts';
import type { MetricPoint } from '../../core/model/records.ts';
import { configSchema } from '../../core/config/schema.ts';
import { backfill, formatBackfill, seriesValues } from '../../detect/backfill.ts';
import { BackfillUsageError, parseDuration, runBackfill } from '../../detect/cli/backfill.ts';
import { scoreSeries } from '../../detect/metrics/batch.ts';
import { startWriter, type Writer } from '../../ingest/writer/index.ts';
import { quiet, testDatabase, waitFor, type TestDatabase } from '../writer/support.ts';

/** Batch mode: a metric's history read back from ClickHouse and scored series by series. */

const STEP = 60_000;
const T0 = Date.parse('2026-11-01T00:00:00Z');
const N = 600;
const SPIKE = 500;

function noise(i: number): number {
  const x = Math.sin(i * 78.233) * 43758.5453;
  return x - Math.floor(x) - 0.5;
}

const point = (service: string, i: number, value: number, extra: Partial<MetricPoint> = {}): MetricPoint => ({
  name: 'queue_depth',
  type: 'gauge',
  resource: { 'service.name': service },
  attributes: { queue: 'orders' },
  timeUnixNano: `${BigInt(T0 + i * STEP) * 1_000_000n}`,
  value,
  ...extra,
});

let db: TestDatabase;
let bus: MemoryBus;
let writer: Writer;

beforeAll(async () => {
  db = await testDatabase(inject('clickhouseUrl'), 'backfill');
  bus = new MemoryBus();
  writer = await startWriter({
    bus,
    clickhouse: db.client,
    database: db.database,
    config: { maxRows: 50_000, maxBytes: 32 * 1024 * 1024, maxAgeMs: 100, retryMaxDelayMs: 1000 },
    log: quiet,
  });
  const points: MetricPoint[] = [];
  for (let i = 0; i < N; i++) {
    // checkout: a level with noise and one spike; billing: the same without the spike.
    points.push(point('checkout', i, i === SPIKE ? 400 : 100 + 4 * noise(i)));
    points.push(point('billing', i, 100 + 4 * noise(i + 1)));
    // A cumulative counter of the same name, 10/s with a reset at 300 and a burst at SPIKE.
    const total = (i < 300 ? i : i - 300) * 600 + (i >= SPIKE && i >= 300 ? 60_000 : 0);
    points.push(
      point('cart', i, total, {
        type: 'sum',
        temporality: 'cumulative',
        monotonic: true,
      }),
    );
  }
  await bus.publish(
    TOPICS.metrics,
    points.map((p) => ({ key: null, value: p })),
  );
  await waitFor(
    async () =>
      (await db.scalar(
        `SELECT (SELECT count() FROM otel_metrics_gauge) + (SELECT count() FROM otel_metrics_sum)`,
      )) ===
      3 * N,
    'the points in ClickHouse',
  );
}, 60_000);

afterAll(async () => {
  await writer?.stop();
  await bus?.close();
  await db?.drop();
});

describe('backfill', () => {
  it('finds the spike of the one series that had it, scored as the stream would', async () => {
    const r = await backfill(db.client, {
      metric: 'queue_depth',
      service: 'checkout',
      fromMs: T0,
      toMs: T0 + N * STEP,
    });
    expect(r.series).toBe(1);
    expect(r.points).toBe(N);
    expect(r.anomalies.map((a) => a.time)).toEqual([new Date(T0 + SPIKE * STEP).toISOString()]);
    const a = r.anomalies[0]!;
    expect(a).toMatchObject({ service: 'checkout', attributes: { queue: 'orders' }, value: 400 });
    expect(a.expected).toBeGreaterThan(90);
    expect(a.expected).toBeLessThan(110);
    expect(formatBackfill(r)).toContain('checkout queue_depth{queue=orders} = 400.000');

    // The same scores as feeding the points one by one.
    const values = Array.from({ length: N }, (_, i) => (i === SPIKE ? 400 : 100 + 4 * noise(i)));
    const direct = scoreSeries(
      Array.from({ length: N }, (_, i) => T0 + i * STEP),
      values,
    );
    expect(a.score).toBeCloseTo(direct.score[SPIKE]!, 9);
  });

  it('turns a cumulative counter into rates, skipping the reset, and scores every series of the metric', async () => {
    const all = await backfill(db.client, { metric: 'queue_depth', fromMs: T0, toMs: T0 + N * STEP });
    expect(all.series).toBe(3);
    // The cart counter: N points, the first and the reset give no rate.
    expect(all.points).toBe(N + N + (N - 2));
    const services = [...new Set(all.anomalies.map((a) => a.service))].sort();
    expect(services).toEqual(['cart', 'checkout']);
    const cart = all.anomalies.find((a) => a.service === 'cart')!;
    expect(cart.time).toBe(new Date(T0 + SPIKE * STEP).toISOString());
    expect(cart.value).toBeCloseTo((600 + 60_000) / 60, 6);
  });

  it('computes rates as the stream does', () => {
    const t = Float64Array.from([0, 1000, 2000, 3000]);
    expect([...seriesValues('cumulative', t, [10, 20, 5, 15])]).toEqual([NaN, 10, NaN, 10]);
    expect([...seriesValues('delta', t, [3, 4, 5, 6])]).toEqual([NaN, 4, 5, 6]);
    expect([...seriesValues('gauge', t, [3, 4, 5, 6])]).toEqual([3, 4, 5, 6]);
  });

  it('reads nothing outside the window or for another service', async () => {
    const r = await backfill(db.client, {
      metric: 'queue_depth',
      service: 'checkout',
      fromMs: T0 + (SPIKE + 1) * STEP,
      toMs: T0 + N * STEP,
    });
    expect(r.points).toBe(N - SPIKE - 1);
    expect(r.anomalies).toEqual([]);
    expect((await backfill(db.client, { metric: 'nope', fromMs: T0, toMs: T0 + N * STEP })).series).toBe(0);
  });
});

describe('opsight detect backfill', () => {
  it('prints the anomalies of the window as JSON, with the stream detector configuration', async () => {
    const config = configSchema.parse({
      clickhouse: { url: inject('clickhouseUrl'), database: db.database },
    });
    let printed = '';
    const code = await runBackfill(
      config,
      { metric: 'queue_depth', service: 'checkout', since: '1d', json: true },
      (s) => (printed += s),
      T0 + N * STEP,
    );
    expect(code).toBe(0);
    const r = JSON.parse(printed) as { series: number; anomalies: { time: string }[] };
    expect(r.series).toBe(1);
    expect(r.anomalies.map((a) => a.time)).toEqual([new Date(T0 + SPIKE * STEP).toISOString()]);
  });

  it('refuses bad windows and thresholds with a message naming the flag', async () => {
    const config = configSchema.parse({});
    expect(parseDuration('36h')).toBe(36 * 3_600_000);
    expect(() => parseDuration('a week')).toThrow('--since "a week": a duration such as 90m, 36h, 7d or 2w');
    await expect(runBackfill(config, { metric: 'm', from: 'yesterday' })).rejects.toThrow(BackfillUsageError);
    await expect(
      runBackfill(config, { metric: 'm', from: '2026-11-02T00:00:00Z', to: '2026-11-01T00:00:00Z' }),
    ).rejects.toThrow('--from must be before --to');
    await expect(runBackfill(config, { metric: 'm', minScore: '7' })).rejects.toThrow('--min-score');
  });
});
