import type { Severity } from '../../core/model/records.ts';
import { fingerprintOf } from '../../core/model/fingerprint.ts';

/** Shared by the intake paths: severity words, service and CI labels, fingerprints. */

const SEVERITY: Record<string, Severity> = {
  critical: 'critical',
  crit: 'critical',
  page: 'critical',
  p1: 'critical',
  fatal: 'critical',
  emergency: 'critical',
  error: 'error',
  err: 'error',
  high: 'error',
  major: 'error',
  p2: 'error',
  warning: 'warning',
  warn: 'warning',
  medium: 'warning',
  minor: 'warning',
  p3: 'warning',
  info: 'info',
  informational: 'info',
  low: 'info',
  none: 'info',
  notice: 'info',
  p4: 'info',
  p5: 'info',
};

export function severityOf(word: string | undefined): Severity {
  return (word && SEVERITY[word.toLowerCase()]) || 'warning';
}

export function serviceOf(labels: Record<string, string>): string | undefined {
  return labels['service.name'] ?? labels.service ?? labels.app ?? labels.application ?? labels.job;
}

/** Alertmanager writes "0001-01-01T00:00:00Z" for "no end". */
export function endTime(v: string | undefined): string | undefined {
  if (!v || v.startsWith('0001-01-01')) return undefined;
  return v;
}

export function fingerprintFor(labels: Record<string, string>, keys: readonly string[]): string {
  return fingerprintOf(labels, keys.length ? keys : undefined);
}
