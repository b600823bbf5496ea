import { describe, expect, it } from 'vitest';
import { newGateState, stepGate, type GateOptions } from '../../detect/alerts/gate.ts';
import { AlertTracker } from '../../detect/alerts/tracker.ts';
import { histogramQuantile } from '../../detect/health/quantile.ts';
import { BURN_PAIRS, burnThreshold, evaluateBurn } from '../../detect/health/slo.ts';

const gate: GateOptions = { breachAt: 0.5, clearBelow: 0.2, fireAfter: 2, resolveAfter: 3, fireAt: 0.95 };

describe('hysteresis gate', () => {
  it('needs fireAfter breaches in a row, or one at fireAt', () => {
    const s = newGateState();
    expect(stepGate(s, 0.6, 1, gate)).toBeUndefined();
    expect(stepGate(s, 0.1, 2, gate)).toBeUndefined(); // the run is broken
    expect(stepGate(s, 0.6, 3, gate)).toBeUndefined();
    expect(stepGate(s, 0.7, 4, gate)).toBe('fire');
    expect(s.since).toBe(3);
    const t = newGateState();
    expect(stepGate(t, 0.99, 1, gate)).toBe('fire');
  });

  it('does not flap inside the band and resolves after resolveAfter clear rounds', () => {
    const s = newGateState();
    stepGate(s, 1, 1, gate);
    stepGate(s, 1, 2, gate);
    expect(s.firing).toBe(true);
    for (const score of [0.3, 0.4, 0.1, 0.1, 0.3, 0.1, 0.1])
      expect(stepGate(s, score, 3, gate)).toBeUndefined();
    expect(stepGate(s, 0.1, 4, gate)).toBe('resolve');
    expect(s.firing).toBe(false);
  });
});

describe('alert tracker', () => {
  const ev = (key: string, score: number, atMs: number) => ({
    key,
    score,
    atMs,
    kind: 'metric_anomaly' as const,
    severity: 'warning' as const,
    labels: { rule: 'x' },
    annotations: {},
  });

  it('resolves with the identity it fired with, also after a restore and when the key vanishes', () => {
    const a = new AlertTracker('t', gate);
    expect(a.step(ev('k', 0.7, 1000))).toBeUndefined();
    const fired = a.step(ev('k', 0.7, 2000))!;
    expect(fired.status).toBe('firing');
    expect(fired.startsAt).toBe(new Date(1000).toISOString());
    const b = new AlertTracker('t', gate);
    b.restore(a.snapshot());
    expect(b.firing()).toBe(1);
    expect(b.absent(new Set(), 3000)).toEqual([]);
    expect(b.absent(new Set(), 4000)).toEqual([]);
    const [resolved] = b.absent(new Set(), 5000);
    expect(resolved).toMatchObject({
      fingerprint: fired.fingerprint,
      status: 'resolved',
      endsAt: new Date(5000).toISOString(),
    });
    expect(b.size()).toBe(0);
  });
});

describe('SLO burn rates', () => {
  it('gives the SRE workbook thresholds for a 30-day period', () => {
    expect(BURN_PAIRS.map((p) => burnThreshold(p, 30))).toEqual([14.4, 6, 3, 1]);
  });

  it('needs both the long and the short window to burn', () => {
    const ratios = (long: number, short: number) => (w: number) =>
      w === 3600 ? long : w === 300 ? short : 0;
    expect(evaluateBurn(0.999, 30, ratios(0.02, 0.02))?.pair.longSeconds).toBe(3600);
    expect(evaluateBurn(0.999, 30, ratios(0.02, 0.001))).toBeUndefined(); // already recovered
    expect(evaluateBurn(0.999, 30, ratios(0.01, 0.02))).toBeUndefined(); // 10x < 14.4x
    expect(evaluateBurn(0.999, 30, () => undefined)).toBeUndefined(); // no traffic
  });
});

describe('histogram quantile', () => {
  it('interpolates inside the bucket and caps the +Inf bucket at the last bound', () => {
    // 100 observations: 50 in (0, 1], 50 in (1, 2]
    expect(histogramQuantile(0.5, [1, 2], [50, 50, 0])).toBeCloseTo(1, 9);
    expect(histogramQuantile(0.75, [1, 2], [50, 50, 0])).toBeCloseTo(1.5, 9);
    expect(histogramQuantile(0.99, [1, 2], [50, 40, 10])).toBe(2);
    expect(histogramQuantile(0.5, [1, 2], [0, 0, 0])).toBeUndefined();
  });
});
