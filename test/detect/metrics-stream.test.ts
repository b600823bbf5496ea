import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { TOPICS } from '../../core/bus/topics.ts';
import { configSchema, type ConfigInput } from '../../core/config/schema.ts';
import { setLogLevel } from '../../core/log.ts';
import type { MetricSamples } from '../../core/model/metric-samples.ts';
import type { Alert, MetricPoint } from '../../core/model/records.ts';
import { startRuntime, type Runtime } from '../../core/runtime.ts';
import { startDetectRole } from '../../detect/role.ts';

/**
 * The anomaly core on the metric stream: a seasonal gauge with a spike raises one
 * metric_anomaly alert with its band, resolves when calm, and a restart resumes the learnt
 * state (a spike right after it still alerts: no blind warm-up).
 */
const config = configSchema.parse({
  clickhouse: { url: inject('clickhouseUrl'), database: 'detect_metrics_stream' },
  http: { addr: '127.0.0.1:0' },
  detect: {
    checkpointSeconds: 3600,
    health: { enabled: false },
    cost: { enabled: false },
    metrics: { minHistory: 150 },
  },
} satisfies ConfigInput);

let rt: Runtime;
const alerts: Alert[] = [];
const T0 = Date.parse('2026-10-01T00:00:00Z');
const STEP = 5 * 60_000;
let seed = 11;
const noise = () => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed / 0x7fffffff - 0.5;
};
const value = (i: number) => 100 + 20 * Math.sin((2 * Math.PI * i * STEP) / 86_400_000) + 2 * noise();
const point = (i: number, v = value(i)): MetricPoint => ({
  name: 'queue_depth',
  type: 'gauge',
  resource: { 'service.name': 'orders' },
  attributes: { queue: 'payments' },
  timeUnixNano: `${BigInt(T0 + i * STEP) * 1_000_000n}`,
  value: v,
});

async function start() {
  rt = await startRuntime(config, { detect: startDetectRole }, ['detect']);
  await rt.bus.subscribe<Alert>({
    group: `test-${Date.now()}`,
    topics: [TOPICS.alerts],
    fromBeginning: false,
    handler: async (b) => void alerts.push(...b.messages.map((m) => m.value)),
  });
}

async function send(from: number, to: number, at?: Map<number, number>) {
  const pts: MetricPoint[] = [];
  for (let i = from; i < to; i++) pts.push(point(i, at?.get(i)));
  await rt.bus.publish(
    TOPICS.metrics,
    pts.map((p) => ({ key: 'orders|queue_depth', value: p })),
  );
}

/** The same points packed into one message, as remote_write publishes them. */
async function sendPacked(from: number, to: number, at?: Map<number, number>) {
  const { timeUnixNano: _t, value: _v, ...head } = point(from);
  const t: number[] = [];
  const v: number[] = [];
  const pack: MetricSamples = { kind: 'metric_samples', heads: [], t, v };
  for (let i = from; i < to; i++) {
    pack.heads.push(head);
    t.push(T0 + i * STEP);
    v.push(at?.get(i) ?? value(i));
  }
  await rt.bus.publish(TOPICS.metrics, [{ key: 'orders|queue_depth', value: pack }]);
}

const until = async (f: () => boolean) => {
  for (let i = 0; i < 200 && !f(); i++) await sleep(50);
};

beforeAll(async () => {
  setLogLevel(process.env.OPSIGHT_TEST_LOG_LEVEL ?? 'silent');
  await start();
}, 60_000);
afterAll(async () => rt?.stop());

describe('streaming metric anomalies', () => {
  it('stays quiet on the seasonal series, fires once on a spike with the band, and resolves', async () => {
    await send(0, 900); // a bit more than three days
    await sleep(500);
    expect(alerts).toEqual([]);
    await sendPacked(900, 920, new Map([[905, 220]]));
    await until(() => alerts.some((a) => a.status === 'resolved'));
    const fired = alerts.filter((a) => a.status === 'firing');
    expect(fired).toHaveLength(1);
    expect(fired[0]).toMatchObject({
      kind: 'metric_anomaly',
      service: 'orders',
      labels: { metric: 'queue_depth', queue: 'payments' },
    });
    expect(fired[0]!.evidence!.observed).toBe(220);
    expect(fired[0]!.evidence!.upper!).toBeLessThan(220);
    expect(fired[0]!.evidence!.expected!).toBeGreaterThan(70);
    expect(fired[0]!.evidence!.expected!).toBeLessThan(130);
    expect(alerts.filter((a) => a.status === 'resolved').map((a) => a.fingerprint)).toEqual([
      fired[0]!.fingerprint,
    ]);
  });

  it('resumes from detector_state after a restart and skips redelivered points', async () => {
    await rt.stop(); // checkpoints
    alerts.length = 0;
    await start();
    await send(900, 920); // already seen before the restart: skipped
    await send(920, 960, new Map([[945, 230]]));
    await until(() => alerts.some((a) => a.status === 'firing'));
    expect(alerts.filter((a) => a.status === 'firing').map((a) => a.evidence!.observed)).toEqual([230]);
    const res = await fetch(`http://${rt.httpAddress}/api/v1/detectors`);
    const body = (await res.json()) as { detectors: { name: string; tracked: number; scored: number }[] };
    expect(body.detectors.find((d) => d.name === 'metrics')).toMatchObject({ tracked: 1, scored: 40 });
  });
});
