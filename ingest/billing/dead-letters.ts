import type { ClickHouseClient } from '../../core/clickhouse/client.ts';
import { TOPICS } from '../../core/bus/topics.ts';
import { deadLetterRow, insertDeadLetters } from '../dead-letters.ts';
import type { FocusProblem } from './focus.ts';

/**
 * Bad rows of a billing file go straight to dead_letters (they never reach the bus, so the
 * writer cannot put them there): topic opsight.billing, partition 0, offset = the file line,
 * key = the file, reason `file:line: problem` (`file: problem` for the whole file, line 0),
 * payload = the record as read. Rows as every source's dead letters (ingest/dead-letters.ts),
 * but inserted before this resolves: the file counts as loaded only once they are stored.
 */
export async function writeBillingDeadLetters(
  client: ClickHouseClient,
  source: string,
  file: string,
  problems: readonly FocusProblem[],
): Promise<void> {
  if (!problems.length) return;
  const receivedAt = Date.now();
  await insertDeadLetters(
    client,
    problems.map((p) =>
      deadLetterRow(
        { source, topic: TOPICS.billing, file, line: p.line, reason: p.reason, payload: p.record },
        receivedAt,
      ),
    ),
  );
}
