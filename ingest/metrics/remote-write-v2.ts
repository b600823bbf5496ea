import type { OutgoingRecord } from '../../core/bus/types.ts';
import type { MetricHead, MetricSamples } from '../../core/model/metric-samples.ts';
import type { Attributes, Exemplar, ExponentialBuckets, MetricPoint } from '../../core/model/records.ts';
import { seriesKey } from '../keys.ts';
import { Packer } from './packer.ts';
import { isStaleMarker } from './prompb.ts';
import {
  MetricTypeV2,
  ResetHint,
  type BucketSpan,
  type ExemplarV2,
  type HistogramV2,
  type RequestV2,
  type TimeSeriesV2,
} from './remote-write-v2-proto.ts';

/**
 * Remote-Write 2.0 requests -> metric points. Labels are resolved through the request's symbols
 * table; float samples become gauges or (counter metadata) monotonic cumulative sums, native
 * histograms become exponential_histogram points, exemplars are attached to the points of their
 * series, created timestamps become start times. Invalid series are reported and skipped, the
 * rest kept (a 400 is not retried, so dropping them would lose them).
 */

/** Anything past 2300 is past what DateTime64(9) stores; the writer would dead-letter it. */
const MAX_MS = 10_413_792_000_000;
const MAX_ERRORS = 20;
/**
 * The widest run of buckets stored (gaps included): the table's bucket arrays are dense. At
 * schema 8 it spans a factor of 2^64, far beyond what real histograms cover.
 */
const MAX_DENSE_BUCKETS = 16_384;
const MAX_INDEX = 1075 * 2 ** 8;
/** Label sets remembered across requests; cleared when full. */
const MAX_SERIES = 200_000;
/** Distinct strings remembered across requests (label names and values). */
const MAX_SYMBOLS = 1_000_000;

export interface MappedV2 {
  /** Points, and (given a partition count) float samples packed as MetricSamples per partition. */
  records: OutgoingRecord<MetricPoint | MetricSamples>[];
  /** Float samples, histograms and stored exemplars in the records (what a publish writes). */
  samples: number;
  histograms: number;
  exemplars: number;
  /** Samples and histograms rejected. */
  rejected: number;
  rejectedSeries: number;
  errors: string[];
}

interface SeriesV2 {
  name: string;
  resource: Attributes;
  attributes: Attributes;
  key: string;
  /** Its float samples' head, kept while type, unit, help and created time stay the same. */
  head: MetricHead;
  partition: number;
  partitionsOf: number;
}

/** Whether a cached head still describes the series' samples in this request. */
function sameHead(
  h: MetricHead,
  type: MetricHead['type'],
  unit?: string,
  description?: string,
  start?: string,
) {
  return h.type === type && h.unit === unit && h.description === description && h.startTimeUnixNano === start;
}

/** Why a label name is not a valid one; undefined when valid. */
function nameProblem(name: string): string | undefined {
  if (name === '') return 'a label with an empty name';
  // Invalid UTF-8 decodes to U+FFFD; Prometheus 3 accepts any valid UTF-8 name.
  if (name.includes('\uFFFD')) return `label name ${JSON.stringify(name)} is not valid UTF-8`;
  return undefined;
}

class Invalid extends Error {}

/** A series' float samples, packed once the whole series turned out valid. */
interface Packed {
  series: SeriesV2;
  t: number[];
  v: number[];
}

/** Never matches a real head, so a new series builds its own. */
const NO_HEAD: MetricHead = { name: '', type: 'summary', resource: {}, attributes: {} };

const short = (text: string) => (text.length > 200 ? `${text.slice(0, 197)}...` : text);

export class RequestMapperV2 {
  /** Keyed by the label set's interned ids (see ids below), two UTF-16 units each. */
  private series = new Map<string, SeriesV2>();
  /**
   * Strings -> ids that outlive the request, so a series' cache key is a few characters per
   * label instead of its strings joined: each symbol is looked up once per request, not once
   * per reference. Cleared together with the series cache.
   */
  private ids = new Map<string, number>();
  /** Scratch for a cache key's UTF-16 units. */
  private units: number[] = [];

