import type { MetricPoint } from './records.ts';

/**
 * Many gauge/sum samples in one bus message, columnar: what a high-volume source (Prometheus
 * remote_write) publishes instead of one MetricPoint per sample. Every record waiting in the
 * in-process bus outlives a young-generation GC, so per-sample objects there were promoted and
 * cost a full collection later (a fifth of the ingest CPU); here a sample is three array slots
 * and its series' head is a long-lived object the source reuses from request to request.
 *
 * Consumers that want points use forEachMetricPoint, which hands out one fresh MetricPoint per
 * sample (short-lived, so cheap to collect).
 */
export interface MetricSamples {
  kind: 'metric_samples';
  /**
   * Per sample: its series' point without time and value (gauge or sum; the same object for
   * every sample of a series), its time (Unix milliseconds) and its value. With `s`, heads are
   * distinct and s[i] is sample i's (the compact form packs travel in as JSON).
   */
  heads: MetricHead[];
  s?: number[];
  /** Arrays as JSON carries them; Float64Arrays as sources build them in memory. */
  t: Numbers;
  v: Numbers;
}

export type Numbers = readonly number[] | Float64Array;

const isNumbers = (x: unknown): x is Numbers => Array.isArray(x) || x instanceof Float64Array;

/**
 * A pack as sources build it: one head reference per sample in memory, and as JSON (Kafka) the
 * compact form, each distinct head once plus an index per sample, so a series' labels are not
 * repeated for every sample on the wire.
 */
export function packMetricSamples(heads: MetricHead[], t: Numbers, v: Numbers): MetricSamples {
  return new Pack(heads, t, v);
}

class Pack implements MetricSamples {
  readonly kind = 'metric_samples' as const;

  constructor(
    readonly heads: MetricHead[],
    readonly t: Numbers,
    readonly v: Numbers,
  ) {}

  toJSON(): MetricSamples {
    const index = new Map<MetricHead, number>();
    const heads: MetricHead[] = [];
    const s = this.heads.map((h) => {
      let i = index.get(h);
      if (i === undefined) {
        i = heads.length;
        heads.push(h);
        index.set(h, i);
      }
      return i;
    });
    return { kind: this.kind, heads, s, t: Array.from(this.t), v: Array.from(this.v) };
  }
}

export type MetricHead = Omit<MetricPoint, 'timeUnixNano' | 'value'>;

export function isMetricSamples(v: unknown): v is MetricSamples {
  return typeof v === 'object' && v !== null && (v as { kind?: unknown }).kind === 'metric_samples';
}

/**
 * Why a value marked as a pack cannot be expanded (a producer other than opsight may have written
 * it to the topic); undefined when it can. A pack is expanded whole or refused whole.
 */
export function packProblem(m: MetricSamples): string | undefined {
  const { heads, s, t, v } = m as Partial<MetricSamples>;
  if (!Array.isArray(heads) || !isNumbers(t) || !isNumbers(v))
    return 'metric_samples pack without heads, t and v arrays';
  const n = s === undefined ? heads.length : Array.isArray(s) ? s.length : -1;
  if (n < 0) return 'metric_samples pack with an s that is not an array';
  if (t.length !== n || v.length !== n)
    return `metric_samples pack with ${n} samples but ${t.length} times and ${v.length} values`;
  if (!heads.every((h) => typeof h === 'object' && h !== null))
    return 'metric_samples pack with a head that is not an object';
  if (s && !s.every((i) => Number.isInteger(i) && i >= 0 && i < heads.length))
    return 'metric_samples pack with an s index outside heads';
  if (!(t as readonly unknown[]).every((x) => typeof x === 'number' && Number.isFinite(x)))
    return 'metric_samples pack with a time that is not a number of milliseconds';
  return undefined;
}

/**
 * One MetricPoint per sample (a new object each, so a consumer may keep it), with the head it
 * was made from; see packProblem.
 */
export function expandMetricSamples(
  m: MetricSamples,
  each: (p: MetricPoint, head: MetricHead) => void,
): void {
  const { heads, s, t, v } = m;
  const n = Math.min(s ? s.length : heads.length, t.length, v.length);
  // The samples of one scrape share its timestamp: one string for a run of equal times.
  let lastMs = NaN;
  let lastText = '';
  for (let i = 0; i < n; i++) {
    const h = s ? heads[s[i]!]! : heads[i]!;
    if (t[i] !== lastMs) {
      lastMs = t[i]!;
      lastText = `${lastMs}000000`;
    }
    // An object literal of one shape for every sample (a spread would copy a dictionary).
    each(
      {
        name: h.name,
        type: h.type,
        unit: h.unit,
        description: h.description,
        resource: h.resource,
        attributes: h.attributes,
        temporality: h.temporality,
        monotonic: h.monotonic,
        scope: h.scope,
        startTimeUnixNano: h.startTimeUnixNano,
        timeUnixNano: lastText,
        value: v[i]!,
      },
      h,
    );
  }
}

/** Every point of a metrics-topic message: one MetricPoint, an array of them, or MetricSamples. */
export function forEachMetricPoint(value: unknown, each: (p: MetricPoint) => void): void {
  if (isMetricSamples(value)) {
    if (packProblem(value) === undefined) expandMetricSamples(value, each);
  } else if (Array.isArray(value)) for (const p of value) each(p as MetricPoint);
  else each(value as MetricPoint);
}
