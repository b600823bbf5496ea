import { describe, expect, it } from 'vitest';
import { AnomalyDetector, scoreSeries } from '../../detect/metrics/index.ts';
import { DAY_POINTS, gaussian, rng, seasonal, STEP, T0, type Series } from './anomaly-support.ts';

// Anomalies start on day 10 (a Thursday), after the model has seen more than a week.
const A = 10 * DAY_POINTS + 100;

function alerts(s: Series): number[] {
  const r = scoreSeries(s.timestamps, s.values);
  const out: number[] = [];
  for (let i = 0; i < r.score.length; i++) if (r.score[i]! >= 0.5) out.push(i);
  return out;
}

/** Alerts relative to the anomaly start; none before it is allowed. */
function detectedAfter(s: Series, start = A): number[] {
  const all = alerts(s);
  expect(all.filter((i) => i < start)).toEqual([]);
  return all.map((i) => i - start);
}

describe('anomaly core on synthetic series', () => {
  it('raises no alert on clean daily+weekly seasonal series with noise (several seeds)', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const s = seasonal(21, seed, 3);
      expect(alerts(s), `seed ${seed}`).toEqual([]);
    }
  });

  it('raises no alert on a young seasonal series when its daily profile takes over (day one)', () => {
    // A memory-like gauge scraped every minute, first seen at different hours of the day: the
    // day-one switch from level to daily profile must not read as drift.
    for (const startHour of [0, 3, 7, 12, 18]) {
      const g = gaussian(rng(startHour + 1));
      const timestamps: number[] = [];
      const values: number[] = [];
      const t0 = T0 + startHour * 3_600_000;
      for (let i = 0; i < 2 * 1440; i++) {
        const t = t0 + i * 60_000;
        timestamps.push(t);
        values.push(500 + 100 * Math.sin((2 * Math.PI * (t - T0)) / 86_400_000) + 5 * g());
      }
      expect(alerts({ timestamps, values }), `first seen at ${startHour}:00`).toEqual([]);
    }
  });

  it('raises no alert on Gaussian noise without seasonality', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const g = gaussian(rng(seed));
      const timestamps: number[] = [];
      const gaussianValues: number[] = [];
      for (let i = 0; i < 14 * DAY_POINTS; i++) {
        timestamps.push(T0 + i * STEP);
        gaussianValues.push(50 + 2 * g());
      }
      expect(alerts({ timestamps, values: gaussianValues }), `gaussian seed ${seed}`).toEqual([]);
    }
  });

  it('detects a spike at once, in either direction', () => {
    expect(detectedAfter(seasonal(14, 7, 3, (i, v) => (i === A ? v + 60 : v)))[0]).toBe(0);
    expect(detectedAfter(seasonal(14, 8, 3, (i, v) => (i === A ? v - 60 : v)))[0]).toBe(0);
  });

  it('detects a level shift within a few points and then accepts the new level', () => {
    const d = detectedAfter(seasonal(14, 7, 3, (i, v) => (i >= A ? v + 40 : v)));
    expect(d[0]).toBeGreaterThanOrEqual(0);
    expect(d[0]).toBeLessThan(6);
    // One alert for the shift, not one per point of the new regime.
    expect(d.length).toBeLessThanOrEqual(2);
  });

  it('detects a trend change within a few hours', () => {
    const d = detectedAfter(seasonal(14, 7, 3, (i, v) => (i >= A ? v + 0.6 * (i - A) : v)));
    expect(d[0]).toBeGreaterThanOrEqual(0);
    expect(d[0]).toBeLessThan(48);
  });

  it('detects a changed daily shape (the daily cycle moving by six hours)', () => {
    const shift = DAY_POINTS / 4;
    const d = detectedAfter(
      seasonal(14, 7, 3, (i, v) => {
        if (i < A) return v;
        const phase = (2 * Math.PI * (i % DAY_POINTS)) / DAY_POINTS;
        const moved = (2 * Math.PI * ((i + shift) % DAY_POINTS)) / DAY_POINTS;
        return v - 30 * Math.sin(phase) + 30 * Math.sin(moved);
      }),
    );
    expect(d[0]).toBeGreaterThanOrEqual(0);
    expect(d[0]).toBeLessThan(DAY_POINTS / 4);
  });

  it('detects a flat line (stuck value) while it lasts', () => {
    const d = detectedAfter(seasonal(14, 7, 3, (i, v) => (i >= A && i < A + DAY_POINTS ? 110 : v)));
    expect(d[0]).toBeGreaterThanOrEqual(0);
    expect(d[0]).toBeLessThan(DAY_POINTS / 2);
  });

  it('copes with missing data: gaps and NaN raise nothing, a later spike is still found', () => {
    const s = seasonal(14, 9, 3, (i, v) => (i === A ? v + 60 : v));
    const timestamps: number[] = [];
    const values: number[] = [];
    for (let i = 0; i < s.values.length; i++) {
      if (i > 5 * DAY_POINTS && i < 5 * DAY_POINTS + 72) continue; // a 6-hour hole
      if (i % 97 === 0 && i !== A) {
        timestamps.push(s.timestamps[i]!);
        values.push(Number.NaN); // a missing value inside the stream
        continue;
      }
      timestamps.push(s.timestamps[i]!);
      values.push(s.values[i]!);
    }
    const r = scoreSeries(timestamps, values);
    const at = timestamps.indexOf(T0 + A * STEP);
    const fired: number[] = [];
    for (let i = 0; i < r.score.length; i++) if (r.score[i]! >= 0.5) fired.push(i);
    expect(fired).toEqual([at]);
  });

  it('handles irregular sampling (jittered 3–7 minute intervals) without false alerts', () => {
    const s = seasonal(14, 10, 3);
    let t = T0;
    const timestamps = s.timestamps.map((_, i) => (t += 180_000 + ((i * 7919) % 240_000)));
    const r = scoreSeries(timestamps, s.values);
    expect(Math.max(...r.score)).toBeLessThan(0.5);
  });

  it('gives expected values and a band that contain ordinary points', () => {
    const s = seasonal(14, 12, 3);
    const r = scoreSeries(s.timestamps, s.values);
    let inside = 0;
    let n = 0;
    for (let i = 7 * DAY_POINTS; i < s.values.length; i++) {
      n++;
      if (s.values[i]! >= r.lower[i]! && s.values[i]! <= r.upper[i]!) inside++;
      expect(r.lower[i]!).toBeLessThan(r.upper[i]!);
    }
    expect(inside / n).toBeGreaterThan(0.99);
  });

  it('scores in [0, 1], zero while warming up, and rejects bad configuration', () => {
    const s = seasonal(3, 13, 3);
    const d = new AnomalyDetector({ minHistory: 50 });
    for (let i = 0; i < s.values.length; i++) {
      const r = d.update(s.timestamps[i]!, s.values[i]!);
      expect(r.score).toBeGreaterThanOrEqual(0);
      expect(r.score).toBeLessThanOrEqual(1);
      if (i < 50) expect(r.score).toBe(0);
    }
    expect(() => new AnomalyDetector({ sensitivity: 2 })).toThrow(/sensitivity/);
    expect(() => new AnomalyDetector({ quietPoints: -1 })).toThrow(/quietPoints/);
  });

  it('reports an open alert again only when it grows clearly worse', () => {
    // A moderate spike opens the alert; a far larger one two points later (same episode) escalates it.
    const worse = detectedAfter(seasonal(14, 7, 3, (i, v) => (i === A ? v + 30 : i === A + 2 ? v + 120 : v)));
    expect(worse).toEqual([0, 2]);
    // A follow-up of about the same size stays inside the alert already raised.
    const same = detectedAfter(seasonal(14, 7, 3, (i, v) => (i === A ? v + 30 : i === A + 2 ? v + 32 : v)));
    expect(same).toEqual([0]);
  });

  it('ranks an alert lower on a series that often reaches alert level (bursty) than on a calm one', () => {
    for (const seed of [1, 2, 3]) {
      const u = rng(seed);
      // Heavy-tailed bursts (Pareto sizes) on about 2% of points before the anomaly.
      const burst = (i: number, v: number) =>
        i > 2 * DAY_POINTS && i < A - 100 && u() < 0.02 ? v + 15 / Math.pow(u(), 0.7) : v;
      const run = (s: Series) => {
        const d = new AnomalyDetector();
        for (let i = 0; i < A; i++) d.update(s.timestamps[i]!, s.values[i]!);
        return { ...d.update(s.timestamps[A]!, s.values[A]!) };
      };
      const calm = run(seasonal(14, 7, 3, (i, v) => (i === A ? v + 80 : v)));
      const bursty = run(seasonal(14, 7, 3, (i, v) => (i === A ? v + 80 : burst(i, v))));
      expect(calm.burstiness, `seed ${seed}`).toBeLessThan(0.5);
      expect(bursty.burstiness, `seed ${seed}`).toBeGreaterThan(2);
      // Still an alert, but ranked below the same spike on the calm series.
      expect(bursty.score, `seed ${seed}`).toBeGreaterThanOrEqual(0.5);
      expect(bursty.score, `seed ${seed}`).toBeLessThan(calm.score);
    }
  });

  it('opens an alert on a value out of the whole range seen so far, once a week of data is in', () => {
    // Uniform noise over [0, 100]: a value of 110 is only ~2.4 mean deviations from the mean, far
    // under the alert level for the forecasts, but it is out of everything the series has shown.
    const u = rng(21);
    const flat = (days: number, at: number, v: number): Series => {
      const timestamps: number[] = [];
      const values: number[] = [];
      for (let i = 0; i < days * DAY_POINTS; i++) {
        timestamps.push(T0 + i * STEP);
        values.push(i === at ? v : 100 * u());
      }
      return { timestamps, values };
    };
    const at = 8 * DAY_POINTS;
    const s = flat(9, at, 110);
    expect(alerts(s)).toEqual([at]);
    const d = new AnomalyDetector();
    for (let i = 0; i < at; i++) d.update(s.timestamps[i]!, s.values[i]!);
    const r = d.update(s.timestamps[at]!, 110);
    expect(r.outOfRange).toBe(true);
    expect(r.z).toBeLessThan(3); // the forecasts alone would not alert
    expect(r.score).toBeLessThanOrEqual(1);
    // Within 5% of the range past its edge: not out of range, and no alert.
    expect(alerts(flat(9, at, 104))).toEqual([]);
    // Before a week of history the range is not trusted yet (a daily or weekly cycle may not have
    // shown its extremes).
    expect(alerts(flat(9, 3 * DAY_POINTS, 110))).toEqual([]);
  });

  it('with refractoryPoints, opens no new alert that soon after the last one', () => {
    // Two equal spikes 20 points apart: by default (off) the second is a separate alert, since 12
    // calm points re-arm the detector; with a 50-point refractory period it is not.
    const twin = (gap: number) => seasonal(14, 7, 3, (i, v) => (i === A || i === A + gap ? v + 60 : v));
    const run = (s: Series, refractoryPoints?: number) => {
      const r = scoreSeries(
        s.timestamps,
        s.values,
        refractoryPoints === undefined ? {} : { refractoryPoints },
      );
      const out: number[] = [];
      for (let i = 0; i < r.score.length; i++) if (r.score[i]! >= 0.5) out.push(i - A);
      return out;
    };
    expect(run(twin(20))).toEqual([0, 20]);
    expect(run(twin(20), 50)).toEqual([0]);
    // After the refractory period a new spike is a new alert.
    expect(run(twin(60), 50)).toEqual([0, 60]);
    expect(() => new AnomalyDetector({ refractoryPoints: 1.5 })).toThrow(/refractoryPoints/);
  });

  it('is more sensitive with a higher sensitivity', () => {
    const s = seasonal(14, 14, 3, (i, v) => (i === A ? v + 14 : v));
    const count = (sensitivity: number) => {
      const r = scoreSeries(s.timestamps, s.values, { sensitivity });
      return r.rawScore[A]!;
    };
    expect(count(0.9)).toBeGreaterThan(count(0.5));
    expect(count(0.5)).toBeGreaterThan(count(0.1));
  });
});
