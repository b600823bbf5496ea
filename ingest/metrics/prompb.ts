import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { uncompressSync } from 'snappy';

/**
 * Decoding of a Prometheus remote_write 1.0 body: a snappy block (the `snappy` package's napi
 * binding) holding a protobuf `prometheus.WriteRequest`. The schema is ./proto (copied from
 * prometheus/prometheus prompb/), loaded by protobufjs; the request itself is read by a small
 * reader on protobufjs's Reader, because label sets repeat from request to request and
 * need not be decoded again (see readWriteRequest).
 */

export interface Label {
  name: string;
  value: string;
}

export interface TimeSeries {
  /**
   * Where the label fields lie in WriteRequest.raw when they are contiguous (Prometheus writes
   * them so), else labelsStart is -1: a cache key under which the mapped series is kept, so a
   * known series costs no decoding. No labels at all is the empty range.
   */
  labelsStart: number;
  labelsEnd: number;
  /** Where the TimeSeries message lies in WriteRequest.raw; labelsOf() decodes from there. */
  start: number;
  end: number;
  labels: Label[] | undefined;
  /** The series' samples: [sampleStart, sampleEnd) of WriteRequest.values and .timestamps. */
  sampleStart: number;
  sampleEnd: number;
  /** Native histograms: counted, not decoded (opsight stores no exponential histograms). */
  histograms: number;
}

/** prometheus.MetricMetadata.MetricType */
export const MetricKind = {
  UNKNOWN: 0,
  COUNTER: 1,
  GAUGE: 2,
  HISTOGRAM: 3,
  GAUGEHISTOGRAM: 4,
  SUMMARY: 5,
  INFO: 6,
  STATESET: 7,
} as const;

export interface MetricMetadata {
  type: number;
  metricFamilyName: string;
  help: string;
  unit: string;
}

export interface WriteRequest {
  timeseries: TimeSeries[];
  /**
   * Every series' sample values, back to back (no object per sample). A typed array: a plain
   * array of doubles would canonicalise NaNs and lose the stale marker's payload.
   */
  values: Float64Array;
  /** Their Unix milliseconds. */
  timestamps: Float64Array;
  metadata: MetricMetadata[];
  /** The uncompressed protobuf bytes. */
  raw: Buffer;
}

const root = protobuf.loadSync(fileURLToPath(new URL('./proto/remote.proto', import.meta.url)));

/**
 * The protobufjs type: the schema of record. Tests and benchmarks encode requests with it, and
 * the tests check that the reader below decodes what it encodes.
 */
export const WriteRequestType = root.lookupType('prometheus.WriteRequest');

/** A body that is not a valid snappy-compressed WriteRequest; the message is for the sender. */
export class DecodeError extends Error {}

/** The uncompressed length a snappy block announces in its leading uvarint, or -1. */
export function snappyDecodedLength(buf: Uint8Array): number {
  let n = 0;
  for (let i = 0, shift = 1; i < 5 && i < buf.length; i++, shift *= 128) {
    const b = buf[i]!;
    n += (b & 0x7f) * shift;
    if (b < 0x80) return n;
  }
  return -1;
}

/**
 * Snappy block -> protobuf bytes. The announced length is checked before anything is
 * allocated, so a small body cannot claim gigabytes. `what` names the message for errors.
 */
export function uncompressBody(body: Uint8Array, maxDecodedBytes: number, what: string): Buffer {
  if (body.length === 0) throw new DecodeError(`empty body: expected a snappy-compressed ${what}`);
  const announced = snappyDecodedLength(body);
  if (announced < 0) throw new DecodeError('invalid snappy block: bad length preamble');
  if (announced > maxDecodedBytes) {
    throw new DecodeError(
      `snappy block announces ${announced} uncompressed bytes, more than the limit of ${maxDecodedBytes}`,
    );
  }
  try {
    return uncompressSync(Buffer.from(body.buffer, body.byteOffset, body.length), {
      asBuffer: true,
    }) as Buffer;
  } catch (err) {
    throw new DecodeError(`invalid snappy block (Content-Encoding: snappy): ${(err as Error).message}`);
  }
}

