import type { Bus } from '../core/bus/types.ts';
import type { ClickHouseClient } from '../core/clickhouse/client.ts';
import type { Config } from '../core/config/schema.ts';
import type { HttpApp } from '../core/http/app.ts';
import type { Logger } from '../core/log.ts';
import { sourceRecords } from '../core/metrics.ts';
import type { DeadLetterSink } from './dead-letters.ts';

/**
 * A source turns one foreign format into canonical records on the bus. Push sources (HTTP
 * receivers, syslog) mount routes or listen; pull sources (scrape, files, billing) run loops.
 * Adding a format is one new file implementing this and one line in ingest/sources.ts.
 */
export interface SourceContext {
  config: Config;
  bus: Bus;
  http: HttpApp;
  clickhouse: ClickHouseClient;
  log: Logger;
  /**
   * Where input that cannot become records goes (dead_letters): non-blocking, never throws.
   * Optional so contexts built by hand (tests, tools) stay valid; the ingest role sets it.
   */
  deadLetters?: DeadLetterSink;
}

export interface SourceState {
  name: string;
  kind: string;
  received: number;
  accepted: number;
  rejected: number;
  lastError?: { at: string; message: string };
  /** Seconds behind the newest input, where the source can tell (files, billing). */
  lagSeconds?: number;
}

export interface Source {
  readonly name: string;
  readonly kind: string;
  /** Mount routes / open listeners / start loops. Called before the HTTP server listens. */
  start(ctx: SourceContext): Promise<void>;
  /** Stop taking input and finish what was received (publish it). */
  stop(): Promise<void>;
  state(): SourceState;
}

/** Counters every source keeps; also feeds opsight_source_records_total on /metrics. */
export class SourceStats {
  received = 0;
  accepted = 0;
  rejected = 0;
  lastError: { at: string; message: string } | undefined;
  lagSeconds: number | undefined;

  constructor(
    readonly name: string,
    readonly kind: string,
  ) {}

  receive(n: number): void {
    this.received += n;
    sourceRecords.inc({ source: this.name, outcome: 'received' }, n);
  }

  accept(n: number): void {
    this.accepted += n;
    sourceRecords.inc({ source: this.name, outcome: 'accepted' }, n);
  }

  reject(n: number, message: string): void {
    this.rejected += n;
    this.lastError = { at: new Date().toISOString(), message };
    sourceRecords.inc({ source: this.name, outcome: 'rejected' }, n);
  }

  state(): SourceState {
    return {
      name: this.name,
      kind: this.kind,
      received: this.received,
      accepted: this.accepted,
      rejected: this.rejected,
      ...(this.lastError ? { lastError: this.lastError } : {}),
      ...(this.lagSeconds !== undefined ? { lagSeconds: this.lagSeconds } : {}),
    };
  }
}
