import { z } from 'zod';

/** `ingest.otlp`: the OTLP/HTTP receiver on the main HTTP port (owned by ingest/otlp/). */
export const otlpConfig = z.object({ enabled: z.boolean().default(true) }).prefault({});
