import type { NextFunction, Request, Response } from 'express';
import { logger } from '../log.ts';

/** An error with the status and a message meant for the client. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

const log = logger('http');

/** Every error leaves as JSON: {"error": code, "message": ..., "details"?: ...}. */
export function errorHandler(err: unknown, req: Request, res: Response, _next: NextFunction): void {
  if (err instanceof HttpError) {
    res
      .status(err.status)
      .json({ error: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) });
    return;
  }
  // body-parser errors carry a status and a type.
  const e = err as { status?: number; type?: string; message?: string; limit?: number; length?: number };
  if (e.type === 'entity.too.large') {
    res.status(413).json({
      error: 'payload_too_large',
      message: `request body of ${e.length} bytes exceeds the limit of ${e.limit} bytes`,
    });
    return;
  }
  if (e.type === 'entity.parse.failed') {
    res.status(400).json({ error: 'bad_request', message: `invalid JSON body: ${e.message}` });
    return;
  }
  if (e.type === 'encoding.unsupported' || e.type === 'charset.unsupported') {
    res.status(415).json({ error: 'unsupported_media_type', message: e.message });
    return;
  }
  if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
    res.status(e.status).json({ error: 'bad_request', message: e.message });
    return;
  }
  log.error({ err, path: req.path }, 'unhandled error');
  res.status(500).json({ error: 'internal', message: 'internal error' });
}

export function notFound(req: Request, res: Response): void {
  res.status(404).json({ error: 'not_found', message: `no route for ${req.method} ${req.path}` });
}
