import { z } from 'zod';

/** `ingest.remoteWrite`: the Prometheus remote_write receiver (owned by ingest/metrics/remote-write.ts). */
export const remoteWriteConfig = z.object({ enabled: z.boolean().default(true) }).prefault({});
