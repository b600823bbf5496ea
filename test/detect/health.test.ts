import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { TOPICS } from '../../core/bus/topics.ts';
import { configSchema, type ConfigInput } from '../../core/config/schema.ts';
import { setLogLevel } from '../../core/log.ts';
import type { Alert, MetricPoint } from '../../core/model/records.ts';
import { startRuntime, type Runtime } from '../../core/runtime.ts';
import { MemoryAlertSink } from '../../detect/alerts/sink.ts';
import { HealthDetector } from '../../detect/health/detector.ts';
import { ClickHouseStateStore } from '../../core/state/store.ts';
import { startIngestRole } from '../../ingest/role.ts';

/**
 * The health rules on metrics that went through the real pipeline (bus, writer, ClickHouse):
 * error ratio from Prometheus counters, latency from an OTel duration histogram, an SLO burning,
 * a target down, a full filesystem; hysteresis on fire and resolve; state across a restart.
 */

const DB = 'detect_health_test';
let rt: Runtime;
const config = configSchema.parse({
  clickhouse: { url: inject('clickhouseUrl'), database: DB },
  http: { addr: '127.0.0.1:0' },
  writer: { maxAgeMs: 100 },
  detect: {
    health: {
      intervalSeconds: 3600,
      fireAfter: 2,
      resolveAfter: 3,
      slos: [{ service: 'checkout', objective: 0.99 }],
    },
  },
} satisfies ConfigInput);

const now = Date.now();
const ns = (ms: number) => `${BigInt(Math.round(ms)) * 1_000_000n}`;

function counter(service: string, code: string, perStep: number, steps: number): MetricPoint[] {
  return Array.from({ length: steps }, (_, i) => ({
    name: 'http_requests_total',
    type: 'sum',
    temporality: 'cumulative',
    monotonic: true,
    resource: { 'service.name': service },
    attributes: { code, method: 'GET' },
    timeUnixNano: ns(now - (steps - 1 - i) * 15_000),
    value: perStep * (i + 1),
  }));
}

function gauge(
  service: string,
  name: string,
  value: number,
  attributes: Record<string, string>,
): MetricPoint {
  return {
    name,
    type: 'gauge',
    resource: { 'service.name': service },
    attributes,
    timeUnixNano: ns(now - 5000),
    value,
  };
}

const points: MetricPoint[] = [
  // checkout: 30% of requests fail over the last 10 minutes.
  ...counter('checkout', '200', 7, 40),
  ...counter('checkout', '503', 3, 40),
  // cart: healthy.
  ...counter('cart', '200', 10, 40),
  ...counter('cart', '500', 0.01, 40),
  // search: OTel delta histograms, most requests between 2.5 and 5 s.
  ...Array.from({ length: 20 }, (_, i): MetricPoint => ({
    name: 'http.server.request.duration',
    type: 'histogram',
    unit: 's',
    temporality: 'delta',
    resource: { 'service.name': 'search' },
    attributes: { 'http.response.status_code': '200', 'http.request.method': 'GET' },
    timeUnixNano: ns(now - i * 10_000),
    histogram: { count: 10, sum: 30, bounds: [0.1, 0.5, 1, 2.5, 5], counts: [1, 1, 0, 0, 8, 0] },
  })),
  gauge('node', 'up', 0, { job: 'node', instance: 'db-1:9100' }),
  gauge('node', 'up', 1, { job: 'node', instance: 'web-1:9100' }),
  gauge('node', 'node_filesystem_avail_bytes', 5e9, { mountpoint: '/var', device: 'sda1' }),
  gauge('node', 'node_filesystem_size_bytes', 100e9, { mountpoint: '/var', device: 'sda1' }),
  gauge('node', 'node_filesystem_avail_bytes', 50e9, { mountpoint: '/', device: 'sda2' }),
  gauge('node', 'node_filesystem_size_bytes', 100e9, { mountpoint: '/', device: 'sda2' }),
];

async function count(table: string): Promise<number> {
  const rs = await rt.clickhouse.query({ query: `SELECT count() AS n FROM ${table}`, format: 'JSONEachRow' });
  return Number((await rs.json<{ n: string }>())[0]!.n);
}

