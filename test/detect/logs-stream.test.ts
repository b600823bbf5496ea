import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { TOPICS } from '../../core/bus/topics.ts';
import { configSchema, type ConfigInput } from '../../core/config/schema.ts';
import { setLogLevel } from '../../core/log.ts';
import type { Alert, LogRecord } from '../../core/model/records.ts';
import { startRuntime, type Runtime } from '../../core/runtime.ts';
import { startDetectRole } from '../../detect/role.ts';

/** Template mining on the log stream: a new error template and a surge alert; log_templates rows. */
const config = configSchema.parse({
  clickhouse: { url: inject('clickhouseUrl'), database: 'detect_logs_stream' },
  http: { addr: '127.0.0.1:0' },
  detect: {
    checkpointSeconds: 3600,
    health: { enabled: false },
    cost: { enabled: false },
    metrics: { enabled: false },
  },
} satisfies ConfigInput);

let rt: Runtime;
const alerts: Alert[] = [];
const T0 = Date.parse('2026-10-01T00:00:00Z');
const log = (ms: number, body: string, severityNumber = 9): LogRecord => ({
  timeUnixNano: `${BigInt(ms) * 1_000_000n}`,
  severityNumber,
  severityText: severityNumber >= 17 ? 'ERROR' : 'INFO',
  body,
  resource: { 'service.name': 'checkout' },
  attributes: {},
  serviceName: 'checkout',
});

beforeAll(async () => {
  setLogLevel(process.env.OPSIGHT_TEST_LOG_LEVEL ?? 'silent');
  rt = await startRuntime(config, { detect: startDetectRole }, ['detect']);
  await rt.bus.subscribe<Alert>({
    group: 'test',
    topics: [TOPICS.alerts],
    handler: async (b) => void alerts.push(...b.messages.map((m) => m.value)),
  });
}, 60_000);
afterAll(async () => rt?.stop());

const publish = (lines: LogRecord[]) =>
  rt.bus.publish(
    TOPICS.logs,
    lines.map((l) => ({ key: 'checkout', value: l })),
  );
const until = async (f: () => boolean) => {
  for (let i = 0; i < 200 && !f(); i++) await sleep(50);
};

describe('log templates on the stream', () => {
  it('alerts on a new error template and on a surge, not on routine lines', async () => {
    const lines: LogRecord[] = [];
    // 30 minutes of routine traffic: 5 lines a minute of two templates.
    for (let m = 0; m < 30; m++)
      for (let k = 0; k < 5; k++) {
        lines.push(log(T0 + m * 60_000 + k * 1000, `order ${1000 + m * 5 + k} paid in ${20 + k} ms`));
        lines.push(log(T0 + m * 60_000 + k * 1000 + 500, `cart ${m}${k} updated by user u${k}`));
      }
    await publish(lines);
    await sleep(300);
    expect(alerts).toEqual([]);
    // An error never seen before, then a burst of payments in one minute.
    const t = T0 + 31 * 60_000;
    const burst = [log(t, 'payment gateway timeout after 30000 ms for order 99', 17)];
    for (let k = 0; k < 200; k++)
      burst.push(log(t + 100 + k * 100, `order ${5000 + k} paid in ${30 + (k % 7)} ms`));
    await publish(burst);
    await until(() => alerts.length >= 2);
    const byName = new Map(alerts.map((a) => [a.labels.alertname, a]));
    expect(byName.get('NewErrorLogTemplate')).toMatchObject({
      kind: 'log_anomaly',
      severity: 'error',
      service: 'checkout',
      annotations: { template: 'payment gateway timeout after <*> ms for order <*>' },
    });
    const surge = byName.get('LogTemplateSurge')!;
    expect(surge.annotations.template).toBe('order <*> paid in <*> ms');
    expect(surge.evidence!.observed!).toBeGreaterThan(surge.evidence!.upper!);
    expect(alerts).toHaveLength(2);
  });

  it('records the templates with counts in log_templates', async () => {
    await rt.stop(); // the final checkpoint writes them
    rt = await startRuntime(config, {}, []);
    const rs = await rt.clickhouse.query({
      query: `SELECT template, toString(sum(count)) AS n FROM log_templates WHERE service = 'checkout' GROUP BY template ORDER BY template`,
      format: 'JSONEachRow',
    });
    expect(await rs.json()).toEqual([
      { template: 'cart <*> updated by user <*>', n: '150' },
      { template: 'order <*> paid in <*> ms', n: '350' },
      { template: 'payment gateway timeout after <*> ms for order <*>', n: '1' },
    ]);
  });
});
