import { z } from 'zod';

/**
 * `ingest.scrape`: Prometheus-style scrape jobs (owned by ingest/metrics/scrape.ts). Keys mirror
 * Prometheus' scrape_config so a job can be copied over from prometheus.yml; what opsight does not
 * implement (relabel_configs, service discovery other than static and file) is refused by name
 * rather than silently ignored.
 */

const DURATION = /^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/;
const UNIT_MS = [365 * 86_400_000, 7 * 86_400_000, 86_400_000, 3_600_000, 60_000, 1000, 1];

/** A Prometheus duration ("15s", "1m30s", "500ms") in milliseconds; NaN if it is not one. */
export function durationMs(s: string): number {
  const m = DURATION.exec(s);
  if (!m || s === '') return Number.NaN;
  return UNIT_MS.reduce((sum, unit, i) => sum + Number(m[i + 1] ?? 0) * unit, 0);
}

const duration = z.string().refine((s) => durationMs(s) > 0, 'a positive duration such as 15s, 1m or 1m30s');

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const labels = z
  .record(z.string().regex(LABEL_NAME, 'a label name (letters, digits, _)'), z.string())
  .default({});

const target = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'a target as host:port, e.g. 127.0.0.1:9100');

const staticConfig = z.object({ targets: z.array(target).default([]), labels }).strict();

const fileSdConfig = z
  .object({
    files: z
      .array(
        z
          .string()
          .regex(/\.(json|ya?ml)$/, 'a file name ending in .json, .yml or .yaml')
          .refine(
            (f) => !/[*?[]/.test(f.slice(0, f.lastIndexOf('/') + 1)),
            'wildcards only in the last path segment, e.g. targets/*.json',
          ),
      )
      .min(1, 'at least one file or pattern'),
    refresh_interval: duration.default('5m'),
  })
  .strict();

const job = z
  .object({
    job_name: z.string().regex(/^\S+$/, 'a job name without spaces'),
    scrape_interval: duration.default('1m'),
    /** Unset: 10s, or the interval when that is shorter (as Prometheus). */
    scrape_timeout: duration.optional(),
    metrics_path: z.string().startsWith('/', 'a path starting with /').default('/metrics'),
    scheme: z.enum(['http', 'https']).default('http'),
    honor_labels: z.boolean().default(false),
    honor_timestamps: z.boolean().default(true),
    params: z.record(z.string(), z.array(z.string())).default({}),
    static_configs: z.array(staticConfig).default([]),
    file_sd_configs: z.array(fileSdConfig).default([]),
  })
  .strict()
  .superRefine((j, ctx) => {
    if (j.scrape_timeout && durationMs(j.scrape_timeout) > durationMs(j.scrape_interval)) {
      ctx.addIssue({
        code: 'custom',
        path: ['scrape_timeout'],
        message: `a timeout no longer than scrape_interval (${j.scrape_interval})`,
      });
    }
  });

export const scrapeConfig = z
  .object({
    jobs: z
      .array(job)
      .default([])
      .superRefine((jobs, ctx) => {
        const seen = new Set<string>();
        jobs.forEach((j, i) => {
          if (seen.has(j.job_name))
            ctx.addIssue({
              code: 'custom',
              path: [i, 'job_name'],
              message: 'a job_name used by no other job',
            });
          seen.add(j.job_name);
        });
      }),
  })
  .strict()
  .prefault({});

export type ScrapeJobConfig = z.infer<typeof job>;

/** The effective timeout of a job, in milliseconds. */
export function scrapeTimeoutMs(j: ScrapeJobConfig): number {
  const interval = durationMs(j.scrape_interval);
  return j.scrape_timeout ? durationMs(j.scrape_timeout) : Math.min(10_000, interval);
}
