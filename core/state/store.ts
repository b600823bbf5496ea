import type { ClickHouseClient } from '../clickhouse/client.ts';

/**
 * Detector state across restarts, in detector_state (ReplacingMergeTree by updated_at): one
 * opaque string per (detector, key). Detectors save in batches at a checkpoint interval and
 * load everything at start, so a restart resumes without a blind warm-up.
 */
export interface StateStore {
  load(detector: string): Promise<Map<string, string>>;
  save(detector: string, entries: Iterable<[key: string, state: string]>): Promise<void>;
  remove(detector: string, keys: string[]): Promise<void>;
}

export class ClickHouseStateStore implements StateStore {
  constructor(private readonly client: ClickHouseClient) {}

  async load(detector: string): Promise<Map<string, string>> {
    const rs = await this.client.query({
      query: `SELECT key, argMax(state, updated_at) AS state FROM detector_state
              WHERE detector = {detector:String} GROUP BY key HAVING state != ''`,
      query_params: { detector },
      format: 'JSONEachRow',
    });
    const out = new Map<string, string>();
    for (const r of await rs.json<{ key: string; state: string }>()) out.set(r.key, r.state);
    return out;
  }

  async save(detector: string, entries: Iterable<[string, string]>): Promise<void> {
    const now = Date.now();
    const values = [...entries].map(([key, state]) => ({ detector, key, state, updated_at: now }));
    if (!values.length) return;
    await this.client.insert({ table: 'detector_state', values, format: 'JSONEachRow' });
  }

  /** An empty state marks a key as gone (load skips it; merges keep only the newest row). */
  async remove(detector: string, keys: string[]): Promise<void> {
    await this.save(
      detector,
      keys.map((k) => [k, ''] as [string, string]),
    );
  }
}

/** In memory, for evaluations and tests of detector logic. */
export class MemoryStateStore implements StateStore {
  private readonly data = new Map<string, Map<string, string>>();
  load(detector: string): Promise<Map<string, string>> {
    return Promise.resolve(new Map(this.data.get(detector)));
  }
  save(detector: string, entries: Iterable<[string, string]>): Promise<void> {
    const m = this.data.get(detector) ?? new Map<string, string>();
    for (const [k, v] of entries) m.set(k, v);
    this.data.set(detector, m);
    return Promise.resolve();
  }
  remove(detector: string, keys: string[]): Promise<void> {
    for (const k of keys) this.data.get(detector)?.delete(k);
    return Promise.resolve();
  }
}
