/** The ClickHouse writer: bus topics -> RowBinary inserts, exactly once across crashes. */
export {
  startWriter,
  DEFAULT_GROUP,
  DEFAULT_MAPPINGS,
  type Writer,
  type WriterOptions,
  type WriterConfig,
} from './writer.ts';
export { WriterCounters, combineEvents, type WriterEvents } from './stats.ts';
export { prometheusWriterEvents } from './prom.ts';
export type { TopicMapping, TableTarget, MappedColumn } from './mapping.ts';
export { metricsMapping } from './map-metrics.ts';
export { logsMapping } from './map-logs.ts';
export { billingMapping } from './map-billing.ts';
