import type { IncidentEvent } from '../engine/correlator.ts';
import { postJson, type Notifier } from './types.ts';

/** Slack incoming webhook: one message per event, the triage in a few lines. */
export class SlackNotifier implements Notifier {
  readonly type = 'slack';
  constructor(
    readonly name: string,
    private readonly url: string,
  ) {}

  async send(event: IncidentEvent, signal: AbortSignal): Promise<void> {
    await postJson(this.url, JSON.stringify(slackMessage(event)), {}, signal);
  }
}

const VERB: Record<IncidentEvent['type'], string> = {
  opened: 'opened',
  reopened: 're-opened',
  priority_changed: 'priority changed',
  root_cause_changed: 'root cause changed',
  acknowledged: 'acknowledged',
  resolved: 'resolved',
  updated: 'updated',
  commented: 'commented',
};

export function slackMessage(event: IncidentEvent): { text: string; blocks: unknown[] } {
  const i = event.incident;
  const head = `${event.type === 'resolved' ? ':white_check_mark:' : ':rotating_light:'} *${i.priority ?? ''} ${i.id}* ${VERB[event.type]}: ${i.title}`;
  const lines: string[] = [];
  const root = i.rootCauses[0];
  if (root) lines.push(`*Root cause:* ${root.ci} (${root.reason})`);
  if (i.blastRadius?.length)
    lines.push(
      `*Blast radius:* ${i.blastRadius.slice(0, 10).join(', ')}${i.blastRadius.length > 10 ? ', …' : ''}`,
    );
  const ke = i.knownErrors[0];
  if (ke) lines.push(`*Known error:* ${ke.id} — workaround: ${ke.workaround}`);
  const change = i.changes?.[0];
  if (change) lines.push(`*Suspect change:* ${change.id} on ${change.ci} (${change.kind}) at ${change.time}`);
  lines.push(`${i.alertFingerprints.length} alert(s), first seen ${i.firstSeen}`);
  return {
    text: `${head}\n${lines.join('\n')}`,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: head } },
      { type: 'section', text: { type: 'mrkdwn', text: lines.join('\n') } },
    ],
  };
}
