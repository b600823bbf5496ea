import type { Bus } from '../../core/bus/types.ts';
import { TOPICS } from '../../core/bus/topics.ts';
import { detectorAlerts } from '../../core/metrics.ts';
import type { Alert } from '../../core/model/records.ts';

/** Where detectors send alert transitions (firing, resolved). */
export interface AlertSink {
  emit(alerts: Alert[]): Promise<void>;
}

/** Publishes to opsight.alerts keyed by fingerprint, so one alert's transitions stay ordered. */
export class BusAlertSink implements AlertSink {
  constructor(private readonly bus: Bus) {}

  async emit(alerts: Alert[]): Promise<void> {
    if (!alerts.length) return;
    await this.bus.publish(
      TOPICS.alerts,
      alerts.map((a) => ({ key: a.fingerprint, value: a })),
    );
    for (const a of alerts) detectorAlerts.inc({ detector: a.source, kind: a.kind, status: a.status });
  }
}

/** Collects alerts in memory (evaluations, tests of a detector's logic). */
export class MemoryAlertSink implements AlertSink {
  readonly alerts: Alert[] = [];
  emit(alerts: Alert[]): Promise<void> {
    this.alerts.push(...alerts);
    return Promise.resolve();
  }
}
