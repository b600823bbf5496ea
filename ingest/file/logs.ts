import { basename } from 'node:path';
import type { LogRecord } from '../../core/model/records.ts';
import { parseJsonl } from '../logs/jsonl.ts';
import { rfc3339Nanos } from '../logs/normalize.ts';
import { fromText } from '../logs/severity.ts';
import { decodeRequest } from '../otlp/codec.ts';
import { convertLogs } from '../otlp/logs.ts';
import type { LogFormat } from './detect.ts';
import { numberedLines, otlpRequests, type BadLine, type Parsed } from './lines.ts';

/**
 * A log file -> LogRecords. JSON lines go through the /api/v1/logs/jsonl parser (same fields and
 * aliases); plain text is one record a line, with a leading RFC 3339 time and severity word
 * taken when present; OTLP JSON through the OTLP receiver's conversion.
 */

export interface LogFileOptions {
  path: string;
  format: LogFormat;
  /** service.name of text lines (and JSON lines without one); default: the file's base name. */
  service?: string;
  serviceNameAttributes: readonly string[];
  nowNanos: bigint;
}

/** `2024-09-01T12:00:00Z ERROR message` / `2024-09-01 12:00:00.123 [warn] message` */
const TEXT_PREFIX =
  /^(\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?)\s+(?:\[?([A-Za-z]+)\]?:?\s+)?/;

export function defaultService(path: string): string {
  return basename(path).replace(/\.(log|txt|out|jsonl|ndjson|json)$/i, '');
}

function textRecord(text: string, service: string, file: string, nowNanos: bigint): LogRecord {
  let time = nowNanos;
  let severity = { number: 0, text: '' };
  let body = text;
  const m = TEXT_PREFIX.exec(text);
  const at = m ? rfc3339Nanos(m[1]!.replace(' ', 'T')) : undefined;
  if (m && at !== undefined) {
    time = at;
    const sev = m[2] ? fromText(m[2]) : undefined;
    if (sev) severity = sev;
    body = sev ? text.slice(m[0].length) : text.slice(m[1]!.length).trimStart();
  }
  return {
    timeUnixNano: time.toString(),
    observedTimeUnixNano: nowNanos.toString(),
    severityNumber: severity.number,
    severityText: severity.text,
    body,
    resource: { 'service.name': service },
    attributes: { 'log.file.name': basename(file), 'log.file.path': file },
    serviceName: service,
  };
}

export function parseLogFile(text: string, o: LogFileOptions): Parsed<LogRecord> {
  const service = o.service ?? defaultService(o.path);
  if (o.format === 'text') {
    const records: LogRecord[] = [];
    for (const { text: t } of numberedLines(text)) records.push(textRecord(t, service, o.path, o.nowNanos));
    return { records, bad: [], rejected: 0 };
  }
  if (o.format === 'jsonl') {
    const r = parseJsonl(text, {
      serviceNameAttributes: o.serviceNameAttributes,
      maxErrors: 0,
      nowNanos: o.nowNanos,
    });
    for (const rec of r.records) {
      if (!rec.serviceName && o.service !== undefined) {
        rec.serviceName = o.service;
        rec.resource['service.name'] = o.service;
      }
    }
    const bad = (r.bad ?? []).map((b) => ({ line: b.line, message: b.message, text: b.text }));
    return { records: r.records, bad, rejected: r.rejected };
  }
  const records: LogRecord[] = [];
  const bad: BadLine[] = [];
  let rejected = 0;
  otlpRequests(text, (json, line) => {
    try {
      const c = convertLogs(decodeRequest('logs', 'json', json));
      records.push(...c.items);
      rejected += c.rejected.count;
      if (c.rejected.count)
        bad.push({
          line,
          message: `${c.rejected.count} log records refused: ${c.rejected.message()}`,
          text: '',
        });
    } catch (err) {
      rejected++;
      bad.push({ line, message: (err as Error).message, text: json.toString('utf8') });
    }
  });
  return { records, bad, rejected };
}
