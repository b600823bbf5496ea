import type { ClickHouseClient } from '@clickhouse/client';
import {
  compileEncoder,
  describeTable,
  insertRowBinary,
  quoteIdent,
  type CompiledEncoder,
} from '../../core/clickhouse/rowbinary.ts';

/**
 * ingest_batches: the offset range of every batch, recorded before the batch is inserted. After
 * a crash the bus redelivers from the last commit, possibly in differently sized pieces; the
 * writer re-cuts the replayed messages at the recorded boundaries, so each batch gets the
 * same deduplication token as before and ClickHouse drops whatever had already landed.
 */

export const INGEST_BATCHES = 'ingest_batches';

/** An inclusive offset range; offsets are decimal strings as on the bus. */
export interface OffsetRange {
  first: string;
  last: string;
}

/** Numeric order of non-negative decimal strings without BigInt: by length, then by text. */
export function compareOffsets(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

export function nextOffset(offset: string): string {
  return (BigInt(offset) + 1n).toString();
}

interface RangeRow {
  group: string;
  topic: string;
  partition: number;
  first_offset: string;
  last_offset: string;
  table: string;
  created_at: number;
}

export class RangeLog {
  private constructor(
    private readonly client: ClickHouseClient,
    private readonly database: string,
    private readonly encoder: CompiledEncoder<RangeRow>,
  ) {}

  static async open(client: ClickHouseClient, database: string): Promise<RangeLog> {
    const columns = await describeTable(client, database, INGEST_BATCHES);
    const wanted = ['group', 'topic', 'partition', 'first_offset', 'last_offset', 'table', 'created_at'];
    const byName = new Map(columns.map((c) => [c.name, c.type]));
    const missing = wanted.filter((n) => !byName.has(n));
    if (missing.length) throw new Error(`${database}.${INGEST_BATCHES} lacks columns ${missing.join(', ')}`);
    const encoder = compileEncoder<RangeRow>(wanted.map((name) => ({ name, type: byName.get(name)! })));
    return new RangeLog(client, database, encoder);
  }

  /** Records one batch's range, once per table it writes to. */
  async record(
    group: string,
    topic: string,
    partition: number,
    range: OffsetRange,
    tables: string[],
  ): Promise<void> {
    const now = Date.now();
    const { data, rejected } = this.encoder.encodeRows(
      tables.map((table) => ({
        group,
        topic,
        partition,
        first_offset: range.first,
        last_offset: range.last,
        table,
        created_at: now,
      })),
    );
    if (rejected.length) throw new Error(`cannot encode an ingest_batches row: ${rejected[0]!.reason}`);
    await insertRowBinary(this.client, {
      database: this.database,
      table: INGEST_BATCHES,
      columns: this.encoder.columns,
      data,
      clickhouse_settings: { async_insert: 0 },
    });
  }

  /**
   * The recorded ranges a replay from `from` must reproduce, in order. When a range was recorded
   * again with other bounds (a replay that had to re-cut), the newest recording wins. Ranges
   * starting before `from` belong to committed messages and are left out.
   */
  async load(group: string, topic: string, partition: number, from: string): Promise<OffsetRange[]> {
    const rs = await this.client.query({
      query: `SELECT toString(first_offset) AS first, toString(argMax(last_offset, created_at)) AS last
        FROM ${quoteIdent(this.database)}.${quoteIdent(INGEST_BATCHES)}
        WHERE \`group\` = {group:String} AND topic = {topic:String} AND \`partition\` = {partition:UInt32}
          AND first_offset >= {from:UInt64}
        GROUP BY first_offset
        ORDER BY first_offset`,
      query_params: { group, topic, partition, from },
      format: 'JSONEachRow',
    });
    const rows = await rs.json<OffsetRange>();
    // Overlaps cannot come from one writer; if a misconfiguration made some, the first wins.
    const out: OffsetRange[] = [];
    for (const r of rows) {
      const prev = out[out.length - 1];
      if (prev && compareOffsets(r.first, prev.last) <= 0) continue;
      out.push(r);
    }
    return out;
  }
}
