import type { NextFunction, Request, Response } from 'express';
import { TOPICS } from '../../core/bus/topics.ts';
import type { Bus, OutgoingRecord } from '../../core/bus/types.ts';
import type { Config } from '../../core/config/schema.ts';
import { HttpError } from '../../core/http/errors.ts';
import { recordsIn } from '../../core/metrics.ts';
import type { MetricHead, MetricSamples } from '../../core/model/metric-samples.ts';
import type { Attributes, MetricPoint } from '../../core/model/records.ts';
import { withSpan } from '../../core/telemetry.ts';
import { seriesKey } from '../keys.ts';
import { SourceStats, type Source, type SourceContext, type SourceState } from '../source.ts';
import {
  DecodeError,
  decodeWriteRequest,
  isStaleMarker,
  labelsOf,
  MetricKind,
  type Label,
  type MetricMetadata,
  type TimeSeries,
  type WriteRequest,
} from './prompb.ts';
import { ByteRangeMap, hashRange } from './byte-range-map.ts';
import { Packer } from './packer.ts';
import { decodeRequestV2 } from './remote-write-v2-proto.ts';
import { InvalidRequestV2, RequestMapperV2, type MappedV2 } from './remote-write-v2.ts';

/**
 * The Prometheus remote_write 1.0 receiver: POST /api/v1/write with a snappy-compressed
 * protobuf WriteRequest. Every sample becomes a MetricPoint on the metrics topic, labelled as
 * the OpenTelemetry Prometheus receiver does: `job` -> service.name, `instance` ->
 * service.instance.id (resource), the other labels -> point attributes.
 *
 * Remote-Write 2.0 (`proto=io.prometheus.write.v2.Request`) is decoded by remote-write-v2*.ts
 * and answered with the X-Prometheus-Remote-Write-*-Written headers.
 *
 * Answers: 204 stored; 400 for a body that does not decode or for invalid series (the valid
 * series of the same request are kept, as Prometheus's own receiver does: a 400 is not
 * retried, so dropping them would lose them); 415 for another Content-Type/-Encoding;
 * 503 when the bus cannot take the records (senders retry 5xx).
 */

export const REMOTE_WRITE_PATH = '/api/v1/write';

/** Anything past 2300 is past what DateTime64(9) stores; the writer would dead-letter it. */
const MAX_MS = 10_413_792_000_000;
const MAX_ERRORS = 20;
/** Metric families remembered from metadata; Prometheus sends them apart from samples. */
const MAX_FAMILIES = 100_000;
/** Sample-name suffixes of a family (text format and OpenMetrics). */
const SUFFIXES = ['_total', '_bucket', '_count', '_sum', '_created', '_info', '_gcount', '_gsum'];

type Shape = Pick<MetricPoint, 'type' | 'monotonic' | 'temporality' | 'unit' | 'description'>;

const GAUGE: Shape = { type: 'gauge' };

function sum(monotonic: boolean, family?: MetricMetadata): Shape {
  return { type: 'sum', temporality: 'cumulative', monotonic, ...describe(family) };
}

function describe(family?: MetricMetadata): Pick<MetricPoint, 'unit' | 'description'> {
  return { unit: family?.unit || undefined, description: family?.help || undefined };
}

/**
 * Metric types from remote_write metadata. remote_write 1.0 samples carry no type, and
 * Prometheus sends metadata in requests of their own (every metadata_config.send_interval),
 * so families are remembered across requests: a series is a gauge until its family's
 * metadata has been seen, then a counter's samples become monotonic cumulative sums.
 */
export class MetadataCache {
  private families = new Map<string, MetricMetadata>();
  /** Bumped when a family is new or changed: cached series shapes are then recomputed. */
  version = 0;

  add(metadata: MetricMetadata[]): void {
    for (const m of metadata) {
      if (!m.metricFamilyName) continue;
      const known = this.families.get(m.metricFamilyName);
      if (!known || known.type !== m.type || known.help !== m.help || known.unit !== m.unit) this.version++;
      this.families.delete(m.metricFamilyName);
      if (this.families.size >= MAX_FAMILIES) {
        // Oldest first (Map order): a family still in use is re-added by its next metadata send.
        this.families.delete(this.families.keys().next().value!);
      }
      this.families.set(m.metricFamilyName, m);
    }
  }

