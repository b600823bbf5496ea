import { z } from 'zod';
import type { Change } from '../engine/model.ts';

/**
 * The changes API payload: one change or an array. `ci` is a CI id (or a CI name or service,
 * resolved when stored); `time` ISO 8601; `id` defaults to one derived from ci, kind and time
 * so a re-sent change collapses into the same row.
 */
const change = z.object({
  ci: z.string().trim().min(1, 'a CI id, name or service').max(500),
  time: z.iso.datetime({ offset: true, message: 'an ISO 8601 time with a zone, e.g. 2026-11-23T06:00:00Z' }),
  kind: z.string().trim().min(1).max(100).default('change'),
  id: z.string().trim().min(1).max(200).optional(),
  description: z.string().max(10_000).default(''),
  link: z.union([z.literal(''), z.url({ protocol: /^https?$/, message: 'an http(s) URL' })]).default(''),
});

const changeList = z.array(change).min(1).max(10_000);

/**
 * The schema for this body: a union would answer "Invalid input" at the root, so the body's
 * shape picks the schema and errors name the field (`time`, or `1.time` in a list).
 */
export const changesSchema = (body: unknown) => (Array.isArray(body) ? changeList : change);
type ChangeInput = z.infer<typeof change>;

export function fromPayload(p: ChangeInput | ChangeInput[]): Change[] {
  return (Array.isArray(p) ? p : [p]).map((c) => {
    const time = Date.parse(c.time);
    return {
      id: c.id ?? `${c.kind}:${c.ci}:${new Date(time).toISOString()}`,
      ci: c.ci,
      time,
      kind: c.kind,
      description: c.description,
      link: c.link,
    };
  });
}
