import { randomBytes } from 'node:crypto';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { TtlDays } from '../../core/clickhouse/ddl.ts';
import { generateDdl, migrate, migrations, type Migration } from '../../core/clickhouse/migrate.ts';

const ttlDays: TtlDays = { metrics: 30, logs: 14, traces: 7, billing: 0, alerts: 180, deadLetters: 14 };

const OTEL_TABLES = [
  'otel_metrics_gauge',
  'otel_metrics_sum',
  'otel_metrics_histogram',
  'otel_metrics_exponential_histogram',
  'otel_metrics_summary',
  'otel_logs',
  'otel_traces',
  'otel_traces_trace_id_ts',
];
const OWN_TABLES = [
  'billing_focus',
  'alerts',
  'incidents',
  'cmdb_ci',
  'cmdb_rel',
  'known_errors',
  'log_templates',
  'detector_state',
  'dead_letters',
  'changes',
  'ingest_batches',
  'billing_loads',
  'file_loads',
];

/** Written out from the exporter's sqltemplates, independently of the schema modules. */
const OTEL_COLUMNS: [table: string, column: string, type: string][] = [
  ['otel_metrics_gauge', 'ResourceAttributes', 'Map(LowCardinality(String), String)'],
  ['otel_metrics_gauge', 'ServiceName', 'LowCardinality(String)'],
  ['otel_metrics_gauge', 'MetricName', 'LowCardinality(String)'],
  ['otel_metrics_gauge', 'Attributes', 'Map(LowCardinality(String), String)'],
  ['otel_metrics_gauge', 'TimeUnix', 'DateTime64(9)'],
  ['otel_metrics_gauge', 'Value', 'Float64'],
  ['otel_metrics_gauge', 'Flags', 'UInt32'],
  ['otel_metrics_gauge', 'Exemplars.TraceId', 'Array(String)'],
  ['otel_metrics_sum', 'Value', 'Float64'],
  ['otel_metrics_sum', 'AggregationTemporality', 'Int32'],
  ['otel_metrics_sum', 'IsMonotonic', 'Bool'],
  ['otel_metrics_sum', 'ScopeDroppedAttrCount', 'UInt32'],
  ['otel_metrics_histogram', 'Count', 'UInt64'],
  ['otel_metrics_histogram', 'BucketCounts', 'Array(UInt64)'],
  ['otel_metrics_histogram', 'ExplicitBounds', 'Array(Float64)'],
  ['otel_metrics_histogram', 'Min', 'Float64'],
  ['otel_metrics_histogram', 'AggregationTemporality', 'Int32'],
  ['otel_metrics_exponential_histogram', 'Scale', 'Int32'],
  ['otel_metrics_exponential_histogram', 'ZeroCount', 'UInt64'],
  ['otel_metrics_exponential_histogram', 'PositiveOffset', 'Int32'],
  ['otel_metrics_exponential_histogram', 'NegativeBucketCounts', 'Array(UInt64)'],
  ['otel_metrics_summary', 'ValueAtQuantiles.Quantile', 'Array(Float64)'],
  ['otel_metrics_summary', 'ValueAtQuantiles.Value', 'Array(Float64)'],
  ['otel_logs', 'Timestamp', 'DateTime64(9)'],
  ['otel_logs', 'TraceFlags', 'UInt8'],
  ['otel_logs', 'SeverityText', 'LowCardinality(String)'],
  ['otel_logs', 'SeverityNumber', 'UInt8'],
  ['otel_logs', 'ServiceName', 'LowCardinality(String)'],
  ['otel_logs', 'Body', 'String'],
  ['otel_logs', 'ResourceAttributes', 'Map(LowCardinality(String), String)'],
  ['otel_logs', 'ScopeVersion', 'LowCardinality(String)'],
  ['otel_logs', 'LogAttributes', 'Map(LowCardinality(String), String)'],
  ['otel_logs', 'EventName', 'String'],
  ['otel_logs', '__otel_materialized_k8s.pod.name', 'LowCardinality(String)'],
  ['otel_logs', 'TimestampTime', 'DateTime'],
  ['otel_traces', 'Timestamp', 'DateTime64(9)'],
  ['otel_traces', 'SpanKind', 'LowCardinality(String)'],
  ['otel_traces', 'SpanAttributes', 'Map(LowCardinality(String), String)'],
  ['otel_traces', 'Duration', 'UInt64'],
  ['otel_traces', 'StatusCode', 'LowCardinality(String)'],
  ['otel_traces', 'Events.Timestamp', 'Array(DateTime64(9))'],
  ['otel_traces', 'Links.Attributes', 'Array(Map(LowCardinality(String), String))'],
  ['otel_traces_trace_id_ts', 'Start', 'SimpleAggregateFunction(min, DateTime)'],
  ['otel_traces_trace_id_ts', 'End', 'SimpleAggregateFunction(max, DateTime)'],
];

