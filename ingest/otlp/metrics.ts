import type {
  Exemplar,
  ExponentialBuckets,
  ExponentialHistogram,
  MetricPoint,
  Summary,
  Temporality,
} from '../../core/model/records.ts';
import {
  Rejections,
  attributes,
  double,
  enumValue,
  has,
  id,
  int64,
  list,
  msg,
  scopeOf,
  str,
  u64,
  show,
  type Msg,
} from './values.ts';

/** ExportMetricsServiceRequest -> MetricPoints; invalid points are counted, never thrown. */

const TEMPORALITY: readonly Temporality[] = ['unspecified', 'delta', 'cumulative'];
const TEMPORALITY_NAMES = [
  'AGGREGATION_TEMPORALITY_UNSPECIFIED',
  'AGGREGATION_TEMPORALITY_DELTA',
  'AGGREGATION_TEMPORALITY_CUMULATIVE',
] as const;

export interface Converted<T> {
  items: T[];
  rejected: Rejections;
  /** Items seen, accepted or not. */
  received: number;
}

interface Context {
  name: string;
  base: Omit<MetricPoint, 'type' | 'attributes' | 'timeUnixNano'>;
  out: MetricPoint[];
  rejected: Rejections;
}

/**
 * A new point with the metric's and the data point's common fields, or the reason the data
 * point is invalid. Built field by field: object spreads cost more than the rest of the path.
 */
function newPoint(ctx: Context, p: Msg, type: MetricPoint['type']): MetricPoint | string {
  const time = u64(p, 'timeUnixNano');
  if (time === undefined) return `timeUnixNano ${show(p.timeUnixNano)} is not Unix nanoseconds (before 2262)`;
  if (time === '0') return 'timeUnixNano is missing or 0';
  const start = u64(p, 'startTimeUnixNano');
  if (start === undefined)
    return `startTimeUnixNano ${show(p.startTimeUnixNano)} is not Unix nanoseconds (before 2262)`;
  const { base } = ctx;
  const point: MetricPoint = {
    name: base.name,
    type,
    resource: base.resource,
    attributes: attributes(p.attributes),
    timeUnixNano: time,
  };
  if (start !== '0') point.startTimeUnixNano = start;
  if (base.unit !== undefined) point.unit = base.unit;
  if (base.description !== undefined) point.description = base.description;
  if (base.scope !== undefined) point.scope = base.scope;
  return point;
}

function numberPoints(ctx: Context, data: Msg, type: 'gauge' | 'sum'): void {
  let temporality: Temporality | undefined;
  if (type === 'sum') {
    const t = enumValue(data, 'aggregationTemporality', TEMPORALITY_NAMES);
    temporality = t === undefined ? undefined : TEMPORALITY[t];
    if (temporality === undefined) {
      const n = list(data.dataPoints).length;
      ctx.rejected.add(
        n,
        `metric ${JSON.stringify(ctx.name)}: unknown aggregationTemporality ${JSON.stringify(data.aggregationTemporality)}`,
      );
      return;
    }
  }
  const monotonic = data.isMonotonic === true;
  const points = list(data.dataPoints);
  for (let i = 0; i < points.length; i++) {
    const p = points[i]!;
    let value: number | undefined;
    if (has(p, 'asDouble')) value = double(p.asDouble);
    else if (has(p, 'asInt')) value = int64(p.asInt);
    const point =
      value !== undefined
        ? newPoint(ctx, p, type)
        : has(p, 'asDouble') || has(p, 'asInt')
          ? `value ${JSON.stringify(String(p.asDouble ?? p.asInt))} is not a number`
          : 'no asDouble or asInt value';
    if (typeof point === 'string') {
      ctx.rejected.add(1, `metric ${JSON.stringify(ctx.name)} point ${i}: ${point}`);
      continue;
    }
    point.value = value;
    if (type === 'sum') {
      point.temporality = temporality;
      point.monotonic = monotonic;
    }
    ctx.out.push(point);
  }
}

function histogramPoint(p: Msg): NonNullable<MetricPoint['histogram']> | string {
  const count = int64(has(p, 'count') ? p.count : 0);
  if (count === undefined || count < 0) return `count ${JSON.stringify(String(p.count))} is not a uint64`;
  const bounds: number[] = [];
  for (const b of Array.isArray(p.explicitBounds) ? (p.explicitBounds as unknown[]) : []) {
    const d = double(b);
    if (d === undefined || Number.isNaN(d)) return `explicit bound ${JSON.stringify(b)} is not a number`;
    if (bounds.length > 0 && d <= bounds[bounds.length - 1]!)
      return 'explicitBounds are not strictly increasing';
    bounds.push(d);
  }
  const counts: number[] = [];
  for (const c of Array.isArray(p.bucketCounts) ? (p.bucketCounts as unknown[]) : []) {
    const n = int64(c);
    if (n === undefined || n < 0) return `bucket count ${JSON.stringify(String(c))} is not a uint64`;
    counts.push(n);
  }
  if (counts.length === 0 && bounds.length === 0) {
    // A histogram without buckets (count and sum only): one bucket holding everything.
    counts.push(count);
  } else if (counts.length !== bounds.length + 1) {
    return `${counts.length} bucket counts for ${bounds.length} explicit bounds (expected ${bounds.length + 1})`;
  }
  const total = counts.reduce((a, b) => a + b, 0);
  if (total !== count) return `bucket counts add up to ${total}, not to count ${count}`;
  const sum = has(p, 'sum') ? double(p.sum) : 0;
  if (sum === undefined) return `sum ${JSON.stringify(p.sum)} is not a number`;
  const h: NonNullable<MetricPoint['histogram']> = { count, sum, bounds, counts };
  const min = has(p, 'min') ? double(p.min) : undefined;
  const max = has(p, 'max') ? double(p.max) : undefined;
  if (min !== undefined) h.min = min;
  if (max !== undefined) h.max = max;
  return h;
}

