/**
 * Per-template rate baselines for alerting: counts per minute, an EWMA of the count and of its
 * absolute deviation (a robust spread: one outlier moves it linearly, not quadratically), and a
 * surge when the running count of the current minute exceeds mean + k · spread. Values fed into
 * the baseline are clipped at that bound, so a surge does not teach the baseline to expect the
 * next one. Memory is bounded: the least recently seen templates are dropped beyond maxTemplates.
 */

export interface SurgeOptions {
  /** EWMA weight of each closed minute (default 0.1, about a 10-minute memory). */
  alpha?: number;
  /** Deviations above the mean that make a surge (default 4). */
  k?: number;
  /** Closed minutes of history before a template can surge (default 10). */
  minHistory?: number;
  /** Smallest per-minute count that can be a surge (default 10). */
  minCount?: number;
  /** Templates tracked (default 100 000). */
  maxTemplates?: number;
}

export interface Surge {
  templateId: string;
  /** Start of the minute (epoch ms). */
  minute: number;
  /** Count so far in that minute. */
  count: number;
  /** Baseline count per minute. */
  expected: number;
  /** Count above which the minute is a surge. */
  upper: number;
  /** (count - expected) / spread. */
  score: number;
}

export interface RateObservation {
  /** First time this tracker sees the template. */
  isNew: boolean;
  /** Set on the observation that pushes the minute over the bound (once per minute). */
  surge?: Surge;
}

interface Rate {
  minute: number;
  count: number;
  mean: number;
  dev: number;
  history: number;
  alerted: boolean;
}

export type RateState = { templateId: string } & Rate;

const MINUTE = 60_000;

export class TemplateRates {
  private readonly alpha: number;
  private readonly k: number;
  private readonly minHistory: number;
  private readonly minCount: number;
  private readonly maxTemplates: number;
  private readonly rates = new Map<string, Rate>();

  constructor(options: SurgeOptions = {}) {
    this.alpha = options.alpha ?? 0.1;
    this.k = options.k ?? 4;
    this.minHistory = options.minHistory ?? 10;
    this.minCount = options.minCount ?? 10;
    this.maxTemplates = options.maxTemplates ?? 100_000;
  }

  get size(): number {
    return this.rates.size;
  }

  /** Counts n messages of a template at time tsMs (messages may arrive slightly out of order). */
  observe(templateId: string, tsMs: number, n = 1): RateObservation {
    const minute = Math.floor(tsMs / MINUTE) * MINUTE;
    let r = this.rates.get(templateId);
    const isNew = r === undefined;
    if (!r) {
      r = { minute, count: 0, mean: 0, dev: 0, history: 0, alerted: false };
      this.rates.set(templateId, r);
      if (this.rates.size > this.maxTemplates) this.evict();
    } else if (minute > r.minute) {
      this.close(r, minute);
    }
    // A late message of an already closed minute counts in the current one.
    r.count += n;
    const upper = this.upper(r);
    if (!r.alerted && r.history >= this.minHistory && r.count >= this.minCount && r.count > upper) {
      r.alerted = true;
      return {
        isNew,
        surge: {
          templateId,
          minute: r.minute,
          count: r.count,
          expected: r.mean,
          upper,
          score: (r.count - r.mean) / this.spread(r),
        },
      };
    }
    return { isNew };
  }

  /** The baseline of a template: expected count per minute and the surge bound. */
  baseline(templateId: string): { expected: number; upper: number; history: number } | undefined {
    const r = this.rates.get(templateId);
    return r && { expected: r.mean, upper: this.upper(r), history: r.history };
  }

  snapshot(): RateState[] {
    return [...this.rates].map(([templateId, r]) => ({ templateId, ...r }));
  }

  static restore(state: readonly RateState[], options: SurgeOptions = {}): TemplateRates {
    const t = new TemplateRates(options);
    for (const { templateId, ...r } of state) t.rates.set(templateId, { ...r });
    return t;
  }

  // Poisson-like floor: a template seen 4 times a minute may well be seen 12 times.
  private spread(r: Rate): number {
    return Math.max(1.25 * r.dev, Math.sqrt(r.mean), 1);
  }

  private upper(r: Rate): number {
    return r.mean + this.k * this.spread(r);
  }

  /** Folds the finished minute and any silent minutes up to `minute` into the baseline. */
  private close(r: Rate, minute: number): void {
    const silent = Math.min((minute - r.minute) / MINUTE - 1, 1000);
    this.update(r, r.count);
    for (let i = 0; i < silent; i++) this.update(r, 0);
    r.minute = minute;
    r.count = 0;
    r.alerted = false;
  }

  private update(r: Rate, x: number): void {
    const clipped = r.history === 0 ? x : Math.min(x, this.upper(r));
    if (r.history === 0) r.mean = clipped;
    else {
      r.dev += this.alpha * (Math.abs(clipped - r.mean) - r.dev);
      r.mean += this.alpha * (clipped - r.mean);
    }
    r.history++;
  }

  private evict(): void {
    const drop = Math.max(1, Math.floor(this.maxTemplates / 10));
    const oldest = [...this.rates].sort((a, b) => a[1].minute - b[1].minute).slice(0, drop);
    for (const [id] of oldest) this.rates.delete(id);
  }
}
