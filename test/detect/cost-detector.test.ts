import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { MemoryBus } from '../../core/bus/memory.ts';
import { TOPICS } from '../../core/bus/topics.ts';
import { costDetectConfig } from '../../core/config/detect/cost.ts';
import { configSchema } from '../../core/config/schema.ts';
import type { Alert } from '../../core/model/records.ts';
import { BusAlertSink } from '../../detect/alerts/sink.ts';
import { costDetector, COST_DETECTOR } from '../../detect/cost/detector.ts';
import type { Driver } from '../../detect/cost/drivers.ts';
import { ClickHouseStateStore } from '../../core/state/store.ts';
import { quiet, testDatabase, waitFor, type TestDatabase } from '../writer/support.ts';

/**
 * The cost detector end to end on the real ClickHouse: FOCUS rows in billing_focus (a database of
 * its own, migrated), alerts on opsight.alerts through the in-process bus, state in detector_state.
 */

const DAY = 86_400_000;
const START = Date.UTC(2024, 6, 1);
const DAYS = 60;
const SPIKE = 52;
const ACCOUNT = '11353890204';
const EC2 = 'Amazon Elastic Compute Cloud';

let db: TestDatabase;
const bus = new MemoryBus();
const received: Alert[] = [];

const ts = (ms: number) => new Date(ms).toISOString().slice(0, 23).replace('T', ' ');
let line = 0;

function row(
  day: number,
  o: {
    service?: string;
    category?: string;
    cost: string;
    sku: string;
    resource: string;
    region?: string;
    description?: string;
  },
) {
  const at = START + day * DAY;
  return {
    BilledCost: o.cost,
    EffectiveCost: o.cost,
    ListCost: o.cost,
    ContractedCost: o.cost,
    BillingCurrency: 'USD',
    BillingPeriodStart: ts(Date.UTC(2024, new Date(at).getUTCMonth(), 1)),
    BillingPeriodEnd: ts(Date.UTC(2024, new Date(at).getUTCMonth() + 1, 1)),
    ChargePeriodStart: ts(at),
    ChargePeriodEnd: ts(at + DAY),
    ChargeCategory: o.category ?? 'Usage',
    ChargeDescription: o.description ?? '',
    ProviderName: 'AWS',
    SubAccountId: ACCOUNT,
    ServiceName: o.service ?? EC2,
    RegionId: o.region ?? 'us-east-1',
    ResourceId: o.resource,
    SkuId: o.sku,
    Tags: { team: 'ml' },
    SourceName: 'test',
    SourceFile: 'test.csv',
    SourceLine: ++line,
  };
}

/** One day of the steady bill: four m5 instances and an S3 bucket (weekends a little lower). */
function steadyDay(day: number) {
  const weekend = [0, 6].includes(new Date(START + day * DAY).getUTCDay());
  const wiggle = 1 + 0.03 * Math.sin(day * 1.7);
  const m5 = ((weekend ? 20 : 25) * wiggle).toFixed(4);
  return [
    ...[1, 2, 3, 4].map((i) => row(day, { cost: m5, sku: 'M5-2XL', resource: `i-m5-${i}` })),
    row(day, {
      service: 'Amazon Simple Storage Service',
      cost: (40 * wiggle).toFixed(4),
      sku: 'S3-STD',
      resource: 'bucket-1',
    }),
  ];
}

/** The spike: a g5 GPU instance left running all day, and a credit the same day almost as large. */
const gpu = (day: number, cost: string) => [
  row(day, {
    cost,
    sku: 'G5-4XL',
    resource: 'i-gpu-0042',
    region: 'us-west-2',
    description: 'g5.4xlarge On Demand Linux',
  }),
  row(day, {
    category: 'Credit',
    cost: '-500',
    sku: '',
    resource: '',
    description: 'AWS Promotional Credits',
  }),
];

async function insert(rows: object[]) {
  await db.client.insert({ table: 'billing_focus', values: rows, format: 'JSONEachRow' });
}

async function deleteDay(day: number) {
  await db.client.command({
    query: `ALTER TABLE billing_focus DELETE WHERE ChargePeriodStart = fromUnixTimestamp64Milli({at:Int64}, 'UTC') AND ServiceName = {svc:String}`,
    query_params: { at: START + day * DAY, svc: EC2 },
    clickhouse_settings: { mutations_sync: '2' },
  });
}

function detectorFor() {
  const config = costDetectConfig.parse({});
  // "Now" is noon of the day after the spike: the spike day is inside the re-score window.
  return costDetector(config, { now: () => START + (SPIKE + 1) * DAY + DAY / 2, schedule: false });
}

async function context() {
  return {
    config: configSchema.parse({}),
    bus,
    clickhouse: db.client,
    log: quiet,
    alerts: new BusAlertSink(bus),
    state: new ClickHouseStateStore(db.client),
  };
}