/** Scales OTLP allows (the SDKs' MIN_SCALE..MAX_SCALE). */
const MIN_SCALE = -10;
const MAX_SCALE = 20;
const INT32 = 2 ** 31;

/** A uint64 count field (unset = 0); undefined when not a non-negative integer. */
function countOf(v: unknown): number | undefined {
  const n = int64(v ?? 0);
  return n === undefined || n < 0 ? undefined : n;
}

function expBuckets(v: unknown, side: string): ExponentialBuckets | string {
  const b = msg(v) ?? {};
  const offset = int64(has(b, 'offset') ? b.offset : 0);
  if (offset === undefined || offset < -INT32 || offset >= INT32)
    return `${side} offset ${show(b.offset)} is not an int32`;
  const counts: number[] = [];
  for (const c of Array.isArray(b.bucketCounts) ? (b.bucketCounts as unknown[]) : []) {
    const n = countOf(c);
    if (n === undefined) return `${side} bucket count ${show(c)} is not a uint64`;
    counts.push(n);
  }
  if (offset + counts.length > INT32) return `${side} buckets run past the int32 bucket index range`;
  return { offset, counts };
}

/** Sum, min and max as the histogram point carries them; the reason when one is not a number. */
function sumMinMax(p: Msg): { sum: number; min?: number; max?: number } | string {
  const sum = has(p, 'sum') ? double(p.sum) : 0;
  if (sum === undefined) return `sum ${show(p.sum)} is not a number`;
  const out: { sum: number; min?: number; max?: number } = { sum };
  for (const f of ['min', 'max'] as const) {
    if (!has(p, f)) continue;
    const d = double(p[f]);
    if (d === undefined) return `${f} ${show(p[f])} is not a number`;
    out[f] = d;
  }
  return out;
}

function exponentialHistogramPoint(p: Msg): ExponentialHistogram | string {
  const n = countOf(p.count);
  if (n === undefined) return `count ${show(p.count)} is not a uint64`;
  const scale = int64(has(p, 'scale') ? p.scale : 0);
  if (scale === undefined || scale < MIN_SCALE || scale > MAX_SCALE)
    return `scale ${show(p.scale)} is outside [${MIN_SCALE}, ${MAX_SCALE}]`;
  const zeroCount = countOf(p.zeroCount);
  if (zeroCount === undefined) return `zeroCount ${show(p.zeroCount)} is not a uint64`;
  const positive = expBuckets(p.positive, 'positive');
  if (typeof positive === 'string') return positive;
  const negative = expBuckets(p.negative, 'negative');
  if (typeof negative === 'string') return negative;
  let total = zeroCount;
  for (const c of positive.counts) total += c;
  for (const c of negative.counts) total += c;
  if (total !== n) return `zero count and bucket counts add up to ${total}, not to count ${n}`;
  const smm = sumMinMax(p);
  if (typeof smm === 'string') return smm;
  const h: ExponentialHistogram = { count: n, sum: smm.sum, scale, zeroCount, positive, negative };
  if (has(p, 'zeroThreshold')) {
    const z = double(p.zeroThreshold);
    if (z === undefined || !(z >= 0)) return `zeroThreshold ${show(p.zeroThreshold)} is not a number >= 0`;
    h.zeroThreshold = z;
  }
  if (smm.min !== undefined) h.min = smm.min;
  if (smm.max !== undefined) h.max = smm.max;
  return h;
}

function summaryPoint(p: Msg): Summary | string {
  const n = countOf(p.count);
  if (n === undefined) return `count ${show(p.count)} is not a uint64`;
  const sum = has(p, 'sum') ? double(p.sum) : 0;
  if (sum === undefined) return `sum ${show(p.sum)} is not a number`;
  const quantiles: Summary['quantiles'] = [];
  for (const q of list(p.quantileValues)) {
    const quantile = has(q, 'quantile') ? double(q.quantile) : 0;
    if (quantile === undefined || !(quantile >= 0 && quantile <= 1))
      return `quantile ${show(q.quantile)} is outside [0, 1]`;
    const value = has(q, 'value') ? double(q.value) : 0;
    if (value === undefined) return `value ${show(q.value)} at quantile ${quantile} is not a number`;
    quantiles.push({ quantile, value });
  }
  return { count: n, sum, quantiles };
}

