import type { Attributes } from './records.ts';

/**
 * A canonical trace span on the bus (opsight.traces), as OTLP carries it. Kinds and status
 * codes use the names the OpenTelemetry Collector's ClickHouse exporter writes to otel_traces.
 * Ids are lowercase hex; timestamps Unix nanoseconds as decimal strings (they exceed 2^53).
 */

export type SpanKind = 'Unspecified' | 'Internal' | 'Server' | 'Client' | 'Producer' | 'Consumer';
export type SpanStatusCode = 'Unset' | 'Ok' | 'Error';

export interface SpanEvent {
  timeUnixNano: bigint | string;
  name: string;
  attributes: Attributes;
}

export interface SpanLink {
  traceId: string;
  spanId: string;
  traceState: string;
  attributes: Attributes;
}

export interface Span {
  traceId: string;
  spanId: string;
  /** Empty for a root span. */
  parentSpanId: string;
  traceState: string;
  name: string;
  kind: SpanKind;
  startTimeUnixNano: bigint | string;
  endTimeUnixNano: bigint | string;
  /** Resource attributes; `service.name` is promoted to serviceName. */
  resource: Attributes;
  serviceName: string;
  attributes: Attributes;
  statusCode: SpanStatusCode;
  statusMessage: string;
  events: SpanEvent[];
  links: SpanLink[];
  scope?: { name: string; version: string };
}
