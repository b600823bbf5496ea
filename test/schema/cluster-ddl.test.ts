import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { mutationTarget } from '../../core/clickhouse/ddl.ts';
import { generateDdl, migrations } from '../../core/clickhouse/migrate.ts';

/**
 * No cluster can run here, so the cluster schema is checked as text, and every statement is
 * parsed by the real server (formatQuery) so a typo cannot hide behind the text checks.
 */

const ttlDays = { metrics: 30, logs: 14, traces: 7, billing: 0, alerts: 180, deadLetters: 14 };
const ddl = generateDdl({ database: 'obs', cluster: 'prod-ch', ttlDays });

interface Parsed {
  name: string;
  columns: string[];
  engine: string;
  statement: string;
}

/** Table name, column definitions (name + type, codec dropped) and engine of a CREATE TABLE. */
function parse(statement: string): Parsed {
  const name = /^CREATE TABLE IF NOT EXISTS `obs`\.`([^`]+)`/.exec(statement)?.[1];
  const body = /\n\(\n([\s\S]*?)\n\)\n/.exec(statement)?.[1];
  const engine = /\nENGINE = ([^\n]+)/.exec(statement)?.[1];
  if (!name || !body || !engine) throw new Error(`cannot parse:\n${statement}`);
  const columns = body
    .split(',\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('`'))
    .map((l) => l.replace(/ CODEC\(.*\)$/, ''));
  return { name, columns, engine, statement };
}

const tables = ddl.filter((s) => s.startsWith('CREATE TABLE')).map(parse);
const byName = new Map(tables.map((t) => [t.name, t]));
const locals = tables.filter((t) => t.name.endsWith('_local'));
const distributed = tables.filter((t) => t.engine.startsWith('Distributed('));

describe('cluster DDL', () => {
  it('puts ON CLUSTER on every statement', () => {
    expect(ddl.length).toBeGreaterThan(20);
    for (const s of ddl) expect(s.split('\n')[0], s).toContain(' ON CLUSTER `prod-ch`');
  });

  it('makes a replicated _local table and a Distributed table for every table', () => {
    const names = migrations.flatMap((m) => (m.tables ?? []).map((t) => t.name));
    expect(names.length).toBe(21);
    expect(locals.map((t) => t.name).sort()).toEqual(names.map((n) => `${n}_local`).sort());
    expect(distributed.map((t) => t.name).sort()).toEqual([...names].sort());
    for (const name of names) {
      const local = byName.get(`${name}_local`)!;
      expect(local.engine, name).toMatch(
        new RegExp(
          `^Replicated\\w*MergeTree\\('/clickhouse/tables/\\{shard\\}/\\{database\\}/${name}', '\\{replica\\}'`,
        ),
      );
      const dist = byName.get(name)!;
      expect(dist.engine).toMatch(new RegExp(`^Distributed\\('prod-ch', 'obs', '${name}_local', .+\\)$`));
      expect(dist.columns, name).toEqual(local.columns);
    }
  });

  it('keeps the merge semantics of each engine', () => {
    expect(byName.get('incidents_local')!.engine).toMatch(/^ReplicatedReplacingMergeTree\(.*, version\)$/);
    expect(byName.get('cmdb_ci_local')!.engine).toMatch(
      /^ReplicatedReplacingMergeTree\(.*, updated_at, deleted\)$/,
    );
    expect(byName.get('cmdb_rel_local')!.engine).toMatch(/^ReplicatedReplacingMergeTree\(/);
    expect(byName.get('known_errors_local')!.engine).toMatch(/^ReplicatedReplacingMergeTree\(/);
    expect(byName.get('detector_state_local')!.engine).toMatch(
      /^ReplicatedReplacingMergeTree\(.*, updated_at\)$/,
    );
    expect(byName.get('otel_traces_trace_id_ts_local')!.engine).toMatch(/^ReplicatedAggregatingMergeTree\(/);
    expect(byName.get('otel_metrics_sum_local')!.engine).toMatch(/^ReplicatedMergeTree\(/);
    expect(byName.get('billing_focus_local')!.engine).toMatch(/^ReplicatedMergeTree\(/);
  });

  it('shards deterministically, so a replayed batch splits the same way', () => {
    for (const t of distributed) expect(t.engine, t.name).not.toMatch(/rand\(/);
    expect(byName.get('otel_traces')!.engine).toContain('cityHash64(TraceId)');
    expect(byName.get('otel_metrics_gauge')!.engine).toContain('cityHash64(ServiceName, MetricName');
    expect(byName.get('incidents')!.engine).toContain('cityHash64(id)');
  });

  it('deduplicates replays on replicated tables and keeps TTLs', () => {
    for (const t of locals) expect(t.statement, t.name).toContain('replicated_deduplication_window = 1000');
    expect(byName.get('otel_logs_local')!.statement).toContain(
      'TTL toDateTime(Timestamp) + toIntervalDay(14)',
    );
    expect(byName.get('billing_focus_local')!.statement).not.toMatch(/\nTTL /);
    // TTL, indexes and sort keys belong to the storage table only.
    for (const t of distributed) expect(t.statement).not.toMatch(/\n(TTL|ORDER BY|SETTINGS) |INDEX /);
  });

  it('records migrations in one table replicated across the whole cluster', () => {
    const m = byName.get('schema_migrations')!;
    expect(m.engine).toBe(
      "ReplicatedReplacingMergeTree('/clickhouse/tables/{database}/schema_migrations', '{shard}-{replica}')",
    );
  });

  it('feeds the trace-id lookup from the local span table on each shard', () => {
    const mv = ddl.find((s) => s.startsWith('CREATE MATERIALIZED VIEW'))!;
    expect(mv).toContain('TO `obs`.`otel_traces_trace_id_ts_local`');
    expect(mv).toContain('FROM `obs`.`otel_traces_local`');
  });

  it('renders single-node DDL without cluster clauses', () => {
    const single = generateDdl({ database: 'obs', ttlDays });
    for (const s of single) {
      expect(s).not.toMatch(/ON CLUSTER|Replicated|Distributed|_local/);
    }
  });

  it('refuses identifiers the config schema would refuse', () => {
    expect(() => generateDdl({ database: 'obs`; DROP', ttlDays })).toThrow(/invalid database/);
    expect(() => generateDdl({ database: 'obs', cluster: "c'x", ttlDays })).toThrow(/invalid cluster/);
    expect(() => generateDdl({ database: 'obs', ttlDays: { ...ttlDays, logs: 1.5 } })).toThrow(
      /ttlDays.logs/,
    );
  });

  describe('on the real server', () => {
    let client: ClickHouseClient;
    beforeAll(() => {
      client = createClient({ url: inject('clickhouseUrl'), username: 'default', password: '' });
    });
    afterAll(() => client.close());

    it('parses every statement', async () => {
      for (const query of ddl) {
        const rs = await client.query({
          query: 'SELECT formatQuery({q:String}) AS f',
          query_params: { q: query },
          format: 'JSONEachRow',
        });
        const [row] = await rs.json<{ f: string }>();
        expect(row?.f, query).toContain('ON CLUSTER');
      }
    });
  });
});

describe('mutations in a cluster', () => {
  it('target the local tables on every node, as ClickHouse refuses them on a Distributed table', () => {
    expect(mutationTarget('billing_focus', undefined)).toBe('`billing_focus`');
    expect(mutationTarget('billing_focus', 'prod-ch')).toBe('`billing_focus_local` ON CLUSTER `prod-ch`');
    expect(() => mutationTarget('billing_focus', 'x; DROP')).toThrow('invalid cluster name');
  });
});
