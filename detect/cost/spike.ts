import type { Severity } from '../../core/model/records.ts';

/**
 * Scoring of one cost series at one period, pure (the detector and `npm run eval:cost` share
 * it). The expected amount is a robust seasonal baseline: the median of comparable earlier
 * periods (same day type, weekday or weekend; for hourly series also the same hour of day;
 * month-start days against the same days of earlier months), with the MAD as the spread. A
 * period is a spike only when its increase over the expected amount clears all three bars:
 * `sensitivity` robust deviations, `relativeThreshold` of the expected amount, and the absolute
 * `minIncrease` (so +300% of $2 is never an alert).
 */

export interface SpikeOptions {
  granularity: 'daily' | 'hourly';
  sensitivity: number;
  relativeThreshold: number;
  minIncrease: number;
  /** Days since the series first had cost before it is scored. */
  minHistory: number;
  lookbackDays: number;
  monthStartDays: number;
}

/** A series: period start (ms, UTC) -> usage cost. Periods without rows cost 0. */
export interface CostSeries {
  values: Map<number, number>;
  /** First period with cost; periods before it are not history. */
  firstAt: number;
}

export interface SpikeScore {
  observed: number;
  expected: number;
  /** The band: expected ± sensitivity robust deviations (upper also holds the other bars). */
  lower: number;
  upper: number;
  increase: number;
  spike: boolean;
  /** 0..1; 0.5 at the alert threshold. */
  score: number;
  /** The comparable periods the baseline came from (for the drivers breakdown). */
  baseline: number[];
}

export const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
/** At least this many comparable values before a median means anything. */
const MIN_COMPARABLE = 3;
/** A share of zero periods above which the baseline is taken over periods with usage only. */
const INTERMITTENT_ZEROS = 0.2;
/** MAD to a normal standard deviation. */
const MAD_SCALE = 1.4826;

// Day arithmetic without Date objects in the hot loop: 1970-01-01 was a Thursday.
const isWeekend = (at: number) => {
  const d = (Math.floor(at / DAY_MS) + 4) % 7;
  return d === 0 || d === 6;
};
const domCache = new Map<number, number>();
/** Day of month (UTC), memoised per day: a few thousand distinct days at most. */
const dayOfMonth = (at: number) => {
  const day = Math.floor(at / DAY_MS);
  let dom = domCache.get(day);
  if (dom === undefined) {
    dom = new Date(day * DAY_MS).getUTCDate();
    if (domCache.size > 100_000) domCache.clear();
    domCache.set(day, dom);
  }
  return dom;
};

export function median(sorted: readonly number[]): number {
  const n = sorted.length;
  if (!n) return 0;
  const m = n >> 1;
  return n % 2 ? sorted[m]! : (sorted[m - 1]! + sorted[m]!) / 2;
}

/** Median and MAD-based spread of a sample. */
export function robust(values: readonly number[]): { center: number; spread: number } {
  const s = [...values].sort((a, b) => a - b);
  const center = median(s);
  const dev = s.map((v) => Math.abs(v - center)).sort((a, b) => a - b);
  return { center, spread: MAD_SCALE * median(dev) };
}

const used = (v: number) => Math.abs(v) > 1e-9;

/**
 * A series often idle (batch jobs, dev accounts) is compared with its periods with usage: the
 * same day type when there are enough, else any day type over a longer memory. A series with
 * no usage at all in its history expects 0 (new spend); one with too few busy periods to know
 * their size is not scored (undefined).
 */
function baselineValues(
  series: CostSeries,
  at: number,
  ats: number[],
  o: SpikeOptions,
): number[] | undefined {
  const values = ats.map((t) => valueAt(series, t));
  const busy = values.filter(used);
  if ((values.length - busy.length) / values.length < INTERMITTENT_ZEROS) return values;
  if (busy.length >= MIN_COMPARABLE) return busy;
  const anyType = comparable(series, at, { ...o, lookbackDays: 3 * o.lookbackDays }, false)
    .map((t) => valueAt(series, t))
    .filter(used);
  if (anyType.length >= MIN_COMPARABLE) return anyType;
  // Month starts count here: any earlier usage means the series' size is unknown, not zero.
  const longAgo = comparable(
    series,
    at,
    { ...o, lookbackDays: 3 * o.lookbackDays, monthStartDays: 0 },
    false,
  );
  return longAgo.some((t) => used(valueAt(series, t))) ? undefined : values;
}

/** Earlier periods comparable to `at`: same day type (and hour), within the lookback. */
function comparable(series: CostSeries, at: number, o: SpikeOptions, sameType = true): number[] {
  const out: number[] = [];
  const weekend = isWeekend(at);
  for (let d = 1; d <= o.lookbackDays; d++) {
    const t = at - d * DAY_MS;
    if (t < series.firstAt) break;
    if (sameType && isWeekend(t) !== weekend) continue;
    // Month-start days carry their own effect (monthly fees, batch runs); keep them out.
    if (o.monthStartDays > 0 && dayOfMonth(t) <= o.monthStartDays) continue;
    out.push(t);
  }
  return out;
}

/** The same day of month (and hour) in up to three earlier months. */
function monthStarts(series: CostSeries, at: number): number[] {
  const out: number[] = [];
  const d = new Date(at);
  for (let m = 1; m <= 3; m++) {
    const t = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - m, d.getUTCDate(), d.getUTCHours());
    if (t >= series.firstAt) out.push(t);
  }
  return out;
}

