import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { MemoryBus } from '../../core/bus/memory.ts';
import type { MetricSamples } from '../../core/model/metric-samples.ts';
import { startWriter, WriterCounters, type Writer } from '../../ingest/writer/index.ts';
import {
  billingLine,
  logRecord,
  metricPoint,
  metricRecords,
  quiet,
  testDatabase,
  testTopics,
  waitFor,
  type TestDatabase,
} from './support.ts';

/** The writer on the in-process bus against the shared ClickHouse, in a database of its own. */

const config = { maxRows: 10_000, maxBytes: 32 * 1024 * 1024, maxAgeMs: 200, retryMaxDelayMs: 1000 };

let db: TestDatabase;

beforeAll(async () => {
  db = await testDatabase(inject('clickhouseUrl'), 'writer_mem');
});

afterAll(async () => {
  await db?.drop();
});

async function withWriter<T>(
  bus: MemoryBus,
  mappings: ReturnType<typeof testTopics>['mappings'],
  fn: (w: Writer, counters: WriterCounters) => Promise<T>,
  extra: { tokenScope?: string; group?: string; config?: Partial<typeof config> } = {},
): Promise<T> {
  const counters = new WriterCounters();
  const { config: overrides, ...rest } = extra;
  const writer = await startWriter({
    bus,
    clickhouse: db.client,
    database: db.database,
    config: { ...config, ...overrides },
    mappings,
    events: counters,
    log: quiet,
    ...rest,
  });
  try {
    return await fn(writer, counters);
  } finally {
    await writer.stop();
  }
}

