import { TOPICS } from '../../core/bus/topics.ts';
import type { LogRecord } from '../../core/model/records.ts';
import { EMPTY, checkAttributes, checkTimestamp, isObject, nanos, type TopicMapping } from './mapping.ts';

/** LogRecord -> otel_logs (the OTel exporter's columns, plus opsight's TemplateId when present). */
export const logsMapping: TopicMapping<LogRecord> = {
  topic: TOPICS.logs,
  tables: [
    {
      table: 'otel_logs',
      columns: () => [
        { name: 'Timestamp', get: (l) => nanos(l.timeUnixNano) },
        // Not an exporter column; written where a table has it.
        {
          name: 'ObservedTimestamp',
          get: (l) => nanos(l.observedTimeUnixNano),
          optional: true,
          ifExists: true,
        },
        { name: 'TraceId', get: (l) => l.traceId, optional: true },
        { name: 'SpanId', get: (l) => l.spanId, optional: true },
        { name: 'SeverityText', get: (l) => l.severityText, optional: true },
        { name: 'SeverityNumber', get: (l) => l.severityNumber, optional: true },
        { name: 'ServiceName', get: (l) => l.serviceName || l.resource?.['service.name'], optional: true },
        { name: 'Body', get: (l) => l.body },
        { name: 'ResourceAttributes', get: (l) => l.resource ?? EMPTY },
        { name: 'ScopeName', get: (l) => l.scope?.name, optional: true },
        { name: 'ScopeVersion', get: (l) => l.scope?.version, optional: true },
        { name: 'LogAttributes', get: (l) => l.attributes ?? EMPTY },
        { name: 'TemplateId', get: (l) => l.templateId, optional: true, ifExists: true },
        { name: 'TemplateParams', get: (l) => l.templateParams, optional: true, ifExists: true },
      ],
    },
  ],
  route(r) {
    if (!isObject(r)) return 'log record is not an object';
    if (typeof r.body !== 'string') return 'log record without a body string';
    return (
      checkTimestamp(r.timeUnixNano, 'timeUnixNano') ??
      (r.observedTimeUnixNano === undefined
        ? undefined
        : checkTimestamp(r.observedTimeUnixNano, 'observedTimeUnixNano')) ??
      checkAttributes(r.resource, 'resource') ??
      checkAttributes(r.attributes, 'attributes') ??
      0
    );
  },
};
