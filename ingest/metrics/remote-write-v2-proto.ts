import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { DecodeError, done, end, expectWire, int64, uncompressBody } from './prompb.ts';

/**
 * Decoding of a Remote-Write 2.0 body: a snappy block holding an `io.prometheus.write.v2.Request`
 * (schema in ./proto/io/prometheus/write/v2/types.proto, loaded by protobufjs for tests and
 * benchmarks). The request is read by a small reader on protobufjs's Reader: label and
 * exemplar refs stay numbers into the symbols table, resolved only where the mapper needs them.
 */

const root = protobuf.loadSync(
  fileURLToPath(new URL('./proto/io/prometheus/write/v2/types.proto', import.meta.url)),
);

/** The protobufjs type, the schema of record; tests and benchmarks encode requests with it. */
export const RequestV2Type = root.lookupType('io.prometheus.write.v2.Request');

/** io.prometheus.write.v2.Metadata.MetricType */
export const MetricTypeV2 = {
  UNSPECIFIED: 0,
  COUNTER: 1,
  GAUGE: 2,
  HISTOGRAM: 3,
  GAUGEHISTOGRAM: 4,
  SUMMARY: 5,
  INFO: 6,
  STATESET: 7,
} as const;

/** io.prometheus.write.v2.Histogram.ResetHint */
export const ResetHint = { UNSPECIFIED: 0, YES: 1, NO: 2, GAUGE: 3 } as const;

export interface SampleV2 {
  value: number;
  /** Unix milliseconds. */
  timestamp: number;
}

export interface ExemplarV2 {
  labelsRefs: number[];
  value: number;
  timestamp: number;
}

export interface BucketSpan {
  offset: number;
  length: number;
}

export interface HistogramV2 {
  /** true for count_float/zero_count_float/*_counts (absolute float counts). */
  isFloat: boolean;
  count: number;
  sum: number;
  schema: number;
  zeroThreshold: number;
  zeroCount: number;
  negativeSpans: BucketSpan[];
  negativeDeltas: number[];
  negativeCounts: number[];
  positiveSpans: BucketSpan[];
  positiveDeltas: number[];
  positiveCounts: number[];
  resetHint: number;
  timestamp: number;
  customValues: number[];
}

export interface TimeSeriesV2 {
  labelsRefs: number[];
  samples: SampleV2[];
  histograms: HistogramV2[];
  exemplars: ExemplarV2[];
  type: number;
  helpRef: number;
  unitRef: number;
  /** Unix milliseconds; 0 when unknown. */
  createdTimestamp: number;
}

export interface RequestV2 {
  symbols: string[];
  timeseries: TimeSeriesV2[];
}

type Reader = protobuf.Reader;

/** Snappy block -> protobuf bytes -> Request. */
export function decodeRequestV2(body: Uint8Array, maxDecodedBytes: number): RequestV2 {
  const raw = uncompressBody(body, maxDecodedBytes, 'io.prometheus.write.v2.Request');
  try {
    return readRequestV2(raw);
  } catch (err) {
    throw new DecodeError(`invalid protobuf io.prometheus.write.v2.Request: ${(err as Error).message}`);
  }
}

/** sint64 (zigzag) as a number. */
function sint64(r: Reader): number {
  const u = int64(r);
  const n = u < 0 ? u + 2 ** 64 : u;
  return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
}

/** uint64 as a number (counts: exact up to 2^53). */
function uint64(r: Reader): number {
  const n = int64(r);
  return n < 0 ? n + 2 ** 64 : n;
}

/** A repeated scalar: packed (wire 2) or one value per tag, as proto3 allows either. */
function repeated(r: Reader, tag: number, wire: number, read: (r: Reader) => number, into: number[]): void {
  if ((tag & 7) === 2) {
    const e = end(r);
    while (r.pos < e) into.push(read(r));
    done(r, e, undefined);
  } else {
    expectWire(tag, wire, `repeated field ${tag >>> 3}`);
    into.push(read(r));
  }
}

const readUint32 = (r: Reader) => r.uint32();
const readDouble = (r: Reader) => r.double();

function readSample(r: Reader, e: number): SampleV2 {
  let value = 0;
  let timestamp = 0;
  while (r.pos < e) {
    const tag = r.uint32();
    const field = tag >>> 3;
    if (field === 1) {
      expectWire(tag, 1, 'Sample.value');
      value = r.double();
    } else if (field === 2) {
      expectWire(tag, 0, 'Sample.timestamp');
      timestamp = int64(r);
    } else r.skipType(tag & 7);
  }
  return done(r, e, { value, timestamp });
}

function readExemplar(r: Reader, e: number): ExemplarV2 {
  const x: ExemplarV2 = { labelsRefs: [], value: 0, timestamp: 0 };
  while (r.pos < e) {
    const tag = r.uint32();
    switch (tag >>> 3) {
      case 1:
        repeated(r, tag, 0, readUint32, x.labelsRefs);
        break;
      case 2:
        expectWire(tag, 1, 'Exemplar.value');
        x.value = r.double();
        break;
      case 3:
        expectWire(tag, 0, 'Exemplar.timestamp');
        x.timestamp = int64(r);
        break;
      default:
        r.skipType(tag & 7);
    }
  }
  return done(r, e, x);
}

function readSpan(r: Reader, e: number): BucketSpan {
  const s: BucketSpan = { offset: 0, length: 0 };
  while (r.pos < e) {
    const tag = r.uint32();
    const field = tag >>> 3;
    if (field === 1) {
      expectWire(tag, 0, 'BucketSpan.offset');
      s.offset = r.sint32();
    } else if (field === 2) {
      expectWire(tag, 0, 'BucketSpan.length');
      s.length = r.uint32();
    } else r.skipType(tag & 7);
  }
  return done(r, e, s);
}

