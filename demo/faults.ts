import { FAULTS } from './estate.ts';

/**
 * The three injected faults, as effects on what each service would emit at a simulated time:
 * - the orders-db outage (switched on and off by the run, in real time, since the health
 *   rules judge the last minutes of wall-clock time): the database stops answering, its
 *   dependents fail with 5xx, slow down and log connection errors, checkout fails with them;
 * - the recommendation memory leak, from five minutes after its 3.8.0 deployment
 *   (CHG0031402, 50 min before the anchor): heap grows ~45 MB a minute until OutOfMemoryErrors;
 * - the runaway autoscaling of search-indexer-asg yesterday, which only shows in billing
 *   (generate/billing.ts).
 */

const MIN = 60_000;
const MB = 1024 * 1024;

export interface Conditions {
  /** The simulated time the live part starts from; the changes and the leak are placed from it. */
  anchor: number;
  /** orders-db is down. */
  outage: boolean;
}

export interface Effects {
  down: boolean;
  /** Share of requests failing with 5xx. */
  errorShare: number;
  /** Latency of failing requests (s), when they fail slowly. */
  errorLatency: number;
  /** Extra resident memory (bytes). */
  memoryExtra: number;
  /** Extra log lines at this time: [severity, text]. */
  errorLogs: [severity: 'error' | 'fatal', text: string][];
}

const NONE: Effects = { down: false, errorShare: 0, errorLatency: 0, memoryExtra: 0, errorLogs: [] };

export const LEAK_START_MIN = -45;
export const OOM_FROM_MIN = -12;

export function effects(service: string, simMs: number, c: Conditions): Effects {
  if (service === FAULTS.leak.ci) {
    const since = (simMs - c.anchor) / MIN - LEAK_START_MIN;
    if (since <= 0) return NONE;
    const oom = (simMs - c.anchor) / MIN >= OOM_FROM_MIN;
    return {
      ...NONE,
      memoryExtra: since * 45 * MB,
      errorLogs: oom
        ? [
            [
              'error',
              'java.lang.OutOfMemoryError: Java heap space at EmbeddingCache.put(EmbeddingCache.java:212)',
            ],
          ]
        : [],
    };
  }
  if (!c.outage) return NONE;
  switch (service) {
    case FAULTS.outage.ci:
      return {
        ...NONE,
        down: true,
        errorLogs: [
          ['fatal', 'PANIC: could not write to file "pg_wal/xlogtemp.8231": No space left on device'],
        ],
      };
    case 'orders':
      return {
        ...NONE,
        errorShare: 0.85,
        errorLatency: 3,
        errorLogs: [['error', 'could not connect to orders-db:5432: connection refused']],
      };
    case 'invoicing':
      return {
        ...NONE,
        errorShare: 0.9,
        errorLatency: 2,
        errorLogs: [['error', 'invoice run failed: database orders-db unavailable: connection refused']],
      };
    case 'checkout':
      return {
        ...NONE,
        errorShare: 0.6,
        errorLatency: 4,
        errorLogs: [['error', 'upstream orders returned 503 Service Unavailable for order placement']],
      };
    case 'storefront':
      // Only checkout pages go through orders: a ripple below the alerting thresholds.
      return { ...NONE, errorShare: 0.012, errorLatency: 4 };
    default:
      return NONE;
  }
}
