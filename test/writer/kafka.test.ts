import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { KafkaBus } from '../../core/bus/kafka.ts';
import { partitionFor } from '../../core/bus/partitioner.ts';
import { packMetricSamples } from '../../core/model/metric-samples.ts';
import { seriesKey } from '../../ingest/keys.ts';
import { startWriter, WriterCounters } from '../../ingest/writer/index.ts';
import {
  metricRecords,
  quiet,
  testDatabase,
  testTopics,
  uid,
  waitFor,
  type TestDatabase,
} from './support.ts';

/** The writer on a real Kafka broker: exactly once, across replays and SIGKILLed processes. */

const brokers = inject('kafkaBrokers').split(',');
const url = inject('clickhouseUrl');
const config = { maxRows: 5000, maxBytes: 32 * 1024 * 1024, maxAgeMs: 200, retryMaxDelayMs: 1000 };

let db: TestDatabase;
const cleanup: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  db = await testDatabase(url, 'writer_kafka');
});

afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn().catch(() => {});
});

afterAll(async () => {
  await db?.drop();
});

/** Packs every topic's records as the ingest topics' are (the test topics have their own names). */
function kafkaBus(): KafkaBus {
  const bus = new KafkaBus({ brokers, logger: quiet, retryDelayMs: 200, pack: () => true });
  cleanup.push(() => bus.close());
  return bus;
}

/** Rows of the three metric tables whose Value (Sum for histograms) is in [from, to). */
async function stored(from: number, to: number): Promise<{ rows: number; distinct: number }> {
  const [r] = await db.rows<{ rows: number; distinct: number }>(
    `SELECT count() AS rows, uniqExact(v) AS distinct FROM (
       SELECT Value AS v FROM otel_metrics_gauge UNION ALL SELECT Value FROM otel_metrics_sum
       UNION ALL SELECT Sum FROM otel_metrics_histogram) WHERE v >= ${from} AND v < ${to}`,
  );
  return r!;
}

/** A writer in `group` on `bus`, stopped after the test; with its counters. */
async function writerOn(
  bus: KafkaBus,
  group: string,
  mappings: ReturnType<typeof testTopics>['mappings'],
  maxRows = config.maxRows,
) {
  const counters = new WriterCounters();
  const writer = await startWriter({
    bus,
    clickhouse: db.client,
    database: db.database,
    config: { ...config, maxRows },
    group,
    mappings,
    events: counters,
    log: quiet,
  });
  cleanup.push(() => writer.stop());
  return { writer, counters };
}

async function lag(bus: KafkaBus, group: string, topic: string): Promise<number> {
  return (await bus.lag(group, topic)).reduce((sum, p) => sum + p.lag, 0);
}

async function publish(bus: KafkaBus, topic: string, from: number, to: number, chunk = 5000): Promise<void> {
  for (let i = from; i < to; i += chunk) await bus.publish(topic, metricRecords(i, Math.min(to, i + chunk)));
}