const url = inject('clickhouseUrl');
const suffix = randomBytes(4).toString('hex');
const databases: string[] = [];
let client: ClickHouseClient;

function freshDatabase(tag: string): string {
  const db = `opsight_schema_${suffix}_${tag}`;
  databases.push(db);
  return db;
}

async function rows<T>(query: string, params: Record<string, unknown> = {}): Promise<T[]> {
  const rs = await client.query({ query, query_params: params, format: 'JSONEachRow' });
  return rs.json<T>();
}

async function createQuery(db: string, table: string): Promise<string> {
  const [row] = await rows<{ q: string }>(
    'SELECT create_table_query AS q FROM system.tables WHERE database = {db:String} AND name = {t:String}',
    { db, t: table },
  );
  if (!row) throw new Error(`no table ${db}.${table}`);
  return row.q;
}

async function snapshot(db: string) {
  return {
    tables: await rows(
      'SELECT name, engine_full, create_table_query FROM system.tables WHERE database = {db:String} ORDER BY name',
      { db },
    ),
    columns: await rows(
      `SELECT table, name, position, type, default_kind, default_expression, compression_codec
       FROM system.columns WHERE database = {db:String} ORDER BY table, position`,
      { db },
    ),
  };
}

beforeAll(() => {
  client = createClient({ url, username: 'default', password: '', database: 'default' });
});

afterAll(async () => {
  for (const db of databases) await client.command({ query: `DROP DATABASE IF EXISTS \`${db}\`` });
  await client.close();
});

