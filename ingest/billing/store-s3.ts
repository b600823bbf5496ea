import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, ListObjectsV2Command, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import type { S3BillingConfig } from '../../core/config/ingest/billing.ts';
import { globToRegExp } from './store-glob.ts';
import type { BillingStore, FetchedFile, StoredFile } from './store.ts';

/**
 * Billing files under an S3 (or S3-compatible: MinIO, R2, Ceph) bucket prefix. Listing pages
 * through ListObjectsV2; an object is downloaded to DATA_DIR/tmp/billing-<source>/ before
 * loading (Parquet needs random access) and deleted afterwards. Credentials come from the
 * config or the standard AWS chain (env, shared profile, instance role); they are never logged.
 */

const TIMEOUT_MS = 30_000;

export function s3ClientConfig(cfg: S3BillingConfig): S3ClientConfig {
  return {
    // An S3-compatible endpoint rarely cares about the region, but the signer needs one.
    region: cfg.region ?? (cfg.endpoint && !process.env.AWS_REGION ? 'us-east-1' : undefined),
    ...(cfg.endpoint ? { endpoint: cfg.endpoint } : {}),
    forcePathStyle: cfg.forcePathStyle,
    ...(cfg.accessKeyId && cfg.secretAccessKey
      ? {
          credentials: {
            accessKeyId: cfg.accessKeyId,
            secretAccessKey: cfg.secretAccessKey,
            ...(cfg.sessionToken ? { sessionToken: cfg.sessionToken } : {}),
          },
        }
      : {}),
    // A server that went away fails the poll promptly; the next poll retries.
    maxAttempts: 2,
    requestHandler: { connectionTimeout: 5000, requestTimeout: TIMEOUT_MS },
    // Older S3-compatible servers do not send the newer CRC checksums.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  };
}

export class S3Store implements BillingStore {
  readonly location: string;
  private readonly client: S3Client;
  private readonly match: RegExp;
  private readonly prefix: string;
  private readonly tmpDir: string;
  private cleaned = false;

  constructor(
    private readonly cfg: S3BillingConfig,
    dataDir: string,
    /** Keys per ListObjectsV2 page; the server's default (1000) unless set. */
    private readonly pageSize?: number,
  ) {
    this.prefix = cfg.prefix;
    this.location = `s3://${cfg.bucket}/${cfg.prefix}`;
    this.client = new S3Client(s3ClientConfig(cfg));
    this.match = globToRegExp(cfg.pattern);
    this.tmpDir = join(resolve(dataDir), 'tmp', `billing-${cfg.name}`);
  }

  async list(): Promise<StoredFile[]> {
    const files: StoredFile[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.cfg.bucket,
          Prefix: this.prefix || undefined,
          ContinuationToken: token,
          MaxKeys: this.pageSize,
        }),
      );
      for (const o of page.Contents ?? []) {
        if (!o.Key || o.Key.endsWith('/')) continue;
        const key = o.Key.slice(this.prefix.length);
        if (!this.match.test(key)) continue;
        files.push({
          key,
          size: o.Size ?? 0,
          mtimeMs: o.LastModified?.getTime() ?? 0,
          ...(o.ETag ? { etag: o.ETag.replace(/"/g, '') } : {}),
        });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return files.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async fetch(file: StoredFile): Promise<FetchedFile> {
    if (!this.cleaned) {
      // Copies left by a crash are of no use: every load downloads afresh.
      await rm(this.tmpDir, { recursive: true, force: true });
      this.cleaned = true;
    }
    await mkdir(this.tmpDir, { recursive: true });
    // The base name is kept: the format is told by the extension.
    const id = createHash('sha256').update(file.key).digest('hex').slice(0, 16);
    const path = join(this.tmpDir, `${id}-${basename(file.key)}`);
    const cleanup = () => rm(path, { force: true });
    try {
      const res = await this.client.send(
        new GetObjectCommand({
          Bucket: this.cfg.bucket,
          Key: this.prefix + file.key,
          // The listed version, not one replaced since (that one is seen at the next poll).
          ...(file.etag ? { IfMatch: `"${file.etag}"` } : {}),
        }),
        { abortSignal: AbortSignal.timeout(10 * 60_000) },
      );
      if (!res.Body) throw new Error(`${this.location}${file.key}: empty response body`);
      await pipeline(res.Body as Readable, createWriteStream(path));
    } catch (err) {
      await cleanup();
      throw err;
    }
    return { path, cleanup };
  }

  close(): void {
    this.client.destroy();
  }
}
