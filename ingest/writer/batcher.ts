import type { BusMessage } from '../../core/bus/types.ts';
import type { CompiledNativeEncoder } from '../../core/clickhouse/native.ts';
import type { CompiledEncoder, Rejection } from '../../core/clickhouse/rowbinary.ts';
import type { TopicMapping } from './mapping.ts';
import type { OffsetRange } from './ranges.ts';

/**
 * Builds one batch of a (topic, partition): routes each message's record(s) to a table, encodes
 * them into that table's Native columns (or RowBinary buffer) and keeps, per row, the message it came from (for
 * dead letters and for bisecting a rejected insert). Records that do not fit go to the batch's
 * dead letters with the reason; the rest of the batch is unaffected.
 */

export type InsertFormat = 'Native' | 'RowBinary';

export interface CompiledTable {
  table: string;
  /** Native when the table's types allow it and the config asks for it; else RowBinary. */
  encoder:
    | { format: 'RowBinary'; compiled: CompiledEncoder<unknown> }
    | { format: 'Native'; compiled: CompiledNativeEncoder<unknown> };
}

export interface TableRows {
  table: string;
  columns: readonly string[];
  format: InsertFormat;
  rows: number;
  /** Encoded size (approximate for Native). */
  bytes: number;
  /** The INSERT body of rows [lo, hi): a slice of the RowBinary buffer, or a Native block. */
  piece(lo: number, hi: number): Buffer;
  /** The message each row came from. */
  messages: BusMessage[];
}

/** What the batcher needs of either encoder. */
interface RowSink {
  readonly rows: number;
  readonly bytes: number;
  append(record: unknown, group?: object): Rejection | undefined;
}

export interface DeadLetter {
  message: BusMessage;
  /** The record refused, when the message carries several; else the message's value is. */
  record?: unknown;
  reason: string;
  /** What refused it: the table, or the topic's mapping. */
  source: string;
}

export interface ClosedBatch {
  topic: string;
  partition: number;
  range: OffsetRange;
  tables: TableRows[];
  deadLetters: DeadLetter[];
  messages: number;
  rows: number;
  bytes: number;
}

interface OpenTable {
  compiled: CompiledTable;
  encoder: RowSink;
  /** Ends the encoder's rows: their count, size and piece function. */
  take: () => Pick<TableRows, 'rows' | 'bytes' | 'piece'>;
  messages: BusMessage[];
}

function openTable(c: CompiledTable): OpenTable {
  if (c.encoder.format === 'Native') {
    const enc = c.encoder.compiled.create();
    return {
      compiled: c,
      encoder: enc,
      messages: [],
      take: () => {
        const block = enc.finish();
        return { rows: block.rows, bytes: block.bytes, piece: (lo, hi) => block.encode(lo, hi) };
      },
    };
  }
  const enc = c.encoder.compiled.create();
  return {
    compiled: c,
    encoder: enc,
    messages: [],
    take: () => {
      const { data, rowStarts, rows } = enc.finish();
      return {
        rows,
        bytes: data.length,
        piece: (lo, hi) => data.subarray(rowStarts[lo]!, hi < rows ? rowStarts[hi]! : data.length),
      };
    },
  };
}

/** Rows between two sums of the encoders' sizes (see BatchBuilder.bytes). */
const BYTES_EVERY = 64;

export class BatchBuilder {
  private readonly tables: OpenTable[];
  /** Routes of groups (they outlive a batch: a group's route never changes). */
  private readonly routes = new WeakMap<object, number | string>();
  private deadLetters: DeadLetter[] = [];
  private first: string | undefined;
  private last: string | undefined;
  private count = 0;
  /** Publish time of the batch's first message, for maxAgeMs. */
  oldest = 0;
  rows = 0;

  constructor(
    private readonly mapping: TopicMapping<unknown>,
    compiled: CompiledTable[],
    private readonly topic: string,
    private readonly partition: number,
  ) {
    this.tables = compiled.map(openTable);
  }

  /**
   * Encoded bytes of the open batch (approximate for Native columns). Summing every column of
   * every table costs more than encoding a small row, and the writer asks after each message,
   * so the sum is refreshed every BYTES_EVERY rows: maxBytes may be overshot by that many rows.
   */
  get bytes(): number {
    if (this.rows - this.bytesAtRows >= BYTES_EVERY || this.rows < this.bytesAtRows) {
      let b = 0;
      for (const t of this.tables) b += t.encoder.bytes;
      this.bytesCached = b;
      this.bytesAtRows = this.rows;
    }
    return this.bytesCached;
  }

  private bytesCached = 0;
  private bytesAtRows = 0;

  get empty(): boolean {
    return this.count === 0;
  }

  get firstOffset(): string | undefined {
    return this.first;
  }

  add(message: BusMessage): void {
    if (this.count === 0) {
      this.first = message.offset;
      this.oldest = message.timestamp;
    }
    this.last = message.offset;
    this.count++;
    const value = message.value;
    // A message may carry one record, an array of them or a packed form (rows share the offset).
    if (this.mapping.expand?.(value, (record, group) => this.addRecord(message, record, true, group))) return;
    if (Array.isArray(value)) for (const record of value) this.addRecord(message, record, true);
    else this.addRecord(message, value, false);
  }

  /**
   * `ofMany`: the record is one of several in its message, so a dead letter names it alone.
   * `group`: see TopicMapping.expand; its route is computed once.
   */
  private addRecord(message: BusMessage, record: unknown, ofMany: boolean, group?: object): void {
    let target: number | string | undefined;
    if (group === undefined) target = this.mapping.route(record);
    else {
      target = this.routes.get(group);
      if (target === undefined) this.routes.set(group, (target = this.mapping.route(record)));
    }
    if (typeof target === 'string') {
      this.deadLetters.push({
        message,
        ...(ofMany ? { record } : {}),
        reason: target,
        source: `writer:${this.topic}`,
      });
      return;
    }
    const t = this.tables[target];
    if (!t) throw new Error(`${this.topic} mapping routed to table #${target}, which it does not declare`);
    const rejected = t.encoder.append(record, group);
    if (rejected) {
      this.deadLetters.push({
        message,
        ...(ofMany ? { record } : {}),
        reason: `${t.compiled.table}.${rejected.column}: ${rejected.reason}`,
        source: `writer:${t.compiled.table}`,
      });
      return;
    }
    t.messages.push(message);
    this.rows++;
  }

  /** Ends the batch. `range` overrides the messages' own bounds (a recorded range on replay). */
  close(range?: OffsetRange): ClosedBatch {
    if (this.first === undefined || this.last === undefined) throw new Error('closing an empty batch');
    const tables: TableRows[] = [];
    let bytes = 0;
    for (const t of this.tables) {
      if (t.encoder.rows === 0) continue;
      const taken = t.take();
      bytes += taken.bytes;
      tables.push({
        table: t.compiled.table,
        columns: t.compiled.encoder.compiled.columns,
        format: t.compiled.encoder.format,
        ...taken,
        messages: t.messages,
      });
      t.messages = [];
    }
    const batch: ClosedBatch = {
      topic: this.topic,
      partition: this.partition,
      range: range ?? { first: this.first, last: this.last },
      tables,
      deadLetters: this.deadLetters,
      messages: this.count,
      rows: this.rows,
      bytes,
    };
    this.deadLetters = [];
    this.first = undefined;
    this.last = undefined;
    this.count = 0;
    this.rows = 0;
    this.oldest = 0;
    this.bytesCached = 0;
    this.bytesAtRows = 0;
    return batch;
  }
}
