import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import type { Panel } from '@grafana/schema';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { configSchema, type ConfigInput } from '../../core/config/schema.ts';
import { setLogLevel } from '../../core/log.ts';
import { FAULTS } from '../../demo/estate.ts';
import { classify, runDemo, type DemoResult } from '../../demo/run.ts';
import { checkDashboard, chooser, type Focus } from '../support/grafana-check.ts';
import {
  defaultRange,
  loadDashboards,
  panelInterval,
  panelsOf,
  resolveVariables,
  runQuery,
} from '../support/grafana-dashboards.ts';

/**
 * `opsight demo` end to end on the test ClickHouse (its own database): the real pipeline
 * (HTTP ingest, bus, writer, detectors, correlator) turns the three injected faults into
 * exactly one incident each, with the right root-cause CI, known error and change, and the
 * runaway autoscaling into a cost alert for finance with its driver. The on-call acknowledges
 * every incident and resolves the outage's. Then the dashboards are proven on what the demo
 * left: every panel, variable and annotation query runs on the demo's database and returns the
 * columns its panel reads, and rows with All selected.
 */

const DB = 'demo_e2e_test';
const dataDir = mkdtempSync(join(tmpdir(), 'opsight-demo-'));
let demo: DemoResult | undefined;
let client: ClickHouseClient | undefined;
afterAll(async () => {
  await client?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

/** The demo's database, once the demo ran. */
function demoClient(): ClickHouseClient {
  if (!demo) throw new Error('the demo did not run (see the first test)');
  client ??= createClient({ url: demo.clickhouseUrl, database: demo.database });
  return client;
}

/** The leak's service and metric: the demo's story in the single-value dashboards. */
const FOCUS: Focus = { focusService: FAULTS.leak.ci, focusMetric: 'process.memory.usage' };

describe('opsight demo', () => {
  it(
    'yields one incident per injected fault, with root cause, known error and change, and the cost alert',
    { timeout: 600_000 },
    async () => {
      setLogLevel(process.env.OPSIGHT_TEST_LOG_LEVEL ?? 'silent');
      const config = configSchema.parse({
        dataDir,
        clickhouse: { url: inject('clickhouseUrl'), database: DB },
      } satisfies ConfigInput);
      const printed: string[] = [];
      // Four hours of history keep the test short; the detectors still warm up (150 points).
      const r: DemoResult = await runDemo({
        config,
        speed: 7200,
        historyHours: 4,
        reset: true,
        out: (s) => printed.push(s),
      });
      demo = r;

      expect(r.complete).toBe(true);
      const byFault = new Map<string, typeof r.incidents>();
      for (const i of r.incidents) {
        const f = classify(i) ?? `other:${i.rootCause}`;
        byFault.set(f, [...(byFault.get(f) ?? []), i]);
      }
      // Exactly the three faults, once each: no incident from noise or the daily shape.
      expect([...byFault.keys()].sort()).toEqual(['cost', 'leak', 'outage']);
      for (const list of byFault.values()) expect(list).toHaveLength(1);

      const outage = byFault.get('outage')![0]!;
      expect(outage.rootCause).toBe(FAULTS.outage.ci);
      expect(outage.knownError?.id).toBe(FAULTS.outage.knownError);
      expect(outage.knownError?.workaround).toMatch(/standby/);
      expect(outage.change?.id).toBe(FAULTS.outage.change);
      expect(outage.blastRadius).toEqual(expect.arrayContaining(['orders', 'invoicing', 'checkout']));
      expect(outage.affected).toEqual(expect.arrayContaining(['orders-db', 'orders', 'invoicing']));
      expect(outage.affected).not.toContain(FAULTS.leak.ci);
      expect(outage.priority).toBe('P1');

      const leak = byFault.get('leak')![0]!;
      expect(leak.rootCause).toBe(FAULTS.leak.ci);
      expect(leak.knownError?.id).toBe(FAULTS.leak.knownError);
      expect(leak.change?.id).toBe(FAULTS.leak.change);
      expect(leak.affected).toEqual([FAULTS.leak.ci]);

      const cost = byFault.get('cost')![0]!;
      expect(cost.knownError?.id).toBe(FAULTS.cost.knownError);
      expect(r.costAlerts).toHaveLength(1);
      const alert = r.costAlerts[0]!;
      expect(alert).toMatchObject({
        team: 'finance',
        account: FAULTS.cost.account,
        service: FAULTS.cost.service,
        currency: 'USD',
      });
      expect(alert.actual).toBeGreaterThan(alert.expected * 2);
      expect(alert.drivers).toContain(FAULTS.cost.resource);

      // What the console showed: each incident with its triage, and the cost alert.
      const text = printed.join('');
      for (const i of [outage, leak, cost]) expect(text).toContain(`INCIDENT ${i.id}`);
      expect(text).toContain('COST ALERT for finance');
      expect(text).toContain(`workaround:   ${leak.knownError!.workaround}`);

      // The on-call acknowledged every incident and resolved the outage once orders-db was back.
      expect(outage.status).toBe('resolved');
      for (const i of [leak, cost]) expect(i.status).toBe('acknowledged');
      for (const i of [outage, leak, cost]) expect(text).toContain(`demo: on-call acknowledged ${i.id}`);
      expect(text).toContain(`demo: on-call resolved ${outage.id}`);

      // The data stays for Grafana: metrics of all three kinds, logs, billing over days.
      expect(r.sent.metricPoints).toBeGreaterThan(10_000);
      expect(r.sent.logLines).toBeGreaterThan(1_000);
      expect(r.sent.billingRows).toBeGreaterThan(500);
    },
  );

  for (const { file, json } of loadDashboards()) {
    for (const choice of ['all', 'some'] as const) {
      it(`dashboard ${file}: every query runs on the demo's data with ${choice === 'all' ? 'All selected' : 'chosen values'}`, async () => {
        await checkDashboard(demoClient(), file, json, choice, FOCUS);
      });
    }
  }

  it("the incidents dashboard shows the on-call's work: the resolved outage with its times", async () => {
    const inc = loadDashboards().find((d) => d.file === 'incidents.json')!.json;
    const panel = (title: RegExp) => panelsOf(inc).find((p) => title.test(p.title ?? '')) as Panel;
    const rawSql = (p: Panel) => (p.targets![0] as { rawSql: string }).rawSql;
    const ch = demoClient();
    const range = defaultRange(inc, Date.now());
    const { variables, options } = await resolveVariables(ch, inc, range, chooser('all', FOCUS));
    const ctx = { ...range, intervalMs: panelInterval(range), variables, options };
    const byFault = new Map(demo!.incidents.map((i) => [classify(i), i]));
    const outage = byFault.get('outage')!;

    const resolved = await runQuery(ch, rawSql(panel(/^Resolved incidents/)), ctx);
    const row = resolved.rows.find((x) => x.id === outage.id);
    expect(row).toMatchObject({ root_cause: FAULTS.outage.ci, known_error: FAULTS.outage.knownError });
    // Acknowledged before it was resolved, both after it opened.
    expect(row!.tta).not.toBeNull();
    expect(row!.ttr).not.toBeNull();
    expect(Number(row!.tta)).toBeGreaterThanOrEqual(0);
    expect(Number(row!.ttr)).toBeGreaterThanOrEqual(Number(row!.tta));

    const open = await runQuery(ch, rawSql(panel(/^Open incidents/)), ctx);
    expect(open.rows.map((x) => x.id)).not.toContain(outage.id);
    for (const f of ['leak', 'cost'] as const)
      expect(open.rows.find((x) => x.id === byFault.get(f)!.id)).toMatchObject({ status: 'acknowledged' });

    const mtta = await runQuery(ch, rawSql(panel(/^MTTA/)), ctx);
    const c = mtta.rows[0]!;
    expect([c.open, c.acknowledged, c.resolved].map(Number)).toEqual([0, 2, 1]);
    for (const m of [c.mtta, c.mttr]) {
      expect(m).not.toBeNull();
      expect(Number(m)).toBeGreaterThanOrEqual(0);
    }
  });
});