  /** How a series named `name` is stored. */
  shape(name: string): Shape {
    if (this.families.size === 0) return GAUGE;
    const exact = this.families.get(name);
    if (exact) return exact.type === MetricKind.COUNTER ? sum(true, exact) : { ...GAUGE, ...describe(exact) };
    for (const suffix of SUFFIXES) {
      if (!name.endsWith(suffix)) continue;
      const family = this.families.get(name.slice(0, -suffix.length));
      if (!family) continue;
      switch (family.type) {
        case MetricKind.COUNTER:
          return suffix === '_total' ? sum(true, family) : { ...GAUGE, ...describe(family) };
        case MetricKind.HISTOGRAM:
        case MetricKind.SUMMARY:
          if (suffix === '_bucket' || suffix === '_count') return sum(true, family);
          // A sum of observations may fall (negative observations): cumulative, not monotonic.
          if (suffix === '_sum') return sum(false, family);
          return { ...GAUGE, ...describe(family) };
        default:
          return { ...GAUGE, ...describe(family) };
      }
    }
    return GAUGE;
  }
}

/** `{__name__="up", job="node"}`, shortened for error messages. */
function seriesText(labels: Label[]): string {
  const text = `{${labels.map((l) => `${l.name}=${JSON.stringify(l.value)}`).join(', ')}}`;
  return text.length > 200 ? `${text.slice(0, 197)}...` : text;
}

/** Why a label set cannot be stored, as Prometheus validates it; undefined when valid. */
function labelProblem(labels: Label[]): string | undefined {
  const seen = new Set<string>();
  for (const l of labels) {
    if (l.name === '') return 'a label with an empty name';
    if (seen.has(l.name)) return `duplicate label name ${JSON.stringify(l.name)}`;
    seen.add(l.name);
  }
  if (!seen.has('__name__')) return 'no __name__ label (the metric name)';
  return undefined;
}

export interface Mapped {
  /** One MetricPoint per sample, or (given a partition count) one MetricSamples per partition. */
  records: OutgoingRecord<MetricPoint | MetricSamples>[];
  /** Samples in records. */
  accepted: number;
  /** Samples and native histograms in the request, stale markers excluded. */
  received: number;
  rejected: number;
  staleMarkers: number;
  rejectedSeries: number;
  errors: string[];
}

/** A label set, mapped once and reused while the sender keeps sending it. */
interface Series {
  problem: string | undefined;
  name: string;
  resource: Attributes;
  attributes: Attributes;
  key: string;
  shape: Shape;
  version: number;
  /** The series' point without time and value, shared by all its samples (MetricSamples). */
  head: MetricHead;
  /** partitionFor(key, partitionsOf) */
  partition: number;
  partitionsOf: number;
}

function headOf(s: Pick<Series, 'name' | 'resource' | 'attributes' | 'shape'>): MetricHead {
  return {
    name: s.name,
    type: s.shape.type,
    unit: s.shape.unit,
    description: s.shape.description,
    resource: s.resource,
    attributes: s.attributes,
    temporality: s.shape.temporality,
    monotonic: s.shape.monotonic,
  };
}

/** The head of a series that is refused (never published). */
const NO_HEAD: MetricHead = { name: '', type: 'gauge', resource: {}, attributes: {} };

/** Label sets remembered (Prometheus resends the same ones every scrape); cleared when full. */
const MAX_SERIES = 200_000;

/** Decoded WriteRequests -> metric points; invalid series are reported, the rest kept. */
export class RequestMapper {
  readonly metadata = new MetadataCache();
  private series = new ByteRangeMap<Series>();

