import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadNabDir, parseSeriesCsv } from '../../eval/nab/corpus.ts';
import {
  optimizeThreshold,
  parseProfiles,
  probationLength,
  scaledSigmoid,
  scoreAtThreshold,
  scoreCorpus,
} from '../../eval/nab/scorer.ts';

const NAB = '../shared/data/nab';
const reference = JSON.parse(readFileSync(join(NAB, 'reference_scores.json'), 'utf8')) as {
  dev_optimized_thresholds: Record<
    string,
    Record<string, { threshold: number; raw_score: number; normalized: number }>
  >;
};
const profiles = parseProfiles(JSON.parse(readFileSync(join(NAB, 'profiles.json'), 'utf8')));

/** A published detector's per-row anomaly_score column, aligned with the corpus files. */
function referenceScores(detector: string) {
  const files = loadNabDir(NAB);
  return files.map((f) => {
    const [category, name] = f.key.split('/');
    const text = readFileSync(
      join(NAB, 'reference_results', detector, category!, `${detector}_${name}`),
      'utf8',
    );
    const [header, ...rows] = text.trim().split('\n');
    const col = header!.split(',').indexOf('anomaly_score');
    const scores = Float64Array.from(rows.map((r) => Number(r.split(',')[col])));
    expect(scores.length).toBe(f.values.length);
    return { key: f.key, windows: f.windows, scores };
  });
}

describe('NAB scorer', () => {
  it('reproduces NAB’s own scores for the published numenta and null detectors (within 0.1)', () => {
    for (const detector of ['numenta', 'null']) {
      const result = scoreCorpus(referenceScores(detector), profiles);
      for (const [profile, ref] of Object.entries(reference.dev_optimized_thresholds[detector]!)) {
        const got = result[profile]!;
        expect(Math.abs(got.normalized - ref.normalized), `${detector} ${profile}`).toBeLessThan(0.1);
        expect(got.raw).toBeCloseTo(ref.raw_score, 6);
        expect(got.threshold).toBeCloseTo(ref.threshold, 9);
      }
    }
  });

  it('normalises against the null detector and the perfect one', () => {
    const files = referenceScores('null');
    const res = scoreCorpus(files, profiles);
    expect(res.standard!.perfect).toBe(67);
    expect(res.standard!.nullRaw).toBe(-67);
    expect(res.reward_low_FN_rate!.nullRaw).toBe(-134);
    // A detector firing exactly at each window's first scorable row scores 100.
    const perfect = files.map((f) => {
      const scores = new Float64Array(f.scores.length);
      const prob = probationLength(f.scores.length);
      for (const [a] of f.windows) scores[Math.max(a, Math.ceil(prob))] = 1;
      return { ...f, scores };
    });
    const best = scoreCorpus(perfect, profiles);
    expect(best.standard!.normalized).toBeGreaterThan(99.9);
  });

  it('weights detections by the scaled sigmoid: earliest row of a window is worth tpWeight', () => {
    const cost = profiles.standard!;
    const n = 1000; // probation 150 rows
    const windows: Array<[number, number]> = [[400, 499]];
    const at = (row: number) => {
      const scores = new Float64Array(n);
      scores[row] = 1;
      return scoreAtThreshold([{ key: 'x', scores, windows }], cost, 0.5);
    };
    expect(at(400)).toBeCloseTo(1, 10); // first row of the window
    expect(at(499)).toBeCloseTo(scaledSigmoid(-1 / 100) / scaledSigmoid(-1), 10);
    expect(at(300)).toBeCloseTo(-1 - 0.11, 10); // FP before any window costs the full fpWeight
    expect(at(520)).toBeCloseTo(-1 + 0.11 * scaledSigmoid(21 / 99), 10); // just after: cheaper
    expect(at(100)).toBeCloseTo(-1, 10); // probationary rows are ignored
    // Only the best detection of a window counts; extra ones add nothing.
    const two = new Float64Array(n);
    two[410] = 1;
    two[450] = 1;
    expect(scoreAtThreshold([{ key: 'x', scores: two, windows }], cost, 0.5)).toBeCloseTo(at(410), 10);
  });

  it('picks the threshold that maximises the summed score', () => {
    const n = 1000;
    const scores = new Float64Array(n).fill(0.1);
    scores[420] = 0.6; // in the window
    scores[700] = 0.9; // a false positive, scored higher
    const res = optimizeThreshold([{ key: 'x', scores, windows: [[400, 499]] }], profiles.standard!);
    expect(res.threshold).toBe(0.6);
    expect(res.raw).toBeCloseTo(
      scoreAtThreshold([{ key: 'x', scores, windows: [[400, 499]] }], profiles.standard!, 0.6),
    );
  });

  it('names the file and line of a bad CSV row', () => {
    expect(() =>
      parseSeriesCsv('timestamp,value\n2015-01-01 00:00:00,1\n2015-01-01 00:05:00,abc\n', 'f.csv'),
    ).toThrow(/f\.csv:3/);
  });
});