  /**
   * `partitions`: the metrics topic's partition count. Given, float samples of series without
   * exemplars are packed into MetricSamples messages (see remote-write.ts); else one point each.
   */
  map(request: RequestV2, partitions?: number): MappedV2 {
    const packer = partitions ? new Packer(partitions) : undefined;
    const out: MappedV2 = {
      records: [],
      samples: 0,
      histograms: 0,
      exemplars: 0,
      rejected: 0,
      rejectedSeries: 0,
      errors: [],
    };
    const { symbols } = request;
    if (symbols.length > 0 && symbols[0] !== '') {
      throw new Invalid(`symbols[0] must be the empty string, got ${JSON.stringify(short(symbols[0]!))}`);
    }
    if (this.ids.size + symbols.length > MAX_SYMBOLS) {
      this.ids.clear();
      this.series.clear();
    }
    const ids = new Array<number>(symbols.length);
    for (const [i, s] of symbols.entries()) {
      let id = this.ids.get(s);
      if (id === undefined) this.ids.set(s, (id = this.ids.size));
      ids[i] = id;
    }
    for (const ts of request.timeseries) {
      const before = out.records.length;
      let packed: Packed | undefined;
      try {
        packed = this.mapSeries(symbols, ids, ts, out.records, packer !== undefined);
      } catch (err) {
        if (!(err instanceof Invalid)) throw err;
        // All or nothing: the points of the series already pushed are taken back.
        out.records.length = before;
        out.rejected += ts.samples.length + ts.histograms.length;
        out.rejectedSeries++;
        if (out.errors.length < MAX_ERRORS)
          out.errors.push(`series ${labelText(symbols, ts)}: ${err.message}`);
        continue;
      }
      if (packed && packer) {
        // Added only now that the whole series is valid.
        for (let i = 0; i < packed.t.length; i++) packer.add(packed.series, packed.t[i]!, packed.v[i]!);
        out.samples += packed.t.length;
      }
      for (let i = before; i < out.records.length; i++) {
        const point = out.records[i]!.value as MetricPoint;
        if (point.type === 'exponential_histogram') out.histograms++;
        else out.samples++;
        // Every metric table keeps its points' exemplars (ingest/writer/map-metrics.ts).
        out.exemplars += point.exemplars?.length ?? 0;
      }
    }
    if (packer) out.records.push(...packer.records());
    return out;
  }

  /**
   * One series' points, all or nothing: a series with any invalid part is rejected whole. With
   * `pack`, the float samples of a series without exemplars are returned for packing instead.
   */
  private mapSeries(
    symbols: string[],
    ids: number[],
    ts: TimeSeriesV2,
    records: OutgoingRecord<MetricPoint | MetricSamples>[],
    pack: boolean,
  ): Packed | undefined {
    const first = records.length;
    const series = this.lookup(symbols, ids, ts.labelsRefs);
    const { name, resource, attributes, key } = series;
    const counter = ts.type === MetricTypeV2.COUNTER;
    const unit = ts.unitRef ? symbol(symbols, ts.unitRef, 'metadata unit_ref') : undefined;
    const description = ts.helpRef ? symbol(symbols, ts.helpRef, 'metadata help_ref') : undefined;
    const start =
      ts.createdTimestamp > 0 ? `${checkMs(ts.createdTimestamp, 'created timestamp')}000000` : undefined;
    const exemplars = ts.exemplars.length > 0 ? ts.exemplars.map((x) => exemplar(symbols, x)) : undefined;
    let packed: Packed | undefined;
    if (pack && !exemplars && ts.samples.length > 0) {
      const type = counter ? 'sum' : 'gauge';
      if (!sameHead(series.head, type, unit, description, start)) {
        series.head = {
          name,
          type,
          unit,
          description,
          resource,
          attributes,
          startTimeUnixNano: start,
          temporality: counter ? 'cumulative' : undefined,
          monotonic: counter ? true : undefined,
        };
      }
      packed = { series, t: [], v: [] };
    }
    for (const s of ts.samples) {
      // Stale markers end a series in Prometheus; there is nothing to store for them.
      if (isStaleMarker(s.value)) continue;
      if (packed) {
        packed.t.push(checkMs(s.timestamp, 'sample timestamp'));
        packed.v.push(s.value);
        continue;
      }
      const point: MetricPoint = {
        name,
        type: counter ? 'sum' : 'gauge',
        unit,
        description,
        resource,
        attributes,
        timeUnixNano: `${checkMs(s.timestamp, 'sample timestamp')}000000`,
        startTimeUnixNano: start,
        value: s.value,
        temporality: counter ? 'cumulative' : undefined,
        monotonic: counter ? true : undefined,
      };
      records.push({ key, value: point });
    }
    for (const h of ts.histograms) {
      // A stale histogram carries the stale NaN as its sum: nothing to store, as for samples.
      if (isStaleMarker(h.sum)) continue;
      const gauge = h.resetHint === ResetHint.GAUGE || ts.type === MetricTypeV2.GAUGEHISTOGRAM;
      records.push({
        key,
        value: {
          name,
          type: 'exponential_histogram',
          unit,
          description,
          resource,
          attributes,
          timeUnixNano: `${checkMs(h.timestamp, 'histogram timestamp')}000000`,
          startTimeUnixNano: start,
          // A gauge histogram is a snapshot, not an accumulation since a start time.
          temporality: gauge ? 'unspecified' : 'cumulative',
          exponentialHistogram: nativeToExponential(h),
        },
      });
    }
    // A series with exemplars is never packed: its records are all points.
    if (exemplars) attachExemplars(records.slice(first) as OutgoingRecord<MetricPoint>[], exemplars);
    return packed;
  }

