import type { AnomalyConfig } from './config.ts';
import { AnomalyDetector } from './detector.ts';

export interface BatchScores {
  score: Float64Array;
  rawScore: Float64Array;
  expected: Float64Array;
  lower: Float64Array;
  upper: Float64Array;
}

/** Scores a whole series in time order (backfill); the same results as feeding update() point by point. */
export function scoreSeries(
  timestamps: ArrayLike<number>,
  values: ArrayLike<number>,
  config: Partial<AnomalyConfig> = {},
  detector = new AnomalyDetector(config),
): BatchScores {
  const n = timestamps.length;
  if (values.length !== n) throw new Error('timestamps and values differ in length');
  const out: BatchScores = {
    score: new Float64Array(n),
    rawScore: new Float64Array(n),
    expected: new Float64Array(n),
    lower: new Float64Array(n),
    upper: new Float64Array(n),
  };
  for (let i = 0; i < n; i++) {
    const r = detector.update(timestamps[i]!, values[i]!);
    out.score[i] = r.score;
    out.rawScore[i] = r.rawScore;
    out.expected[i] = r.expected;
    out.lower[i] = r.lower;
    out.upper[i] = r.upper;
  }
  return out;
}
