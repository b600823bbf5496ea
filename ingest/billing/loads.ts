import type { ClickHouseClient } from '../../core/clickhouse/client.ts';

/**
 * billing_loads: what each billing source loaded (path or object key, size, mtime, ETag,
 * SHA-256, billing periods), so each file loads once across restarts and a restatement knows
 * which periods to replace. The table is created by migrations 0009 and 0010 (etag).
 */

export const BILLING_LOADS = 'billing_loads';

export type LoadStatus = 'loading' | 'done' | 'failed';

export interface LoadRow {
  source: string;
  path: string;
  size: number;
  mtimeMs: number;
  sha256: string;
  /** S3 ETag; '' for plain files. */
  etag: string;
  status: LoadStatus;
  periods: string[];
  rows: number;
  rejected: number;
  error: string;
}

const ts = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');

export async function recordLoad(client: ClickHouseClient, row: LoadRow): Promise<void> {
  await client.insert({
    table: BILLING_LOADS,
    format: 'JSONEachRow',
    values: [
      {
        source: row.source,
        path: row.path,
        size: row.size,
        mtime: ts(row.mtimeMs),
        sha256: row.sha256,
        etag: row.etag,
        status: row.status,
        periods: row.periods.map((p) => ts(Date.parse(p))),
        rows: row.rows,
        rejected: row.rejected,
        error: row.error.slice(0, 4096),
        at: ts(Date.now()),
      },
    ],
  });
}

export interface LatestLoad {
  size: number;
  mtimeMs: number;
  sha256: string;
  etag: string;
  status: LoadStatus;
}

export interface LoadedState {
  /** Latest load per path. */
  latest: Map<string, LatestLoad>;
  /** Content already loaded by this source, under any path. */
  hashes: Set<string>;
  /** Billing periods (ISO 8601) this source has rows for. */
  periods: Set<string>;
}

export async function loadedState(client: ClickHouseClient, source: string): Promise<LoadedState> {
  const latest = await client.query({
    query: `SELECT path, argMax(size, at) AS size, toUnixTimestamp64Milli(argMax(mtime, at)) AS mtime,
              argMax(sha256, at) AS sha256, argMax(etag, at) AS etag, toString(argMax(status, at)) AS status
            FROM ${BILLING_LOADS} WHERE source = {source:String} GROUP BY path`,
    query_params: { source },
    format: 'JSONEachRow',
  });
  const done = await client.query({
    // A failed or interrupted load may have published part of its periods: they count too.
    query: `SELECT groupUniqArrayIf(sha256, status = 'done') AS hashes,
              arrayMap(p -> toString(toUnixTimestamp64Milli(p)), groupUniqArrayArray(periods)) AS periods
            FROM ${BILLING_LOADS} WHERE source = {source:String}`,
    query_params: { source },
    format: 'JSONEachRow',
  });
  type Latest = {
    path: string;
    size: string | number;
    mtime: string | number;
    sha256: string;
    etag: string;
    status: LoadStatus;
  };
  const [agg] = await done.json<{ hashes: string[]; periods: string[] }>();
  return {
    latest: new Map(
      (await latest.json<Latest>()).map((r) => [
        r.path,
        {
          size: Number(r.size),
          mtimeMs: Number(r.mtime),
          sha256: r.sha256,
          etag: r.etag,
          status: r.status,
        },
      ]),
    ),
    hashes: new Set((agg?.hashes ?? []).filter(Boolean)),
    periods: new Set((agg?.periods ?? []).map((p) => new Date(Number(p)).toISOString())),
  };
}
