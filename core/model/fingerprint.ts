import { createHash } from 'node:crypto';

/**
 * An alert's identity: a hash of the label set (sorted keys, so order never matters). detect/
 * uses it for its own alerts; correlate/ for alerts from outside that bring no fingerprint.
 * 16 hex digits, as Alertmanager's fingerprints are.
 */
export function fingerprintOf(labels: Record<string, string>, keys?: readonly string[]): string {
  const names = (keys ?? Object.keys(labels)).filter((k) => labels[k] !== undefined).sort();
  const h = createHash('sha256');
  for (const k of names) h.update(k).update('\u0000').update(labels[k]!).update('\u0001');
  return h.digest('hex').slice(0, 16);
}
