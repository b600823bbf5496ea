import type { Request, Response } from 'express';
import type { ClickHouseClient } from '../../core/clickhouse/client.ts';
import type { HttpApp } from '../../core/http/app.ts';
import { HttpError } from '../../core/http/errors.ts';
import type { Correlator } from '../engine/correlator.ts';
import { getIncident, queryIncidents } from '../store/incidents.ts';

/** The live correlator and how to persist its changes; only the leading correlate process has one. */
export interface LiveCorrelator {
  correlator: Correlator;
  flush: () => Promise<void>;
}

/**
 * Incidents API: list with filters and get one (read scope, from ClickHouse so any replica
 * answers), acknowledge, resolve and comment (admin scope, through the live correlator). A
 * standby correlate process has none: it answers those with 503 `standby`, and a client or load
 * balancer retries on another process (the leader).
 */
export function mountIncidentApi(
  http: HttpApp,
  clickhouse: ClickHouseClient,
  live: () => LiveCorrelator | undefined,
): void {
  const list = (v: unknown) =>
    typeof v === 'string' && v
      ? v
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : undefined;
  http.route('get', '/api/v1/incidents', 'read', async (req: Request, res: Response) => {
    const q = req.query;
    const limit = q.limit === undefined ? 100 : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000)
      throw new HttpError(400, 'bad_request', 'limit: an integer from 1 to 10000');
    if (q.since !== undefined && Number.isNaN(Date.parse(String(q.since))))
      throw new HttpError(400, 'bad_request', 'since: an ISO 8601 time');
    const status = list(q.status);
    if (status?.some((s) => !['open', 'acknowledged', 'resolved'].includes(s)))
      throw new HttpError(400, 'bad_request', 'status: open, acknowledged or resolved (comma-separated)');
    const incidents = await queryIncidents(clickhouse, {
      ...(status ? { status } : {}),
      ...(list(q.priority) ? { priority: list(q.priority)! } : {}),
      ...(typeof q.service === 'string' && q.service ? { service: q.service } : {}),
      ...(typeof q.since === 'string' ? { since: q.since } : {}),
      limit,
    });
    res.json({ incidents });
  });
  http.route('get', '/api/v1/incidents/:id', 'read', async (req: Request, res: Response) => {
    const id = String(req.params.id);
    const inc = live()?.correlator.get(id) ?? (await getIncident(clickhouse, id));
    if (!inc) throw new HttpError(404, 'not_found', `no incident ${id}`);
    res.json(inc);
  });
  const action =
    (fn: (c: Correlator, id: string, by: string, text: string | undefined, now: number) => unknown) =>
    async (req: Request, res: Response) => {
      const current = live();
      if (!current)
        throw new HttpError(
          503,
          'standby',
          'this correlate process is a standby; incident changes are made by the leading correlate process, retry there',
        );
      const id = String(req.params.id);
      const body = (req.body ?? {}) as { by?: unknown; note?: unknown; text?: unknown };
      const by = typeof body.by === 'string' && body.by ? body.by.slice(0, 200) : 'api';
      const text =
        typeof body.text === 'string' ? body.text : typeof body.note === 'string' ? body.note : undefined;
      if (text !== undefined && text.length > 10_000)
        throw new HttpError(400, 'bad_request', 'text: at most 10000 characters');
      const inc = fn(current.correlator, id, by, text?.trim() || undefined, Date.now());
      if (!inc) throw new HttpError(404, 'not_found', `no open incident ${id} in this correlator`);
      await current.flush();
      res.json(inc);
    };
  http.route(
    'post',
    '/api/v1/incidents/:id/acknowledge',
    'admin',
    http.body.json,
    action((c, id, by, note, now) => c.acknowledge(id, by, now, note)),
  );
  http.route(
    'post',
    '/api/v1/incidents/:id/resolve',
    'admin',
    http.body.json,
    action((c, id, by, note, now) => c.resolve(id, by, now, note)),
  );
  http.route(
    'post',
    '/api/v1/incidents/:id/comments',
    'admin',
    http.body.json,
    action((c, id, by, text, now) => {
      if (!text) throw new HttpError(400, 'bad_request', 'text: a comment is required');
      return c.comment(id, by, text, now);
    }),
  );
}
