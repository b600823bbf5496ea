import { z } from 'zod';

/**
 * `detect.metrics`: the streaming anomaly detector over opsight.metrics (detect/metrics/). One
 * configuration for every series; per-service overrides change only the sensitivity.
 */
export const metricsDetectConfig = z
  .object({
    enabled: z.boolean().default(true),
    /** 0..1, higher alerts more. */
    sensitivity: z.number().min(0).max(1).default(0.5),
    seasons: z
      .object({ daily: z.boolean().default(true), weekly: z.boolean().default(true) })
      .strict()
      .prefault({}),
    /** Points a series needs before it can alert. */
    minHistory: z.number().int().min(10).default(150),
    /** Metric names (regex) scored; gauges as they are, monotonic counters as rates. */
    include: z.string().default('.*'),
    exclude: z.string().default('^(up|scrape_.*|.*_created|.*_info)$'),
    /** Series kept at most; new series beyond it are not scored (counted in /metrics). */
    maxSeries: z.number().int().positive().default(100_000),
    /** Per service.name: sensitivity or enabled. */
    services: z
      .record(
        z.string(),
        z
          .object({ enabled: z.boolean().optional(), sensitivity: z.number().min(0).max(1).optional() })
          .strict(),
      )
      .default({}),
  })
  .strict()
  .prefault({});

export type MetricsDetectConfig = z.infer<typeof metricsDetectConfig>;
