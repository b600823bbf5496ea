import type { Bus } from '../core/bus/types.ts';
import type { ClickHouseClient } from '../core/clickhouse/client.ts';
import type { Config } from '../core/config/schema.ts';
import type { Logger } from '../core/log.ts';
import type { AlertSink } from './alerts/sink.ts';
import type { StateStore } from '../core/state/store.ts';

/**
 * A detector reads the bus (streaming) or ClickHouse (batch), keeps per-key state and raises
 * alerts through the sink. Adding one is one new file implementing this and one line in
 * detect/detectors.ts.
 */
export interface DetectorContext {
  config: Config;
  bus: Bus;
  clickhouse: ClickHouseClient;
  log: Logger;
  alerts: AlertSink;
  state: StateStore;
}

export interface DetectorStats {
  name: string;
  /** Series (or templates, or cost series) with state. */
  tracked: number;
  /** Points, lines or rows scored since start. */
  scored: number;
  /** Alerts currently firing. */
  firing: number;
  lastError?: { at: string; message: string };
}

export interface Detector {
  readonly name: string;
  /**
   * A batch detector (reads ClickHouse on a timer): with several detect replicas only the
   * elected leader runs it, else every replica would raise the same alerts. Stream detectors
   * run on every replica; their consumer groups split the partitions.
   */
  readonly leaderOnly?: boolean;
  start(ctx: DetectorContext): Promise<void>;
  /** Stop consuming, flush state, resolve nothing (alerts stay as they are across restarts). */
  stop(): Promise<void>;
  stats(): DetectorStats;
}