describe('migrate', () => {
  const db = freshDatabase('main');

  it('creates the database and every table, with the OTel exporter columns', async () => {
    const result = await migrate(client, { database: db, ttlDays });
    expect(result.applied).toEqual(migrations.map((m) => `${String(m.version).padStart(4, '0')}_${m.name}`));
    expect(result.skipped).toEqual([]);

    const tables = (
      await rows<{ name: string }>('SELECT name FROM system.tables WHERE database = {db:String}', { db })
    ).map((r) => r.name);
    for (const t of [...OTEL_TABLES, ...OWN_TABLES, 'schema_migrations', 'otel_traces_trace_id_ts_mv']) {
      expect(tables, t).toContain(t);
    }

    const columns = await rows<{ table: string; name: string; type: string }>(
      'SELECT table, name, type FROM system.columns WHERE database = {db:String}',
      { db },
    );
    const typeOf = new Map(columns.map((c) => [`${c.table}.${c.name}`, c.type]));
    for (const [table, column, type] of OTEL_COLUMNS)
      expect(typeOf.get(`${table}.${column}`), `${table}.${column}`).toBe(type);
  });

  it('gives billing_focus one column per BillingLine field, money as Decimal', async () => {
    const columns = await rows<{ name: string; type: string }>(
      "SELECT name, type FROM system.columns WHERE database = {db:String} AND table = 'billing_focus'",
      { db },
    );
    const typeOf = new Map(columns.map((c) => [c.name, c.type]));
    // Every field of BillingLine (core/model/records.ts), no more and no fewer.
    const fields = [
      'BilledCost', 'EffectiveCost', 'ListCost', 'ContractedCost', 'BillingCurrency', 'BillingPeriodStart',
      'BillingPeriodEnd', 'ChargePeriodStart', 'ChargePeriodEnd', 'ChargeCategory', 'ChargeDescription',
      'ProviderName', 'PublisherName', 'InvoiceIssuerName', 'BillingAccountId', 'BillingAccountName',
      'SubAccountId', 'SubAccountName', 'ServiceName', 'ServiceCategory', 'RegionId', 'RegionName',
      'AvailabilityZone', 'ResourceId', 'ResourceName', 'ResourceType', 'SkuId', 'SkuPriceId', 'PricingUnit',
      'PricingQuantity', 'ConsumedQuantity', 'ConsumedUnit', 'Tags', 'SourceName', 'SourceFile', 'SourceLine',
    ]; // prettier-ignore
    expect([...typeOf.keys()].sort()).toEqual([...fields].sort());
    for (const money of [
      'BilledCost',
      'EffectiveCost',
      'ListCost',
      'ContractedCost',
      'PricingQuantity',
      'ConsumedQuantity',
    ]) {
      expect(typeOf.get(money), money).toBe('Decimal(38, 15)');
    }
    for (const t of ['ChargePeriodStart', 'ChargePeriodEnd', 'BillingPeriodStart', 'BillingPeriodEnd']) {
      expect(typeOf.get(t), t).toBe("DateTime64(3, 'UTC')");
    }
    expect(typeOf.get('Tags')).toBe('Map(LowCardinality(String), String)');
    expect(typeOf.get('SourceFile')).toBe('LowCardinality(String)');
    expect(typeOf.get('SourceLine')).toBe('UInt64');
  });

  it('gives ingest_batches the writer’s columns and key', async () => {
    const columns = await rows<{ name: string; type: string }>(
      "SELECT name, type FROM system.columns WHERE database = {db:String} AND table = 'ingest_batches' ORDER BY position",
      { db },
    );
    expect(columns).toEqual([
      { name: 'group', type: 'LowCardinality(String)' },
      { name: 'topic', type: 'LowCardinality(String)' },
      { name: 'partition', type: 'UInt32' },
      { name: 'first_offset', type: 'UInt64' },
      { name: 'last_offset', type: 'UInt64' },
      { name: 'table', type: 'String' },
      { name: 'created_at', type: 'DateTime64(3)' },
    ]);
    const [t] = await rows<{ sorting_key: string }>(
      "SELECT sorting_key FROM system.tables WHERE database = {db:String} AND name = 'ingest_batches'",
      { db },
    );
    expect(t?.sorting_key).toBe('group, topic, partition, first_offset');
    expect(await createQuery(db, 'ingest_batches')).toContain(
      'TTL toDateTime(created_at) + toIntervalDay(7)',
    );
  });

  it('sets the deduplication window on every table the writer inserts into', async () => {
    const tables = await rows<{ name: string; q: string }>(
      `SELECT name, create_table_query AS q FROM system.tables
       WHERE database = {db:String} AND engine LIKE '%MergeTree'`,
      { db },
    );
    expect(tables.length).toBe(OTEL_TABLES.length + OWN_TABLES.length + 1);
    for (const t of tables) expect(t.q, t.name).toContain('non_replicated_deduplication_window = 1000');
  });

  it('applies nothing the second time and leaves tables and columns identical', async () => {
    const before = await snapshot(db);
    const again = await migrate(client, { database: db, ttlDays });
    expect(again.applied).toEqual([]);
    expect(again.skipped.length).toBe(migrations.length);
    expect(again.ttlUpdated).toEqual([]);
    expect(again.checksumMismatch).toEqual([]);
    expect(await snapshot(db)).toEqual(before);
  });

  it('records each version once in schema_migrations', async () => {
    // No FINAL: the rows as stored, not as merged.
    const recorded = await rows<{ version: number; name: string; n: string }>(
      `SELECT version, any(name) AS name, count() AS n FROM \`${db}\`.schema_migrations GROUP BY version ORDER BY version`,
    );
    expect(recorded.map((r) => [Number(r.version), r.name, Number(r.n)])).toEqual(
      migrations.map((m) => [m.version, m.name, 1]),
    );
  });

  it('applies a pending migration on top, in order, and warns about an edited one', async () => {
    const extra: Migration = {
      version: 9999,
      name: 'test_extra',
      statements: (o) => [
        `CREATE TABLE IF NOT EXISTS \`${o.database}\`.extra (x UInt8) ENGINE = MergeTree ORDER BY x`,
      ],
    };
    const edited = migrations.map((m, i) => (i === 0 ? { ...m, statements: () => ['SELECT 1'] } : m));
    const result = await migrate(client, { database: db, ttlDays }, [extra, ...edited]);
    expect(result.applied).toEqual(['9999_test_extra']);
    expect(result.checksumMismatch).toEqual(['0001_otel_metrics']);
    expect(await createQuery(db, 'extra')).toContain('MergeTree');
  });

  it('records each version once when two processes migrate at the same time', async () => {
    const db2 = freshDatabase('race');
    const [a, b] = await Promise.all([
      migrate(client, { database: db2, ttlDays }),
      migrate(client, { database: db2, ttlDays }),
    ]);
    expect(a.applied.length + a.skipped.length).toBe(migrations.length);
    expect(b.applied.length + b.skipped.length).toBe(migrations.length);
    const [n] = await rows<{ n: string; v: string }>(
      `SELECT count() AS n, uniqExact(version) AS v FROM \`${db2}\`.schema_migrations`,
    );
    expect(Number(n?.n)).toBe(migrations.length);
    expect(Number(n?.v)).toBe(migrations.length);
  });

  it('creates the same tables from generateDdl as migrate does', async () => {
    const db3 = freshDatabase('print');
    for (const query of generateDdl({ database: db3, ttlDays })) await client.command({ query });
    const strip = (q: string, d: string) => q.replaceAll(d, 'DB');
    const mine = (await snapshot(db)).tables.filter((t) => (t as { name: string }).name !== 'extra');
    const printed = (await snapshot(db3)).tables;
    expect(printed.map((t) => strip(JSON.stringify(t), db3))).toEqual(
      mine.map((t) => strip(JSON.stringify(t), db)),
    );
  });
});