  /**
   * `partitions`: the metrics topic's partition count. Given, the samples are packed into one
   * MetricSamples per partition (keyed by one of its series, so it lands where each series'
   * own key would); without it, one MetricPoint per sample.
   */
  map(request: WriteRequest, partitions?: number): Mapped {
    this.metadata.add(request.metadata);
    const packer = partitions ? new Packer(partitions) : undefined;
    const out: Mapped = {
      records: [],
      accepted: 0,
      received: 0,
      rejected: 0,
      staleMarkers: 0,
      rejectedSeries: 0,
      errors: [],
    };
    const fail = (ts: TimeSeries, n: number, problem: string) => {
      out.rejected += n;
      if (out.errors.length < MAX_ERRORS) {
        const text = ts.labels ? seriesText(ts.labels) : '(labels unreadable)';
        out.errors.push(`series ${text}: ${problem}`);
      }
    };
    const { raw, values, timestamps } = request;
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    for (const ts of request.timeseries) {
      const { sampleStart, sampleEnd, histograms } = ts;
      out.received += sampleEnd - sampleStart + histograms;
      const series = this.lookup(request, view, ts);
      if (series.problem) {
        out.rejectedSeries++;
        if (!ts.labels) labelsOrNone(request, ts);
        fail(ts, sampleEnd - sampleStart + histograms, series.problem);
        continue;
      }
      if (histograms > 0) {
        labelsOrNone(request, ts);
        fail(ts, histograms, 'native histograms are not supported (send classic histograms)');
      }
      const { name, resource, attributes, key, shape } = series;
      for (let i = sampleStart; i < sampleEnd; i++) {
        const value = values[i]!;
        if (isStaleMarker(value)) {
          out.staleMarkers++;
          out.received--;
          continue;
        }
        const ms = timestamps[i]!;
        if (!(ms >= 0 && ms < MAX_MS)) {
          labelsOrNone(request, ts);
          fail(ts, 1, `sample timestamp ${ms} ms is outside 1970..2300`);
          continue;
        }
        out.accepted++;
        if (packer) {
          packer.add(series, ms, value);
          continue;
        }
        out.records.push({
          key,
          value: {
            name,
            type: shape.type,
            unit: shape.unit,
            description: shape.description,
            resource,
            attributes,
            timeUnixNano: `${ms}000000`,
            value,
            temporality: shape.temporality,
            monotonic: shape.monotonic,
          },
        });
      }
    }
    if (packer) out.records.push(...packer.records());
    return out;
  }

  /** `view` is over request.raw, where the label bytes are the key. */
  private lookup(request: WriteRequest, view: DataView, ts: TimeSeries): Series {
    const { labelsStart: start, labelsEnd: end } = ts;
    const hash = start < 0 ? 0 : hashRange(view, start, end);
    let series = start < 0 ? undefined : this.series.get(view, start, end, hash);
    if (!series) {
      series = this.build(request, ts);
      if (start >= 0) {
        if (this.series.size >= MAX_SERIES) this.series.clear();
        this.series.add(view, start, end, hash, series);
      }
    } else if (series.version !== this.metadata.version && !series.problem) {
      series.shape = this.metadata.shape(series.name);
      series.version = this.metadata.version;
      series.head = headOf(series);
    }
    return series;
  }

  private build(request: WriteRequest, ts: TimeSeries): Series {
    const series: Series = {
      problem: undefined,
      name: '',
      resource: {},
      attributes: {},
      key: '',
      shape: GAUGE,
      version: this.metadata.version,
      head: NO_HEAD,
      partition: 0,
      partitionsOf: 0,
    };
    let labels: Label[];
    try {
      labels = labelsOf(request, ts);
    } catch (err) {
      series.problem = (err as Error).message;
      return series;
    }
    series.problem = labelProblem(labels);
    if (series.problem) return series;
    for (const { name: k, value } of labels) {
      if (k === '__name__') series.name = value;
      else if (k === 'job') series.resource['service.name'] = value;
      else if (k === 'instance') series.resource['service.instance.id'] = value;
      else series.attributes[k] = value;
    }
    series.shape = this.metadata.shape(series.name);
    series.key = seriesKey(series);
    series.head = headOf(series);
    return series;
  }
}

