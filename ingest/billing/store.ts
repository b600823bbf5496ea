/**
 * Where billing export files come from. The billing source (source.ts) owns the polling, the
 * once-only bookkeeping and restatements; a store only lists what is there and hands out one
 * file as a local path (Parquet readers need random access, so remote objects are downloaded).
 */

export interface StoredFile {
  /** Path relative to the directory, or the object key relative to the prefix. */
  key: string;
  size: number;
  mtimeMs: number;
  /** The object's ETag (S3), quotes stripped; absent for plain files. */
  etag?: string;
}

export interface FetchedFile {
  /** A local file holding the content. */
  path: string;
  /** Removes the local copy if the store made one. */
  cleanup(): Promise<void>;
}

export interface BillingStore {
  /** For logs and error messages ("s3://bucket/prefix", "/exports"); never holds secrets. */
  readonly location: string;
  /** Every file matching the source's pattern, sorted by key. Throws when the store is unreachable. */
  list(): Promise<StoredFile[]>;
  fetch(file: StoredFile): Promise<FetchedFile>;
  close?(): void;
}

/** Same file as last time? The ETag decides when both sides have one, else size and mtime. */
export function unchanged(prev: { size: number; mtimeMs: number; etag: string }, now: StoredFile): boolean {
  if (prev.etag && now.etag) return prev.etag === now.etag && prev.size === now.size;
  return prev.size === now.size && prev.mtimeMs === now.mtimeMs;
}
