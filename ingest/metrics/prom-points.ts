import type { Attributes, MetricPoint } from '../../core/model/records.ts';
import type { Family, LineError, Sample } from './exposition.ts';

/**
 * Parsed Prometheus families -> canonical MetricPoints, as the OTel Collector's Prometheus
 * receiver maps them: counters are monotonic cumulative sums, gauges/untyped/unknown/info/stateset
 * gauges, histograms one histogram point per series and timestamp with explicit bounds and
 * per-bucket (non-cumulative) counts. Summaries: the writer has no mapping for
 * otel_metrics_summary, so quantiles become gauge points named like the family with their
 * `quantile` label, and `_sum` / `_count` cumulative sums: the same series names and labels a
 * Prometheus user queries. `_created` samples (OpenMetrics) become the start time of their series.
 * Series names stay the Prometheus names (`_total` kept) so existing queries translate directly.
 */

export interface PointContext {
  /** Scrape start, Unix milliseconds: the time of samples without one of their own. */
  scrapeTimeMs: number;
  /** Ignore samples' own timestamps (honor_timestamps: false). */
  ignoreTimestamps?: boolean;
  resource: Attributes;
  /** Target labels (job, instance, static/file_sd labels) attached to every series. */
  targetLabels: Attributes;
  honorLabels: boolean;
}

export interface Converted {
  points: MetricPoint[];
  /** Samples that made it into a point. */
  accepted: number;
  errors: LineError[];
}

/** Unix milliseconds -> nanoseconds as a decimal string (exact, also for fractional ms). */
export function msToNanos(ms: number): string {
  if (Number.isInteger(ms)) return ms === 0 ? '0' : `${ms}000000`;
  const whole = Math.floor(ms);
  return (BigInt(whole) * 1_000_000n + BigInt(Math.round((ms - whole) * 1e6))).toString();
}

/** Scraped labels merged with the target's, as Prometheus does with honor_labels false/true. */
export function mergeLabels(scraped: Record<string, string>, target: Attributes, honor: boolean): Attributes {
  const out: Attributes = {};
  for (const k in scraped) if (scraped[k] !== '') out[k] = scraped[k]!;
  for (const k in target) {
    const v = target[k]!;
    if (!(k in out)) {
      if (v !== '') out[k] = v;
    } else if (!honor) {
      // The scraped value moves aside to exported_<name> (repeatedly, if that is taken too).
      let name = `exported_${k}`;
      while (name in out) name = `exported_${name}`;
      out[name] = out[k]!;
      out[k] = v;
    }
  }
  return out;
}

export function familiesToPoints(families: Family[], ctx: PointContext): Converted {
  const conv = new Converter(ctx);
  for (const f of families) {
    if (f.samples.length === 0) continue;
    if (f.type === 'histogram') conv.histogram(f);
    else if (f.type === 'counter' || f.type === 'summary') conv.cumulative(f);
    else for (const s of f.samples) conv.push(conv.point(f, s, 'gauge', s.name), s);
  }
  return { points: conv.points, accepted: conv.accepted, errors: conv.errors };
}

/** Series identity within one family: labels minus those that split a series into samples. */
function groupKey(s: Sample, skip: string): string {
  let key = s.timestampMs === undefined ? '' : String(s.timestampMs);
  for (const k of Object.keys(s.labels).sort()) if (k !== skip) key += `\u0000${k}\u0001${s.labels[k]}`;
  return key;
}

function without(labels: Record<string, string>, skip: string): Record<string, string> {
  if (!(skip in labels)) return labels;
  const out = { ...labels };
  delete out[skip];
  return out;
}

class Converter {
  readonly points: MetricPoint[] = [];
  readonly errors: LineError[] = [];
  accepted = 0;

  constructor(private readonly ctx: PointContext) {}

  time(s: Sample): string {
    const ms =
      s.timestampMs !== undefined && !this.ctx.ignoreTimestamps ? s.timestampMs : this.ctx.scrapeTimeMs;
    return msToNanos(ms);
  }

  point(
    f: Family,
    s: Sample,
    type: MetricPoint['type'],
    name: string,
    labels: Record<string, string> = s.labels,
  ): MetricPoint {
    const p: MetricPoint = {
      name,
      type,
      resource: this.ctx.resource,
      attributes: mergeLabels(labels, this.ctx.targetLabels, this.ctx.honorLabels),
      timeUnixNano: this.time(s),
    };
    if (f.help) p.description = f.help;
    if (f.unit) p.unit = f.unit;
    if (type !== 'histogram') p.value = s.value;
    return p;
  }

  push(p: MetricPoint, ...samples: Sample[]): void {
    if (samples.some((s) => s.timestampMs !== undefined && s.timestampMs < 0 && !this.ctx.ignoreTimestamps)) {
      for (const s of samples) this.reject(s, `negative timestamp for ${s.name}`);
      return;
    }
    this.points.push(p);
    this.accepted += samples.length;
  }

