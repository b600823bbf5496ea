import type { ClickHouseClient } from '../../core/clickhouse/client.ts';
import { TOPICS } from '../../core/bus/topics.ts';
import { DEAD_LETTERS } from '../writer/dead-letters.ts';
import type { FocusProblem } from './focus.ts';

/**
 * Bad rows of a billing file go straight to dead_letters (they never reach the bus, so the
 * writer cannot put them there): topic opsight.billing, partition 0, offset = the file line,
 * key = the file, reason `file:line: problem` (`file: problem` for the whole file, line 0),
 * payload = the record as read.
 */

const MAX_PAYLOAD = 64 * 1024;

function utcText(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
}

export async function writeBillingDeadLetters(
  client: ClickHouseClient,
  source: string,
  file: string,
  problems: readonly FocusProblem[],
): Promise<void> {
  if (!problems.length) return;
  const receivedAt = utcText(Date.now());
  await client.insert({
    table: DEAD_LETTERS,
    format: 'JSONEachRow',
    values: problems.map((p) => {
      const payload = JSON.stringify(p.record);
      return {
        received_at: receivedAt,
        topic: TOPICS.billing,
        partition: 0,
        offset: p.line,
        key: file,
        source,
        reason: `${file}${p.line > 0 ? `:${p.line}` : ''}: ${p.reason}`,
        payload: payload.length > MAX_PAYLOAD ? `${payload.slice(0, MAX_PAYLOAD)}...(truncated)` : payload,
      };
    }),
  });
}
