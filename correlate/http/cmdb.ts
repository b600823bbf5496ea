import type { Request, Response } from 'express';
import type { ClickHouseClient } from '../../core/clickhouse/client.ts';
import type { HttpApp } from '../../core/http/app.ts';
import { HttpError } from '../../core/http/errors.ts';
import { changesSchema, fromPayload } from '../changes/api.ts';
import { storeChanges } from '../changes/store.ts';
import { importCmdbText } from '../cmdb/import.ts';
import { queryCis } from '../cmdb/store.ts';
import { CMDB_FORMATS } from '../cmdb/types.ts';
import { importKedbText } from '../kedb/import.ts';
import { KEDB_FORMATS } from '../kedb/types.ts';

/**
 * CMDB, KEDB and changes over HTTP: imports (admin scope; the body is the export file, under
 * the body size limit), CI lookup (read scope), change events (ingest scope, so deploy
 * pipelines can send them with an ingest token). Answers name the bad field or record.
 */
const SOURCE = /^[A-Za-z0-9_.:-]{1,100}$/;

function queryString(req: Request, name: string): string | undefined {
  const v = req.query[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new HttpError(400, 'bad_request', `${name}: given more than once`);
  return v;
}

function source(req: Request, fallback: string): string {
  const s = queryString(req, 'source');
  if (s !== undefined && !SOURCE.test(s))
    throw new HttpError(400, 'bad_request', 'source: 1-100 letters, digits or _.:-');
  return s ?? fallback;
}

function bodyText(req: Request): string {
  if (!Buffer.isBuffer(req.body) || req.body.length === 0)
    throw new HttpError(400, 'bad_request', 'body: the export file is missing');
  return req.body.toString('utf8');
}

/** A name for messages whose extension tells the format, from the content type. */
function pseudoFile(req: Request): string {
  const type = (req.headers['content-type'] ?? '').toLowerCase();
  if (type.includes('json')) return 'body.json';
  if (type.includes('csv')) return 'body.csv';
  if (type.includes('yaml')) return 'body.yaml';
  return 'body';
}

export function mountCmdbApi(http: HttpApp, clickhouse: ClickHouseClient): void {
  const raw = http.body.raw('*/*');

  http.route('post', '/api/v1/cmdb/import', 'admin', raw, async (req: Request, res: Response) => {
    const format = queryString(req, 'format');
    if (format !== undefined && !(CMDB_FORMATS as readonly string[]).includes(format))
      throw new HttpError(400, 'bad_request', `format: one of ${CMDB_FORMATS.join(', ')}`);
    const text = bodyText(req);
    const r = await importCmdbText(clickhouse, text, pseudoFile(req), {
      ...(format ? { format } : {}),
      source: source(req, format ?? ''),
    });
    if (r.accepted === 0 && r.rejected > 0)
      throw new HttpError(400, 'bad_request', r.errors[0] ?? 'no valid record', r.errors.slice(0, 100));
    res.json({ ...r, errors: r.errors.slice(0, 100) });
  });

  http.route('get', '/api/v1/cmdb/cis', 'read', async (req: Request, res: Response) => {
    const limitText = queryString(req, 'limit');
    const limit = limitText === undefined ? 1000 : Number(limitText);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100_000)
      throw new HttpError(400, 'bad_request', 'limit: an integer from 1 to 100000');
    const service = queryString(req, 'service');
    const cls = queryString(req, 'class');
    const cis = await queryCis(clickhouse, {
      ...(service !== undefined ? { service } : {}),
      ...(cls !== undefined ? { class: cls } : {}),
      limit,
    });
    res.json({ cis });
  });

  http.route('post', '/api/v1/changes', 'ingest', http.body.json, async (req: Request, res: Response) => {
    const r = changesSchema(req.body).safeParse(req.body);
    if (!r.success) {
      const issues = r.error.issues.slice(0, 20).map((i) => ({ path: i.path.join('.'), message: i.message }));
      const first = issues[0];
      throw new HttpError(
        400,
        'bad_request',
        first ? `${first.path || 'body'}: ${first.message}` : 'invalid payload',
        issues,
      );
    }
    const stored = await storeChanges(clickhouse, source(req, 'api'), fromPayload(r.data));
    res.status(202).json({ accepted: stored.length, changes: stored.map((c) => ({ id: c.id, ci: c.ci })) });
  });

  http.route('post', '/api/v1/known-errors', 'admin', raw, async (req: Request, res: Response) => {
    const format = queryString(req, 'format');
    if (format !== undefined && !(KEDB_FORMATS as readonly string[]).includes(format))
      throw new HttpError(400, 'bad_request', `format: one of ${KEDB_FORMATS.join(', ')}`);
    const text = bodyText(req);
    const r = await importKedbText(clickhouse, text, pseudoFile(req), {
      ...(format ? { format } : {}),
      source: source(req, 'api'),
    });
    if (r.accepted === 0 && r.rejected > 0)
      throw new HttpError(400, 'bad_request', r.errors[0] ?? 'no valid known error', r.errors.slice(0, 100));
    res.json({ ...r, errors: r.errors.slice(0, 100) });
  });
}
