import type { Request, Response, NextFunction } from 'express';
import { z } from 'zod';
import type { Bus } from '../../core/bus/types.ts';
import { TOPICS } from '../../core/bus/topics.ts';
import { HttpError } from '../../core/http/errors.ts';
import type { HttpApp } from '../../core/http/app.ts';
import { recordsIn } from '../../core/metrics.ts';
import type { BillingLine, LogRecord, MetricPoint } from '../../core/model/records.ts';
import { withSpan } from '../../core/telemetry.ts';
import { billingKey, logKey, seriesKey } from '../keys.ts';

/**
 * opsight's native ingest API: canonical records as JSON (an array, or NDJSON), validated and
 * published to the bus. The format-specific sources (OTLP, remote_write, syslog, ...) produce
 * the same records; this endpoint is for scripts, tests and anything already speaking opsight.
 */

const attrs = z.record(z.string(), z.string());
const nanos = z.union([
  z.string().regex(/^\d{1,20}$/, 'Unix nanoseconds as a decimal string'),
  z.number().int().nonnegative(),
]);
const decimal = z.string().regex(/^-?\d+(\.\d+)?([eE][-+]?\d+)?$/, 'a decimal number as a string');
const isoTime = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'an ISO 8601 timestamp');

const metricSchema = z
  .object({
    name: z.string().min(1),
    type: z.enum(['gauge', 'sum', 'histogram']),
    unit: z.string().optional(),
    description: z.string().optional(),
    resource: attrs.default({}),
    attributes: attrs.default({}),
    timeUnixNano: nanos,
    startTimeUnixNano: nanos.optional(),
    value: z.number().optional(),
    temporality: z.enum(['unspecified', 'delta', 'cumulative']).optional(),
    monotonic: z.boolean().optional(),
    histogram: z
      .object({
        count: z.number().int().nonnegative(),
        sum: z.number(),
        bounds: z.array(z.number()),
        counts: z.array(z.number().int().nonnegative()),
        min: z.number().optional(),
        max: z.number().optional(),
      })
      .refine((h) => h.counts.length === h.bounds.length + 1, 'counts must have one more entry than bounds')
      .optional(),
  })
  .refine((m) => (m.type === 'histogram' ? m.histogram !== undefined : m.value !== undefined), {
    message: 'gauge and sum need a value, histogram needs histogram',
  });

const logSchema = z.object({
  timeUnixNano: nanos,
  observedTimeUnixNano: nanos.optional(),
  severityNumber: z.number().int().min(0).max(24).default(0),
  severityText: z.string().default(''),
  body: z.string(),
  resource: attrs.default({}),
  attributes: attrs.default({}),
  traceId: z.string().optional(),
  spanId: z.string().optional(),
  serviceName: z.string().default(''),
});

const billingSchema = z
  .object({
    BilledCost: decimal,
    EffectiveCost: decimal,
    ListCost: decimal,
    ContractedCost: decimal.optional(),
    BillingCurrency: z.string().length(3, 'an ISO 4217 currency code'),
    BillingPeriodStart: isoTime,
    BillingPeriodEnd: isoTime,
    ChargePeriodStart: isoTime,
    ChargePeriodEnd: isoTime,
    ChargeCategory: z.string().min(1),
    ProviderName: z.string().min(1),
    ServiceName: z.string().min(1),
    Tags: z.record(z.string(), z.string()).default({}),
    SourceName: z.string().default('api'),
    SourceFile: z.string().default(''),
    SourceLine: z.number().int().nonnegative().default(0),
  })
  .catchall(z.union([z.string(), z.undefined()]));

type Kind = 'metrics' | 'logs' | 'billing';

const specs = {
  metrics: {
    schema: metricSchema,
    topic: TOPICS.metrics,
    key: (m: MetricPoint) => seriesKey(m),
  },
  logs: {
    schema: logSchema,
    topic: TOPICS.logs,
    key: (l: LogRecord) => logKey(l),
  },
  billing: {
    schema: billingSchema,
    topic: TOPICS.billing,
    key: (b: BillingLine) => billingKey(b),
  },
};

const MAX_ERRORS = 20;

function parseBody(req: Request): unknown[] {
  const body: unknown = req.body;
  if (Array.isArray(body)) return body;
  if (body && typeof body === 'object' && Array.isArray((body as { records?: unknown }).records)) {
    return (body as { records: unknown[] }).records;
  }
  if (typeof body === 'string') {
    return body
      .split('\n')
      .map((line, i) => ({ line, i }))
      .filter(({ line }) => line.trim() !== '')
      .map(({ line, i }) => {
        try {
          return JSON.parse(line) as unknown;
        } catch (err) {
          throw new HttpError(400, 'bad_request', `line ${i + 1}: invalid JSON: ${(err as Error).message}`);
        }
      });
  }
  throw new HttpError(400, 'bad_request', 'expected a JSON array of records, {"records": [...]}, or NDJSON');
}

export function mountRecordsApi(http: HttpApp, bus: Bus): void {
  for (const kind of Object.keys(specs) as Kind[]) {
    const spec = specs[kind];
    http.route(
      'post',
      `/api/v1/records/${kind}`,
      'ingest',
      http.body.json,
      http.body.text,
      (req: Request, res: Response, next: NextFunction) =>
        withSpan('receive', { 'opsight.kind': kind, 'http.route': `/api/v1/records/${kind}` }, async () => {
          try {
            const items = parseBody(req);
            const valid: unknown[] = [];
            const errors: string[] = [];
            items.forEach((item, i) => {
              const r = spec.schema.safeParse(item);
              if (r.success) valid.push(r.data);
              else if (errors.length < MAX_ERRORS) {
                errors.push(
                  ...r.error.issues.map(
                    (issue) => `record ${i}: ${issue.path.join('.') || '(record)'}: ${issue.message}`,
                  ),
                );
              }
            });
            if (errors.length) {
              // All or nothing: a client fixing its batch can resend it whole without duplicates.
              throw new HttpError(
                400,
                'bad_request',
                `${items.length - valid.length} of ${items.length} records invalid`,
                {
                  errors: errors.slice(0, MAX_ERRORS),
                },
              );
            }
            const key = spec.key as (r: unknown) => string | null;
            try {
              await withSpan('publish', { topic: spec.topic, records: valid.length }, () =>
                bus.publish(
                  spec.topic,
                  valid.map((value) => ({ key: key(value), value })),
                ),
              );
            } catch (err) {
              // Retryable. The in-process bus refuses a batch whole; Kafka may have taken part of it
              // before failing, so a resend can repeat those records (at-least-once).
              res.set('Retry-After', '5');
              throw new HttpError(503, 'unavailable', `bus unavailable: ${(err as Error).message}`);
            }
            recordsIn.inc({ topic: spec.topic }, valid.length);
            res.status(202).json({ accepted: valid.length });
          } catch (err) {
            next(err);
          }
        }),
    );
  }
}
