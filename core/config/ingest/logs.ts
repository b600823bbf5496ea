import { z } from 'zod';

/** `ingest.syslog`, `ingest.jsonl`, `ingest.files`: log sources (owned by ingest/logs/). */

/** null turns the transport off; 0 picks a free port (logged at start). */
const port = z.number().int().min(0).max(65535, 'a port 0..65535').nullable();

/** Attribute keys tried in order for service.name; the first non-empty one wins. */
const serviceNameAttributes = (defaults: string[]) =>
  z.array(z.string().min(1, 'a non-empty attribute key')).min(1).default(defaults);

export const syslogConfig = z
  .object({
    enabled: z.boolean().default(false),
    host: z.string().min(1).default('127.0.0.1'),
    tcpPort: port.default(5514),
    udpPort: port.default(5514),
    /** Longer messages are truncated (and marked) as rsyslog does; 480 is RFC 5424's minimum. */
    maxMessageBytes: z
      .number()
      .int()
      .min(480, 'bytes >= 480 (RFC 5424 minimum)')
      .max(16 * 1024 * 1024, 'bytes <= 16 MiB')
      .default(64 * 1024),
    serviceNameAttributes: serviceNameAttributes(['syslog.appname']),
  })
  .strict()
  .prefault({});

export const jsonlConfig = z
  .object({
    enabled: z.boolean().default(true),
    serviceNameAttributes: serviceNameAttributes([
      'service.name',
      'service',
      'serviceName',
      'service_name',
      'app',
    ]),
    /** At most this many per-line errors are returned in a response (all are counted). */
    maxErrors: z.number().int().min(1).max(10_000).default(100),
  })
  .strict()
  .prefault({});

const regex = z.string().refine((s) => {
  try {
    new RegExp(s);
    return true;
  } catch {
    return false;
  }
}, 'a JavaScript regular expression');

/** One tailed group of files; checkpoints live under `dataDir/checkpoints/files-<name>.json`. */
const fileSource = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'a name of letters, digits, _ . -'),
    include: z.array(z.string().min(1)).min(1, 'at least one glob, e.g. /var/log/app/*.log'),
    exclude: z.array(z.string().min(1)).default([]),
    /** Where a file found at the very first start (no checkpoints yet) is read from. */
    startAt: z.enum(['end', 'beginning']).default('end'),
    /** json: each line is a JSON log object (as POST /api/v1/logs/jsonl); text: the line is the body. */
    format: z.enum(['text', 'json']).default('text'),
    serviceName: z.string().optional(),
    /** Regex on the file path; its first capture group is service.name (e.g. "/var/log/([^/]+)/"). */
    servicePathPattern: regex.optional(),
    multiline: z
      .object({
        /** A line matching this starts a record; other lines join the record before them. */
        startPattern: regex,
        maxLines: z.number().int().min(2).default(500),
        /** A record with no further line after this long is complete. */
        timeoutMs: z.number().int().min(1).default(1000),
      })
      .strict()
      .optional(),
    pollIntervalMs: z.number().int().min(10).default(250),
    maxLineBytes: z
      .number()
      .int()
      .min(256)
      .default(1024 * 1024),
  })
  .strict();

export const filesConfig = z
  .array(fileSource)
  .default([])
  .refine((a) => new Set(a.map((f) => f.name)).size === a.length, 'file source names must be unique');

/**
 * `ingest.templates`: template mining of every log line at ingest (core/logs); the id, text and
 * parameters travel with the record and land in otel_logs.TemplateId / TemplateParams.
 */
export const templatesConfig = z
  .object({
    enabled: z.boolean().default(true),
    /** Share of a template's constant tokens a line must match to join it (Drain's threshold). */
    similarity: z.number().gt(0).lt(1).default(0.8),
    /** How often the miners are saved to detector_state (they are also saved at stop). */
    checkpointSeconds: z.number().positive().default(60),
  })
  .strict()
  .prefault({});

export type TemplatesConfig = z.infer<typeof templatesConfig>;
