import type { ClickHouseClient } from '../../core/clickhouse/client.ts';
import { nextVersion } from '../cmdb/store.ts';
import type { KedbParse } from './types.ts';

/**
 * Stores an import as the truth for its source, like the CMDB: known errors of that source
 * absent from the new list get `deleted = 1`; a list with no valid record retracts nothing.
 */
export async function storeKedb(
  client: ClickHouseClient,
  source: string,
  p: Pick<KedbParse, 'knownErrors' | 'keepIds'>,
): Promise<{ stored: number; retracted: number }> {
  if (!p.knownErrors.length) return { stored: 0, retracted: 0 };
  const kes = [...new Map(p.knownErrors.map((k) => [k.id, k])).values()];
  const keep = new Set([...kes.map((k) => k.id), ...p.keepIds]);
  const rs = await client.query({
    query: 'SELECT id FROM known_errors FINAL WHERE deleted = 0 AND source = {source:String}',
    query_params: { source },
    format: 'JSONEachRow',
  });
  const gone = (await rs.json<{ id: string }>()).filter((o) => !keep.has(o.id));
  const updated_at = await nextVersion(client, 'known_errors');
  const row = (k: (typeof kes)[number], deleted: number) => ({
    id: k.id,
    title: k.title,
    symptoms: k.symptoms,
    scope: k.scope,
    workaround: k.workaround,
    problem_ref: k.problemRef,
    status: k.status,
    source,
    deleted,
    updated_at,
  });
  const blank = { title: '', symptoms: [], scope: [], workaround: '', problemRef: '', status: '' };
  await client.insert({
    table: 'known_errors',
    format: 'JSONEachRow',
    values: [...kes.map((k) => row(k, 0)), ...gone.map((g) => row({ id: g.id, ...blank }, 1))],
    clickhouse_settings: { date_time_input_format: 'best_effort' },
  });
  return { stored: kes.length, retracted: gone.length };
}
