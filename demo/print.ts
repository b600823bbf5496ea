/**
 * What the demo shows on the console: each incident as it forms (root cause, blast radius,
 * known error and workaround, suspect change, priority) and the cost alert for finance.
 */

export interface DemoIncident {
  id: string;
  title: string;
  status: string;
  priority: string;
  rootCause?: string;
  blastRadius: string[];
  affected: string[];
  alertCount: number;
  knownError?: { id: string; title: string; workaround: string };
  change?: { id: string; ci: string; time: string; description: string };
  costKey?: string;
}

export interface CostAlertView {
  summary: string;
  account: string;
  service: string;
  period: string;
  currency: string;
  actual: number;
  expected: number;
  severity: string;
  team: string;
  drivers: string;
}

export function formatIncident(i: DemoIncident, update: boolean): string {
  const lines = [
    `${update ? 'updated' : 'INCIDENT'} ${i.id} ${i.priority} ${i.title}`,
    `  root cause:   ${i.rootCause ?? '(none: not a CI)'}`,
    `  blast radius: ${i.blastRadius.length ? i.blastRadius.join(', ') : '-'}`,
    `  alerts:       ${i.alertCount} on ${i.affected.length ? i.affected.join(', ') : '-'}`,
    `  known error:  ${i.knownError ? `${i.knownError.id} ${i.knownError.title}` : '-'}`,
  ];
  if (i.knownError) lines.push(`  workaround:   ${i.knownError.workaround}`);
  lines.push(
    `  change:       ${i.change ? `${i.change.id} on ${i.change.ci} at ${i.change.time.slice(11, 16)} UTC: ${i.change.description}` : '-'}`,
  );
  return `${lines.join('\n')}\n`;
}

export function formatGrowth(i: DemoIncident): string {
  return `updated ${i.id} ${i.priority}: ${i.alertCount} alerts on ${i.affected.join(', ')}\n`;
}

export function formatCostAlert(c: CostAlertView): string {
  const pct = c.expected > 0 ? ` (+${Math.round((100 * (c.actual - c.expected)) / c.expected)}%)` : '';
  return (
    [
      `COST ALERT for ${c.team}: ${c.account} / ${c.service} on ${c.period} (${c.severity})`,
      `  actual ${c.actual.toFixed(2)} ${c.currency}, expected ${c.expected.toFixed(2)} ${c.currency}${pct}`,
      `  drivers: ${c.drivers || '-'}`,
    ].join('\n') + '\n'
  );
}