function readHistogram(r: Reader, e: number): HistogramV2 {
  const h: HistogramV2 = {
    isFloat: false,
    count: 0,
    sum: 0,
    schema: 0,
    zeroThreshold: 0,
    zeroCount: 0,
    negativeSpans: [],
    negativeDeltas: [],
    negativeCounts: [],
    positiveSpans: [],
    positiveDeltas: [],
    positiveCounts: [],
    resetHint: 0,
    timestamp: 0,
    customValues: [],
  };
  while (r.pos < e) {
    const tag = r.uint32();
    switch (tag >>> 3) {
      case 1:
        expectWire(tag, 0, 'Histogram.count_int');
        h.count = uint64(r);
        break;
      case 2:
        expectWire(tag, 1, 'Histogram.count_float');
        h.count = r.double();
        h.isFloat = true;
        break;
      case 3:
        expectWire(tag, 1, 'Histogram.sum');
        h.sum = r.double();
        break;
      case 4:
        expectWire(tag, 0, 'Histogram.schema');
        h.schema = r.sint32();
        break;
      case 5:
        expectWire(tag, 1, 'Histogram.zero_threshold');
        h.zeroThreshold = r.double();
        break;
      case 6:
        expectWire(tag, 0, 'Histogram.zero_count_int');
        h.zeroCount = uint64(r);
        break;
      case 7:
        expectWire(tag, 1, 'Histogram.zero_count_float');
        h.zeroCount = r.double();
        h.isFloat = true;
        break;
      case 8:
        expectWire(tag, 2, 'Histogram.negative_spans');
        h.negativeSpans.push(readSpan(r, end(r)));
        break;
      case 9:
        repeated(r, tag, 0, sint64, h.negativeDeltas);
        break;
      case 10:
        repeated(r, tag, 1, readDouble, h.negativeCounts);
        break;
      case 11:
        expectWire(tag, 2, 'Histogram.positive_spans');
        h.positiveSpans.push(readSpan(r, end(r)));
        break;
      case 12:
        repeated(r, tag, 0, sint64, h.positiveDeltas);
        break;
      case 13:
        repeated(r, tag, 1, readDouble, h.positiveCounts);
        break;
      case 14:
        expectWire(tag, 0, 'Histogram.reset_hint');
        h.resetHint = r.int32();
        break;
      case 15:
        expectWire(tag, 0, 'Histogram.timestamp');
        h.timestamp = int64(r);
        break;
      case 16:
        repeated(r, tag, 1, readDouble, h.customValues);
        break;
      default:
        r.skipType(tag & 7);
    }
  }
  return done(r, e, h);
}

function readMetadata(r: Reader, e: number, ts: TimeSeriesV2): void {
  while (r.pos < e) {
    const tag = r.uint32();
    switch (tag >>> 3) {
      case 1:
        expectWire(tag, 0, 'Metadata.type');
        ts.type = r.int32();
        break;
      case 3:
        expectWire(tag, 0, 'Metadata.help_ref');
        ts.helpRef = r.uint32();
        break;
      case 4:
        expectWire(tag, 0, 'Metadata.unit_ref');
        ts.unitRef = r.uint32();
        break;
      default:
        r.skipType(tag & 7);
    }
  }
  done(r, e, undefined);
}

function readSeries(r: Reader, e: number): TimeSeriesV2 {
  const ts: TimeSeriesV2 = {
    labelsRefs: [],
    samples: [],
    histograms: [],
    exemplars: [],
    type: 0,
    helpRef: 0,
    unitRef: 0,
    createdTimestamp: 0,
  };
  while (r.pos < e) {
    const tag = r.uint32();
    switch (tag >>> 3) {
      case 1:
        repeated(r, tag, 0, readUint32, ts.labelsRefs);
        break;
      case 2:
        expectWire(tag, 2, 'TimeSeries.samples');
        ts.samples.push(readSample(r, end(r)));
        break;
      case 3:
        expectWire(tag, 2, 'TimeSeries.histograms');
        ts.histograms.push(readHistogram(r, end(r)));
        break;
      case 4:
        expectWire(tag, 2, 'TimeSeries.exemplars');
        ts.exemplars.push(readExemplar(r, end(r)));
        break;
      case 5:
        expectWire(tag, 2, 'TimeSeries.metadata');
        readMetadata(r, end(r), ts);
        break;
      case 6:
        expectWire(tag, 0, 'TimeSeries.created_timestamp');
        ts.createdTimestamp = int64(r);
        break;
      default:
        r.skipType(tag & 7);
    }
  }
  return done(r, e, ts);
}

/** Protobuf bytes -> RequestV2 (refs unresolved); throws on malformed input. */
export function readRequestV2(raw: Buffer): RequestV2 {
  const r = protobuf.Reader.create(raw);
  const symbols: string[] = [];
  const timeseries: TimeSeriesV2[] = [];
  while (r.pos < r.len) {
    const tag = r.uint32();
    const field = tag >>> 3;
    if (field === 0) throw new Error(`invalid field number 0 at offset ${r.pos}`);
    if (field === 4) {
      expectWire(tag, 2, 'Request.symbols');
      symbols.push(r.string());
    } else if (field === 5) {
      expectWire(tag, 2, 'Request.timeseries');
      timeseries.push(readSeries(r, end(r)));
    } else r.skipType(tag & 7);
  }
  return { symbols, timeseries };
}
