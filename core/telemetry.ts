import { SpanStatusCode, trace, type Attributes, type Span } from '@opentelemetry/api';
import type { NodeSDK } from '@opentelemetry/sdk-node';
import { logger } from './log.ts';

/**
 * Traces of the pipeline stages (receive, publish, write). Exported by OTLP/HTTP only when
 * OTEL_EXPORTER_OTLP_ENDPOINT is set; otherwise the API's no-op tracer costs next to nothing.
 */

let sdk: NodeSDK | undefined;

export async function startTelemetry(options: { serviceName: string; otlpEndpoint?: string }): Promise<void> {
  if (!options.otlpEndpoint || sdk) return;
  const base = options.otlpEndpoint.replace(/\/$/, '');
  // Loaded only when exporting: the SDK takes seconds to import and most runs never need it.
  const [{ NodeSDK }, { OTLPTraceExporter }] = await Promise.all([
    import('@opentelemetry/sdk-node'),
    import('@opentelemetry/exporter-trace-otlp-http'),
  ]);
  sdk = new NodeSDK({
    serviceName: options.serviceName,
    traceExporter: new OTLPTraceExporter({ url: `${base}/v1/traces` }),
    // Auto-instrumentation would trace every ClickHouse HTTP call and Kafka fetch: too noisy.
    instrumentations: [],
  });
  sdk.start();
  logger('telemetry').info({ endpoint: base }, 'exporting traces by OTLP');
}

export async function stopTelemetry(): Promise<void> {
  await sdk?.shutdown().catch(() => {});
  sdk = undefined;
}

const tracer = trace.getTracer('opsight');

/** Runs fn in a span named for a pipeline stage; errors are recorded and rethrown. */
export async function withSpan<T>(
  name: string,
  attributes: Attributes,
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  return tracer.startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      throw err;
    } finally {
      span.end();
    }
  });
}