beforeAll(async () => {
  db = await testDatabase(inject('clickhouseUrl'), 'cost_detect');
  const rows: object[] = [];
  for (let d = 0; d < DAYS; d++) rows.push(...steadyDay(d));
  rows.push(...gpu(SPIKE, '600'));
  await insert(rows);
  await bus.subscribe<Alert>({
    group: 'test',
    topics: [TOPICS.alerts],
    handler: async (batch) => {
      for (const m of batch.messages) received.push(m.value);
    },
  });
});

afterAll(async () => {
  await bus.close();
  await db?.drop();
});

describe('cost detector against ClickHouse', () => {
  let fingerprint = '';
  const detector = detectorFor();

  it('raises one cost_spike alert for the spike, with drivers, amounts, currency and team=finance', async () => {
    // No timer here: passes are driven by runOnce.
    await detector.start(await context());
    const r = await detector.runOnce();
    expect(r.fired).toBe(1);
    await waitFor(() => received.length >= 1, 'the alert on opsight.alerts');
    expect(received).toHaveLength(1);
    const a = received[0]!;
    fingerprint = a.fingerprint;
    expect(a).toMatchObject({
      kind: 'cost_spike',
      source: 'cost',
      status: 'firing',
      service: EC2,
      startsAt: new Date(START + SPIKE * DAY).toISOString(),
      labels: {
        team: 'finance',
        currency: 'USD',
        ServiceName: EC2,
        SubAccountId: ACCOUNT,
        ProviderName: 'AWS',
      },
    });
    // Expected: four m5 instances on a weekday (about 100); actual adds the GPU's 600, the credit ignored.
    expect(a.evidence!.expected!).toBeGreaterThan(95);
    expect(a.evidence!.expected!).toBeLessThan(105);
    expect(a.evidence!.observed! - a.evidence!.expected!).toBeGreaterThan(590);
    expect(a.evidence!.observed!).toBeLessThan(710);
    // The evidence query runs as written and shows the spike day's usage amount.
    const series = await db.rows<{ period: string; cost: string }>(a.evidence!.query!);
    expect(series.length).toBeGreaterThan(20);
    expect(Number(series[series.length - 1]!.cost)).toBeCloseTo(a.evidence!.observed!, 6);
    expect(a.annotations.currency).toBe('USD');
    expect(Number(a.annotations.actual)).toBeCloseTo(a.evidence!.observed!, 1);
    const drivers = JSON.parse(a.annotations.drivers!) as Driver[];
    expect(drivers[0]).toMatchObject({ skuId: 'G5-4XL', resourceId: 'i-gpu-0042', regionId: 'us-west-2' });
    expect(drivers[0]!.increase).toBeCloseTo(600, 3);
    expect(drivers[0]!.share).toBeGreaterThan(0.8);
    expect(a.annotations.drivers_summary).toContain('i-gpu-0042');
    expect(['error', 'critical']).toContain(a.severity);
    const stored = await db.scalar(`SELECT count() FROM detector_state WHERE detector = '${COST_DETECTOR}'`);
    expect(stored).toBeGreaterThanOrEqual(2);
  });

  it('raises nothing more when nothing changed, nor when the spike day is restated and still spikes', async () => {
    expect((await detector.runOnce()).scored).toBe(0);
    await deleteDay(SPIKE);
    await insert([
      ...steadyDay(SPIKE).filter((r) => r.ServiceName === EC2),
      ...gpu(SPIKE, '900').slice(0, 1),
    ]);
    const r = await detector.runOnce();
    expect(r.scored).toBe(1);
    expect(r.fired + r.resolved).toBe(0);
    await bus.publish(TOPICS.alerts, [{ key: 'marker', value: { fingerprint: 'marker' } as Alert }]);
    await waitFor(() => received.some((a) => a.fingerprint === 'marker'), 'the marker');
    expect(received.filter((a) => a.fingerprint !== 'marker')).toHaveLength(1);
  });

  it('after a restart, resumes from detector_state and resolves the alert when a restatement removes the spike', async () => {
    await detector.stop();
    const again = detectorFor();
    await again.start(await context());
    expect((await again.runOnce()).scored).toBe(0);
    await deleteDay(SPIKE);
    await insert(steadyDay(SPIKE).filter((r) => r.ServiceName === EC2));
    const r = await again.runOnce();
    expect(r).toMatchObject({ scored: 1, fired: 0, resolved: 1 });
    await waitFor(() => received.some((a) => a.status === 'resolved'), 'the resolution');
    const alerts = received.filter((a) => a.fingerprint !== 'marker');
    expect(alerts.map((a) => [a.fingerprint, a.status])).toEqual([
      [fingerprint, 'firing'],
      [fingerprint, 'resolved'],
    ]);
    expect(alerts[1]!.endsAt).toBeDefined();
    expect(again.stats()).toMatchObject({ name: COST_DETECTOR, firing: 0 });
    await again.stop();
  });
});