  /** The series for a label set, resolved once per distinct set of strings. */
  private lookup(symbols: string[], ids: number[], refs: number[]): SeriesV2 {
    if (refs.length % 2 !== 0) throw new Invalid(`labels_refs has an odd length (${refs.length})`);
    // No per-label objects for a known series: its key is made of the ids alone.
    const units = this.units;
    units.length = refs.length * 2;
    for (let i = 0; i < refs.length; i++) {
      const id = ids[refs[i]!];
      if (id === undefined) symbol(symbols, refs[i]!, 'labels_refs');
      units[2 * i] = id! >>> 16;
      units[2 * i + 1] = id! & 0xffff;
    }
    // One flat string in one call (no rope of small pieces to flatten when hashed).
    const cacheKey = String.fromCharCode.apply(null, units);
    const known = this.series.get(cacheKey);
    if (known) return known;
    const series: SeriesV2 = {
      name: '',
      resource: {},
      attributes: {},
      key: '',
      head: NO_HEAD,
      partition: 0,
      partitionsOf: 0,
    };
    let previous: string | undefined;
    for (let i = 0; i < refs.length; i += 2) {
      const k = symbols[refs[i]!]!;
      const value = symbols[refs[i + 1]!]!;
      const bad = nameProblem(k);
      if (bad) throw new Invalid(bad);
      if (previous !== undefined && k <= previous) {
        throw new Invalid(
          k === previous
            ? `duplicate label name ${JSON.stringify(k)}`
            : `labels are not sorted by name (${JSON.stringify(k)} after ${JSON.stringify(previous)})`,
        );
      }
      previous = k;
      // An empty value is the same as no label in Prometheus.
      if (value === '') continue;
      if (k === '__name__') series.name = value;
      else if (k === 'job') series.resource['service.name'] = value;
      else if (k === 'instance') series.resource['service.instance.id'] = value;
      else series.attributes[k] = value;
    }
    if (series.name === '') throw new Invalid('no __name__ label (the metric name)');
    series.key = seriesKey(series);
    if (this.series.size >= MAX_SERIES) this.series.clear();
    this.series.set(cacheKey, series);
    return series;
  }
}

export { Invalid as InvalidRequestV2 };

function symbol(symbols: string[], ref: number, what: string): string {
  const s = symbols[ref];
  if (s === undefined)
    throw new Invalid(`${what}: symbol reference ${ref} is out of range (${symbols.length} symbols)`);
  return s;
}

function checkMs(ms: number, what: string): number {
  if (!(ms >= 0 && ms < MAX_MS)) throw new Invalid(`${what} ${ms} ms is outside 1970..2300`);
  return ms;
}

function exemplar(symbols: string[], x: ExemplarV2): Exemplar {
  if (x.labelsRefs.length % 2 !== 0) throw new Invalid('exemplar labels_refs has an odd length');
  const e: Exemplar = {
    timeUnixNano: `${checkMs(x.timestamp, 'exemplar timestamp')}000000`,
    value: x.value,
    attributes: {},
  };
  for (let i = 0; i < x.labelsRefs.length; i += 2) {
    const k = symbol(symbols, x.labelsRefs[i]!, 'exemplar labels_refs');
    const v = symbol(symbols, x.labelsRefs[i + 1]!, 'exemplar labels_refs');
    const bad = nameProblem(k);
    if (bad) throw new Invalid(`exemplar: ${bad}`);
    // OpenTelemetry's Prometheus receiver maps these two labels to the exemplar's span context.
    if (k === 'trace_id') e.traceId = v.toLowerCase();
    else if (k === 'span_id') e.spanId = v.toLowerCase();
    else e.attributes[k] = v;
  }
  return e;
}

/**
 * Each exemplar goes to the point of its series closest in time at or after it (the sample it
 * was recorded with), else to the last point; exemplars of a series without points are dropped.
 */
function attachExemplars(records: OutgoingRecord<MetricPoint>[], exemplars: Exemplar[]): void {
  if (records.length === 0 || exemplars.length === 0) return;
  for (const x of exemplars) {
    const t = BigInt(x.timeUnixNano);
    let target = records[records.length - 1]!.value;
    let best: bigint | undefined;
    for (const r of records) {
      const d = BigInt(r.value.timeUnixNano) - t;
      if (d >= 0n && (best === undefined || d < best)) {
        best = d;
        target = r.value;
      }
    }
    (target.exemplars ??= []).push(x);
  }
}

/**
 * Spans + counts -> one dense run of buckets. Prometheus bucket i covers (base^(i-1), base^i],
 * OpenTelemetry bucket i covers (base^i, base^(i+1)]: the OTel offset is the first Prometheus
 * index minus one. Integer histograms carry deltas to the previous bucket, float ones absolutes.
 */
