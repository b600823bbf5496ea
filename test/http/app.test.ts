import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../core/config/schema.ts';
import { createHttpApp } from '../../core/http/app.ts';

const ingestToken = 'ingest-token-0123456789';
const readToken = 'read-token-0123456789ab';
const adminToken = 'admin-token-0123456789a';

describe('HTTP app', () => {
  let base = '';
  let close: () => Promise<void>;
  let busUp = true;

  beforeAll(async () => {
    const config = configSchema.parse({
      http: {
        addr: '127.0.0.1:0',
        bodyLimit: '1kb',
        tokens: [
          { name: 'collector', token: ingestToken, scopes: ['ingest'] },
          { name: 'grafana', token: readToken, scopes: ['read'] },
          { name: 'ops', token: adminToken, scopes: ['admin'] },
        ],
      },
    });
    const http = createHttpApp({
      config,
      readiness: { clickhouse: async () => true, bus: async () => busUp },
    });
    http.route('post', '/api/v1/echo', 'ingest', http.body.json, (req, res) => {
      res.json({ got: req.body as unknown });
    });
    http.route(
      'post',
      '/api/v1/raw',
      'ingest',
      http.body.raw('*/*', { undecoded: ['snappy'] }),
      (req, res) => {
        res.json({ bytes: (req.body as Buffer).length, encoding: req.headers['content-encoding'] ?? null });
      },
    );
    http.route('post', '/api/v1/raw-plain', 'ingest', http.body.raw(), (req, res) => {
      res.json({ bytes: (req.body as Buffer).length });
    });
    http.route('get', '/api/v1/things', 'read', (_req, res) => {
      res.json({ things: [] });
    });
    const listening = await http.listen();
    base = `http://${listening.address}`;
    close = listening.close;
  });
  afterAll(() => close());

  const call = (path: string, token?: string, init: RequestInit = {}) =>
    fetch(`${base}${path}`, {
      ...init,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(init.headers ?? {}) },
    });

  it('listens on loopback and answers health without a token', async () => {
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await call('/healthz')).status).toBe(200);
  });

  it('reports readiness per dependency', async () => {
    let res = await call('/readyz');
    expect(res.status).toBe(200);
    busUp = false;
    res = await call('/readyz');
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({
      status: 'not ready',
      checks: { clickhouse: 'ok', bus: 'unavailable' },
    });
    busUp = true;
  });

  it('enforces token scopes', async () => {
    const post = (token?: string) =>
      call('/api/v1/echo', token, {
        method: 'POST',
        body: '{"a":1}',
        headers: { 'content-type': 'application/json' },
      });
    expect((await post()).status).toBe(401);
    expect((await post('wrong-token-0123456789')).status).toBe(401);
    const forbidden = await post(readToken);
    expect(forbidden.status).toBe(403);
    expect(((await forbidden.json()) as { message: string }).message).toContain('lacks the ingest scope');
    expect((await post(ingestToken)).status).toBe(200);
    expect((await post(adminToken)).status).toBe(200);

    expect((await call('/api/v1/things', ingestToken)).status).toBe(403);
    expect((await call('/api/v1/things', readToken)).status).toBe(200);
    expect((await call('/metrics')).status).toBe(401);
    const metrics = await call('/metrics', readToken);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('opsight_http_requests_total');
  });

  it('limits body size and explains bad bodies as JSON', async () => {
    const big = await call('/api/v1/echo', ingestToken, {
      method: 'POST',
      body: JSON.stringify({ x: 'y'.repeat(4096) }),
      headers: { 'content-type': 'application/json' },
    });
    expect(big.status).toBe(413);
    expect(((await big.json()) as { message: string }).message).toContain('exceeds the limit of 1024 bytes');
    const bad = await call('/api/v1/echo', ingestToken, {
      method: 'POST',
      body: '{"a":',
      headers: { 'content-type': 'application/json' },
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toBe('bad_request');
    const missing = await call('/nope', adminToken);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: 'not_found', message: 'no route for GET /nope' });
  });

  it('leaves encodings a route undoes itself to that route, and refuses them elsewhere', async () => {
    const post = (path: string) =>
      call(path, ingestToken, {
        method: 'POST',
        body: Buffer.from([1, 2, 3, 4]),
        headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy' },
      });
    const passed = await post('/api/v1/raw');
    expect(passed.status).toBe(200);
    expect(await passed.json()).toEqual({ bytes: 4, encoding: 'snappy' });
    const refused = await post('/api/v1/raw-plain');
    expect(refused.status).toBe(415);
    expect(((await refused.json()) as { error: string }).error).toBe('unsupported_media_type');
  });
});
