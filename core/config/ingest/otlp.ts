import { z } from 'zod';

const path = z.string().regex(/^\/[A-Za-z0-9._~/-]*$/, 'a URL path starting with /, e.g. /v1/metrics');

/**
 * `ingest.otlp`: the OTLP/HTTP receiver on the main HTTP port (owned by ingest/otlp/). The
 * default paths are the specification's, so OTel SDKs pointed at opsight need no other setting.
 */
export const otlpConfig = z
  .object({
    enabled: z.boolean().default(true),
    paths: z
      .object({
        metrics: path.default('/v1/metrics'),
        logs: path.default('/v1/logs'),
        traces: path.default('/v1/traces'),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .prefault({});
