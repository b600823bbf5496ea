import { createHash } from 'node:crypto';

/**
 * A template id: the first 64 bits of SHA-1 of the template text the cluster was created with, as
 * 16 hex digits. Computed once per new cluster (never per line), so a restart or another
 * process that meets the same template first gets the same id. `salt` separates the rare
 * collision with a live cluster.
 */
export function templateId(text: string, salt = 0): string {
  const h = createHash('sha1').update(text);
  if (salt) h.update(`\u0000${salt}`);
  return h.digest('hex').slice(0, 16);
}
