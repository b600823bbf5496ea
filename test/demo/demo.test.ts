import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { configSchema, type ConfigInput } from '../../core/config/schema.ts';
import { setLogLevel } from '../../core/log.ts';
import { FAULTS } from '../../demo/estate.ts';
import { classify, runDemo, type DemoResult } from '../../demo/run.ts';

/**
 * `opsight demo` end to end on the test ClickHouse (its own database): the real pipeline
 * (HTTP ingest, bus, writer, detectors, correlator) turns the three injected faults into
 * exactly one incident each, with the right root-cause CI, known error and change, and the
 * runaway autoscaling into a cost alert for finance with its driver.
 */

const DB = 'demo_e2e_test';
const dataDir = mkdtempSync(join(tmpdir(), 'opsight-demo-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

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

      // The data stays for Grafana: metrics of all three kinds, logs, billing over days.
      expect(r.sent.metricPoints).toBeGreaterThan(10_000);
      expect(r.sent.logLines).toBeGreaterThan(1_000);
      expect(r.sent.billingRows).toBeGreaterThan(500);
    },
  );
});