describe('writer on the in-process bus', () => {
  it('writes the records the bus held back for a whole batch when it is stopped', async () => {
    const bus = new MemoryBus({ defaultPartitions: 2 });
    const { topics, mappings } = testTopics();
    const body = `held back ${Date.now()}`;
    const count = () => db.scalar(`SELECT count() FROM otel_logs WHERE startsWith(Body, '${body}')`);
    // Far fewer records than a batch, and an age that never comes: only stop() hands them over.
    await withWriter(
      bus,
      mappings,
      async () => {
        await bus.publish(
          topics.logs,
          Array.from({ length: 50 }, (_, i) => ({
            key: `svc-${i % 5}`,
            // A service of its own: other tests here count the checkout service's rows.
            value: {
              ...logRecord(i),
              body: `${body} ${i}`,
              serviceName: 'held-back',
              resource: { 'service.name': 'held-back' },
            },
          })),
        );
        await new Promise((r) => setTimeout(r, 300));
        expect(await count()).toBe(0);
      },
      { config: { maxAgeMs: 600_000 } },
    );
    await bus.close();
    expect(await count()).toBe(50);
  });

  it('writes 100k metric points exactly once, each type into its OTel table', async () => {
    const bus = new MemoryBus({ defaultPartitions: 4 });
    const { topics, mappings } = testTopics();
    const n = 100_000;
    await withWriter(bus, mappings, async (_w, counters) => {
      for (let i = 0; i < n; i += 5000) await bus.publish(topics.metrics, metricRecords(i, i + 5000));
      await waitFor(() => counters.committedMessages >= n, 'all metric messages committed');
    });
    await bus.close();

    // Values are unique per point; the other tests of this file use values >= 1e6.
    const count = (table: string, col = 'Value') =>
      db.scalar(`SELECT count() FROM ${table} WHERE ${col} < ${n}`);
    expect(await count('otel_metrics_sum')).toBe(n / 10);
    expect(await count('otel_metrics_histogram', 'Sum')).toBe(n / 10);
    expect(await count('otel_metrics_gauge')).toBe(n - n / 5);
    const [totals] = await db.rows<{ c: number; u: number }>(
      `SELECT count() AS c, uniqExact(v) AS u FROM (
         SELECT Value AS v FROM otel_metrics_gauge UNION ALL SELECT Value FROM otel_metrics_sum
         UNION ALL SELECT Sum FROM otel_metrics_histogram) WHERE v < ${n}`,
    );
    expect(totals).toEqual({ c: n, u: n });

    // Columns as the OTel exporter fills them.
    const [sum] = await db.rows<Record<string, unknown>>(
      `SELECT ServiceName, MetricName, MetricUnit, ScopeName, ScopeVersion, Attributes, ResourceAttributes,
              toString(TimeUnix) AS t, Value, AggregationTemporality, IsMonotonic
       FROM otel_metrics_sum WHERE Value = 1230`,
    );
    const p = metricPoint(1230);
    expect(sum).toEqual({
      ServiceName: p.resource['service.name'],
      MetricName: p.name,
      MetricUnit: 's',
      ScopeName: 'opsight-test',
      ScopeVersion: '1.0',
      Attributes: { method: 'POST', path: '/p/230' },
      ResourceAttributes: { 'host.name': 'host-10', 'service.name': 'svc-0' },
      t: '2026-09-21 14:13:21.230000000',
      Value: 1230,
      AggregationTemporality: 2,
      IsMonotonic: true,
    });
    const [hist] = await db.rows<Record<string, unknown>>(
      `SELECT Count, Sum, BucketCounts, ExplicitBounds, Min, Max, AggregationTemporality
       FROM otel_metrics_histogram WHERE Sum = 1235`,
    );
    expect(hist).toEqual({
      Count: 6,
      Sum: 1235,
      BucketCounts: [1, 2, 3],
      ExplicitBounds: [0.1, 1],
      Min: 0.05,
      Max: 4,
      AggregationTemporality: 1,
    });
  });

  it('writes logs and billing lines, and sends every bad record to dead_letters with its reason', async () => {
    const bus = new MemoryBus({ defaultPartitions: 2 });
    const { topics, mappings } = testTopics();
    // ClickHouse itself refuses one row: the batch is bisected and only that row is dead-lettered.
    await db.client.command({
      query: `ALTER TABLE otel_logs ADD CONSTRAINT IF NOT EXISTS no_poison CHECK Body != 'poison'`,
    });
    try {
      await withWriter(bus, mappings, async (_w, counters) => {
        const good = 1000;
        await bus.publish(
          topics.logs,
          Array.from({ length: good }, (_, i) => ({ key: 'checkout', value: logRecord(i) })),
        );
        await bus.publish(topics.logs, [
          { key: 'checkout', value: { ...logRecord(5000), body: 'poison' } },
          { key: 'checkout', value: { ...logRecord(5001), timeUnixNano: 'garbage' } },
          { key: 'checkout', value: { ...logRecord(5002), body: undefined } },
        ]);
        await bus.publish(topics.billing, [
          ...Array.from({ length: 50 }, (_, i) => ({ key: 'aws', value: billingLine(i) })),
          { key: 'aws', value: { ...billingLine(9000), BilledCost: '12,50' } },
          { key: 'aws', value: { ...billingLine(9001), ChargePeriodStart: 'yesterday' } },
        ]);
        const m = (i: number) => metricPoint(2_000_000 + i);
        await bus.publish(topics.metrics, [
          { key: 'm', value: m(1) },
          { key: 'm', value: { ...m(2), name: undefined } },
          { key: 'm', value: { ...m(3), type: 'quantiles' } },
          { key: 'm', value: { ...m(4), timeUnixNano: Number.NaN } },
          { key: 'm', value: { ...m(6), timeUnixNano: 'soon' } },
          { key: 'm', value: m(7) },
        ]);
        await waitFor(() => counters.committedMessages >= good + 3 + 52 + 6, 'all messages committed');
      });
    } finally {
      await db.client.command({ query: 'ALTER TABLE otel_logs DROP CONSTRAINT IF EXISTS no_poison' });
      await bus.close();
    }

    expect(await db.scalar(`SELECT count() FROM otel_logs WHERE ServiceName = 'checkout'`)).toBe(1000);
    const [log] = await db.rows<Record<string, unknown>>(
      `SELECT toString(Timestamp) AS t, SeverityText, SeverityNumber, Body, TraceId, SpanId, LogAttributes, TemplateId
       FROM otel_logs WHERE Body = 'request 7 served'`,
    );
    expect(log).toEqual({
      t: '2026-09-21 14:13:27.000000000',
      SeverityText: 'INFO',
      SeverityNumber: 9,
      Body: 'request 7 served',
      TraceId: '5b8efff798038103d269b633813fc60c',
      SpanId: 'eee19b7ec3c1b174',
      LogAttributes: { 'http.route': '/pay' },
      TemplateId: 'request <*> served',
    });
    const [bill] = await db.rows<Record<string, unknown>>(
      `SELECT toString(BilledCost) AS billed, toString(ContractedCost) AS contracted, Tags,
              toString(ChargePeriodStart) AS start, SourceLine
       FROM billing_focus WHERE ResourceId = 'i-49'`,
    );
    expect(bill).toEqual({
      billed: '49.0123456789',
      contracted: '0',
      Tags: { team: 'payments' },
      start: '2026-01-05 00:00:00.000',
      SourceLine: 49,
    });
    expect(await db.scalar('SELECT count() FROM billing_focus')).toBe(50);
    expect(await db.scalar(`SELECT count() FROM otel_metrics_gauge WHERE Value IN (2000001, 2000007)`)).toBe(
      2,
    );

    const letters = await db.rows<{
      topic: string;
      offset: string;
      source: string;
      reason: string;
      payload: string;
    }>(
      `SELECT topic, toString(offset) AS offset, source, reason, payload FROM dead_letters
       WHERE topic IN ('${topics.logs}', '${topics.billing}', '${topics.metrics}') ORDER BY topic, offset`,
    );
    const reasons = letters.map((l) => `${l.topic.split('.').pop()} ${l.reason}`);
    expect(letters).toHaveLength(3 + 2 + 4);
    const expectations: [string, RegExp][] = [
      ['logs', /otel_logs: ClickHouse rejected the row: .*VIOLATED_CONSTRAINT|no_poison/],
      ['logs', /otel_logs\.Timestamp: expected a timestamp .*"garbage"/],
      ['logs', /log record without a body/],
      ['billing', /billing_focus\.BilledCost: expected a decimal number .*"12,50"/],
      ['billing', /billing_focus\.ChargePeriodStart: expected a timestamp .*"yesterday"/],
      ['metrics', /metric point without a name/],
      ['metrics', /unknown metric type "quantiles"/],
      ['metrics', /timeUnixNano must be Unix nanoseconds/],
      ['metrics', /otel_metrics_(gauge|sum|histogram)\.TimeUnix: expected a timestamp .*"soon"/],
    ];
    for (const [topic, re] of expectations) {
      expect(
        reasons.some((r) => r.startsWith(topic) && re.test(r)),
        `${topic} ${re}: ${reasons.join('\n')}`,
      ).toBe(true);
    }
    const poison = letters.find((l) => l.reason.includes('ClickHouse rejected'))!;
    expect(JSON.parse(poison.payload)).toMatchObject({ body: 'poison', serviceName: 'checkout' });
    expect(poison.source).toBe('clickhouse:otel_logs');
    expect(Number(poison.offset)).toBe(1000);
  });

  it('writes packed samples (MetricSamples) and dead-letters only the bad samples of a pack', async () => {
    const bus = new MemoryBus({ defaultPartitions: 1 });
    const { topics, mappings } = testTopics();
    const head = {
      name: 'packed_metric',
      type: 'gauge' as const,
      resource: { 'service.name': 'packed' },
      attributes: { cpu: '0' },
    };
    const sum = { ...head, type: 'sum' as const, temporality: 'cumulative' as const, monotonic: true };
    const base = Date.UTC(2026, 10, 1);
    const pack: MetricSamples = {
      kind: 'metric_samples',
      heads: [head, head, sum, { ...head, type: 'quantiles' as never }, head, sum],
      t: [base, base + 15_000, base, base, 1e16, base + 15_000],
      v: [1, 2, 3, 4, 5, 6],
    };
    await withWriter(bus, mappings, async (_w, counters) => {
      await bus.publish(topics.metrics, [
        { key: 'packed', value: pack },
        // From a producer other than opsight: refused whole, with the reason.
        { key: 'packed', value: { kind: 'metric_samples', heads: [head], t: [base, base + 1], v: [7] } },
      ]);
      await waitFor(() => counters.committedMessages >= 2, 'the packs committed');
    });
    await bus.close();
    const stored = await db.rows<{ t: string; v: number; table: string }>(
      `SELECT * FROM (
         SELECT toString(TimeUnix) AS t, Value AS v, 'gauge' AS table FROM otel_metrics_gauge WHERE MetricName = 'packed_metric'
         UNION ALL SELECT toString(TimeUnix), Value, 'sum' FROM otel_metrics_sum WHERE MetricName = 'packed_metric'
       ) ORDER BY v`,
    );
    expect(stored).toEqual([
      { t: '2026-11-01 00:00:00.000000000', v: 1, table: 'gauge' },
      { t: '2026-11-01 00:00:15.000000000', v: 2, table: 'gauge' },
      { t: '2026-11-01 00:00:00.000000000', v: 3, table: 'sum' },
      { t: '2026-11-01 00:00:15.000000000', v: 6, table: 'sum' },
    ]);
    // Each bad sample is a dead letter of its own, its payload that one point, not the pack.
    const letters = await db.rows<{ reason: string; payload: string }>(
      `SELECT reason, payload FROM dead_letters WHERE topic = '${topics.metrics}' AND payload LIKE '%packed_metric%'
       ORDER BY reason`,
    );
    expect(letters.map((l) => l.reason)).toEqual([
      'metric_samples pack with 1 samples but 2 times and 1 values',
      expect.stringMatching(/^otel_metrics_gauge\.TimeUnix: .*out of range/),
      expect.stringMatching(/unknown metric type "quantiles"/),
    ]);
    expect(letters.slice(1).map((l) => (JSON.parse(l.payload) as { value: number }).value)).toEqual([5, 4]);
    expect(JSON.parse(letters[0]!.payload)).toMatchObject({ kind: 'metric_samples', v: [7] });
  });

  it('inserts nothing twice when the same offsets are delivered again', async () => {
    const { topics, mappings } = testTopics();
    const scope = 'replay-test';
    const n = 30_000;
    const base = 1_000_000;
    const run = async () => {
      // A fresh in-process bus numbers the same messages with the same offsets: a replay. They
      // are all published before the writer starts, so both runs get the same deliveries (a
      // publisher slower than the linger would cut them differently; see the Kafka tests for
      // replays re-cut at the recorded boundaries).
      const bus = new MemoryBus({ defaultPartitions: 3 });
      for (let i = base; i < base + n; i += 3000)
        await bus.publish(topics.metrics, metricRecords(i, i + 3000));
      const counters = await withWriter(
        bus,
        mappings,
        async (_w, c) => {
          await waitFor(() => c.committedMessages >= n, 'all messages committed');
          return c;
        },
        { tokenScope: scope },
      );
      await bus.close();
      return counters;
    };
    const count = () =>
      db.scalar(
        `SELECT count() FROM (SELECT Value AS v FROM otel_metrics_gauge UNION ALL
           SELECT Value FROM otel_metrics_sum UNION ALL SELECT Sum FROM otel_metrics_histogram)
         WHERE v >= ${base} AND v < ${base + n}`,
      );
    const first = await run();
    expect(await count()).toBe(n);
    const second = await run();
    // The second run inserted everything again (ClickHouse acknowledged it) and it was dropped.
    expect([...second.rowsByTable.values()].reduce((a, b) => a + b, 0)).toBe(n);
    expect(second.insertRows.length).toBe(first.insertRows.length);
    expect(await count()).toBe(n);
  });
});
