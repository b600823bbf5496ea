import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { ClickHouseClient } from '../../core/clickhouse/client.ts';

/**
 * file_loads: what `opsight ingest file` loaded, by SHA-256 of the content, so the same file
 * (under any name) loads once unless --force.
 */

export interface FileLoad {
  sha256: string;
  path: string;
  kind: string;
  format: string;
  size: number;
  rows: number;
  rejected: number;
}

export async function contentHash(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** The last load of this content, if any. */
export async function previousLoad(
  client: ClickHouseClient,
  sha256: string,
): Promise<(FileLoad & { at: string }) | undefined> {
  const rs = await client.query({
    query: `SELECT sha256, path, kind, format, size, rows, rejected, toString(at) AS at
            FROM file_loads WHERE sha256 = {sha256:String} ORDER BY at DESC LIMIT 1`,
    query_params: { sha256 },
    format: 'JSONEachRow',
  });
  const [row] = await rs.json<FileLoad & { at: string }>();
  return row
    ? { ...row, size: Number(row.size), rows: Number(row.rows), rejected: Number(row.rejected) }
    : undefined;
}

export async function recordFileLoad(client: ClickHouseClient, load: FileLoad): Promise<void> {
  await client.insert({ table: 'file_loads', format: 'JSONEachRow', values: [load] });
}
