import type { VariableModel } from '@grafana/schema';
import { queryVariable } from './lib.ts';
import { ENV } from './sql.ts';

/** Environments seen in the range (metrics and logs), from the deployment.environment attribute. */
export const envVariable = (): VariableModel =>
  queryVariable(
    'env',
    'Environment',
    `SELECT DISTINCT env FROM (
  SELECT ${ENV} AS env FROM otel_metrics_sum WHERE $__timeFilter(TimeUnix)
  UNION ALL SELECT ${ENV} AS env FROM otel_metrics_histogram WHERE $__timeFilter(TimeUnix)
  UNION ALL SELECT ${ENV} AS env FROM otel_logs WHERE $__timeFilter(Timestamp)
) WHERE env != '' ORDER BY env`,
    { multi: true, includeAll: true },
  );

/** Services with telemetry in the chosen environments (chained on $env). */
export const serviceVariable = (o: { multi: boolean }): VariableModel =>
  queryVariable(
    'service',
    'Service',
    `SELECT DISTINCT ServiceName FROM (
  SELECT ServiceName, ResourceAttributes FROM otel_metrics_sum WHERE $__timeFilter(TimeUnix)
  UNION ALL SELECT ServiceName, ResourceAttributes FROM otel_metrics_histogram WHERE $__timeFilter(TimeUnix)
  UNION ALL SELECT ServiceName, ResourceAttributes FROM otel_metrics_gauge WHERE $__timeFilter(TimeUnix)
  UNION ALL SELECT ServiceName, ResourceAttributes FROM otel_logs WHERE $__timeFilter(Timestamp)
) WHERE ServiceName != '' AND $__conditionalAll(${ENV} IN (\${env}), $env) ORDER BY ServiceName`,
    o.multi ? { multi: true, includeAll: true } : {},
  );