/** Snappy block -> protobuf bytes -> WriteRequest. */
export function decodeWriteRequest(body: Uint8Array, maxDecodedBytes: number): WriteRequest {
  const raw = uncompressBody(body, maxDecodedBytes, 'WriteRequest');
  try {
    return readWriteRequest(raw);
  } catch (err) {
    throw new DecodeError(`invalid protobuf prometheus.WriteRequest: ${(err as Error).message}`);
  }
}

// ---------------------------------------------------------------------------------------------
// The hot path: a reader for the fields opsight maps, on protobufjs's Reader. Labels are only
// walked over (their bytes become the series cache key) and decoded by labelsOf() for series
// not seen before; timestamps are read as numbers, not Longs; exemplars are skipped.

type Reader = protobuf.Reader;

export function end(r: Reader): number {
  const len = r.uint32();
  const e = r.pos + len;
  if (e > r.len) throw new RangeError(`length ${len} at offset ${r.pos} runs past the end (${r.len} bytes)`);
  return e;
}

/** A message's last field may not run past the message's own length. */
export function done<T>(r: Reader, e: number, value: T): T {
  if (r.pos !== e) throw new RangeError(`a field runs ${r.pos - e} bytes past its message at offset ${e}`);
  return value;
}

export function expectWire(tag: number, wire: number, what: string): void {
  if ((tag & 7) !== wire) throw new Error(`${what}: wire type ${tag & 7}, expected ${wire}`);
}

/** int64 varint as a number (exact up to 2^53, which millisecond timestamps are far below). */
export function int64(r: Reader): number {
  const buf = r.buf;
  let n = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    if (r.pos >= r.len) throw new RangeError(`varint runs past the end (${r.len} bytes)`);
    const b = buf[r.pos++]!;
    n += (b & 0x7f) * mul;
    if (b < 0x80) return n >= 2 ** 63 ? n - 2 ** 64 : n;
    mul *= 128;
  }
  throw new Error('varint longer than 10 bytes');
}

function readLabel(r: Reader, e: number): Label {
  let name = '';
  let value = '';
  while (r.pos < e) {
    const tag = r.uint32();
    const field = tag >>> 3;
    if (field === 1) {
      expectWire(tag, 2, 'Label.name');
      name = r.string();
    } else if (field === 2) {
      expectWire(tag, 2, 'Label.value');
      value = r.string();
    } else r.skipType(tag & 7);
  }
  return done(r, e, { name, value });
}

/** Appends the sample to out.values/out.timestamps. */
function readSample(r: Reader, e: number, out: Samples): void {
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
  done(r, e, undefined);
  out.push(value, timestamp);
}

/** Samples as they are read: typed arrays that double when full. */
class Samples {
  values = new Float64Array(1024);
  timestamps = new Float64Array(1024);
  length = 0;

  push(value: number, timestamp: number): void {
    if (this.length === this.values.length) {
      const values = new Float64Array(this.length * 2);
      values.set(this.values);
      const timestamps = new Float64Array(this.length * 2);
      timestamps.set(this.timestamps);
      [this.values, this.timestamps] = [values, timestamps];
    }
    this.values[this.length] = value;
    this.timestamps[this.length++] = timestamp;
  }
}

