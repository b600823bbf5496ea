import { z } from 'zod';

/** `ingest.billing`: billing export sources (owned by ingest/billing/). */
export const billingConfig = z.array(z.object({ name: z.string() }).passthrough()).default([]);
