/**
 * What the writer reports, as plain callbacks: /metrics wires them to prom-client
 * (prometheusWriterEvents in prom.ts), tests and the benchmark count with WriterCounters.
 * Every callback is optional and must be cheap: they run on the write path.
 */
export interface WriterEvents {
  /** Messages taken from the bus (before mapping). */
  received?(topic: string, messages: number): void;
  /** One insert acknowledged by ClickHouse (a batch, or a piece of a bisected one). */
  inserted?(topic: string, table: string, rows: number, bytes: number, seconds: number): void;
  /** An insert failed on ClickHouse's side and will be retried after delayMs. */
  retry?(table: string, error: string, delayMs: number): void;
  /** Records stored in dead_letters, with the first reason. */
  deadLettered?(topic: string, count: number, reason: string): void;
  /** A handler finished: every insert of its batches acknowledged, the bus may commit. */
  committed?(topic: string, partition: number, messages: number): void;
}

/** In-memory totals and per-insert latencies. */
export class WriterCounters implements WriterEvents {
  readonly receivedByTopic = new Map<string, number>();
  readonly rowsByTable = new Map<string, number>();
  readonly deadLettersByTopic = new Map<string, number>();
  /** Seconds per acknowledged insert, in order. */
  readonly insertSeconds: number[] = [];
  readonly insertRows: number[] = [];
  retries = 0;
  committedMessages = 0;

  received(topic: string, messages: number): void {
    this.receivedByTopic.set(topic, (this.receivedByTopic.get(topic) ?? 0) + messages);
  }

  inserted(_topic: string, table: string, rows: number, _bytes: number, seconds: number): void {
    this.rowsByTable.set(table, (this.rowsByTable.get(table) ?? 0) + rows);
    this.insertSeconds.push(seconds);
    this.insertRows.push(rows);
  }

  retry(): void {
    this.retries++;
  }

  deadLettered(topic: string, count: number): void {
    this.deadLettersByTopic.set(topic, (this.deadLettersByTopic.get(topic) ?? 0) + count);
  }

  committed(_topic: string, _partition: number, messages: number): void {
    this.committedMessages += messages;
  }

  rows(table: string): number {
    return this.rowsByTable.get(table) ?? 0;
  }
}

/** Calls every sink in turn, so counters and Prometheus can both listen. */
export function combineEvents(...sinks: (WriterEvents | undefined)[]): WriterEvents {
  const list = sinks.filter((s): s is WriterEvents => s !== undefined);
  return {
    received: (...a) => list.forEach((s) => s.received?.(...a)),
    inserted: (...a) => list.forEach((s) => s.inserted?.(...a)),
    retry: (...a) => list.forEach((s) => s.retry?.(...a)),
    deadLettered: (...a) => list.forEach((s) => s.deadLettered?.(...a)),
    committed: (...a) => list.forEach((s) => s.committed?.(...a)),
  };
}
