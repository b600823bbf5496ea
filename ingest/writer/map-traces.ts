import { TOPICS } from '../../core/bus/topics.ts';
import type { Span, SpanEvent, SpanLink } from '../../core/model/span.ts';
import {
  EMPTY,
  checkAttributes,
  checkTimestamp,
  isObject,
  nanos,
  type MappedColumn,
  type TopicMapping,
} from './mapping.ts';

/**
 * Span -> otel_traces, column for column as the OpenTelemetry Collector's ClickHouse exporter
 * writes them. Events and Links are Nested: one Array(Tuple) column where the table was created
 * with flatten_nested = 0, else one array column per field (`Events.Name` ...); both are served.
 */

function duration(s: Span): string {
  return String(BigInt(s.endTimeUnixNano) - BigInt(s.startTimeUnixNano));
}

const events = (s: Span): SpanEvent[] => s.events ?? [];
const links = (s: Span): SpanLink[] => s.links ?? [];

function nested(tableColumns: readonly string[]): MappedColumn<Span>[] {
  if (tableColumns.includes('Events')) {
    return [
      {
        name: 'Events',
        get: (s) =>
          events(s).map((e) => ({
            Timestamp: nanos(e.timeUnixNano),
            Name: e.name,
            Attributes: e.attributes ?? EMPTY,
          })),
      },
      {
        name: 'Links',
        get: (s) =>
          links(s).map((l) => ({
            TraceId: l.traceId,
            SpanId: l.spanId,
            TraceState: l.traceState,
            Attributes: l.attributes ?? EMPTY,
          })),
      },
    ];
  }
  return [
    { name: 'Events.Timestamp', get: (s) => events(s).map((e) => nanos(e.timeUnixNano)) },
    { name: 'Events.Name', get: (s) => events(s).map((e) => e.name) },
    { name: 'Events.Attributes', get: (s) => events(s).map((e) => e.attributes ?? EMPTY) },
    { name: 'Links.TraceId', get: (s) => links(s).map((l) => l.traceId) },
    { name: 'Links.SpanId', get: (s) => links(s).map((l) => l.spanId) },
    { name: 'Links.TraceState', get: (s) => links(s).map((l) => l.traceState) },
    { name: 'Links.Attributes', get: (s) => links(s).map((l) => l.attributes ?? EMPTY) },
  ];
}

function isDigits(v: unknown): boolean {
  return typeof v === 'bigint' || (typeof v === 'string' && /^\d{1,20}$/.test(v));
}

export const tracesMapping: TopicMapping<Span> = {
  topic: TOPICS.traces,
  tables: [
    {
      table: 'otel_traces',
      columns: (tableColumns) => [
        { name: 'Timestamp', get: (s) => nanos(s.startTimeUnixNano) },
        { name: 'TraceId', get: (s) => s.traceId },
        { name: 'SpanId', get: (s) => s.spanId },
        { name: 'ParentSpanId', get: (s) => s.parentSpanId, optional: true },
        { name: 'TraceState', get: (s) => s.traceState, optional: true },
        { name: 'SpanName', get: (s) => s.name, optional: true },
        { name: 'SpanKind', get: (s) => s.kind, optional: true },
        { name: 'ServiceName', get: (s) => s.serviceName || s.resource?.['service.name'], optional: true },
        { name: 'ResourceAttributes', get: (s) => s.resource ?? EMPTY },
        { name: 'ScopeName', get: (s) => s.scope?.name, optional: true },
        { name: 'ScopeVersion', get: (s) => s.scope?.version, optional: true },
        { name: 'SpanAttributes', get: (s) => s.attributes ?? EMPTY },
        { name: 'Duration', get: duration },
        { name: 'StatusCode', get: (s) => s.statusCode, optional: true },
        { name: 'StatusMessage', get: (s) => s.statusMessage, optional: true },
        ...nested(tableColumns),
      ],
    },
  ],
  route(r) {
    if (!isObject(r)) return 'span is not an object';
    if (typeof r.traceId !== 'string' || typeof r.spanId !== 'string')
      return 'span without traceId/spanId strings';
    const bad =
      checkTimestamp(r.startTimeUnixNano, 'startTimeUnixNano') ??
      checkTimestamp(r.endTimeUnixNano, 'endTimeUnixNano') ??
      checkAttributes(r.resource, 'resource') ??
      checkAttributes(r.attributes, 'attributes');
    if (bad) return bad;
    // Duration is end - start in exact integer nanoseconds.
    if (!isDigits(r.startTimeUnixNano) || !isDigits(r.endTimeUnixNano)) {
      return 'startTimeUnixNano and endTimeUnixNano must be Unix nanoseconds as digit strings';
    }
    if (BigInt(r.endTimeUnixNano as string) < BigInt(r.startTimeUnixNano as string)) {
      return 'endTimeUnixNano is before startTimeUnixNano';
    }
    if (r.events !== undefined && !Array.isArray(r.events)) return 'events must be an array';
    if (r.links !== undefined && !Array.isArray(r.links)) return 'links must be an array';
    return 0;
  },
};
