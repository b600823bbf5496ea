import { withClickHouse } from '../../core/clickhouse/session.ts';
import type { Config } from '../../core/config/schema.ts';
import { backfill, formatBackfill } from '../backfill.ts';

/** `opsight detect backfill`: where the anomaly core would have fired on a metric's stored history. */

export class BackfillUsageError extends Error {
  override readonly name = 'BackfillUsageError';
}

const UNITS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `7d`, `36h`, `90m`, `2w` → milliseconds. */
export function parseDuration(s: string): number {
  const m = /^(\d+(?:\.\d+)?)([mhdw])$/.exec(s.trim());
  if (!m) throw new BackfillUsageError(`--since ${JSON.stringify(s)}: a duration such as 90m, 36h, 7d or 2w`);
  return Number(m[1]) * UNITS[m[2]!]!;
}

function parseTime(flag: string, s: string): number {
  const ms = /^\d+$/.test(s) ? Number(s) * (s.length <= 10 ? 1000 : 1) : Date.parse(s);
  if (!Number.isFinite(ms))
    throw new BackfillUsageError(`${flag} ${JSON.stringify(s)}: an RFC 3339 time or Unix seconds`);
  return ms;
}

export interface BackfillCliOptions {
  metric: string;
  service?: string;
  since?: string;
  from?: string;
  to?: string;
  minScore?: string;
  maxSeries?: string;
  json?: boolean;
}

export async function runBackfill(
  config: Config,
  o: BackfillCliOptions,
  out: (s: string) => void = (s) => process.stdout.write(s),
  now = Date.now(),
): Promise<number> {
  const toMs = o.to ? parseTime('--to', o.to) : now;
  const fromMs = o.from ? parseTime('--from', o.from) : toMs - parseDuration(o.since ?? '7d');
  if (fromMs >= toMs) throw new BackfillUsageError('the window is empty: --from must be before --to');
  const minScore = Number(o.minScore ?? 0.5);
  if (!(minScore > 0 && minScore <= 1)) throw new BackfillUsageError('--min-score: a number in (0, 1]');
  const maxSeries = Number(o.maxSeries ?? 1000);
  if (!(Number.isInteger(maxSeries) && maxSeries > 0))
    throw new BackfillUsageError('--max-series: a positive integer');
  const m = config.detect.metrics;
  return withClickHouse(config, async (client) => {
    const r = await backfill(client, {
      metric: o.metric,
      ...(o.service ? { service: o.service } : {}),
      fromMs,
      toMs,
      minScore,
      maxSeries,
      // The stream detector's configuration, so the answer is what it would have said.
      detector: { sensitivity: m.sensitivity, seasons: m.seasons, minHistory: m.minHistory },
    });
    out(o.json ? `${JSON.stringify(r)}\n` : formatBackfill(r));
    return 0;
  });
}
