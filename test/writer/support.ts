import { randomBytes } from 'node:crypto';
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import { pino } from 'pino';
import type { OutgoingRecord } from '../../core/bus/types.ts';
import { migrate } from '../../core/clickhouse/migrate.ts';
import type { BillingLine, LogRecord, MetricPoint } from '../../core/model/records.ts';
import { billingMapping } from '../../ingest/writer/map-billing.ts';
import { logsMapping } from '../../ingest/writer/map-logs.ts';
import { metricsMapping } from '../../ingest/writer/map-metrics.ts';
import type { TopicMapping } from '../../ingest/writer/mapping.ts';

/** Shared by the writer tests: a migrated database per test file, records, topics, polling. */

export const uid = (prefix: string) => `${prefix}_${randomBytes(4).toString('hex')}`;

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Quiet unless OPSIGHT_TEST_LOG_LEVEL is set: several tests provoke errors on purpose. */
export const quiet = pino({ level: process.env.OPSIGHT_TEST_LOG_LEVEL ?? 'silent' });

/** Polls until `cond` holds; the timeout only guards against hanging, it asserts no speed. */
export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 120_000,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

export interface TestDatabase {
  database: string;
  client: ClickHouseClient;
  /** First column of the first row of a query, as a number. */
  scalar(query: string): Promise<number>;
  rows<T>(query: string): Promise<T[]>;
  drop(): Promise<void>;
}

const TTL = { metrics: 0, logs: 0, traces: 0, billing: 0, alerts: 0, deadLetters: 0 };

/** A database of its own with opsight's schema (migrate()), on the given server. */
export async function testDatabase(url: string, prefix = 'writer'): Promise<TestDatabase> {
  const database = uid(prefix);
  const admin = createClient({ url });
  try {
    await migrate(admin, { database, ttlDays: TTL });
  } finally {
    await admin.close();
  }
  // 64-bit integers as JSON numbers whatever the server's default: tests compare small values.
  // The client's own error log would print every refused insert the tests provoke.
  const client = createClient({
    url,
    database,
    clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
    log: { level: ClickHouseLogLevel.OFF },
  });
  const rows = async <T>(query: string): Promise<T[]> => {
    const rs = await client.query({ query, format: 'JSONEachRow' });
    return rs.json<T>();
  };
  return {
    database,
    client,
    rows,
    scalar: async (query) => {
      const [row] = await rows<Record<string, unknown>>(query);
      return Number(Object.values(row ?? {})[0]);
    },
    drop: async () => {
      await client.command({ query: `DROP DATABASE IF EXISTS ${database}` }).catch(() => {});
      await client.close();
    },
  };
}

/** The three writer topics under names of their own, so tests sharing a broker never mix. */
export function testTopics(prefix = uid('t')) {
  const topics = { metrics: `${prefix}.metrics`, logs: `${prefix}.logs`, billing: `${prefix}.billing` };
  const mappings: TopicMapping<unknown>[] = [
    { ...metricsMapping, topic: topics.metrics },
    { ...logsMapping, topic: topics.logs },
    { ...billingMapping, topic: topics.billing },
  ];
  return { topics, mappings };
}

const BASE_SECONDS = 1_790_000_000;

/** Point i: unique Value i; gauges mostly, every 10th a sum, every 10th+5 a histogram. */
export function metricPoint(i: number): MetricPoint {
  const series = i % 500;
  const p: MetricPoint = {
    name: `test_metric_${series % 7}`,
    type: 'gauge',
    unit: 's',
    resource: { 'service.name': `svc-${series % 5}`, 'host.name': `host-${series % 11}` },
    attributes: { path: `/p/${series}`, method: series % 2 ? 'GET' : 'POST' },
    timeUnixNano: `${BASE_SECONDS + Math.floor(i / 1000)}${String((i % 1000) * 1_000_000).padStart(9, '0')}`,
    value: i,
    scope: { name: 'opsight-test', version: '1.0' },
  };
  if (i % 10 === 0) return { ...p, type: 'sum', temporality: 'cumulative', monotonic: true };
  if (i % 10 === 5) {
    return {
      ...p,
      type: 'histogram',
      temporality: 'delta',
      histogram: { count: 6, sum: i, bounds: [0.1, 1], counts: [1, 2, 3], min: 0.05, max: 4 },
    };
  }
  return p;
}

export function metricRecords(from: number, to: number): OutgoingRecord<MetricPoint>[] {
  return Array.from({ length: to - from }, (_, j) => ({
    key: `series-${(from + j) % 500}`,
    value: metricPoint(from + j),
  }));
}

export function logRecord(i: number): LogRecord {
  return {
    timeUnixNano: `${BASE_SECONDS + i}000000000`,
    severityNumber: 9,
    severityText: 'INFO',
    body: `request ${i} served`,
    resource: { 'service.name': 'checkout' },
    attributes: { 'http.route': '/pay' },
    serviceName: 'checkout',
    traceId: '5b8efff798038103d269b633813fc60c',
    spanId: 'eee19b7ec3c1b174',
    templateId: 'request <*> served',
  };
}

export function billingLine(i: number): BillingLine {
  return {
    BilledCost: `${i}.0123456789`,
    EffectiveCost: `${i}.01`,
    ListCost: `${i}.02`,
    BillingCurrency: 'USD',
    BillingPeriodStart: '2026-01-01T00:00:00Z',
    BillingPeriodEnd: '2026-02-01T00:00:00Z',
    ChargePeriodStart: '2026-01-05T00:00:00Z',
    ChargePeriodEnd: '2026-01-05T01:00:00Z',
    ChargeCategory: 'Usage',
    ProviderName: 'AWS',
    ServiceName: 'Amazon EC2',
    RegionId: 'eu-west-1',
    ResourceId: `i-${i}`,
    Tags: { team: 'payments' },
    SourceName: 'test',
    SourceFile: 'focus.csv',
    SourceLine: i,
  };
}
