import type { MetricPoint, Temporality } from '../../core/model/records.ts';
import {
  Rejections,
  attributes,
  double,
  enumValue,
  has,
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

function histogramPoint(p: Msg): MetricPoint['histogram'] | string {
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

function histogramPoints(ctx: Context, data: Msg): void {
  const t = enumValue(data, 'aggregationTemporality', TEMPORALITY_NAMES);
  const temporality = t === undefined ? undefined : TEMPORALITY[t];
  list(data.dataPoints).forEach((p, i) => {
    const point: MetricPoint | string =
      temporality === undefined
        ? `unknown aggregationTemporality ${JSON.stringify(data.aggregationTemporality)}`
        : newPoint(ctx, p, 'histogram');
    const h = typeof point === 'string' ? point : histogramPoint(p);
    if (typeof point === 'string' || typeof h === 'string' || !h) {
      ctx.rejected.add(
        1,
        `metric ${JSON.stringify(ctx.name)} point ${i}: ${typeof point === 'string' ? point : h}`,
      );
      return;
    }
    point.histogram = h;
    point.temporality = temporality;
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
        else if (kind === 'histogram') histogramPoints(ctx, data);
        else if (kind === 'exponentialHistogram' || kind === 'summary') {
          // otel_metrics_exponential_histogram / otel_metrics_summary have no writer mapping yet.
          rejected.add(points, `metric ${JSON.stringify(name)}: ${kind} data points are not stored (yet)`);
        }
      }
    }
  }
  return { items: out, rejected, received };
}