function buckets(
  spans: BucketSpan[],
  deltas: number[],
  absolutes: number[],
  isFloat: boolean,
  side: string,
): ExponentialBuckets & { total: number } {
  const values = isFloat ? absolutes : deltas;
  if (!isFloat && absolutes.length > 0) throw new Invalid(`${side}: an integer histogram with float counts`);
  if (isFloat && deltas.length > 0) throw new Invalid(`${side}: a float histogram with integer deltas`);
  let expected = 0;
  for (const s of spans) expected += s.length;
  if (expected !== values.length) {
    throw new Invalid(`${side}: spans cover ${expected} buckets but ${values.length} counts are given`);
  }
  const counts: number[] = [];
  let first: number | undefined;
  let index = 0;
  let k = 0;
  let current = 0;
  let total = 0;
  for (const [n, s] of spans.entries()) {
    index += s.offset;
    if (n > 0 && s.offset < 0) throw new Invalid(`${side}: span ${n} has a negative offset`);
    if (s.length === 0) continue;
    if (first === undefined) {
      // float64 needs at most |index| 1075 * 2^schema; more would not fit the Int32 offset column.
      if (Math.abs(index) > MAX_INDEX) throw new Invalid(`${side}: bucket index ${index} is out of range`);
      first = index;
    } else {
      // Gaps become zeros: bounded, so a few bytes of offset cannot demand gigabytes.
      if (counts.length + s.offset + s.length > MAX_DENSE_BUCKETS) {
        throw new Invalid(`${side}: buckets spread over more than ${MAX_DENSE_BUCKETS} indexes`);
      }
      for (let gap = 0; gap < s.offset; gap++) counts.push(0);
    }
    for (let j = 0; j < s.length; j++, k++) {
      current = isFloat ? values[k]! : current + values[k]!;
      if (!(current >= 0))
        throw new Invalid(`${side}: bucket ${index + j} has a negative count (${current})`);
      if (!Number.isInteger(current)) {
        // The exponential-histogram table stores UInt64 counts.
        throw new Invalid(
          `${side}: bucket ${index + j} has a non-integer count (${current}), which cannot be stored`,
        );
      }
      counts.push(current);
      total += current;
    }
    index += s.length;
  }
  return { offset: first === undefined ? 0 : first - 1, counts, total };
}

export function nativeToExponential(h: HistogramV2): NonNullable<MetricPoint['exponentialHistogram']> {
  if (h.schema === -53) throw new Invalid('custom-bucket histograms (schema -53) are not supported');
  if (!Number.isInteger(h.schema) || h.schema < -4 || h.schema > 8) {
    throw new Invalid(`histogram schema ${h.schema} is outside -4..8`);
  }
  if (!(h.zeroThreshold >= 0)) throw new Invalid(`histogram zero_threshold ${h.zeroThreshold} is negative`);
  if (!(h.zeroCount >= 0) || !Number.isInteger(h.zeroCount)) {
    throw new Invalid(`histogram zero count ${h.zeroCount} is not a non-negative integer`);
  }
  const positive = buckets(
    h.positiveSpans,
    h.positiveDeltas,
    h.positiveCounts,
    h.isFloat,
    'positive buckets',
  );
  const negative = buckets(
    h.negativeSpans,
    h.negativeDeltas,
    h.negativeCounts,
    h.isFloat,
    'negative buckets',
  );
  const inBuckets = positive.total + negative.total + h.zeroCount;
  // As Prometheus validates: buckets never hold more than the count, and less only when NaN
  // observations (counted, in no bucket) made the sum NaN.
  if (inBuckets > h.count || (inBuckets < h.count && !Number.isNaN(h.sum))) {
    throw new Invalid(`histogram count ${h.count} does not match its buckets (${inBuckets} observations)`);
  }
  return {
    count: h.count,
    sum: h.sum,
    scale: h.schema,
    zeroCount: h.zeroCount,
    zeroThreshold: h.zeroThreshold,
    positive: { offset: positive.offset, counts: positive.counts },
    negative: { offset: negative.offset, counts: negative.counts },
  };
}

/** The series' labels for an error message, whatever state its refs are in. */
function labelText(symbols: string[], ts: TimeSeriesV2): string {
  const parts: string[] = [];
  for (let i = 0; i + 1 < ts.labelsRefs.length && parts.length < 20; i += 2) {
    const k = symbols[ts.labelsRefs[i]!] ?? `#${ts.labelsRefs[i]}`;
    const v = symbols[ts.labelsRefs[i + 1]!] ?? `#${ts.labelsRefs[i + 1]}`;
    parts.push(`${k}=${JSON.stringify(v)}`);
  }
  return short(`{${parts.join(', ')}}`);
}
