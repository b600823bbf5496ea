import { describe, expect, it } from 'vitest';
import { costDetectConfig } from '../../core/config/detect/cost.ts';
import { spikeOptions } from '../../detect/cost/options.ts';
import {
  DAY_MS,
  scorePeriod,
  severityOf,
  type CostSeries,
  type SpikeOptions,
} from '../../detect/cost/spike.ts';
import { usageSeries } from '../../eval/cost/run.ts';
import type { GenRow } from '../../eval/cost/generate.ts';

/** detect/cost/spike.ts on synthetic daily series with the default configuration. */

const options: SpikeOptions = spikeOptions(costDetectConfig.parse({}), undefined, 'USD');
// A Monday, first of a month.
const START = Date.UTC(2024, 6, 1);

/** Deterministic small noise (±4%), so no test depends on a random draw. */
const noise = (d: number) => 1 + 0.04 * Math.sin(d * 2.3) * Math.cos(d * 0.7);

function build(days: number, f: (d: number, at: number) => number): CostSeries {
  const values = new Map<number, number>();
  for (let d = 0; d < days; d++) values.set(START + d * DAY_MS, f(d, START + d * DAY_MS));
  return { values, firstAt: START };
}

const weekend = (at: number) => [0, 6].includes(new Date(at).getUTCDay());

function alerts(s: CostSeries, days: number, o: SpikeOptions = options): number[] {
  const out: number[] = [];
  for (let d = 0; d < days; d++) if (scorePeriod(s, START + d * DAY_MS, o)?.spike) out.push(d);
  return out;
}

