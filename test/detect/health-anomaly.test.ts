import { describe, expect, it } from 'vitest';
import { RedAnomalies, type RedPoint } from '../../detect/health/anomaly.ts';

/** The anomaly core on a service's rate, error ratio and latency, one point per evaluation. */

const STEP = 30_000;
const T0 = Date.parse('2026-11-01T00:00:00Z');

// Deterministic noise so the test does not depend on a seed library.
function noise(i: number): number {
  const x = Math.sin(i * 12.9898) * 43758.5453;
  return x - Math.floor(x) - 0.5;
}

function steady(i: number): RedPoint {
  return {
    service: 'checkout',
    rate: 100 + 5 * noise(i),
    errorRatio: 0.002 + 0.0005 * noise(i + 7),
    latency: 0.2 + 0.01 * noise(i + 13),
    quantileLabel: 'p99',
  };
}

function warm(red: RedAnomalies, n: number): number {
  for (let i = 0; i < n; i++) red.evaluate(steady(i), T0 + i * STEP);
  return n;
}

const breaching = (evals: ReturnType<RedAnomalies['evaluate']>) =>
  evals.filter((e) => e.score === 1).map((e) => e.labels.signal);

describe('RedAnomalies', () => {
  it('says nothing while learning, then scores every signal', () => {
    const red = new RedAnomalies();
    expect(red.evaluate(steady(0), T0)).toEqual([]);
    const i = warm(red, 400);
    const evals = red.evaluate(steady(i), T0 + i * STEP);
    expect(evals.map((e) => e.key).sort()).toEqual([
      'anomaly/errors/checkout',
      'anomaly/latency/checkout',
      'anomaly/rate/checkout',
    ]);
    expect(breaching(evals)).toEqual([]);
  });

  it('flags an error ratio far above what is usual, well below the static 5% rule', () => {
    const red = new RedAnomalies();
    const i = warm(red, 400);
    const evals = red.evaluate({ ...steady(i), errorRatio: 0.03 }, T0 + i * STEP);
    expect(breaching(evals)).toEqual(['errors']);
    const e = evals.find((x) => x.labels.signal === 'errors')!;
    expect(e.labels.alertname).toBe('UnusualErrorRatio');
    expect(e.evidence!.observed).toBe(0.03);
    expect(e.evidence!.expected).toBeLessThan(0.01);
    expect(e.annotations.summary).toContain('3%');
  });

  it('ignores errors and latency falling, but flags traffic falling away', () => {
    const red = new RedAnomalies();
    const i = warm(red, 400);
    const evals = red.evaluate({ ...steady(i), errorRatio: 0, latency: 0.01, rate: 5 }, T0 + i * STEP);
    expect(breaching(evals)).toEqual(['rate']);
  });

  it('resumes from its snapshot exactly', () => {
    const a = new RedAnomalies();
    const i = warm(a, 300);
    const b = new RedAnomalies();
    b.restore(a.snapshot());
    expect(b.size).toBe(3);
    const p = { ...steady(i), latency: 0.9 };
    expect(b.evaluate(p, T0 + i * STEP)).toEqual(a.evaluate(p, T0 + i * STEP));
    // A snapshot from another layout is skipped: the series relearns instead of misreading it.
    const c = new RedAnomalies();
    c.restore(JSON.stringify({ 'checkout|rate': Buffer.from('nope').toString('base64') }));
    expect(c.size).toBe(0);
  });
});
