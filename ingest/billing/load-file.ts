import type { Bus, OutgoingRecord } from '../../core/bus/types.ts';
import { TOPICS } from '../../core/bus/topics.ts';
import type { ClickHouseClient } from '../../core/clickhouse/client.ts';
import type { BillingLine } from '../../core/model/records.ts';
import { billingKey } from '../keys.ts';
import { writeBillingDeadLetters } from './dead-letters.ts';
import { FocusFileError, parseFocusCsv } from './focus.ts';
import { openBillingFile } from './open-file.ts';

/**
 * Loads one FOCUS file: parse, publish each batch (awaited: the bus's backpressure paces the
 * parse), dead-letter the bad rows. `beforePeriod` runs before the first row of each billing
 * period is published, so a restatement can delete that period's old rows first.
 */

export interface LoadTarget {
  bus: Bus;
  clickhouse: ClickHouseClient;
  topic?: string;
}

export interface LoadFileOptions {
  sourceName: string;
  /** Path on disk. */
  path: string;
  /** What SourceFile and dead letters call it (the path relative to the watched directory). */
  sourceFile: string;
  batchSize?: number;
  beforePeriod?: (billingPeriodStart: string) => Promise<void>;
  onBatch?: (accepted: number, rejected: number) => void;
}

export interface LoadResult {
  rows: number;
  rejected: number;
  /** Distinct BillingPeriodStart values, ISO 8601. */
  periods: string[];
}

export async function loadFocusFile(t: LoadTarget, o: LoadFileOptions): Promise<LoadResult> {
  const topic = t.topic ?? TOPICS.billing;
  const periods = new Set<string>();
  let rows = 0;
  let rejected = 0;
  const input = await openBillingFile(o.path);
  const batches = parseFocusCsv(input, {
    sourceName: o.sourceName,
    sourceFile: o.sourceFile,
    batchSize: o.batchSize,
  });
  try {
    for await (const { lines, problems } of batches) {
      for (const l of lines) {
        if (periods.has(l.BillingPeriodStart)) continue;
        await o.beforePeriod?.(l.BillingPeriodStart);
        periods.add(l.BillingPeriodStart);
      }
      const records: OutgoingRecord<BillingLine>[] = lines.map((l) => ({ key: billingKey(l), value: l }));
      if (records.length) await t.bus.publish(topic, records);
      await writeBillingDeadLetters(t.clickhouse, o.sourceName, o.sourceFile, problems);
      rows += lines.length;
      rejected += problems.length;
      o.onBatch?.(lines.length, problems.length);
    }
  } catch (err) {
    // A gzip or read error mid-file is about this file; name it.
    if (err instanceof FocusFileError || !(err instanceof Error)) throw err;
    if ((err as NodeJS.ErrnoException).code?.startsWith('Z_') || /unexpected end of file/i.test(err.message))
      throw new FocusFileError(`${o.sourceFile}: ${err.message} (after ${rows + rejected} records)`);
    throw err;
  }
  return { rows, rejected, periods: [...periods].sort() };
}