describe('TTL from config', () => {
  const db = freshDatabase('ttl');

  it('puts ttlDays into each table and leaves ttl 0 without TTL', async () => {
    await migrate(client, { database: db, ttlDays: { ...ttlDays, metrics: 3, logs: 0, billing: 400 } });
    expect(await createQuery(db, 'otel_metrics_sum')).toContain(
      'TTL toDateTime(TimeUnix) + toIntervalDay(3)',
    );
    expect(await createQuery(db, 'otel_metrics_gauge')).toContain(
      'TTL toDateTime(TimeUnix) + toIntervalDay(3)',
    );
    expect(await createQuery(db, 'otel_traces')).toContain('TTL toDateTime(Timestamp) + toIntervalDay(7)');
    expect(await createQuery(db, 'billing_focus')).toContain(
      'TTL toDateTime(ChargePeriodStart) + toIntervalDay(400)',
    );
    expect(await createQuery(db, 'dead_letters')).toContain(
      'TTL toDateTime(received_at) + toIntervalDay(14)',
    );
    expect(await createQuery(db, 'alerts')).toContain('TTL toDateTime(received_at) + toIntervalDay(180)');
    expect(await createQuery(db, 'otel_logs')).not.toMatch(/\sTTL\s/);
  });

  it('follows a config change on the next run, then settles', async () => {
    const next = { ...ttlDays, metrics: 60, logs: 5, billing: 0 };
    const result = await migrate(client, { database: db, ttlDays: next });
    expect(result.applied).toEqual([]);
    expect([...result.ttlUpdated].sort()).toEqual(
      [
        'billing_focus',
        'otel_logs',
        'otel_metrics_exponential_histogram',
        'otel_metrics_gauge',
        'otel_metrics_histogram',
        'otel_metrics_sum',
        'otel_metrics_summary',
      ].sort(),
    );
    expect(await createQuery(db, 'otel_metrics_sum')).toContain(
      'TTL toDateTime(TimeUnix) + toIntervalDay(60)',
    );
    expect(await createQuery(db, 'otel_logs')).toContain('TTL toDateTime(Timestamp) + toIntervalDay(5)');
    expect(await createQuery(db, 'billing_focus')).not.toMatch(/\sTTL\s/);
    expect((await migrate(client, { database: db, ttlDays: next })).ttlUpdated).toEqual([]);
  });
});