/** Labels for an error message; undefined stays when they cannot be decoded. */
function labelsOrNone(request: WriteRequest, ts: TimeSeries): void {
  try {
    labelsOf(request, ts);
  } catch {
    // reported as the series' problem
  }
}

/** The protobuf message a Content-Type names (Remote-Write 2.0 spec, "Content-Type"). */
const PROTO_V1 = 'prometheus.WriteRequest';
const PROTO_V2 = 'io.prometheus.write.v2.Request';

/**
 * Negotiation: `application/x-protobuf` (1.0, optionally `;proto=prometheus.WriteRequest`) or
 * `application/x-protobuf;proto=io.prometheus.write.v2.Request` (2.0), snappy-encoded; anything
 * else gets a 415 naming what is accepted. The version found is left in res.locals.
 */
function checkHeaders(req: Request, res: Response, next: NextFunction): void {
  const contentType = req.headers['content-type'] ?? '';
  const [media = '', ...params] = contentType.split(';').map((s) => s.trim());
  const proto = params
    .find((p) => p.toLowerCase().startsWith('proto='))
    ?.slice('proto='.length)
    .replace(/^"(.*)"$/, '$1');
  const encoding = (req.headers['content-encoding'] ?? '').trim().toLowerCase();
  const version = !proto || proto === PROTO_V1 ? 1 : proto === PROTO_V2 ? 2 : 0;
  if (media.toLowerCase() !== 'application/x-protobuf' || version === 0) {
    next(
      new HttpError(
        415,
        'unsupported_media_type',
        `Content-Type ${JSON.stringify(contentType)} is not supported: send application/x-protobuf (remote_write 1.0, proto=${PROTO_V1}) or application/x-protobuf;proto=${PROTO_V2} (remote_write 2.0)`,
      ),
    );
    return;
  }
  if (encoding !== 'snappy') {
    next(
      new HttpError(
        415,
        'unsupported_media_type',
        `Content-Encoding ${JSON.stringify(encoding || 'identity')} is not supported: remote_write sends snappy`,
      ),
    );
    return;
  }
  res.locals.remoteWriteVersion = version;
  next();
}

export class RemoteWriteSource implements Source {
  readonly name = 'remote_write';
  readonly kind = 'remote_write';
  private readonly stats = new SourceStats(this.name, this.kind);
  private readonly mapper = new RequestMapper();
  private readonly mapperV2 = new RequestMapperV2();
  private readonly inFlight = new Set<Promise<void>>();
  private bus: Bus | undefined;
  private stopped = false;

  constructor(private readonly options: Config['ingest']['remoteWrite']) {}

