import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * opsight's own Prometheus metrics, served on /metrics. One registry per process; the
 * pipeline stages record into the instruments below.
 */
export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'opsight_' });

export const recordsIn = new Counter({
  name: 'opsight_records_in_total',
  help: 'Records published to the bus, by topic.',
  labelNames: ['topic'] as const,
  registers: [registry],
});

export const recordsOut = new Counter({
  name: 'opsight_records_written_total',
  help: 'Rows acknowledged by ClickHouse, by topic and table.',
  labelNames: ['topic', 'table'] as const,
  registers: [registry],
});

export const batchRows = new Histogram({
  name: 'opsight_writer_batch_rows',
  help: 'Rows per ClickHouse insert.',
  labelNames: ['table'] as const,
  buckets: [1, 10, 100, 1_000, 10_000, 50_000, 100_000, 500_000],
  registers: [registry],
});

export const insertSeconds = new Histogram({
  name: 'opsight_writer_insert_duration_seconds',
  help: 'Latency of one ClickHouse insert.',
  labelNames: ['table'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});

export const insertRetries = new Counter({
  name: 'opsight_writer_insert_retries_total',
  help: 'Inserts retried because ClickHouse was unavailable.',
  labelNames: ['table'] as const,
  registers: [registry],
});

export const deadLetters = new Counter({
  name: 'opsight_dead_letters_total',
  help: 'Records sent to the dead_letters table, by topic.',
  labelNames: ['topic'] as const,
  registers: [registry],
});

export const httpRequests = new Counter({
  name: 'opsight_http_requests_total',
  help: 'HTTP requests by route and status code.',
  labelNames: ['route', 'code'] as const,
  registers: [registry],
});

export const consumerLag = new Gauge({
  name: 'opsight_consumer_lag',
  help: 'Messages published but not yet committed by a consumer group.',
  labelNames: ['group', 'topic', 'partition'] as const,
  registers: [registry],
});

export const sourceRecords = new Counter({
  name: 'opsight_source_records_total',
  help: 'Records seen by each ingest source: received, accepted (published) and rejected.',
  labelNames: ['source', 'outcome'] as const,
  registers: [registry],
});

export const detectorTracked = new Gauge({
  name: 'opsight_detector_tracked',
  help: 'Series, templates or cost series each detector keeps state for.',
  labelNames: ['detector'] as const,
  registers: [registry],
});

export const detectorScored = new Counter({
  name: 'opsight_detector_scored_total',
  help: 'Points, log lines or cost rows scored by each detector.',
  labelNames: ['detector'] as const,
  registers: [registry],
});

export const detectorAlerts = new Counter({
  name: 'opsight_detector_alerts_total',
  help: 'Alert transitions raised by detectors, by kind and status (firing, resolved).',
  labelNames: ['detector', 'kind', 'status'] as const,
  registers: [registry],
});
