import { z } from 'zod';

/** `ingest.scrape`: Prometheus-style scrape jobs (owned by ingest/metrics/scrape.ts). */
export const scrapeConfig = z
  .object({ jobs: z.array(z.object({ job_name: z.string() }).passthrough()).default([]) })
  .prefault({});