describe('cost spike scoring', () => {
  it('finds a tripled day with the expected and actual amounts', () => {
    const spikeDay = 50; // a Tuesday
    const s = build(70, (d) => 1000 * noise(d) * (d === spikeDay ? 3 : 1));
    expect(alerts(s, 70)).toEqual([spikeDay]);
    const r = scorePeriod(s, START + spikeDay * DAY_MS, options)!;
    expect(r.observed).toBeCloseTo(3000 * noise(spikeDay), 6);
    expect(r.expected).toBeGreaterThan(960);
    expect(r.expected).toBeLessThan(1040);
    expect(r.upper).toBeGreaterThan(r.expected);
    expect(r.upper).toBeLessThan(r.observed);
    expect(r.increase).toBeCloseTo(r.observed - r.expected, 9);
    expect(r.baseline.length).toBeGreaterThanOrEqual(3);
    // Baseline days are the same day type (weekdays) before the spike.
    for (const t of r.baseline) {
      expect(t).toBeLessThan(START + spikeDay * DAY_MS);
      expect(weekend(t)).toBe(false);
    }
  });

  it('does not alert on weekly seasonality or a recurring month-start bump, and still sees a weekend spike', () => {
    const days = 120;
    const level = (d: number, at: number) =>
      (weekend(at) ? 250 : 1000) * (new Date(at).getUTCDate() === 1 ? 1.8 : 1) * noise(d);
    expect(alerts(build(days, level), days)).toEqual([]);
    // A Saturday at weekday level is four times its own day type: that is a spike.
    const sat = 103;
    expect(weekend(START + sat * DAY_MS)).toBe(true);
    const withSpike = build(days, (d, at) => (d === sat ? 1000 : level(d, at)));
    expect(alerts(withSpike, days)).toEqual([sat]);
  });

  it('does not alert on +300% of $2, and does on the same jump at a scale above the floor', () => {
    const small = build(60, (d) => (d === 40 ? 8 : 2 * noise(d)));
    expect(alerts(small, 60)).toEqual([]);
    const r = scorePeriod(small, START + 40 * DAY_MS, options)!;
    expect(r.observed / r.expected).toBeGreaterThan(3.5);
    expect(r.spike).toBe(false);
    const large = build(60, (d) => (d === 40 ? 800 : 200 * noise(d)));
    expect(alerts(large, 60)).toEqual([40]);
  });

  it('builds series from usage only, so a credit on the spike day does not hide it', () => {
    const rows: GenRow[] = [];
    for (let d = 0; d < 60; d++) {
      const at = START + d * DAY_MS;
      rows.push({ at, category: 'Usage', cost: (d === 45 ? 2800 : 500) * noise(d) });
      // Negative usage lines (corrections without ChargeClass) on some days.
      if (d % 9 === 4) rows.push({ at, category: 'Usage', cost: -30 });
    }
    // A promotional credit almost as large as the spike, on the spike day (as on 2024-09-24 in the sample).
    rows.push({ at: START + 45 * DAY_MS, category: 'Credit', cost: -2600 });
    const gen = {
      id: 't',
      provider: 'AWS',
      service: 'EC2',
      firstAt: START,
      days: 60,
      rows,
      spikes: new Set<number>(),
    };
    const series = usageSeries(gen);
    expect(alerts(series, 60)).toEqual([45]);
    // The net amount (what a series over every charge category would see) shows no spike.
    const net = new Map(series.values);
    net.set(START + 45 * DAY_MS, net.get(START + 45 * DAY_MS)! - 2600);
    expect(scorePeriod({ values: net, firstAt: START }, START + 45 * DAY_MS, options)!.spike).toBe(false);
  });

  it('compares an often idle series with its days of usage', () => {
    // A batch job: 600 every third day, nothing between.
    const s = build(90, (d) => (d % 3 === 0 ? 600 * noise(d) : 0));
    expect(alerts(s, 90)).toEqual([]);
    const spiked = build(90, (d) => (d === 72 ? 2400 : d % 3 === 0 ? 600 * noise(d) : 0));
    expect(alerts(spiked, 90)).toEqual([72]);
  });

  it('waits for the minimum history, and treats new spend above the floor as a spike', () => {
    const s = build(30, (d) => (d === 5 ? 5000 : 100 * noise(d)));
    expect(scorePeriod(s, START + 5 * DAY_MS, options)).toBeUndefined();
    // No usage for three weeks, then 400 a day: new spend.
    const fresh = build(30, (d) => (d >= 22 ? 400 : 0));
    expect(scorePeriod(fresh, START + 22 * DAY_MS, options)!.spike).toBe(true);
  });

  it('scores hourly series against the same hour of comparable days', () => {
    const hourly: SpikeOptions = { ...options, granularity: 'hourly' };
    const values = new Map<number, number>();
    const HOUR = 3_600_000;
    const spikeAt = START + 40 * DAY_MS + 14 * HOUR;
    // Busy office hours (200/h), quiet nights (50/h); the spike hour triples.
    for (let h = 0; h < 50 * 24; h++) {
      const at = START + h * HOUR;
      const hour = new Date(at).getUTCHours();
      const base = (hour >= 8 && hour < 20 ? 200 : 50) * noise(h);
      values.set(at, at === spikeAt ? 3 * base : base);
    }
    const s: CostSeries = { values, firstAt: START };
    const hits: number[] = [];
    for (let h = 0; h < 50 * 24; h++)
      if (scorePeriod(s, START + h * HOUR, hourly)?.spike) hits.push(START + h * HOUR);
    expect(hits).toEqual([spikeAt]);
    expect(scorePeriod(s, spikeAt, hourly)!.expected).toBeGreaterThan(190);
  });

  it('grades severity by the increase against the floor', () => {
    expect(severityOf(25, 20)).toBe('warning');
    expect(severityOf(150, 20)).toBe('error');
    expect(severityOf(600, 20)).toBe('critical');
  });

  it('applies per-service overrides and per-currency floors', () => {
    const config = costDetectConfig.parse({
      minIncreaseByCurrency: { JPY: 3000 },
      services: { 'Amazon EC2': { relativeThreshold: 2, minIncrease: 100 } },
    });
    expect(spikeOptions(config, 'Amazon EC2', 'USD')).toMatchObject({
      relativeThreshold: 2,
      minIncrease: 100,
    });
    expect(spikeOptions(config, 'Amazon S3', 'JPY')).toMatchObject({
      relativeThreshold: 0.5,
      minIncrease: 3000,
    });
    const s = build(60, (d) => (d === 40 ? 2500 : 1000 * noise(d)));
    expect(alerts(s, 60, spikeOptions(config, 'Amazon S3', 'USD'))).toEqual([40]);
    expect(alerts(s, 60, spikeOptions(config, 'Amazon EC2', 'USD'))).toEqual([]);
  });
});
