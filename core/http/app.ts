import type { Server } from 'node:http';
import express, { type Express, type RequestHandler } from 'express';
import type { Config, Scope } from '../config/schema.ts';
import { logger } from '../log.ts';
import { httpRequests, registry } from '../metrics.ts';
import { requireScope } from './auth.ts';
import { errorHandler, notFound } from './errors.ts';

/**
 * The HTTP app factory shared by every role. Health and metrics are built in; sources and
 * APIs add their routes with `route()`, which applies the scope check and the body limit.
 */

export type ReadinessCheck = () => Promise<boolean>;

export interface HttpAppOptions {
  config: Pick<Config, 'http'>;
  /** Named checks for /readyz, e.g. clickhouse and bus. */
  readiness?: Record<string, ReadinessCheck>;
  /** Called before /metrics renders, e.g. to refresh consumer lag gauges. */
  beforeMetrics?: () => Promise<void>;
}

export interface HttpApp {
  app: Express;
  /** Registers a handler behind the scope check. Call before listen(). */
  route(
    method: 'get' | 'post' | 'put' | 'delete',
    path: string,
    scope: Scope,
    ...handlers: RequestHandler[]
  ): void;
  /** Body parsers honouring the configured size limit. */
  body: {
    json: RequestHandler;
    /**
     * The raw body as a Buffer. Encodings in `undecoded` (e.g. snappy, which the body parser
     * cannot inflate and would refuse) are left for the route to undo; the size limit then
     * applies to the encoded bytes, so the route must bound what it inflates.
     */
    raw: (type?: string | string[], options?: { undecoded?: string[] }) => RequestHandler;
    text: RequestHandler;
  };
  listen(): Promise<{ server: Server; address: string; close(): Promise<void> }>;
}

const log = logger('http');

export function parseAddr(addr: string): { host: string; port: number } {
  const i = addr.lastIndexOf(':');
  return { host: addr.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(addr.slice(i + 1)) };
}

export function createHttpApp(options: HttpAppOptions): HttpApp {
  const { tokens, bodyLimit } = options.config.http;
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);

  app.use((req, res, next) => {
    res.on('finish', () => {
      const route = (req.route as { path?: string } | undefined)?.path ?? 'unmatched';
      httpRequests.inc({ route, code: String(res.statusCode) });
    });
    next();
  });

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  app.get('/readyz', async (_req, res) => {
    const entries = Object.entries(options.readiness ?? {});
    const results = await Promise.all(
      entries.map(async ([name, check]) => [name, await check().catch(() => false)] as const),
    );
    const checks = Object.fromEntries(results.map(([name, ok]) => [name, ok ? 'ok' : 'unavailable']));
    const ready = results.every(([, ok]) => ok);
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready', checks });
  });

  const routes: { method: 'get' | 'post' | 'put' | 'delete'; path: string; handlers: RequestHandler[] }[] =
    [];
  routes.push({
    method: 'get',
    path: '/metrics',
    handlers: [
      requireScope(tokens, 'read'),
      async (_req, res, next) => {
        try {
          await options.beforeMetrics?.();
          res.set('Content-Type', registry.contentType).send(await registry.metrics());
        } catch (err) {
          next(err);
        }
      },
    ],
  });

  const body = {
    json: express.json({ limit: bodyLimit, type: ['application/json', 'application/*+json'] }),
    raw: (type: string | string[] = '*/*', options: { undecoded?: string[] } = {}): RequestHandler => {
      const parse = express.raw({ limit: bodyLimit, type });
      const undecoded = new Set((options.undecoded ?? []).map((e) => e.toLowerCase()));
      if (undecoded.size === 0) return parse;
      return (req, res, next) => {
        const encoding = (req.headers['content-encoding'] ?? '').trim().toLowerCase();
        if (!undecoded.has(encoding)) return parse(req, res, next);
        // body-parser refuses encodings it cannot inflate: hide this one from it, then restore it.
        delete req.headers['content-encoding'];
        parse(req, res, (err?: unknown) => {
          req.headers['content-encoding'] = encoding;
          next(err);
        });
      };
    },
    text: express.text({ limit: bodyLimit, type: ['text/*', 'application/x-ndjson'] }),
  };

  let sealed = false;
  return {
    app,
    body,
    route(method, path, scope, ...handlers) {
      if (sealed) throw new Error(`route ${method.toUpperCase()} ${path} added after listen()`);
      routes.push({ method, path, handlers: [requireScope(tokens, scope), ...handlers] });
    },
    async listen() {
      sealed = true;
      for (const r of routes) app[r.method](r.path, ...r.handlers);
      app.use(notFound);
      app.use(errorHandler);
      const { host, port } = parseAddr(options.config.http.addr);
      const server = await new Promise<Server>((resolve, reject) => {
        const s = app.listen(port, host, () => resolve(s)).on('error', reject);
      });
      const a = server.address();
      const address =
        typeof a === 'object' && a
          ? `${a.address.includes(':') ? `[${a.address}]` : a.address}:${a.port}`
          : String(a);
      log.info(
        { address, auth: tokens.length > 0 ? 'bearer tokens' : 'none (loopback default)' },
        'HTTP listening',
      );
      return {
        server,
        address,
        close: () =>
          new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeIdleConnections();
          }),
      };
    },
  };
}