describe('insert_deduplication_token', () => {
  const db = freshDatabase('dedup');

  beforeAll(async () => {
    await migrate(client, { database: db, ttlDays });
  });

  async function count(table: string): Promise<number> {
    const [r] = await rows<{ n: string }>(`SELECT count() AS n FROM \`${db}\`.\`${table}\``);
    return Number(r?.n);
  }

  it('drops a replayed billing batch', async () => {
    const line = {
      BilledCost: '12.3456789012',
      EffectiveCost: '10.5',
      ListCost: '13',
      BillingCurrency: 'USD',
      BillingPeriodStart: '2026-10-01 00:00:00.000',
      BillingPeriodEnd: '2026-11-01 00:00:00.000',
      ChargePeriodStart: '2026-10-05 00:00:00.000',
      ChargePeriodEnd: '2026-10-06 00:00:00.000',
      ChargeCategory: 'Usage',
      ProviderName: 'AWS',
      SubAccountId: '123456789012',
      ServiceName: 'Amazon EC2',
      Tags: { team: 'payments' },
      SourceName: 'focus',
      SourceFile: 'export-2026-10.csv',
      SourceLine: 2,
    };
    const batch = [line, { ...line, SourceLine: 3, BilledCost: '0.0000000001' }];
    const insert = (token: string) =>
      client.insert({
        table: `\`${db}\`.billing_focus`,
        values: batch,
        format: 'JSONEachRow',
        clickhouse_settings: { insert_deduplication_token: token },
      });
    await insert('opsight.billing:0:100-101');
    await insert('opsight.billing:0:100-101');
    expect(await count('billing_focus')).toBe(2);
    await insert('opsight.billing:0:102-103');
    expect(await count('billing_focus')).toBe(4);
    const [sum] = await rows<{ s: string }>(
      `SELECT toString(sum(BilledCost)) AS s FROM \`${db}\`.billing_focus`,
    );
    // Exact decimal arithmetic: 2 × (12.3456789012 + 0.0000000001).
    expect(sum?.s).toBe('24.6913578026');
  });

  it('drops a replayed gauge batch', async () => {
    const now = Math.floor(Date.now() / 1000);
    const point = {
      ServiceName: 'checkout',
      MetricName: 'queue_depth',
      Attributes: { queue: 'orders' },
      // Recent: the table's TTL would drop older rows at once.
      TimeUnix: new Date(now * 1000).toISOString(),
      Value: 4,
    };
    const insert = (token: string) =>
      client.insert({
        table: `\`${db}\`.otel_metrics_gauge`,
        values: [point, { ...point, TimeUnix: new Date((now + 10) * 1000).toISOString(), Value: 5 }],
        format: 'JSONEachRow',
        clickhouse_settings: { insert_deduplication_token: token },
      });
    await insert('opsight.metrics:3:7-8');
    await insert('opsight.metrics:3:7-8');
    expect(await count('otel_metrics_gauge')).toBe(2);
  });

  it('drops the replay in the trace-id lookup fed by its materialized view too', async () => {
    const span = {
      Timestamp: new Date().toISOString().replace('T', ' ').replace('Z', '123456'),
      TraceId: '5b8efff798038103d269b633813fc60c',
      SpanId: 'eee19b7ec3c1b174',
      SpanName: 'GET /cart',
      ServiceName: 'cart',
      Duration: 1500,
    };
    const insert = () =>
      client.insert({
        table: `\`${db}\`.otel_traces`,
        values: [span],
        format: 'JSONEachRow',
        clickhouse_settings: { insert_deduplication_token: 'opsight.traces:0:1-1' },
      });
    await insert();
    await insert();
    expect(await count('otel_traces')).toBe(1);
    expect(await count('otel_traces_trace_id_ts')).toBe(1);
  });
});