  start(ctx: SourceContext): Promise<void> {
    this.bus = ctx.bus;
    ctx.http.route(
      'post',
      REMOTE_WRITE_PATH,
      'ingest',
      checkHeaders,
      // Snappy is undone in decode, which bounds the inflated size (maxDecodedBytes).
      ctx.http.body.raw('*/*', { undecoded: ['snappy'] }),
      (req: Request, res: Response, next: NextFunction) => {
        const work = this.handle(req, res).catch(next);
        this.inFlight.add(work);
        void work.finally(() => this.inFlight.delete(work));
      },
    );
    return Promise.resolve();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.inFlight);
  }

  state(): SourceState {
    return this.stats.state();
  }

  /**
   * Publishes the mapped points (both protocols), `n` samples in `records`; an unavailable bus
   * is a 503 the sender retries.
   */
  private async publish(
    res: Response,
    records: OutgoingRecord<MetricPoint | MetricSamples>[],
    n = records.length,
  ): Promise<void> {
    if (n === 0) return;
    try {
      await withSpan('publish', { topic: TOPICS.metrics, records: n }, () =>
        this.bus!.publish(TOPICS.metrics, records),
      );
    } catch (err) {
      const message = `the bus did not take the samples, retry: ${(err as Error).message}`;
      this.stats.reject(0, message);
      throw unavailable(res, message);
    }
    recordsIn.inc({ topic: TOPICS.metrics }, n);
    this.stats.accept(n);
  }

  private handle(req: Request, res: Response): Promise<void> {
    if (res.locals.remoteWriteVersion === 2) return this.handleV2(req, res);
    return withSpan('receive', { 'opsight.kind': 'metrics', 'http.route': REMOTE_WRITE_PATH }, async () => {
      if (this.stopped) throw unavailable(res, 'opsight is shutting down');
      const body: unknown = req.body;
      let request: WriteRequest;
      try {
        request = decodeWriteRequest(
          Buffer.isBuffer(body) ? body : Buffer.alloc(0),
          this.options.maxDecodedBytes,
        );
      } catch (err) {
        if (!(err instanceof DecodeError)) throw err;
        this.stats.reject(0, err.message);
        throw new HttpError(400, 'bad_request', err.message);
      }
      const mapped = this.mapper.map(request, this.bus!.partitionCount?.(TOPICS.metrics));
      this.stats.receive(mapped.received);
      const n = mapped.accepted;
      await this.publish(res, mapped.records, n);
      if (mapped.errors.length > 0) {
        this.stats.reject(mapped.rejected, mapped.errors[0]!);
        const series = mapped.rejectedSeries
          ? `${mapped.rejectedSeries} of ${request.timeseries.length} series, `
          : '';
        throw new HttpError(
          400,
          'bad_request',
          `${series}${mapped.rejected} samples rejected, ${n} accepted: ${mapped.errors[0]}`,
          { errors: mapped.errors },
        );
      }
      res.status(204).end();
    });
  }

  private handleV2(req: Request, res: Response): Promise<void> {
    return withSpan(
      'receive',
      { 'opsight.kind': 'metrics', 'http.route': REMOTE_WRITE_PATH, 'rw.version': 2 },
      async () => {
        // Nothing is written until the bus takes it: every answer carries honest zero counts.
        writtenHeaders(res, 0, 0, 0);
        if (this.stopped) throw unavailable(res, 'opsight is shutting down');
        const body: unknown = req.body;
        let mapped: MappedV2;
        let series = 0;
        try {
          const request = decodeRequestV2(
            Buffer.isBuffer(body) ? body : Buffer.alloc(0),
            this.options.maxDecodedBytes,
          );
          series = request.timeseries.length;
          mapped = this.mapperV2.map(request, this.bus!.partitionCount?.(TOPICS.metrics));
        } catch (err) {
          if (!(err instanceof DecodeError) && !(err instanceof InvalidRequestV2)) throw err;
          this.stats.reject(0, err.message);
          throw new HttpError(400, 'bad_request', err.message);
        }
        const n = mapped.samples + mapped.histograms;
        this.stats.receive(n + mapped.rejected);
        if (n > 0) {
          await this.publish(res, mapped.records, n);
          writtenHeaders(res, mapped.samples, mapped.histograms, mapped.exemplars);
        }
        if (mapped.errors.length > 0) {
          this.stats.reject(mapped.rejected, mapped.errors[0]!);
          throw new HttpError(
            400,
            'bad_request',
            `${mapped.rejectedSeries} of ${series} series, ${mapped.rejected} samples and histograms rejected, ${mapped.samples} samples and ${mapped.histograms} histograms written: ${mapped.errors[0]}`,
            { errors: mapped.errors },
          );
        }
        res.status(204).end();
      },
    );
  }
}

/** Remote-Write 2.0: what was written, in the response headers the spec names. */
function writtenHeaders(res: Response, samples: number, histograms: number, exemplars: number): void {
  res.set({
    'X-Prometheus-Remote-Write-Samples-Written': String(samples),
    'X-Prometheus-Remote-Write-Histograms-Written': String(histograms),
    'X-Prometheus-Remote-Write-Exemplars-Written': String(exemplars),
  });
}

function unavailable(res: Response, message: string): HttpError {
  res.set('Retry-After', '1');
  return new HttpError(503, 'unavailable', message);
}

export function remoteWriteSources(config: Config): Source[] {
  return config.ingest.remoteWrite.enabled ? [new RemoteWriteSource(config.ingest.remoteWrite)] : [];
}