beforeAll(async () => {
  setLogLevel(process.env.OPSIGHT_TEST_LOG_LEVEL ?? 'silent');
  rt = await startRuntime(config, { ingest: startIngestRole }, ['ingest']);
  await rt.bus.publish(
    TOPICS.metrics,
    points.map((p) => ({ key: p.name, value: p })),
  );
  const expected = { otel_metrics_sum: 160, otel_metrics_histogram: 20, otel_metrics_gauge: 6 };
  for (let i = 0; i < 200; i++) {
    const counts = await Promise.all(Object.keys(expected).map(count));
    if (counts.every((n, k) => n === Object.values(expected)[k])) break;
    await sleep(100);
  }
}, 60_000);

afterAll(async () => {
  await rt?.stop();
});

async function detector(sink: MemoryAlertSink): Promise<HealthDetector> {
  const d = new HealthDetector(config.detect.health);
  await d.start({
    config,
    bus: rt.bus,
    clickhouse: rt.clickhouse,
    log: (await import('../../core/log.ts')).logger('test'),
    alerts: sink,
    state: new ClickHouseStateStore(rt.clickhouse),
  });
  // The first scheduled round runs at once; wait for it so manual rounds do not overlap it.
  for (let i = 0; i < 100 && d.stats().scored === 0; i++) await sleep(50);
  return d;
}

const byRule = (alerts: Alert[], rule: string) => alerts.filter((a) => a.labels.rule === rule);

describe('health rules', () => {
  let firing: Alert[];

  it('fires each failing rule after fireAfter rounds, and nothing for healthy services', async () => {
    const sink = new MemoryAlertSink();
    const d = await detector(sink);
    expect(sink.alerts).toEqual([]); // one breaching round is not enough
    firing = await d.evaluate();
    await d.stop();

    const errors = byRule(firing, 'error_ratio');
    expect(errors.map((a) => a.service)).toEqual(['checkout']);
    expect(errors[0]!.evidence!.observed).toBeCloseTo(0.3, 2);
    expect(errors[0]!.severity).toBe('critical');

    const latency = byRule(firing, 'latency');
    expect(latency.map((a) => a.service)).toEqual(['search']);
    expect(latency[0]!.evidence!.observed).toBeGreaterThan(2.5);
    expect(latency[0]!.evidence!.observed).toBeLessThanOrEqual(5);

    const slo = byRule(firing, 'slo_burn');
    expect(slo).toHaveLength(1);
    expect(slo[0]!.kind).toBe('slo_burn');
    expect(slo[0]!.labels.window).toBe('1h/5m');
    expect(slo[0]!.severity).toBe('critical');

    const down = byRule(firing, 'target_down');
    expect(down.map((a) => a.labels.instance)).toEqual(['db-1:9100']);
    expect(down[0]!.kind).toBe('service_down');

    const sat = byRule(firing, 'saturation');
    expect(sat.map((a) => a.labels.mountpoint)).toEqual(['/var']);
    expect(sat[0]!.evidence!.observed).toBeCloseTo(0.05, 5);

    expect(firing.every((a) => a.status === 'firing' && a.fingerprint.length === 16)).toBe(true);
    expect(new Set(firing.map((a) => a.fingerprint)).size).toBe(firing.length);
  });

  it('keeps firing alerts across a restart and resolves them only after resolveAfter clear rounds', async () => {
    // The 5xx series stop existing: checkout's errors clear.
    await rt.clickhouse.command({
      query: `ALTER TABLE otel_metrics_sum DELETE WHERE Attributes['code'] = '503'`,
      clickhouse_settings: { mutations_sync: '2' },
    });
    const sink = new MemoryAlertSink();
    const d = await detector(sink); // a new process: gates come from detector_state
    expect(byRule(sink.alerts, 'error_ratio')).toEqual([]);
    await d.evaluate();
    expect(byRule(sink.alerts, 'error_ratio')).toEqual([]);
    const third = await d.evaluate();
    await d.stop();
    const resolved = third.filter((a) => a.status === 'resolved');
    expect(resolved.map((a) => a.labels.rule).sort()).toEqual(['error_ratio', 'slo_burn']);
    const before = new Map(firing.map((a) => [a.labels.rule, a.fingerprint]));
    for (const a of resolved) expect(a.fingerprint).toBe(before.get(a.labels.rule));
    // What still fails stays firing, without a repeat.
    expect(sink.alerts.filter((a) => a.status === 'firing')).toEqual([]);
  });
});
