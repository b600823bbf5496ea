import { describe, expect, it } from 'vitest';
import {
  AnomalyDetector,
  CHECKPOINT_BYTES,
  restoreDetector,
  scoreSeries,
  serializeDetector,
  STATE_BYTES,
} from '../../detect/metrics/index.ts';
import { DAY_POINTS, seasonal } from './anomaly-support.ts';

describe('anomaly core state', () => {
  it('keeps at most 2 KB of state per series, whatever the series length', () => {
    expect(STATE_BYTES).toBeLessThanOrEqual(2048);
    expect(CHECKPOINT_BYTES).toBeLessThanOrEqual(2048);
    const d = new AnomalyDetector();
    const s = seasonal(30, 3, 3);
    for (let i = 0; i < s.values.length; i++) d.update(s.timestamps[i]!, s.values[i]!);
    expect(d.state.byteLength).toBe(STATE_BYTES);
    expect(serializeDetector(d).byteLength).toBe(CHECKPOINT_BYTES);
  });

  it('resumes from a checkpoint with scores identical to an uninterrupted run', () => {
    const A = 10 * DAY_POINTS + 100;
    const s = seasonal(14, 21, 3, (i, v) => (i === A ? v + 60 : i > A + 500 ? v + 30 : v));
    const whole = scoreSeries(s.timestamps, s.values);
    for (const cut of [1, 200, Math.floor(s.values.length / 2), A, A + 1]) {
      const first = new AnomalyDetector();
      const scores: number[] = [];
      const expected: number[] = [];
      for (let i = 0; i < cut; i++) {
        const r = first.update(s.timestamps[i]!, s.values[i]!);
        scores.push(r.score);
        expected.push(r.expected);
      }
      const bytes = Uint8Array.from(serializeDetector(first)); // as if read back from storage
      const resumed = restoreDetector(bytes);
      for (let i = cut; i < s.values.length; i++) {
        const r = resumed.update(s.timestamps[i]!, s.values[i]!);
        scores.push(r.score);
        expected.push(r.expected);
      }
      expect(Float64Array.from(scores), `cut at ${cut}`).toEqual(whole.score);
      expect(Float64Array.from(expected), `cut at ${cut}`).toEqual(whole.expected);
    }
    // The anomaly is in the scores being compared.
    expect(whole.score[A]).toBeGreaterThanOrEqual(0.5);
  });

  it('refuses a foreign or truncated checkpoint', () => {
    const bytes = serializeDetector(new AnomalyDetector());
    expect(() => restoreDetector(bytes.subarray(0, 100))).toThrow(/checkpoint/);
    const bad = Uint8Array.from(bytes);
    bad[0] = 0;
    expect(() => restoreDetector(bad)).toThrow(/checkpoint/);
  });
});
