import type { LogRecord } from '../../core/model/records.ts';
import type { Converted } from './metrics.ts';
import {
  Rejections,
  anyToString,
  attributes,
  enumValue,
  id,
  list,
  msg,
  scopeOf,
  str,
  u64,
  show,
} from './values.ts';

/** ExportLogsServiceRequest -> LogRecords; invalid records are counted, never thrown. */

// SEVERITY_NUMBER_* names by number, for OTLP JSON senders that write the enum's name.
const LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'];
const SEVERITY_NAMES = [
  'SEVERITY_NUMBER_UNSPECIFIED',
  ...LEVELS.flatMap((l) => ['', '2', '3', '4'].map((n) => `SEVERITY_NUMBER_${l}${n}`)),
];

function invalid(r: Record<string, unknown>): string | LogRecord {
  const time = u64(r, 'timeUnixNano');
  if (time === undefined) return `timeUnixNano ${show(r.timeUnixNano)} is not Unix nanoseconds (before 2262)`;
  const observed = u64(r, 'observedTimeUnixNano');
  if (observed === undefined) {
    return `observedTimeUnixNano ${show(r.observedTimeUnixNano)} is not Unix nanoseconds (before 2262)`;
  }
  const severity = enumValue(r, 'severityNumber', SEVERITY_NAMES);
  if (severity === undefined || severity < 0 || severity > 24) {
    return `severityNumber ${JSON.stringify(r.severityNumber)} is not 0..24`;
  }
  const traceId = id(r, 'traceId', 16);
  if (traceId === undefined) return 'traceId is not 16 bytes (32 hex digits)';
  const spanId = id(r, 'spanId', 8);
  if (spanId === undefined) return 'spanId is not 8 bytes (16 hex digits)';
  // The data model: time unset means "use the observed time"; both unset, the time received.
  const at = time !== '0' ? time : observed !== '0' ? observed : `${BigInt(Date.now()) * 1_000_000n}`;
  const record: LogRecord = {
    timeUnixNano: at,
    severityNumber: severity,
    severityText: str(r, 'severityText'),
    body: anyToString(r.body),
    resource: {},
    attributes: attributes(r.attributes),
    serviceName: '',
  };
  if (observed !== '0') record.observedTimeUnixNano = observed;
  if (traceId) record.traceId = traceId;
  if (spanId) record.spanId = spanId;
  return record;
}

export function convertLogs(request: Record<string, unknown>): Converted<LogRecord> {
  const items: LogRecord[] = [];
  const rejected = new Rejections();
  let received = 0;
  for (const rl of list(request.resourceLogs)) {
    const resource = attributes(msg(rl.resource)?.attributes);
    const serviceName = resource['service.name'] ?? '';
    for (const sl of list(rl.scopeLogs)) {
      const scope = scopeOf(sl.scope);
      list(sl.logRecords).forEach((r, i) => {
        received++;
        const rec = invalid(r);
        if (typeof rec === 'string') {
          rejected.add(1, `log record ${i}${serviceName ? ` of ${serviceName}` : ''}: ${rec}`);
          return;
        }
        rec.resource = resource;
        rec.serviceName = serviceName;
        if (scope) rec.scope = scope;
        items.push(rec);
      });
    }
  }
  return { items, rejected, received };
}
