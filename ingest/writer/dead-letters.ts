import type { ClickHouseClient } from '@clickhouse/client';
import { compileEncoder, describeTable, type CompiledEncoder } from '../../core/clickhouse/rowbinary.ts';
import type { DeadLetter } from './batcher.ts';

/** dead_letters: every record the pipeline could not store, with the reason and the payload. */

export const DEAD_LETTERS = 'dead_letters';

/** Enough to see what was wrong; a multi-megabyte record would only bloat the table. */
const MAX_PAYLOAD = 1024 * 1024;
const MAX_REASON = 4096;

function payloadOf(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) ?? 'null';
  } catch {
    text = String(value);
  }
  return text.length > MAX_PAYLOAD
    ? `${text.slice(0, MAX_PAYLOAD)}...(truncated, ${text.length} chars)`
    : text;
}

interface Row {
  letter: DeadLetter;
  receivedAt: number;
}

const GETTERS: Record<string, (r: Row) => unknown> = {
  received_at: (r) => r.receivedAt,
  topic: (r) => r.letter.message.topic,
  partition: (r) => r.letter.message.partition,
  offset: (r) => r.letter.message.offset,
  key: (r) => r.letter.message.key ?? '',
  source: (r) => r.letter.source,
  reason: (r) => r.letter.reason.slice(0, MAX_REASON),
  payload: (r) => payloadOf('record' in r.letter ? r.letter.record : r.letter.message.value),
};

export class DeadLetterEncoder {
  private constructor(private readonly encoder: CompiledEncoder<Row>) {}

  static async open(client: ClickHouseClient, database: string): Promise<DeadLetterEncoder> {
    const columns = await describeTable(client, database, DEAD_LETTERS);
    const known = columns.filter((c) => Object.hasOwn(GETTERS, c.name));
    for (const name of ['topic', 'partition', 'offset', 'reason', 'payload']) {
      if (!known.some((c) => c.name === name))
        throw new Error(`${database}.${DEAD_LETTERS} lacks column ${name}`);
    }
    return new DeadLetterEncoder(
      compileEncoder<Row>(
        known.map((c) => ({ name: c.name, type: c.type, get: GETTERS[c.name], optional: true })),
      ),
    );
  }

  get columns(): readonly string[] {
    return this.encoder.columns;
  }

  encode(letters: readonly DeadLetter[]): Buffer {
    const receivedAt = Date.now();
    const { data, rejected } = this.encoder.encodeRows(letters.map((letter) => ({ letter, receivedAt })));
    // Only a schema change could make these fail; say so rather than lose the record silently.
    if (rejected.length)
      throw new Error(`cannot encode a dead letter: ${rejected[0]!.column}: ${rejected[0]!.reason}`);
    return data;
  }
}