describe('writer on Kafka', () => {
  // 300 rows is less than a pack holds (~800 points of 256 KB): batches end between packs. Each
  // case writes its own value range (the tables are shared).
  it.each([
    [5000, 0],
    [300, 2_000_000],
  ])(
    'writes 100k metric points exactly once, and a replay from offset 0 inserts nothing twice (maxRows %i)',
    async (maxRows, base) => {
      const bus = kafkaBus();
      const { topics, mappings } = testTopics(uid('w'));
      const group = uid('writer');
      await bus.ensureTopics([{ name: topics.metrics, partitions: 3 }]);
      const n = 100_000;
      await publish(bus, topics.metrics, base, base + n);
      // Packed: far fewer Kafka messages than records.
      const messages = await lag(bus, group, topics.metrics);
      expect(messages).toBeLessThan(n / 100);

      const start = () => writerOn(bus, group, mappings, maxRows);

      const first = await start();
      await waitFor(
        async () => (await lag(bus, group, topics.metrics)) === 0,
        'the group to commit everything',
      );
      expect(first.counters.committedMessages).toBe(n);
      // A batch never splits a pack: below a pack's size, batches are whole packs.
      if (maxRows < 500) expect(Math.max(...first.counters.insertRows)).toBeGreaterThan(maxRows);
      expect(await stored(base, base + n)).toEqual({ rows: n, distinct: n });
      await first.writer.stop();

      // Rewind the group: every message is delivered again, with the same offsets.
      const admin = new Kafka({ brokers, logLevel: logLevel.NOTHING }).admin();
      await admin.connect();
      await admin.resetOffsets({ groupId: group, topic: topics.metrics, earliest: true });
      await admin.disconnect();
      expect(await lag(bus, group, topics.metrics)).toBe(messages);

      const second = await start();
      await waitFor(async () => (await lag(bus, group, topics.metrics)) === 0, 'the replay to be committed');
      // ClickHouse acknowledged every replayed row (same tokens) and stored none of them again.
      expect([...second.counters.rowsByTable.values()].reduce((a, b) => a + b, 0)).toBe(n);
      expect(second.counters.insertRows.length).toBe(first.counters.insertRows.length);
      expect(await stored(base, base + n)).toEqual({ rows: n, distinct: n });
    },
  );

  it('writes packed samples (MetricSamples) that crossed the broker in their compact form', async () => {
    const bus = kafkaBus();
    const { topics, mappings } = testTopics(uid('p'));
    const group = uid('writer');
    await bus.ensureTopics([{ name: topics.metrics, partitions: 3 }]);
    const n = bus.partitionCount(topics.metrics)!;
    expect(n).toBe(3);
    // 40 series, 50 samples each, packed per partition as remote_write does; some values are
    // the NaN and infinities JSON alone cannot carry.
    const heads = Array.from({ length: 40 }, (_, i) => ({
      name: 'packed_kafka',
      type: 'gauge' as const,
      resource: { 'service.name': `svc-${i % 4}` },
      attributes: { series: String(i) },
    }));
    const base = Date.UTC(2026, 10, 1);
    const byPartition = new Map<number, { key: string; h: typeof heads; t: number[]; v: number[] }>();
    for (let k = 0; k < 50; k++) {
      for (const [i, head] of heads.entries()) {
        const key = seriesKey({ ...head });
        const p = partitionFor(key, n);
        let g = byPartition.get(p);
        if (!g) byPartition.set(p, (g = { key, h: [], t: [], v: [] }));
        g.h.push(head);
        g.t.push(base + k * 15_000);
        g.v.push(k === 7 ? [NaN, Infinity, -Infinity][i % 3]! : i * 100 + k);
      }
    }
    await bus.publish(
      topics.metrics,
      [...byPartition.values()].map((g) => ({ key: g.key, value: packMetricSamples(g.h, g.t, g.v) })),
    );
    await writerOn(bus, group, mappings);
    await waitFor(async () => (await lag(bus, group, topics.metrics)) === 0, 'the packs committed');
    const [r] = await db.rows<{ rows: number; series: number; nan: number; inf: number; total: number }>(
      `SELECT count() AS rows, uniqExact(Attributes['series']) AS series, countIf(isNaN(Value)) AS nan,
         countIf(isInfinite(Value)) AS inf, sumIf(Value, isFinite(Value)) AS total
       FROM otel_metrics_gauge WHERE MetricName = 'packed_kafka'`,
    );
    let total = 0;
    for (let k = 0; k < 50; k++) if (k !== 7) for (let i = 0; i < 40; i++) total += i * 100 + k;
    expect(r).toEqual({ rows: 2000, series: 40, nan: 14, inf: 26, total });
    expect(await db.scalar(`SELECT count() FROM dead_letters WHERE topic = '${topics.metrics}'`)).toBe(0);
  });

  it('leaves exactly the rows sent when the writer process is SIGKILLed mid-stream and restarted', async () => {
    const bus = kafkaBus();
    const prefix = uid('k');
    const { topics } = testTopics(prefix);
    const group = uid('writer');
    // One partition, so the restarted process necessarily starts where the killed one stopped.
    await bus.ensureTopics([{ name: topics.metrics, partitions: 1 }]);
    const base = 1_000_000;
    const n = 60_000;

    const script = fileURLToPath(new URL('./writer-process.ts', import.meta.url));
    const runs: { proc: ChildProcess; stderr: string[]; exit: Promise<NodeJS.Signals | number | null> }[] =
      [];
    const startProcess = (crashAfterInserts = 0) => {
      const proc = spawn(process.execPath, ['--import', 'tsx', script], {
        env: {
          ...process.env,
          CLICKHOUSE_URL: url,
          WRITER_DATABASE: db.database,
          KAFKA_BROKERS: brokers.join(','),
          WRITER_TOPICS: prefix,
          WRITER_GROUP: group,
          WRITER_MAX_ROWS: '2000',
          WRITER_CRASH_AFTER_INSERTS: String(crashAfterInserts),
          OPSIGHT_LOG_LEVEL: 'info',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const run = {
        proc,
        stderr: [] as string[],
        exit: new Promise<NodeJS.Signals | number | null>((resolve) =>
          proc.once('exit', (code, signal) => resolve(signal ?? code)),
        ),
      };
      proc.stderr!.on('data', (d: Buffer) => run.stderr.push(d.toString()));
      proc.stdout!.resume();
      cleanup.push(async () => {
        if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
        await run.exit;
      });
      runs.push(run);
      return run;
    };

    // 1. The writer kills itself right after its third insert is acknowledged: landed, not committed.
    await publish(bus, topics.metrics, base, base + 20_000);
    const a = startProcess(3);
    expect(await a.exit).toBe('SIGKILL');
    const afterA = await stored(base, base + n);
    expect(afterA.rows).toBeGreaterThan(0);
    expect(afterA.rows).toBeLessThan(n);

    // 2. Restarted while the stream goes on; killed from outside once it has made progress.
    const b = startProcess();
    const producing = publish(bus, topics.metrics, base + 20_000, base + n, 2000);
    await waitFor(
      async () => (await stored(base, base + n)).rows > afterA.rows + 5000,
      'progress after restart',
    );
    b.proc.kill('SIGKILL');
    expect(await b.exit).toBe('SIGKILL');
    await producing;

    // 3. Restarted again: it catches up and the group's lag reaches zero.
    startProcess();
    await waitFor(
      async () => (await lag(bus, group, topics.metrics)) === 0,
      'the group to commit everything',
    );

    expect(await stored(base, base + n)).toEqual({ rows: n, distinct: n });
    // The second process found the first one's recorded batches and re-cut the replay at them.
    expect(b.stderr.join('')).toContain(
      'replay: re-cutting redelivered messages at the recorded batch boundaries',
    );
  });
});
