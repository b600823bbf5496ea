import { z } from 'zod';

/**
 * Billing export formats: FOCUS 1.0–1.2 itself, and the providers' native exports mapped onto
 * FOCUS columns (AWS CUR 2.0, Azure cost-management export, GCP detailed export, OCI cost report).
 */
export const BILLING_FORMATS = ['auto', 'focus', 'aws-cur', 'azure', 'gcp', 'oci'] as const;
export type BillingFormat = (typeof BILLING_FORMATS)[number];

/**
 * `ingest.billing`: billing export sources (owned by ingest/billing/). Each watches a directory
 * or an S3-compatible bucket prefix for export files and loads each once; a corrected file for
 * a billing period replaces it.
 */
const common = {
  name: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'a source name (letters, digits, _ . -)'),
  /** Glob relative to the directory or the prefix. */
  pattern: z.string().min(1).default('**/*.{csv,csv.gz,parquet}'),
  /** `auto` tells the format from the file (extension, header). */
  format: z.enum(BILLING_FORMATS).default('auto'),
  intervalSeconds: z.number().positive('seconds > 0').default(300),
};

const directorySource = z
  .object({
    ...common,
    kind: z.literal('directory'),
    path: z.string().min(1, 'a directory path'),
  })
  .strict();

const s3Source = z
  .object({
    ...common,
    kind: z.literal('s3'),
    bucket: z.string().min(1, 'a bucket name'),
    /** Key prefix ("exports/focus/"); pattern matches the rest of the key. */
    prefix: z.string().default(''),
    /** S3-compatible endpoint (MinIO, R2, ...); unset = AWS for the region. */
    endpoint: z.url().optional(),
    /** Unset: AWS_REGION / the profile, else us-east-1. */
    region: z.string().min(1).optional(),
    /** Path-style URLs (http://host/bucket/key), which most S3-compatible servers need. */
    forcePathStyle: z.boolean().default(false),
    /** Both or neither; unset = the standard AWS chain (env, profile, instance role). */
    accessKeyId: z.string().min(1).optional(),
    /** Masked in `config check` and error messages. */
    secretAccessKey: z.string().min(1).optional(),
    sessionToken: z.string().min(1).optional(),
  })
  .strict()
  .refine((s) => (s.accessKeyId === undefined) === (s.secretAccessKey === undefined), {
    message: 'accessKeyId and secretAccessKey go together (or leave both out for the AWS chain)',
    path: ['secretAccessKey'],
  });

export const billingConfig = z
  .array(z.discriminatedUnion('kind', [directorySource, s3Source]))
  .default([])
  .refine((list) => new Set(list.map((s) => s.name)).size === list.length, 'unique source names');

export type DirectoryBillingConfig = z.infer<typeof directorySource>;
export type S3BillingConfig = z.infer<typeof s3Source>;
export type BillingSourceConfig = DirectoryBillingConfig | S3BillingConfig;