function exemplarsOf(p: Msg): Exemplar[] | string {
  const out: Exemplar[] = [];
  const all = list(p.exemplars);
  for (let i = 0; i < all.length; i++) {
    const e = all[i]!;
    const time = u64(e, 'timeUnixNano');
    if (time === undefined)
      return `exemplar ${i}: timeUnixNano ${show(e.timeUnixNano)} is not Unix nanoseconds`;
    const value = has(e, 'asDouble') ? double(e.asDouble) : has(e, 'asInt') ? int64(e.asInt) : 0;
    if (value === undefined) return `exemplar ${i}: value is not a number`;
    const traceId = id(e, 'traceId', 16);
    const spanId = id(e, 'spanId', 8);
    if (traceId === undefined || spanId === undefined) return `exemplar ${i}: malformed traceId or spanId`;
    const ex: Exemplar = { timeUnixNano: time, value, attributes: attributes(e.filteredAttributes) };
    if (traceId) ex.traceId = traceId;
    if (spanId) ex.spanId = spanId;
    out.push(ex);
  }
  return out;
}

/** flags (uint32); 0 when unset, undefined when not a uint32. */
function flagsOf(p: Msg): number | undefined {
  const f = int64(has(p, 'flags') ? p.flags : 0);
  return f === undefined || f < 0 || f >= 2 ** 32 ? undefined : f;
}

type Aggregated = 'histogram' | 'exponential_histogram' | 'summary';

/** Histogram-like points: the shared envelope (temporality, flags, exemplars) around `decode`. */
function aggregatedPoints<T>(
  ctx: Context,
  data: Msg,
  type: Aggregated,
  decode: (p: Msg) => T | string,
  attach: (point: MetricPoint, value: T) => void,
): void {
  let temporality: Temporality | undefined;
  if (type !== 'summary') {
    const t = enumValue(data, 'aggregationTemporality', TEMPORALITY_NAMES);
    temporality = t === undefined ? undefined : TEMPORALITY[t];
  }
  list(data.dataPoints).forEach((p, i) => {
    const reject = (why: string) =>
      ctx.rejected.add(1, `metric ${JSON.stringify(ctx.name)} point ${i}: ${why}`);
    if (type !== 'summary' && temporality === undefined)
      return reject(`unknown aggregationTemporality ${JSON.stringify(data.aggregationTemporality)}`);
    const point = newPoint(ctx, p, type);
    if (typeof point === 'string') return reject(point);
    const value = decode(p);
    if (typeof value === 'string') return reject(value);
    if (type !== 'histogram') {
      // The tables of the older types do not take flags and exemplars through this path.
      const flags = flagsOf(p);
      if (flags === undefined) return reject(`flags ${show(p.flags)} is not a uint32`);
      const exemplars = exemplarsOf(p);
      if (typeof exemplars === 'string') return reject(exemplars);
      if (flags !== 0) point.flags = flags;
      if (exemplars.length) point.exemplars = exemplars;
    }
    attach(point, value);
    if (temporality !== undefined) point.temporality = temporality;
    ctx.out.push(point);
  });
}

export function convertMetrics(request: Msg): Converted<MetricPoint> {
  const out: MetricPoint[] = [];
  const rejected = new Rejections();
  let received = 0;
  for (const rm of list(request.resourceMetrics)) {
    const resource = attributes(msg(rm.resource)?.attributes);
    for (const sm of list(rm.scopeMetrics)) {
      const scope = scopeOf(sm.scope);
      for (const m of list(sm.metrics)) {
        const name = str(m, 'name');
        const base: Context['base'] = { name, resource };
        if (has(m, 'unit') && str(m, 'unit') !== '') base.unit = str(m, 'unit');
        if (has(m, 'description') && str(m, 'description') !== '') base.description = str(m, 'description');
        if (scope) base.scope = scope;
        const ctx: Context = { name, base, out, rejected };
        const kind = ['gauge', 'sum', 'histogram', 'exponentialHistogram', 'summary'].find((k) => has(m, k));
        const data = kind ? (msg(m[kind]) ?? {}) : {};
        const points = list(data.dataPoints).length;
        received += points;
        if (name === '') {
          rejected.add(points, 'metric without a name');
          continue;
        }
        if (kind === 'gauge') numberPoints(ctx, data, 'gauge');
        else if (kind === 'sum') numberPoints(ctx, data, 'sum');
        else if (kind === 'histogram')
          aggregatedPoints(ctx, data, 'histogram', histogramPoint, (pt, h) => (pt.histogram = h));
        else if (kind === 'exponentialHistogram')
          aggregatedPoints(
            ctx,
            data,
            'exponential_histogram',
            exponentialHistogramPoint,
            (pt, h) => (pt.exponentialHistogram = h),
          );
        else if (kind === 'summary')
          aggregatedPoints(ctx, data, 'summary', summaryPoint, (pt, s) => (pt.summary = s));
        else rejected.add(points, `metric ${JSON.stringify(name)}: no data (gauge, sum, histogram, ...)`);
      }
    }
  }
  return { items: out, rejected, received };
}