function readSeries(r: Reader, e: number, out: Samples): TimeSeries {
  const start = r.pos;
  const sampleStart = out.length;
  let labelsStart = -1;
  let labelsEnd = -1;
  let contiguous = true;
  let histograms = 0;
  while (r.pos < e) {
    const at = r.pos;
    const tag = r.uint32();
    const field = tag >>> 3;
    if (field === 1) {
      expectWire(tag, 2, 'TimeSeries.labels');
      if (labelsStart < 0) labelsStart = at;
      else if (labelsEnd !== at) contiguous = false;
      labelsEnd = r.pos = end(r);
    } else if (field === 2) {
      expectWire(tag, 2, 'TimeSeries.samples');
      readSample(r, end(r), out);
    } else if (field === 4) {
      expectWire(tag, 2, 'TimeSeries.histograms');
      histograms++;
      r.pos = end(r);
    } else r.skipType(tag & 7);
  }
  if (labelsStart < 0) labelsStart = labelsEnd = start;
  else if (!contiguous) labelsStart = -1;
  const sampleEnd = out.length;
  return done(r, e, {
    labelsStart,
    labelsEnd,
    start,
    end: e,
    labels: undefined,
    sampleStart,
    sampleEnd,
    histograms,
  });
}

function readMetadata(r: Reader, e: number): MetricMetadata {
  const m: MetricMetadata = { type: 0, metricFamilyName: '', help: '', unit: '' };
  while (r.pos < e) {
    const tag = r.uint32();
    switch (tag >>> 3) {
      case 1:
        expectWire(tag, 0, 'MetricMetadata.type');
        m.type = r.int32();
        break;
      case 2:
        expectWire(tag, 2, 'MetricMetadata.metric_family_name');
        m.metricFamilyName = r.string();
        break;
      case 4:
        expectWire(tag, 2, 'MetricMetadata.help');
        m.help = r.string();
        break;
      case 5:
        expectWire(tag, 2, 'MetricMetadata.unit');
        m.unit = r.string();
        break;
      default:
        r.skipType(tag & 7);
    }
  }
  return done(r, e, m);
}

/** Protobuf bytes -> WriteRequest (labels still encoded); throws on malformed input. */
export function readWriteRequest(raw: Buffer): WriteRequest {
  const r = protobuf.Reader.create(raw);
  const timeseries: TimeSeries[] = [];
  const metadata: MetricMetadata[] = [];
  const samples = new Samples();
  while (r.pos < r.len) {
    const tag = r.uint32();
    const field = tag >>> 3;
    if (field === 0) throw new Error(`invalid field number 0 at offset ${r.pos}`);
    if (field === 1) {
      expectWire(tag, 2, 'WriteRequest.timeseries');
      timeseries.push(readSeries(r, end(r), samples));
    } else if (field === 3) {
      expectWire(tag, 2, 'WriteRequest.metadata');
      metadata.push(readMetadata(r, end(r)));
    } else r.skipType(tag & 7);
  }
  const n = samples.length;
  return {
    timeseries,
    metadata,
    raw,
    values: samples.values.subarray(0, n),
    timestamps: samples.timestamps.subarray(0, n),
  };
}

/** A series' labels, decoded on first use; a malformed label throws a DecodeError. */
export function labelsOf(request: WriteRequest, ts: TimeSeries): Label[] {
  if (ts.labels) return ts.labels;
  const labels: Label[] = [];
  try {
    const r = protobuf.Reader.create(request.raw.subarray(ts.start, ts.end));
    while (r.pos < r.len) {
      const tag = r.uint32();
      if (tag >>> 3 === 1) labels.push(readLabel(r, end(r)));
      else r.skipType(tag & 7);
    }
  } catch (err) {
    throw new DecodeError(`invalid protobuf prometheus.Label: ${(err as Error).message}`);
  }
  ts.labels = labels;
  return labels;
}

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

/**
 * Prometheus marks a series stale with one particular NaN (0x7ff0000000000002); other NaNs are
 * real values. V8 keeps a NaN's payload through reads and writes of doubles, which is what
 * makes this check possible after the reader decoded the value.
 */
export function isStaleMarker(v: number): boolean {
  if (!Number.isNaN(v)) return false;
  f64[0] = v;
  // Little-endian: u32[0] is the low word.
  return u32[1] === 0x7ff00000 && u32[0] === 2;
}
