import { setTimeout as sleep } from 'node:timers/promises';
import { Counter } from 'prom-client';
import type { Bus, BusMessage, Subscription } from '../../core/bus/types.ts';
import { TOPICS } from '../../core/bus/topics.ts';
import type { ClickHouseClient } from '../../core/clickhouse/client.ts';
import type { NotifyConfig, NotifyTarget } from '../../core/config/notify.ts';
import type { Logger } from '../../core/log.ts';
import { registry } from '../../core/metrics.ts';
import type { IncidentEvent } from '../engine/correlator.ts';
import { latestAlerts } from '../store/alerts.ts';
import { PagerDutyNotifier } from './pagerduty.ts';
import { TokenBucket } from './rate-limit.ts';
import { routeTargets } from './router.ts';
import { SlackNotifier } from './slack.ts';
import { NotifyError, type Notifier } from './types.ts';
import { WebhookNotifier } from './webhook.ts';

/**
 * Sends incident events from opsight.incidents to the targets the routes pick: retries with
 * exponential backoff (retryable failures only), a dead_letters row when a target keeps
 * failing, and a token bucket per target so a storm cannot flood a pager (acknowledge and
 * resolve always pass: they close pages rather than open them).
 */
export const NOTIFY_GROUP = 'opsight-notify';

const NOTIFY_TYPES = new Set<IncidentEvent['type']>([
  'opened',
  'reopened',
  'priority_changed',
  'root_cause_changed',
  'acknowledged',
  'resolved',
]);
const CLOSING = new Set<IncidentEvent['type']>(['acknowledged', 'resolved']);

export const notifications = new Counter({
  name: 'opsight_notifications_total',
  help: 'Incident notifications by target and outcome (sent, failed, rate_limited).',
  labelNames: ['target', 'outcome'] as const,
  registers: [registry],
});

export function buildNotifier(t: NotifyTarget): Notifier {
  switch (t.type) {
    case 'webhook':
      return new WebhookNotifier(t.name, t.url, t.secret);
    case 'pagerduty':
      return new PagerDutyNotifier(t.name, t.url, t.routingKey);
    case 'slack':
      return new SlackNotifier(t.name, t.webhookUrl);
  }
}

export interface DispatcherDeps {
  bus: Bus;
  clickhouse: ClickHouseClient;
  log: Logger;
  /** CI id -> owner group, for routes by owner group. */
  ownerGroup(ci: string): string | undefined;
  notifiers?: Notifier[];
}

export class Dispatcher {
  private readonly notifiers = new Map<string, Notifier>();
  private readonly buckets = new Map<string, TokenBucket>();
  private sub: Subscription | undefined;

  constructor(
    private readonly cfg: NotifyConfig,
    private readonly deps: DispatcherDeps,
  ) {
    for (const n of deps.notifiers ?? cfg.targets.map(buildNotifier)) {
      this.notifiers.set(n.name, n);
      this.buckets.set(n.name, new TokenBucket(cfg.rateLimit.perMinute, cfg.rateLimit.burst));
    }
  }

  async start(): Promise<void> {
    if (!this.cfg.routes.length) return;
    this.sub = await this.deps.bus.subscribe<IncidentEvent>({
      group: NOTIFY_GROUP,
      topics: [TOPICS.incidents],
      handler: async (batch) => {
        for (const m of batch.messages) {
          if (batch.isStale()) return;
          await this.handle(m);
          await batch.heartbeat();
        }
      },
    });
  }

  async stop(): Promise<void> {
    await this.sub?.close();
  }

  async handle(m: BusMessage<IncidentEvent>): Promise<void> {
    const event = m.value;
    if (!NOTIFY_TYPES.has(event.type)) return;
    const i = event.incident;
    const needLabels = this.cfg.routes.some((r) => r.match.labels);
    const labels = needLabels
      ? (await latestAlerts(this.deps.clickhouse, i.alertFingerprints)).map((a) => a.labels)
      : [];
    const ownerGroups = [
      ...new Set(i.affectedCis.map((c) => this.deps.ownerGroup(c)).filter((g): g is string => !!g)),
    ];
    for (const name of routeTargets(this.cfg.routes, event, { ownerGroups, labels })) {
      const n = this.notifiers.get(name);
      if (!n) continue;
      if (!CLOSING.has(event.type) && !this.buckets.get(name)!.take()) {
        notifications.inc({ target: name, outcome: 'rate_limited' });
        await this.deadLetter(m, name, 'rate limited: too many notifications for this target');
        continue;
      }
      await this.sendWithRetry(n, m);
    }
  }

  private async sendWithRetry(n: Notifier, m: BusMessage<IncidentEvent>): Promise<void> {
    const { attempts, initialDelayMs, timeoutMs } = this.cfg.retry;
    let last = '';
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        await n.send(m.value, AbortSignal.timeout(timeoutMs));
        notifications.inc({ target: n.name, outcome: 'sent' });
        return;
      } catch (err) {
        last = (err as Error).message;
        const retryable = !(err instanceof NotifyError) || err.retryable;
        this.deps.log.warn(
          { target: n.name, incident: m.value.incident.id, attempt, err: last },
          retryable && attempt < attempts ? 'notification failed; retrying' : 'notification failed',
        );
        if (!retryable) break;
        if (attempt < attempts) await sleep(initialDelayMs * 2 ** (attempt - 1));
      }
    }
    notifications.inc({ target: n.name, outcome: 'failed' });
    await this.deadLetter(m, n.name, `notification to ${n.type} target ${n.name} failed: ${last}`);
  }

  private async deadLetter(m: BusMessage<IncidentEvent>, target: string, reason: string): Promise<void> {
    await this.deps.clickhouse
      .insert({
        table: 'dead_letters',
        format: 'JSONEachRow',
        values: [
          {
            received_at: new Date().toISOString(),
            topic: m.topic,
            partition: m.partition,
            offset: m.offset,
            key: m.value.incident.id,
            source: `notify/${target}`,
            reason,
            payload: JSON.stringify({
              type: m.value.type,
              incident: m.value.incident.id,
              version: m.value.incident.version,
            }),
          },
        ],
      })
      .catch((err: unknown) =>
        this.deps.log.error({ err, target }, 'could not record the failed notification'),
      );
  }
}
