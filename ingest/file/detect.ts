import { basename } from 'node:path';
import { BILLING_FORMATS, type BillingFormat } from '../../core/config/ingest/billing.ts';

/**
 * What a file holds, told from its name and first bytes when the user does not say:
 * billing exports (CSV, CSV.gz, Parquet; the billing loader tells the provider format itself),
 * log files (JSON lines, OTLP JSON, plain text) and metrics (Prometheus / OpenMetrics text,
 * OTLP JSON).
 */

export const FILE_KINDS = ['metrics', 'logs', 'billing'] as const;
export type FileKind = (typeof FILE_KINDS)[number];

export const LOG_FORMATS = ['jsonl', 'text', 'otlp'] as const;
export const METRIC_FORMATS = ['prometheus', 'openmetrics', 'otlp'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
export type MetricFormat = (typeof METRIC_FORMATS)[number];

export type FileFormat =
  | { kind: 'billing'; format: BillingFormat }
  | { kind: 'logs'; format: LogFormat }
  | { kind: 'metrics'; format: MetricFormat };

export class UsageError extends Error {}

const FORMATS: Record<FileKind, readonly string[]> = {
  billing: BILLING_FORMATS,
  logs: LOG_FORMATS,
  metrics: METRIC_FORMATS,
};

/** A Prometheus sample line: name, optional {labels}, a value. */
const SAMPLE = /^[A-Za-z_:][A-Za-z0-9_:]*(\{.*\})?\s+[-+0-9.eEINnaf]+(\s+-?\d+(\.\d+)?)?\s*$/;

function firstLines(head: string, n: number): string[] {
  return head
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(0, n);
}

function otlpSignal(head: string): 'logs' | 'metrics' | undefined {
  if (/"resourceLogs"\s*:/.test(head)) return 'logs';
  if (/"resourceMetrics"\s*:/.test(head)) return 'metrics';
  return undefined;
}

function exposition(head: string): MetricFormat | undefined {
  const lines = firstLines(head, 20);
  if (!lines.length) return undefined;
  const meta = lines.some((l) => /^# (TYPE|HELP|UNIT) /.test(l)) || lines.at(-1) === '# EOF';
  const samples = lines.filter((l) => !l.startsWith('#'));
  if (!meta && !(samples.length && samples.every((l) => SAMPLE.test(l)))) return undefined;
  return /^# (UNIT |EOF$)/m.test(head) ? 'openmetrics' : 'prometheus';
}

function guess(path: string, head: string): FileFormat | undefined {
  const name = basename(path).toLowerCase();
  if (/\.(csv|csv\.gz|parquet)$/.test(name)) return { kind: 'billing', format: 'auto' };
  const signal = otlpSignal(head);
  if (signal === 'logs') return { kind: 'logs', format: 'otlp' };
  if (signal === 'metrics') return { kind: 'metrics', format: 'otlp' };
  const metrics = exposition(head);
  if (metrics) return { kind: 'metrics', format: metrics };
  const first = firstLines(head, 1)[0];
  if (first?.startsWith('{') || first?.startsWith('[') || /\.(jsonl|ndjson|json)$/.test(name))
    return { kind: 'logs', format: 'jsonl' };
  if (/\.(log|txt|out)$/.test(name) || head.length) return { kind: 'logs', format: 'text' };
  return undefined;
}

/** The kind and format to load; given ones are checked, missing ones detected. */
export function detectFormat(path: string, head: string, kind?: string, format?: string): FileFormat {
  if (kind !== undefined && !(FILE_KINDS as readonly string[]).includes(kind))
    throw new UsageError(`--kind ${kind}: expected one of ${FILE_KINDS.join(', ')}`);
  if (kind && format) {
    if (!FORMATS[kind as FileKind].includes(format))
      throw new UsageError(
        `--format ${format} is not a ${kind} format (${FORMATS[kind as FileKind].join(', ')})`,
      );
    return { kind, format } as FileFormat;
  }
  if (format) {
    const kinds = FILE_KINDS.filter((k) => FORMATS[k].includes(format));
    if (!kinds.length)
      throw new UsageError(
        `--format ${format}: unknown (${FILE_KINDS.map((k) => `${k}: ${FORMATS[k].join(', ')}`).join('; ')})`,
      );
    const g = guess(path, head);
    const k = g && kinds.includes(g.kind) ? g.kind : kinds[0]!;
    return { kind: k, format } as FileFormat;
  }
  const g = guess(path, head);
  if (!g) throw new UsageError(`${path}: cannot tell what the file holds (empty?); give --kind and --format`);
  if (kind && g.kind !== kind) {
    // The user's kind wins; pick that kind's most general format.
    if (kind === 'billing') return { kind, format: 'auto' };
    if (kind === 'logs') return { kind, format: head.trimStart().startsWith('{') ? 'jsonl' : 'text' };
    return { kind: 'metrics', format: exposition(head) ?? 'prometheus' };
  }
  return g;
}
