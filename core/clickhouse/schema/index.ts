import type { Migration } from '../ddl.ts';
import { otelMetrics } from './0001_otel_metrics.ts';
import { otelLogs } from './0002_otel_logs.ts';
import { otelTraces } from './0003_otel_traces.ts';
import { billingFocus } from './0004_billing_focus.ts';
import { alertsIncidents } from './0005_alerts_incidents.ts';
import { cmdbKedb } from './0006_cmdb_kedb.ts';
import { detectorTables } from './0007_detector_tables.ts';
import { pipeline } from './0008_pipeline.ts';
import { billingLoads } from './0009_billing_loads.ts';
import { fileLoads } from './0010_file_loads.ts';
import { incidentTriage } from './0011_incident_triage.ts';
import { knownErrorSource } from './0012_known_error_source.ts';
import { logTemplateParams } from './0013_log_template_params.ts';

/** Applied in this order; append only, never renumber or edit an applied one. */
export const migrations: readonly Migration[] = [
  otelMetrics,
  otelLogs,
  otelTraces,
  billingFocus,
  alertsIncidents,
  cmdbKedb,
  detectorTables,
  pipeline,
  billingLoads,
  fileLoads,
  incidentTriage,
  knownErrorSource,
  logTemplateParams,
];
