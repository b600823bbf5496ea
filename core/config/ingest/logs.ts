import { z } from 'zod';

/** `ingest.syslog`, `ingest.jsonl`, `ingest.files`: log sources (owned by ingest/logs/). */
export const syslogConfig = z.object({ enabled: z.boolean().default(false) }).prefault({});
export const jsonlConfig = z.object({ enabled: z.boolean().default(true) }).prefault({});
export const filesConfig = z.array(z.object({ name: z.string() }).passthrough()).default([]);
