import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import type { Msg } from './values.ts';

/**
 * OTLP/HTTP bodies in and out: protobuf through protobufjs (reflection from proto/otlp.proto,
 * compiled once at load) and OTLP JSON. Both decodings yield the same camelCase structure,
 * which ingest/otlp/values.ts reads.
 */

export type Encoding = 'protobuf' | 'json';
export type Signal = 'metrics' | 'logs' | 'traces';

const root = protobuf.loadSync(fileURLToPath(new URL('./proto/otlp.proto', import.meta.url)));
const type = (name: string) => root.lookupType(`opsight.otlp.${name}`);

const messages = {
  metrics: {
    request: type('ExportMetricsServiceRequest'),
    response: type('ExportMetricsServiceResponse'),
    list: 'resourceMetrics',
    rejected: 'rejectedDataPoints',
  },
  logs: {
    request: type('ExportLogsServiceRequest'),
    response: type('ExportLogsServiceResponse'),
    list: 'resourceLogs',
    rejected: 'rejectedLogRecords',
  },
  traces: {
    request: type('ExportTraceServiceRequest'),
    response: type('ExportTraceServiceResponse'),
    list: 'resourceSpans',
    rejected: 'rejectedSpans',
  },
} as const;
const rpcStatus = type('RpcStatus');

export const CONTENT_TYPES: Record<Encoding, string> = {
  protobuf: 'application/x-protobuf',
  json: 'application/json',
};

/** Thrown for a body that is not an Export*ServiceRequest; the message names the problem. */
export class DecodeError extends Error {}

export function decodeRequest(signal: Signal, encoding: Encoding, body: Buffer): Msg {
  const { request, list } = messages[signal];
  if (encoding === 'protobuf') {
    try {
      return request.decode(body) as unknown as Msg;
    } catch (err) {
      throw new DecodeError(`invalid protobuf ${request.name}: ${(err as Error).message}`);
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new DecodeError(`invalid JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new DecodeError(
      `expected a JSON object (${request.name}), got ${Array.isArray(parsed) ? 'an array' : typeof parsed}`,
    );
  }
  const items = (parsed as Msg)[list];
  if (items !== undefined && !Array.isArray(items)) throw new DecodeError(`${list} must be an array`);
  return parsed as Msg;
}

/** The Export*ServiceResponse; partialSuccess only when something was rejected. */
export function encodeResponse(
  signal: Signal,
  encoding: Encoding,
  rejected: number,
  errorMessage: string,
): Buffer | string {
  const { response, rejected: field } = messages[signal];
  if (encoding === 'json') {
    // proto3 JSON writes int64 as a string.
    return JSON.stringify(
      rejected > 0 ? { partialSuccess: { [field]: String(rejected), errorMessage } } : {},
    );
  }
  const body = rejected > 0 ? { partialSuccess: { [field]: rejected, errorMessage } } : {};
  return Buffer.from(response.encode(response.fromObject(body)).finish());
}

/** gRPC status codes used in google.rpc.Status bodies. */
export const RPC = { INVALID_ARGUMENT: 3, RESOURCE_EXHAUSTED: 8, INTERNAL: 13, UNAVAILABLE: 14 } as const;

export function encodeStatus(encoding: Encoding, code: number, message: string): Buffer | string {
  if (encoding === 'json') return JSON.stringify({ code, message });
  return Buffer.from(rpcStatus.encode(rpcStatus.fromObject({ code, message })).finish());
}
