/**
 * Severity normalisation onto OpenTelemetry severity numbers (1..24, 0 unspecified).
 *
 * Rules (documented in the README):
 * - text: the usual level names of logging libraries, syslog keywords and OTel's own names
 *   (`INFO2`, `ERROR3` ...), case-insensitive;
 * - a number in an OTel field (`severity`, `severity_number`, `severityNumber`) is an OTel
 *   severity number 1..24;
 * - a number in `level` is a pino/bunyan level (10 trace, 20 debug, 30 info, 40 warn,
 *   50 error, 60 fatal) when it is one of those, else an OTel number;
 * - a number in `syslog.severity` / `syslog_severity` is a syslog severity 0..7.
 * Syslog severities map as the OpenTelemetry Collector's syslog parser does.
 */

export interface Severity {
  number: number;
  text: string;
}

const BASE: Record<string, number> = { TRACE: 1, DEBUG: 5, INFO: 9, WARN: 13, ERROR: 17, FATAL: 21 };

/** OTel text for a number: the base name, with the step (2..4) appended as OTel does. */
export function otelText(n: number): string {
  if (n < 1 || n > 24) return '';
  const base = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'][Math.floor((n - 1) / 4)]!;
  const step = ((n - 1) % 4) + 1;
  return step === 1 ? base : `${base}${step}`;
}

/** syslog severity 0..7 (emerg..debug) -> OTel number. */
export const SYSLOG_TO_OTEL = [22, 21, 18, 17, 13, 10, 9, 5] as const;
const SYSLOG_NAMES = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'] as const;

export function fromSyslog(severity: number): Severity {
  const n = SYSLOG_TO_OTEL[severity] ?? 0;
  return { number: n, text: SYSLOG_NAMES[severity] ?? '' };
}

const WORDS: Record<string, number> = {
  trace: 1,
  finest: 1,
  verbose: 2,
  finer: 2,
  fine: 3,
  debug: 5,
  dbug: 5,
  d: 5,
  config: 7,
  info: 9,
  information: 9,
  informational: 9,
  i: 9,
  notice: 10,
  warn: 13,
  warning: 13,
  w: 13,
  error: 17,
  err: 17,
  eror: 17,
  e: 17,
  severe: 17,
  crit: 18,
  critical: 18,
  alert: 21,
  fatal: 21,
  f: 21,
  panic: 21,
  emerg: 22,
  emergency: 22,
};

const OTEL_NAME = /^(TRACE|DEBUG|INFO|WARN|ERROR|FATAL)([1-4])$/;

/** Text -> severity; the original text is kept (as OTel does) when it is recognised. */
export function fromText(raw: string): Severity | undefined {
  const t = raw.trim();
  const word = WORDS[t.toLowerCase()];
  if (word !== undefined) return { number: word, text: t };
  const m = OTEL_NAME.exec(t.toUpperCase());
  if (m) return { number: BASE[m[1]!]! + Number(m[2]) - 1, text: t };
  return undefined;
}

const PINO: Record<number, number> = { 10: 1, 20: 5, 30: 9, 40: 13, 50: 17, 60: 21 };

export type NumberKind = 'otel' | 'pino' | 'syslog';

export function fromNumber(n: number, kind: NumberKind): Severity | undefined {
  if (!Number.isInteger(n)) return undefined;
  if (kind === 'syslog') return n >= 0 && n <= 7 ? fromSyslog(n) : undefined;
  if (kind === 'pino' && PINO[n] !== undefined) return { number: PINO[n], text: otelText(PINO[n]) };
  if (n >= 1 && n <= 24) return { number: n, text: otelText(n) };
  return undefined;
}

/**
 * Level words repeat on nearly every line: their answers are remembered (frozen, shared), so a
 * line costs one lookup instead of trim, a regex, lower-casing and a new object. Bounded (1024
 * short strings).
 */
const textCache = new Map<string, Readonly<Severity> | null>();

/** A severity field's value of any JSON type; numeric strings count as numbers. */
export function parseSeverity(value: unknown, kind: NumberKind): Severity | undefined {
  if (typeof value === 'number') return fromNumber(value, kind);
  if (typeof value !== 'string') return undefined;
  const cached = textCache.get(value);
  if (cached !== undefined) return cached ?? undefined;
  // Numeric strings depend on kind and are not cached.
  if (/^\d{1,2}$/.test(value.trim())) return fromNumber(Number(value), kind);
  const s = fromText(value);
  if (value.length > 32) return s; // not a level word: not worth keeping
  if (textCache.size >= 1024) textCache.clear();
  textCache.set(value, s ? Object.freeze(s) : null);
  return s;
}
