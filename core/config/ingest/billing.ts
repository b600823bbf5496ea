import { z } from 'zod';

/**
 * `ingest.billing`: billing export sources (owned by ingest/billing/). Each watches a directory
 * for export files and loads each once; a corrected file for a billing period replaces it.
 */
const directorySource = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'a source name (letters, digits, _ . -)'),
    kind: z.literal('directory'),
    path: z.string().min(1, 'a directory path'),
    /** Glob relative to path. */
    pattern: z.string().min(1).default('**/*.{csv,csv.gz}'),
    /** `auto` reads the header: FOCUS is the only format so far. */
    format: z.enum(['focus', 'auto']).default('auto'),
    intervalSeconds: z.number().positive('seconds > 0').default(300),
  })
  .strict();

export const billingConfig = z
  .array(directorySource)
  .default([])
  .refine((list) => new Set(list.map((s) => s.name)).size === list.length, 'unique source names');

export type BillingSourceConfig = z.infer<typeof directorySource>;