  reject(s: Sample, message: string): void {
    this.errors.push({ line: s.line, message });
  }

  /** Start times from `_created` samples, by series. */
  created(f: Family): Map<string, string> {
    const out = new Map<string, string>();
    for (const s of f.samples) {
      if (s.name !== `${f.name}_created`) continue;
      // _created carries seconds since the epoch (OpenMetrics); no timestamp of its own.
      if (Number.isFinite(s.value) && s.value >= 0) {
        out.set(groupKey({ ...s, timestampMs: undefined }, ''), msToNanos(s.value * 1000));
        this.accepted++;
      } else this.reject(s, `invalid ${s.name} value ${s.value}`);
    }
    return out;
  }

  /** Counters and summaries: sums (and summary quantile gauges). */
  cumulative(f: Family): void {
    const created = this.created(f);
    for (const s of f.samples) {
      if (s.name === `${f.name}_created`) continue;
      const isQuantile = f.type === 'summary' && s.name === f.name;
      if (isQuantile) {
        this.push(this.point(f, s, 'gauge', s.name), s);
        continue;
      }
      const p = this.point(f, s, 'sum', s.name);
      p.temporality = 'cumulative';
      // A summary's _sum can fall when observations are negative; counters and _count cannot.
      p.monotonic = !(f.type === 'summary' && s.name === `${f.name}_sum`);
      const start = created.get(groupKey({ ...s, timestampMs: undefined }, ''));
      if (start) p.startTimeUnixNano = start;
      this.push(p, s);
    }
  }

  histogram(f: Family): void {
    const created = this.created(f);
    interface Group {
      first: Sample;
      samples: Sample[];
      buckets: { le: number; count: number; s: Sample }[];
      sum?: number;
      count?: number;
      bad?: string;
    }
    const groups = new Map<string, Group>();
    for (const s of f.samples) {
      if (s.name === `${f.name}_created`) continue;
      const key = groupKey(s, 'le');
      let g = groups.get(key);
      if (!g) groups.set(key, (g = { first: s, samples: [], buckets: [] }));
      g.samples.push(s);
      if (s.name === `${f.name}_bucket`) {
        const le = s.labels.le;
        const bound = le === undefined ? Number.NaN : Number(le === '+Inf' ? Infinity : le);
        if (le === undefined || le === '' || Number.isNaN(bound))
          g.bad ??= `bucket of ${f.name} with ${le === undefined ? 'no le label' : `invalid le "${le}"`} (line ${s.line})`;
        else if (!(s.value >= 0) || !Number.isInteger(s.value))
          g.bad ??= `bucket count ${s.value} of ${f.name} is not a non-negative integer (line ${s.line})`;
        else g.buckets.push({ le: bound, count: s.value, s });
      } else if (s.name === `${f.name}_sum`) g.sum = s.value;
      else if (s.name === `${f.name}_count`) g.count = s.value;
      else g.bad ??= `sample ${s.name} does not belong to histogram ${f.name} (line ${s.line})`;
    }
    for (const [key, g] of groups) {
      const bad = g.bad ?? this.checkCount(f, g.count);
      if (bad) {
        for (const s of g.samples) this.reject(s, bad);
        continue;
      }
      const buckets = g.buckets.sort((a, b) => a.le - b.le);
      const last = buckets.at(-1);
      const total = g.count ?? last?.count;
      if (total === undefined || (last?.le !== Infinity && g.count === undefined)) {
        for (const s of g.samples)
          this.reject(s, `histogram ${f.name} series without a +Inf bucket or _count`);
        continue;
      }
      if (!last || last.le !== Infinity) buckets.push({ le: Infinity, count: total, s: g.first });
      const bounds: number[] = [];
      const counts: number[] = [];
      let prev = 0;
      let decreasing: Sample | undefined;
      for (const b of buckets) {
        if (b.count < prev) decreasing ??= b.s;
        if (b.le !== Infinity) bounds.push(b.le);
        counts.push(b.count - prev);
        prev = b.count;
      }
      if (decreasing) {
        for (const s of g.samples)
          this.reject(s, `histogram ${f.name}: cumulative bucket counts decrease at line ${decreasing.line}`);
        continue;
      }
      const p = this.point(f, g.first, 'histogram', f.name, without(g.first.labels, 'le'));
      p.temporality = 'cumulative';
      p.histogram = { count: total, sum: g.sum ?? 0, bounds, counts };
      const start = created.get(stripTime(key));
      if (start) p.startTimeUnixNano = start;
      this.push(p, ...g.samples);
    }
  }

  checkCount(f: Family, count: number | undefined): string | undefined {
    if (count === undefined || (count >= 0 && Number.isInteger(count))) return undefined;
    return `${f.name}_count ${count} is not a non-negative integer`;
  }
}

/** A group key without its leading timestamp, to look up `_created` (which has none). */
function stripTime(key: string): string {
  const i = key.indexOf('\u0000');
  return i < 0 ? '' : key.slice(i);
}
