/**
 * Seeded randomness, so a demo run with the same seed streams the same data: mulberry32 for
 * uniforms, Box-Muller for normals.
 */
export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0 || 0x9e3779b9;
  }

  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  normal(): number {
    const u = Math.max(this.next(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  /** A normal clipped at ±2.5: realistic jitter without the rare huge outlier. */
  jitter(): number {
    return Math.max(-2.5, Math.min(2.5, this.normal()));
  }

  /**
   * One of -1, -0.5, 0, 0.5, 1: jitter whose extremes every warm-up has seen, so the anomaly
   * detector's "new high or low" rule does not fire on noise alone.
   */
  level(): number {
    return (Math.floor(this.next() * 5) - 2) / 2;
  }

  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)]!;
  }
}

/** A stable per-name seed offset, so adding a service does not reshuffle the others' noise. */
export function hashSeed(seed: number, name: string): number {
  let h = seed ^ 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619);
  return h >>> 0;
}
