import { timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Scope } from '../config/schema.ts';
import { HttpError } from './errors.ts';

export interface Token {
  name: string;
  token: string;
  scopes: readonly Scope[];
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Bearer-token auth with scopes. With no tokens configured every request passes: that is the
 * loopback-only default. `admin` implies every other scope.
 */
export function requireScope(tokens: readonly Token[], scope: Scope) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    if (tokens.length === 0) return next();
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match)
      return next(new HttpError(401, 'unauthorized', 'missing bearer token (Authorization: Bearer <token>)'));
    const token = tokens.find((t) => same(t.token, match[1]!));
    if (!token) return next(new HttpError(401, 'unauthorized', 'unknown token'));
    if (!token.scopes.includes(scope) && !token.scopes.includes('admin')) {
      return next(new HttpError(403, 'forbidden', `token "${token.name}" lacks the ${scope} scope`));
    }
    res_locals(_res).token = token.name;
    next();
  };
}

function res_locals(res: Response): Record<string, unknown> {
  return res.locals as Record<string, unknown>;
}