const valueAt = (s: CostSeries, t: number) => s.values.get(t) ?? 0;

interface Baseline {
  expected: number;
  /** How far above and below the expected amount `sensitivity` deviations reach. */
  up: number;
  down: number;
  baseline: number[];
}

/**
 * The day-type baseline of `at`, ignoring month-start effects. Cost varies multiplicatively
 * (more instances, more requests), so when every comparable amount is positive the spread is
 * taken on log amounts, where a +60% day and a -37% day are equally unusual; with zero or
 * negative amounts it stays linear.
 */
function typeBaseline(series: CostSeries, at: number, o: SpikeOptions): Baseline | undefined {
  const all = comparable(series, at, o, false);
  const weekend = isWeekend(at);
  const ats = all.filter((t) => isWeekend(t) === weekend);
  if (ats.length < MIN_COMPARABLE) return undefined;
  const values = baselineValues(series, at, ats, o);
  if (!values) return undefined;
  const expected = median([...values].sort((a, b) => a - b));
  // The median of n values is itself uncertain: a new value's spread is σ·√(1 + π/2n).
  const predictive = Math.sqrt(1 + Math.PI / (2 * values.length));
  const log = expected > 0 && values.every((v) => v > 0);
  const own = log
    ? robust(values.map(Math.log)).spread
    : robust(values).spread / Math.max(Math.abs(expected), 1e-9);
  const sigma = predictive * Math.max(own, pooledSpread(series, all, log));
  const k = o.sensitivity;
  if (log)
    return {
      expected,
      up: expected * Math.expm1(k * sigma),
      down: -expected * Math.expm1(-k * sigma),
      baseline: ats,
    };
  const linear = expected === 0 ? predictive * robust(values).spread : sigma * Math.abs(expected);
  return { expected, up: k * linear, down: k * linear, baseline: ats };
}

/**
 * The relative spread over both day types (each value against its own type's median): a
 * weekend has few comparable days, and a MAD of five values often understates the noise.
 */
function pooledSpread(series: CostSeries, all: number[], log: boolean): number {
  const groups = [all.filter(isWeekend), all.filter((t) => !isWeekend(t))].map((g) =>
    g.map((t) => valueAt(series, t)),
  );
  const zeros = groups.flat().filter((v) => !used(v)).length;
  const residuals: number[] = [];
  for (let g of groups) {
    if (zeros / all.length >= INTERMITTENT_ZEROS) g = g.filter(used);
    if (log) g = g.filter((v) => v > 0);
    if (g.length < MIN_COMPARABLE) continue;
    const m = median([...g].sort((a, b) => a - b));
    if (m > 0) for (const v of g) residuals.push(log ? Math.log(v / m) : v / m - 1);
  }
  return residuals.length >= 2 * MIN_COMPARABLE ? robust(residuals).spread : 0;
}

/**
 * A month-start period: the day-type baseline times the month-start effect, measured as the
 * median ratio of earlier month starts to their own baselines (so a month that began on a
 * weekend still teaches the effect). Without an earlier month start to learn from, the period
 * is not scored: the effect cannot be told from a spike.
 */
function monthStartBaseline(
  series: CostSeries,
  at: number,
  base: Baseline,
  o: SpikeOptions,
): Baseline | undefined {
  const ratios: number[] = [];
  const starts = monthStarts(series, at);
  for (const t of starts) {
    const b = typeBaseline(series, t, { ...o, minHistory: 0 });
    // An idle month start says nothing about the effect.
    if (b && b.expected > 0 && used(valueAt(series, t))) ratios.push(valueAt(series, t) / b.expected);
  }
  if (!ratios.length) return undefined;
  const ratio = median(ratios.sort((a, b) => a - b));
  // The effect raises the expectation, never lowers it; the band scales with it.
  if (ratio <= 1) return base;
  return { expected: base.expected * ratio, up: base.up * ratio, down: base.down * ratio, baseline: starts };
}

/** Scores the period starting at `at`; undefined while the series has too little history. */
export function scorePeriod(series: CostSeries, at: number, o: SpikeOptions): SpikeScore | undefined {
  if (at - series.firstAt < o.minHistory * DAY_MS) return undefined;
  let b = typeBaseline(series, at, o);
  if (b && o.monthStartDays > 0 && dayOfMonth(at) <= o.monthStartDays)
    b = monthStartBaseline(series, at, b, o);
  if (!b) return undefined;
  const { expected, baseline } = b;
  const observed = valueAt(series, at);
  const bar = Math.max(b.up, o.relativeThreshold * Math.abs(expected), o.minIncrease);
  const increase = observed - expected;
  return {
    observed,
    expected,
    lower: expected - b.down,
    upper: expected + bar,
    increase,
    spike: increase > bar && observed > 0,
    score: Math.max(0, Math.min(1, increase / bar / 2)),
    baseline,
  };
}

/** Period starts of a granularity (UTC). */
export function periodMs(granularity: 'daily' | 'hourly'): number {
  return granularity === 'daily' ? DAY_MS : HOUR_MS;
}

/** Severity by the size of the increase against the absolute floor. */
export function severityOf(increase: number, minIncrease: number): Severity {
  const floor = Math.max(minIncrease, 1e-9);
  if (increase >= 25 * floor) return 'critical';
  if (increase >= 5 * floor) return 'error';
  return 'warning';
}
