import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { TOPICS } from '../../core/bus/topics.ts';
import type { Bus } from '../../core/bus/types.ts';
import type { Config } from '../../core/config/schema.ts';
import type { Logger } from '../../core/log.ts';
import { recordsIn } from '../../core/metrics.ts';
import type { LogRecord, MetricPoint } from '../../core/model/records.ts';
import type { Span } from '../../core/model/span.ts';
import { withSpan } from '../../core/telemetry.ts';
import { logKey, seriesKey } from '../keys.ts';
import { SourceStats, type Source, type SourceContext } from '../source.ts';
import {
  CONTENT_TYPES,
  DecodeError,
  RPC,
  decodeRequest,
  encodeResponse,
  encodeStatus,
  type Encoding,
  type Signal,
} from './codec.ts';
import { convertLogs } from './logs.ts';
import { convertMetrics, type Converted } from './metrics.ts';
import { convertTraces } from './traces.ts';
import type { Msg } from './values.ts';

/**
 * The OTLP/HTTP receiver: POST /v1/metrics, /v1/logs, /v1/traces with protobuf or JSON bodies
 * (gzip or deflate), answered as the OTLP/HTTP specification says: 200 with an
 * Export*ServiceResponse (partialSuccess naming what was rejected), 400 with a google.rpc.Status
 * for an undecodable body, 415 for another content type, 503 (retryable) when the bus refuses.
 */

interface SignalSpec<T> {
  topic: string;
  convert: (request: Msg) => Converted<T>;
  key: (item: T) => string | null;
}

const SIGNALS: { [S in Signal]: SignalSpec<unknown> } = {
  metrics: { topic: TOPICS.metrics, convert: convertMetrics, key: (m) => seriesKey(m as MetricPoint) },
  logs: {
    topic: TOPICS.logs,
    convert: convertLogs,
    key: (l) => logKey(l as LogRecord),
  },
  // A whole trace on one partition, as it is on one shard in ClickHouse.
  traces: { topic: TOPICS.traces, convert: convertTraces, key: (s) => (s as Span).traceId },
};

function encodingOf(req: Request): Encoding | undefined {
  if (req.is('application/x-protobuf')) return 'protobuf';
  if (req.is('application/json')) return 'json';
  return undefined;
}

function reply(res: Response, status: number, encoding: Encoding, body: Buffer | string): void {
  res.status(status).type(CONTENT_TYPES[encoding]).send(body);
}

export class OtlpReceiver implements Source {
  readonly name = 'otlp';
  readonly kind = 'otlp';
  private readonly stats = new SourceStats(this.name, this.kind);
  private readonly inFlight = new Set<Promise<void>>();
  private log: Logger | undefined;

  constructor(private readonly config: Config['ingest']['otlp']) {}

  async start(ctx: SourceContext): Promise<void> {
    this.log = ctx.log;
    const raw = ctx.http.body.raw(Object.values(CONTENT_TYPES));
    for (const signal of Object.keys(SIGNALS) as Signal[]) {
      const path = this.config.paths[signal];
      ctx.http.route('post', path, 'ingest', this.contentType(), this.body(raw), (req, res) =>
        this.track(this.handle(signal, path, ctx.bus, req, res)),
      );
    }
  }

  async stop(): Promise<void> {
    // Requests already decoded finish publishing; the HTTP server stops taking new ones.
    await Promise.allSettled([...this.inFlight]);
  }

  state() {
    return this.stats.state();
  }

  private track(p: Promise<void>): void {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  /** 415 before reading a body of a type OTLP does not have. */
  private contentType(): RequestHandler {
    return (req, res, next) => {
      if (encodingOf(req)) return next();
      res
        .status(415)
        .type('application/json')
        .send(
          encodeStatus(
            'json',
            RPC.INVALID_ARGUMENT,
            `unsupported Content-Type ${JSON.stringify(req.get('content-type') ?? '')}: use application/x-protobuf or application/json`,
          ),
        );
    };
  }

  /**
   * The shared raw-body parser (size limit after decompression, gzip/deflate), with its errors
   * answered as google.rpc.Status instead of opsight's JSON error shape.
   */
  private body(raw: RequestHandler): RequestHandler {
    return (req: Request, res: Response, next: NextFunction) =>
      raw(req, res, (err?: unknown) => {
        if (!err) return next();
        const e = err as { status?: number; type?: string; message?: string; limit?: number };
        const encoding = encodingOf(req) ?? 'json';
        const status =
          e.type === 'entity.too.large'
            ? 413
            : e.type === 'encoding.unsupported'
              ? 415
              : (e.status ?? 400) < 500
                ? (e.status ?? 400)
                : 400;
        const message =
          status === 413
            ? `request body exceeds the limit of ${e.limit} bytes (after decompression)`
            : `unreadable request body: ${e.message}`;
        this.stats.reject(0, message);
        reply(
          res,
          status,
          encoding,
          encodeStatus(encoding, status === 413 ? RPC.RESOURCE_EXHAUSTED : RPC.INVALID_ARGUMENT, message),
        );
      });
  }

  private async handle(signal: Signal, path: string, bus: Bus, req: Request, res: Response): Promise<void> {
    const encoding = encodingOf(req)!;
    const spec = SIGNALS[signal];
    await withSpan('receive', { 'opsight.kind': signal, 'http.route': path }, async () => {
      let converted: Converted<unknown>;
      try {
        const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        converted = spec.convert(decodeRequest(signal, encoding, body));
      } catch (err) {
        if (!(err instanceof DecodeError)) throw err;
        this.stats.reject(0, `${path}: ${err.message}`);
        reply(res, 400, encoding, encodeStatus(encoding, RPC.INVALID_ARGUMENT, err.message));
        return;
      }
      const { items, rejected, received } = converted;
      this.stats.receive(received);
      if (items.length > 0) {
        try {
          await withSpan('publish', { topic: spec.topic, records: items.length }, () =>
            bus.publish(
              spec.topic,
              items.map((value) => ({ key: spec.key(value), value })),
            ),
          );
        } catch (err) {
          const message = `could not publish to ${spec.topic}: ${(err as Error).message}`;
          this.log?.warn({ err, signal }, 'OTLP publish failed; answered 503 so the sender retries');
          this.stats.reject(0, message);
          res.set('Retry-After', '1');
          reply(res, 503, encoding, encodeStatus(encoding, RPC.UNAVAILABLE, message));
          return;
        }
        recordsIn.inc({ topic: spec.topic }, items.length);
        this.stats.accept(items.length);
      }
      if (rejected.count > 0) this.stats.reject(rejected.count, `${path}: ${rejected.message()}`);
      reply(res, 200, encoding, encodeResponse(signal, encoding, rejected.count, rejected.message()));
    }).catch((err: unknown) => {
      this.log?.error({ err, signal }, 'OTLP request failed');
      if (!res.headersSent) reply(res, 500, encoding, encodeStatus(encoding, RPC.INTERNAL, 'internal error'));
    });
  }
}

export function otlpSources(config: Config): Source[] {
  return config.ingest.otlp.enabled ? [new OtlpReceiver(config.ingest.otlp)] : [];
}
