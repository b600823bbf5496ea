import { createHmac } from 'node:crypto';
import type { IncidentEvent } from '../engine/correlator.ts';
import { postJson, type Notifier } from './types.ts';

/**
 * A generic webhook: the event as JSON. With a secret, the body is signed:
 * `X-Opsight-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">` and
 * `X-Opsight-Timestamp: <unix seconds>`, so a receiver can verify origin and reject replays.
 */
export class WebhookNotifier implements Notifier {
  readonly type = 'webhook';
  constructor(
    readonly name: string,
    private readonly url: string,
    private readonly secret?: string,
  ) {}

  async send(event: IncidentEvent, signal: AbortSignal): Promise<void> {
    // event_id lets a receiver drop the redelivery of an event it already has (the bus is at-least-once).
    const body = JSON.stringify({
      event_id: `${event.incident.id}:${event.incident.version}`,
      type: event.type,
      incident: event.incident,
    });
    const headers: Record<string, string> = {};
    if (this.secret) {
      const ts = String(Math.floor(Date.now() / 1000));
      headers['x-opsight-timestamp'] = ts;
      headers['x-opsight-signature'] = `sha256=${sign(this.secret, ts, body)}`;
    }
    await postJson(this.url, body, headers, signal);
  }
}

export function sign(secret: string, timestamp: string, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}
