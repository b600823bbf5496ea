import type { Request, Response } from 'express';
import type { z } from 'zod';
import type { Bus } from '../../core/bus/types.ts';
import { TOPICS } from '../../core/bus/topics.ts';
import type { HttpApp } from '../../core/http/app.ts';
import { HttpError } from '../../core/http/errors.ts';
import type { Alert } from '../../core/model/records.ts';
import { alertmanagerPayload, fromAlertmanager } from '../intake/alertmanager.ts';
import { fromGeneric, genericPayload } from '../intake/generic.ts';
import { fingerprintFor } from '../intake/normalize.ts';

/**
 * Alerts from outside: Alertmanager's webhook (v4) and the generic JSON API. Both validate,
 * normalise to the alert record and publish to opsight.alerts, where opsight's own alerts
 * travel too; a bad payload gets 400 naming what is wrong, an unavailable bus 503.
 */
export function mountAlertIntake(http: HttpApp, bus: Bus, fingerprintLabels: readonly string[]): void {
  const fp = (l: Record<string, string>) => fingerprintFor(l, fingerprintLabels);
  const publish = async (res: Response, alerts: Alert[]) => {
    await bus.publish(
      TOPICS.alerts,
      alerts.map((a) => ({ key: a.fingerprint, value: a })),
    );
    res.status(202).json({ accepted: alerts.length, fingerprints: alerts.map((a) => a.fingerprint) });
  };
  http.route(
    'post',
    '/api/v1/alerts/alertmanager',
    'ingest',
    http.body.json,
    async (req: Request, res: Response) => {
      const p = parse(alertmanagerPayload, req.body);
      await publish(res, fromAlertmanager(p, fp));
    },
  );
  http.route('post', '/api/v1/alerts', 'ingest', http.body.json, async (req: Request, res: Response) => {
    const list = parse(genericPayload, req.body);
    await publish(res, fromGeneric(list, fp));
  });
}

function parse<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const issues = r.error.issues.slice(0, 20).map((i) => ({ path: i.path.join('.'), message: i.message }));
  const first = issues[0];
  throw new HttpError(
    400,
    'bad_request',
    first ? `${first.path || 'body'}: ${first.message}` : 'invalid payload',
    issues,
  );
}
