import { describe, expect, it } from 'vitest';
import { TemplateRates } from '../../detect/logs/surge.ts';

const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 23, 0, 0);

/** Feeds `counts[i]` messages of one template in minute i; returns the surges raised. */
function feed(rates: TemplateRates, id: string, counts: number[], from = 0) {
  const surges = [];
  for (let m = 0; m < counts.length; m++) {
    for (let j = 0; j < counts[m]!; j++) {
      const o = rates.observe(id, T0 + (from + m) * MIN + j);
      if (o.surge) surges.push({ at: from + m, ...o.surge });
    }
  }
  return surges;
}

describe('TemplateRates', () => {
  it('flags a template the first time it is seen, and only then', () => {
    const r = new TemplateRates();
    expect(r.observe('a', T0).isNew).toBe(true);
    expect(r.observe('a', T0 + 1).isNew).toBe(false);
    expect(r.observe('b', T0 + 2).isNew).toBe(true);
  });

  it('raises one surge in the minute a steady template jumps, not on its noise', () => {
    const r = new TemplateRates();
    const steady = Array.from({ length: 30 }, (_, i) => 20 + ((i * 7) % 9) - 4); // 16..24
    expect(feed(r, 't', steady)).toEqual([]);
    const surges = feed(r, 't', [200], 30);
    expect(surges).toHaveLength(1);
    expect(surges[0]!.at).toBe(30);
    expect(surges[0]!.minute).toBe(T0 + 30 * MIN);
    expect(surges[0]!.expected).toBeGreaterThan(15);
    expect(surges[0]!.expected).toBeLessThan(25);
    expect(surges[0]!.count).toBeGreaterThan(surges[0]!.upper);
  });

  it('needs history before it can surge, and a surge does not inflate the baseline', () => {
    const r = new TemplateRates({ minHistory: 10 });
    expect(feed(r, 'n', [5, 5, 500])).toEqual([]);
    const s = new TemplateRates();
    feed(
      s,
      'x',
      Array.from({ length: 20 }, () => 10),
    );
    feed(s, 'x', [1000], 20);
    feed(s, 'x', [10], 21);
    expect(s.baseline('x')!.expected).toBeLessThan(20);
  });

  it('counts silent minutes as zero, and survives a restore', () => {
    const r = new TemplateRates();
    feed(
      r,
      'q',
      Array.from({ length: 15 }, () => 50),
    );
    const restored = TemplateRates.restore(JSON.parse(JSON.stringify(r.snapshot())));
    expect(restored.baseline('q')).toEqual(r.baseline('q'));
    restored.observe('q', T0 + 200 * MIN);
    expect(restored.baseline('q')!.expected).toBeLessThan(1);
    expect(restored.observe('q', T0 + 200 * MIN + 1).isNew).toBe(false);
  });

  it('keeps at most maxTemplates templates', () => {
    const r = new TemplateRates({ maxTemplates: 100 });
    for (let i = 0; i < 1000; i++) r.observe(`t${i}`, T0 + i * MIN);
    expect(r.size).toBeLessThanOrEqual(100);
  });
});
