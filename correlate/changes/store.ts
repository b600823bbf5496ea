import type { ClickHouseClient } from '../../core/clickhouse/client.ts';
import type { Change } from '../engine/model.ts';

/**
 * Changes into `changes`. The correlator links a change by CI id, so a change naming its CI
 * by name or service (as deploy tools and exports often do) is stored under the id of the
 * CI with that id, else that name, else that service; an unknown one is kept as given (a CI
 * imported later under that id still links).
 */
export async function resolveCis(client: ClickHouseClient, refs: string[]): Promise<Map<string, string>> {
  const wanted = [...new Set(refs.filter(Boolean))];
  const out = new Map<string, string>();
  if (!wanted.length) return out;
  const lower = wanted.map((w) => w.toLowerCase());
  const rs = await client.query({
    query: `SELECT id, name, service FROM cmdb_ci FINAL
            WHERE deleted = 0 AND (id IN {ids:Array(String)} OR lower(name) IN {l:Array(String)}
                                   OR lower(service) IN {l:Array(String)})`,
    query_params: { ids: wanted, l: lower },
    format: 'JSONEachRow',
  });
  const cis = await rs.json<{ id: string; name: string; service: string }>();
  const ids = new Set(cis.map((c) => c.id));
  const byName = new Map(cis.map((c) => [c.name.toLowerCase(), c.id]));
  const byService = new Map<string, string>();
  // Prefer the service CI itself (its name is the service) over the hosts that run it.
  for (const c of cis)
    if (
      c.service &&
      (!byService.has(c.service.toLowerCase()) || c.name.toLowerCase() === c.service.toLowerCase())
    )
      byService.set(c.service.toLowerCase(), c.id);
  for (const w of wanted) {
    const id = ids.has(w) ? w : (byName.get(w.toLowerCase()) ?? byService.get(w.toLowerCase()));
    if (id) out.set(w, id);
  }
  return out;
}

/** Stores the changes, each `ci` resolved (first candidate that is known, else the first). */
export async function storeChanges(
  client: ClickHouseClient,
  source: string,
  changes: (Change & { ciCandidates?: string[] })[],
): Promise<Change[]> {
  if (!changes.length) return [];
  const resolved = await resolveCis(
    client,
    changes.flatMap((c) => c.ciCandidates ?? [c.ci]),
  );
  const stored = changes.map(({ ciCandidates, ...c }) => {
    const hit = (ciCandidates ?? [c.ci]).find((x) => resolved.has(x));
    return { ...c, ci: hit ? resolved.get(hit)! : c.ci };
  });
  await client.insert({
    table: 'changes',
    format: 'JSONEachRow',
    values: stored.map((c) => ({
      ci: c.ci,
      time: new Date(c.time).toISOString(),
      kind: c.kind,
      id: c.id,
      description: c.description,
      link: c.link,
      source,
    })),
    clickhouse_settings: { date_time_input_format: 'best_effort' },
  });
  return stored;
}
