import { randomBytes } from 'node:crypto';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import type { Panel } from '@grafana/schema';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { migrate } from '../../core/clickhouse/migrate.ts';
import { seedDashboardData, type SeededEstate } from '../support/grafana-data.ts';
import { checkDashboard, chooser } from '../support/grafana-check.ts';
import {
  defaultRange,
  loadDashboards,
  panelInterval,
  panelsOf,
  resolveVariables,
  runQuery,
} from '../support/grafana-dashboards.ts';

/**
 * Every panel, variable and annotation query of every dashboard, expanded the way Grafana and
 * the ClickHouse plugin expand it, runs on the real ClickHouse holding a realistic estate and
 * returns the columns its panel reads; with All selected, every query returns rows.
 */

const url = inject('clickhouseUrl');
const db = `dash_${randomBytes(4).toString('hex')}`;
const ttlDays = { metrics: 30, logs: 14, traces: 7, billing: 0, alerts: 180, deadLetters: 14 };
let admin: ClickHouseClient;
let client: ClickHouseClient;
let estate: SeededEstate;

beforeAll(async () => {
  admin = createClient({ url, database: 'default' });
  await migrate(admin, { database: db, ttlDays });
  client = createClient({ url, database: db, clickhouse_settings: { async_insert: 0 } });
  estate = await seedDashboardData(client);
});

afterAll(async () => {
  await client?.close();
  await admin?.command({ query: `DROP DATABASE IF EXISTS \`${db}\`` });
  await admin?.close();
});

for (const { file, json } of loadDashboards()) {
  describe(file, () => {
    for (const choice of ['all', 'some'] as const) {
      it(`runs every query with ${choice === 'all' ? 'All selected' : 'chosen values'}`, async () => {
        await checkDashboard(client, file, json, choice, estate);
      });
    }
  });
}

describe('what the dashboards show', () => {
  const sre = loadDashboards().find((d) => d.file === 'sre-overview.json')!.json;
  const panel = (d: typeof sre, title: RegExp) => panelsOf(d).find((p) => title.test(p.title ?? '')) as Panel;
  const rawSql = (p: Panel, i = 0) => (p.targets![i] as { rawSql: string }).rawSql;

  it('counts the failing services with their error ratio and health', async () => {
    const range = defaultRange(sre, Date.now());
    const { variables, options } = await resolveVariables(client, sre, range, chooser('all', estate));
    const r = await runQuery(client, rawSql(panel(sre, /^Services:/)), {
      ...range,
      intervalMs: panelInterval(range),
      variables,
      options,
    });
    const row = (s: string) => r.rows.find((x) => x.service === s)!;
    // payments-api and checkout fail for the last 40 of 360 minutes at 25%: about 3% overall.
    expect(Number(row('payments-api').error_ratio)).toBeGreaterThan(0.015);
    expect(Number(row('search').error_ratio)).toBeLessThan(0.005);
    expect(row('payments-api').health).toBe('critical');
    expect(row('search').health).toBe('ok');
    expect(Number(row('checkout').p95)).toBeGreaterThan(Number(row('auth').p95));
    // A database with no request metrics still shows, by its firing alert.
    expect(row('orders-db')).toMatchObject({ health: 'critical', firing_alerts: 1 });
  });

  it('reads the newest version of each incident only', async () => {
    const inc = loadDashboards().find((d) => d.file === 'incidents.json')!.json;
    const range = defaultRange(inc, Date.now());
    const { variables, options } = await resolveVariables(client, inc, range, chooser('all', estate));
    const ctx = { ...range, intervalMs: panelInterval(range), variables, options };
    const open = await runQuery(client, rawSql(panel(inc, /^Open incidents/)), ctx);
    expect(open.rows.map((x) => x.id)).not.toContain(estate.incidentId); // resolved in version 3
    const resolved = await runQuery(client, rawSql(panel(inc, /^Resolved incidents/)), ctx);
    const outage = resolved.rows.find((x) => x.id === estate.incidentId)!;
    expect(outage).toMatchObject({ root_cause: 'orders-db', known_error: 'KE-001', tta: 180, alerts: 5 });
  });

  it("places logs without an environment attribute by their service's metrics", async () => {
    const logs = loadDashboards().find((d) => d.file === 'logs.json')!.json;
    const range = defaultRange(logs, Date.now());
    const { variables, options } = await resolveVariables(client, logs, range, chooser('all', estate));
    const ctx = {
      ...range,
      intervalMs: panelInterval(range),
      variables: { ...variables, env: ['prod'] },
      options,
    };
    const r = await runQuery(client, rawSql(panel(logs, /^Volume by service/)), ctx);
    const services = new Set(r.rows.map((x) => x.service));
    expect(services).toContain('auth'); // its lines carry no deployment.environment
    expect(services).not.toContain('inventory'); // staging
  });

  it('sums money exactly', async () => {
    const fin = loadDashboards().find((d) => d.file === 'finops.json')!.json;
    const range = defaultRange(fin, Date.now());
    const { variables, options } = await resolveVariables(client, fin, range, chooser('all', estate));
    const r = await runQuery(client, rawSql(panel(fin, /^Billed/)), {
      ...range,
      intervalMs: panelInterval(range),
      variables,
      options,
    });
    const direct = await client.query({
      query: `SELECT toString(round(sum(BilledCost), 2)) AS s FROM billing_focus
              WHERE ChargePeriodStart >= {from:DateTime} AND ChargePeriodStart <= {to:DateTime} AND BillingCurrency = 'USD'`,
      query_params: {
        from: Math.floor(range.from.getTime() / 1000),
        to: Math.floor(range.to.getTime() / 1000),
      },
      format: 'JSONEachRow',
    });
    const [{ s }] = (await direct.json()) as [{ s: string }];
    expect(String(r.rows[0]!.billed)).toBe(String(Number(s)));
    expect(r.columns.find((c) => c.name === 'billed')!.type).toMatch(/^Decimal/);
  });
});
