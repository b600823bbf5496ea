import { z } from 'zod';

/** `ingest.remoteWrite`: the Prometheus remote_write receiver (owned by ingest/metrics/remote-write.ts). */
export const remoteWriteConfig = z
  .object({
    /** Mounts POST /api/v1/write on the main HTTP port. */
    enabled: z.boolean().default(true),
    /**
     * Largest uncompressed WriteRequest: a snappy body announces its size, and a larger one is
     * refused before it is inflated (http.bodyLimit bounds the compressed body).
     */
    maxDecodedBytes: z
      .number()
      .int()
      .positive('a positive number of bytes')
      .default(64 * 1024 * 1024),
  })
  .strict()
  .prefault({});
