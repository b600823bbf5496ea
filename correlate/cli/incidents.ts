import type { Config } from '../../core/config/schema.ts';
import type { Incident } from '../../core/model/records.ts';
import { queryIncidents } from '../store/incidents.ts';
import { withClickHouse } from '../../core/clickhouse/session.ts';

/**
 * `opsight incidents`: the newest version of each incident from ClickHouse (the configured one,
 * else the embedded one of the data directory), as a table or JSON.
 */
export async function runIncidents(
  config: Config,
  o: { status?: string; priority?: string; service?: string; limit?: string; json?: boolean },
  out: (s: string) => void = (s) => process.stdout.write(s),
): Promise<number> {
  return withClickHouse(config, async (client) => {
    const list = (v?: string) => (v ? v.split(',').map((s) => s.trim()) : undefined);
    const incidents = await queryIncidents(client, {
      ...(o.status ? { status: list(o.status)! } : { status: ['open', 'acknowledged'] }),
      ...(o.priority ? { priority: list(o.priority)! } : {}),
      ...(o.service ? { service: o.service } : {}),
      limit: Number(o.limit ?? 50),
    });
    out(o.json ? `${JSON.stringify(incidents, null, 2)}\n` : formatIncidents(incidents));
    return 0;
  });
}

export function formatIncidents(list: Incident[]): string {
  if (!list.length) return 'no incidents\n';
  return (
    list
      .map((i) => {
        const lines = [`${i.id}  ${i.priority ?? '--'}  ${i.status.padEnd(12)}  ${i.firstSeen}  ${i.title}`];
        const root = i.rootCauses[0];
        if (root) lines.push(`    root cause: ${root.ci} (${root.reason})`);
        if (i.blastRadius?.length)
          lines.push(
            `    blast radius: ${i.blastRadius.slice(0, 12).join(', ')}${i.blastRadius.length > 12 ? ', ...' : ''}`,
          );
        const ke = i.knownErrors[0];
        if (ke) lines.push(`    known error: ${ke.id} (score ${ke.score}): ${ke.workaround}`);
        const ch = i.changes?.[0];
        if (ch) lines.push(`    suspect change: ${ch.id} on ${ch.ci} at ${ch.time} (${ch.description})`);
        lines.push(`    ${i.alertFingerprints.length} alerts, ${i.alertCount} notifications`);
        return lines.join('\n');
      })
      .join('\n') + '\n'
  );
}
