import { z } from 'zod';

/**
 * `detect.health`: failing-service rules evaluated on what ingest wrote to ClickHouse (owned by
 * detect/health/). The defaults work without tuning; SLOs exist only where configured.
 */
const seconds = z.number().positive();

const slo = z
  .object({
    service: z.string().min(1),
    /** Fraction of good requests over the SLO period, e.g. 0.999. */
    objective: z.number().gt(0).lt(1, 'an objective below 1 (0.999, not 99.9)'),
    /** Only for the burn-rate thresholds' meaning; the windows are the SRE workbook's. */
    periodDays: z.number().int().positive().default(30),
  })
  .strict();

const saturation = z
  .object({
    name: z.string().regex(/^[a-z0-9_]+$/, 'a rule name (a-z, 0-9, _)'),
    /** Gauge metric name (otel_metrics_gauge MetricName). */
    metric: z.string().min(1),
    /** Optional denominator gauge with the same attributes: the rule compares metric / per. */
    per: z.string().min(1).optional(),
    op: z.enum(['<', '>']),
    threshold: z.number(),
  })
  .strict();

export const DEFAULT_SATURATION: z.input<typeof saturation>[] = [
  {
    name: 'filesystem_full',
    metric: 'node_filesystem_avail_bytes',
    per: 'node_filesystem_size_bytes',
    op: '<',
    threshold: 0.1,
  },
  {
    name: 'memory_exhausted',
    metric: 'node_memory_MemAvailable_bytes',
    per: 'node_memory_MemTotal_bytes',
    op: '<',
    threshold: 0.1,
  },
  { name: 'filesystem_full', metric: 'system.filesystem.utilization', op: '>', threshold: 0.9 },
  { name: 'memory_exhausted', metric: 'system.memory.utilization', op: '>', threshold: 0.9 },
];

export const healthDetectConfig = z
  .object({
    enabled: z.boolean().default(true),
    intervalSeconds: seconds.default(30),
    /** Consecutive breaching evaluations before firing, clear ones before resolving. */
    fireAfter: z.number().int().min(1).default(2),
    resolveAfter: z.number().int().min(1).default(3),
    errorRatio: z
      .object({
        windowSeconds: seconds.default(300),
        warning: z.number().gt(0).lt(1).default(0.05),
        critical: z.number().gt(0).lt(1).default(0.2),
        /** Fewer requests than this in the window: too little traffic to judge. */
        minRequests: z.number().int().min(1).default(20),
      })
      .strict()
      .prefault({}),
    latency: z
      .object({
        windowSeconds: seconds.default(300),
        quantile: z.number().gt(0).lt(1).default(0.99),
        /** Default threshold for every service; per-service in `services`. */
        thresholdSeconds: seconds.default(1),
        minRequests: z.number().int().min(1).default(20),
        services: z.record(z.string(), seconds).default({}),
      })
      .strict()
      .prefault({}),
    /** Targets whose `up` is 0 (Prometheus scrape). */
    targetDown: z
      .object({ enabled: z.boolean().default(true) })
      .strict()
      .prefault({}),
    /**
     * The anomaly core on each service's request rate, error ratio and latency quantile (one
     * point per evaluation): unusual for this service at this time of day and week.
     */
    anomaly: z
      .object({ enabled: z.boolean().default(true) })
      .strict()
      .prefault({}),
    slos: z.array(slo).default([]),
    saturation: z.array(saturation).default(DEFAULT_SATURATION),
    /** Metric names (regex) counted as request counters, Prometheus style, with a status label. */
    requestCounters: z.string().default('^.*_requests(_total)?$'),
    /** Histogram metric names (regex) of request duration: OTel semconv and Prometheus style. */
    durationHistograms: z
      .string()
      .default(
        '^(http\\.server\\.request\\.duration|http\\.server\\.duration|.*_request_duration_seconds|.*_duration_seconds)$',
      ),
  })
  .strict()
  .prefault({});

export type HealthDetectConfig = z.infer<typeof healthDetectConfig>;
export type SloConfig = z.infer<typeof slo>;
export type SaturationRule = z.infer<typeof saturation>;
