import { z } from 'zod';

/**
 * Billing export formats: FOCUS 1.0–1.2 itself, and the providers' native exports mapped onto
 * FOCUS columns (AWS CUR 2.0, Azure cost-management export, GCP detailed export, OCI cost report).
 */
export const BILLING_FORMATS = ['auto', 'focus', 'aws-cur', 'azure', 'gcp', 'oci'] as const;
export type BillingFormat = (typeof BILLING_FORMATS)[number];

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
    /** `auto` tells the format from the file (extension, header). */
    format: z.enum(BILLING_FORMATS).default('auto'),
    intervalSeconds: z.number().positive('seconds > 0').default(300),
  })
  .strict();

export const billingConfig = z
  .array(directorySource)
  .default([])
  .refine((list) => new Set(list.map((s) => s.name)).size === list.length, 'unique source names');

export type BillingSourceConfig = z.infer<typeof directorySource>;
