/** Synthetic series for the anomaly-core tests: 5-minute points with daily and weekly seasonality. */
export const STEP = 300_000;
export const DAY_POINTS = 288;
export const T0 = Date.UTC(2025, 0, 6); // a Monday

/** Deterministic PRNG (mulberry32) and Gaussian noise, so tests are reproducible. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function gaussian(rand: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

export interface Series {
  timestamps: number[];
  values: number[];
}

/**
 * days of a request-rate-like series: level 100, daily sine of amplitude 30, a weekly cycle of
 * ±10% (lowest at the weekend), Gaussian noise of sd `noise`. `shape(i, base)` may rewrite each
 * value to inject an anomaly.
 */
export function seasonal(
  days: number,
  seed: number,
  noise = 3,
  shape?: (i: number, v: number) => number,
): Series {
  const g = gaussian(rng(seed));
  const timestamps: number[] = [];
  const values: number[] = [];
  for (let i = 0; i < days * DAY_POINTS; i++) {
    const t = T0 + i * STEP;
    // Peak on Wednesday noon, trough on Sunday noon (T0 is a Monday).
    const weekly = 1 + 0.1 * Math.cos((2 * Math.PI * (i / DAY_POINTS - 2.5)) / 7);
    const base = weekly * (100 + 30 * Math.sin((2 * Math.PI * (i % DAY_POINTS)) / DAY_POINTS)) + noise * g();
    timestamps.push(t);
    values.push(shape ? shape(i, base) : base);
  }
  return { timestamps, values };
}
