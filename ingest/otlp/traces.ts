import type { Span, SpanEvent, SpanKind, SpanLink, SpanStatusCode } from '../../core/model/span.ts';
import type { Converted } from './metrics.ts';
import {
  Rejections,
  attributes,
  enumValue,
  id,
  list,
  msg,
  scopeOf,
  show,
  str,
  u64,
  type Msg,
} from './values.ts';

/** ExportTraceServiceRequest -> Spans; invalid spans are counted, never thrown. */

const KINDS: readonly SpanKind[] = ['Unspecified', 'Internal', 'Server', 'Client', 'Producer', 'Consumer'];
const KIND_NAMES = KINDS.map((k) => `SPAN_KIND_${k.toUpperCase()}`);
const STATUS: readonly SpanStatusCode[] = ['Unset', 'Ok', 'Error'];
const STATUS_NAMES = STATUS.map((s) => `STATUS_CODE_${s.toUpperCase()}`);

function event(e: Msg, i: number): SpanEvent | string {
  const time = u64(e, 'timeUnixNano');
  if (time === undefined)
    return `event ${i}: timeUnixNano ${show(e.timeUnixNano)} is not Unix nanoseconds (before 2262)`;
  return { timeUnixNano: time, name: str(e, 'name'), attributes: attributes(e.attributes) };
}

function link(l: Msg, i: number): SpanLink | string {
  const traceId = id(l, 'traceId', 16);
  const spanId = id(l, 'spanId', 8);
  if (!traceId || !spanId) return `link ${i}: traceId and spanId must be 16 and 8 bytes`;
  return { traceId, spanId, traceState: str(l, 'traceState'), attributes: attributes(l.attributes) };
}

function span(s: Msg): Omit<Span, 'resource' | 'serviceName'> | string {
  const traceId = id(s, 'traceId', 16);
  if (!traceId) return 'traceId is not 16 bytes (32 hex digits)';
  const spanId = id(s, 'spanId', 8);
  if (!spanId) return 'spanId is not 8 bytes (16 hex digits)';
  const parentSpanId = id(s, 'parentSpanId', 8);
  if (parentSpanId === undefined) return 'parentSpanId is not 8 bytes (16 hex digits)';
  const start = u64(s, 'startTimeUnixNano');
  const end = u64(s, 'endTimeUnixNano');
  if (start === undefined || start === '0')
    return 'startTimeUnixNano is missing, 0 or not Unix nanoseconds (before 2262)';
  if (end === undefined || end === '0')
    return 'endTimeUnixNano is missing, 0 or not Unix nanoseconds (before 2262)';
  if (BigInt(end) < BigInt(start)) return 'endTimeUnixNano is before startTimeUnixNano';
  const kind = KINDS[enumValue(s, 'kind', KIND_NAMES) ?? -1];
  if (!kind) return `kind ${JSON.stringify(s.kind)} is not a SpanKind`;
  const status = msg(s.status) ?? {};
  const code = STATUS[enumValue(status, 'code', STATUS_NAMES) ?? -1];
  if (!code) return `status.code ${JSON.stringify(status.code)} is not a StatusCode`;
  const events: SpanEvent[] = [];
  for (const [i, e] of list(s.events).entries()) {
    const ev = event(e, i);
    if (typeof ev === 'string') return ev;
    events.push(ev);
  }
  const links: SpanLink[] = [];
  for (const [i, l] of list(s.links).entries()) {
    const ln = link(l, i);
    if (typeof ln === 'string') return ln;
    links.push(ln);
  }
  return {
    traceId,
    spanId,
    parentSpanId,
    traceState: str(s, 'traceState'),
    name: str(s, 'name'),
    kind,
    startTimeUnixNano: start,
    endTimeUnixNano: end,
    attributes: attributes(s.attributes),
    statusCode: code,
    statusMessage: str(status, 'message'),
    events,
    links,
  };
}

export function convertTraces(request: Msg): Converted<Span> {
  const items: Span[] = [];
  const rejected = new Rejections();
  let received = 0;
  for (const rs of list(request.resourceSpans)) {
    const resource = attributes(msg(rs.resource)?.attributes);
    const serviceName = resource['service.name'] ?? '';
    for (const ss of list(rs.scopeSpans)) {
      const scope = scopeOf(ss.scope);
      list(ss.spans).forEach((s, i) => {
        received++;
        const sp = span(s);
        if (typeof sp === 'string') {
          rejected.add(1, `span ${i} ${JSON.stringify(str(s, 'name'))}: ${sp}`);
          return;
        }
        items.push({ ...sp, resource, serviceName, ...(scope ? { scope } : {}) });
      });
    }
  }
  return { items, rejected, received };
}
