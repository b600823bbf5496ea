import type { Severity } from '../../core/model/records.ts';
import type { Criticality } from './model.ts';

/**
 * ITIL priority from impact × urgency. Impact: the most critical CI affected (its blast radius
 * included), one level up when five or more CIs are hit. Urgency: the worst alert severity.
 */
export type Priority = 'P1' | 'P2' | 'P3' | 'P4' | 'P5';
type Level = 0 | 1 | 2; // high, medium, low

const MATRIX: Priority[][] = [
  ['P1', 'P2', 'P3'],
  ['P2', 'P3', 'P4'],
  ['P3', 'P4', 'P5'],
];

const IMPACT: Record<Criticality, Level> = { critical: 0, high: 0, medium: 1, low: 2 };
const URGENCY: Record<Severity, Level> = { critical: 0, error: 1, warning: 2, info: 2 };

export function priorityOf(
  criticalities: (Criticality | undefined)[],
  affected: number,
  severity: Severity,
): Priority {
  let impact: Level = 2;
  for (const c of criticalities) impact = Math.min(impact, c ? IMPACT[c] : 1) as Level;
  if (!criticalities.length) impact = 1;
  if (affected >= 5 && impact > 0) impact = (impact - 1) as Level;
  return MATRIX[impact]![URGENCY[severity]]!;
}

const RANK: Record<Severity, number> = { critical: 3, error: 2, warning: 1, info: 0 };
export const worse = (a: Severity, b: Severity): Severity => (RANK[b] > RANK[a] ? b : a);
export const severityRank = (s: Severity): number => RANK[s];
