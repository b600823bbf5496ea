import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect, targetFromConfig } from '../core/clickhouse/client.ts';
import { startEmbedded, type EmbeddedClickHouse } from '../core/clickhouse/embedded.ts';
import { migrate } from '../core/clickhouse/migrate.ts';
import type { Config } from '../core/config/schema.ts';
import type { RoleName, RoleStarter } from '../core/role.ts';
import { startRuntime, type Runtime } from '../core/runtime.ts';
import type { Incident } from '../core/model/records.ts';
import { changesImport, cmdbImport, kedbImport } from '../correlate/cli/import.ts';
import { changesJson, cmdbCisCsv, cmdbRelationsCsv, FAULTS, knownErrorsYaml, SERVICES } from './estate.ts';
import type { Conditions } from './faults.ts';
import { BillingGenerator, DAY } from './generate/billing.ts';
import { LogsGenerator } from './generate/logs.ts';
import { MetricsGenerator } from './generate/metrics.ts';
import { OnCall } from './oncall.ts';
import {
  formatCostAlert,
  formatGrowth,
  formatIncident,
  type CostAlertView,
  type DemoIncident,
} from './print.ts';
import { answers, demoConfig, inspect, writeAtomic } from './setup.ts';
import { classify, costAlerts, ready, view } from './watch.ts';

/**
 * `opsight demo`: the whole pipeline in this process on the configured (by default embedded)
 * ClickHouse, fed over its own HTTP endpoints with a day of a small shop's telemetry, then three
 * faults, printing the incidents as the correlator forms them.
 *
 * Time: the simulation is anchored at the wall-clock time it starts (A). It first replays the
 * history [A - historyHours, now] at `speed` simulated seconds per wall second (one-minute
 * steps; the streaming detectors go by the records' own timestamps, so they learn the daily
 * shape and see the memory leak that started 45 minutes before A). Once simulated time has
 * caught up with the wall clock it runs in real time in 10-second steps, because the health
 * rules and the correlator judge the last minutes of wall-clock time: the orders-db outage is
 * injected then, and the billing export with yesterday's runaway autoscaling lands. An on-call
 * (oncall.ts) acknowledges each incident through the API and resolves the outage's at the end.
 */

export interface DemoOptions {
  /** The configuration (default: loaded by the caller); the demo overrides what it must (see demoConfig). */
  config: Config;
  /** Simulated seconds per wall second while replaying history (default 3600). */
  speed?: number;
  seed?: number;
  /** Hours of metrics and logs before the anchor (default 24). */
  historyHours?: number;
  /** Give up waiting for the incidents after this long in real time (default 420 s). */
  maxWaitSeconds?: number;
  /** Drop the database first even if it holds data that is not from a demo. */
  reset?: boolean;
  /** Console output (default: stdout). */
  out?: (s: string) => void;
  /** After the demo, keep the pipeline (HTTP API, ClickHouse) up until SIGINT or SIGTERM. */
  keepRunning?: boolean;
}

export interface DemoResult {
  incidents: DemoIncident[];
  costAlerts: CostAlertView[];
  /** Whether every expected incident formed before maxWaitSeconds. */
  complete: boolean;
  clickhouseUrl: string;
  database: string;
  anchor: string;
  sent: { metricPoints: number; logLines: number; billingRows: number };
  /** Wall seconds: the whole run, the history replay, the live part. */
  seconds: number;
  replaySeconds: number;
  liveSeconds: number;
}

export class DemoError extends Error {}

export { classify, demoConfig };

const HISTORY_STEP = 60_000;
const LIVE_STEP = 10_000;
/** When the outage starts in the live part (ms). */
const OUTAGE_AT = 5000;
/** Steps per request while replaying history. */
const BATCH = 5;

async function post(base: string, path: string, body: string, contentType: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, {
        method: 'POST',
        headers: { 'content-type': contentType },
        body,
      });
    } catch (err) {
      // A kept-alive connection reset under load (ECONNRESET): send again. At worst one step
      // lands twice, which the demo's story survives (detectors skip repeated timestamps).
      if (attempt < 3) continue;
      throw err;
    }
    if (res.ok) return;
    // 503: the bus is full (the writer is behind); the pipeline asks senders to retry.
    if (res.status === 503 && attempt < 60) {
      await sleep(500);
      continue;
    }
    throw new Error(`POST ${path}: ${res.status} ${await res.text()}`);
  }
}

const starters: Record<RoleName, RoleStarter> = {
  ingest: async (ctx) => (await import('../ingest/role.ts')).startIngestRole(ctx),
  detect: async (ctx) => (await import('../detect/role.ts')).startDetectRole(ctx),
  correlate: async (ctx) => (await import('../correlate/role.ts')).startCorrelateRole(ctx),
};

export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const started = Date.now();
  const out = options.out ?? ((s: string) => void process.stdout.write(s));
  const speed = options.speed ?? 3600;
  const seed = options.seed ?? 1;
  const historyMs = (options.historyHours ?? 24) * 3_600_000;
  const maxWait = (options.maxWaitSeconds ?? 420) * 1000;
  if (!(speed >= 1)) throw new DemoError('--speed: at least 1 (simulated seconds per wall second)');
  const base = options.config;
  const demoDir = resolve(base.dataDir, 'demo');
  const billingDir = join(demoDir, 'billing');
  const estateDir = join(demoDir, 'estate');
  const config = demoConfig(base, billingDir);
  const db = config.clickhouse.database;

  let embedded: EmbeddedClickHouse | undefined;
  let runtime: Runtime | undefined;
  try {
    let url = config.clickhouse.url;
    if (!url) {
      embedded = await startEmbedded({ dataDir: config.dataDir, port: config.clickhouse.embedded.port });
      url = embedded.url;
      // Another pipeline on the same database would raise its own alerts from the demo's data.
      if (
        !embedded.owned &&
        (await answers(`http://${base.http.addr.replace(/^0\.0\.0\.0:/, '127.0.0.1:')}/healthz`))
      )
        throw new DemoError(
          `opsight is running on ${base.http.addr} with the ClickHouse of ${config.dataDir}: stop it first, ` +
            `or run the demo with another data directory (OPSIGHT_DATA_DIR=./demo-data opsight demo)`,
        );
    }
    const target = targetFromConfig(config, url);
    const admin = connect(target, false);
    try {
      const found = await inspect(admin, db);
      if (found.rows && !found.demo && !options.reset)
        throw new DemoError(
          `database ${db} holds ${found.rows} rows that are not from a demo; run the demo on another ` +
            `database (CLICKHOUSE_DATABASE=opsight_demo opsight demo) or replace it with --reset`,
        );
      // A fresh database each run: detector state and incidents of an earlier run would mix in.
      if (found.rows) {
        out(`demo: replacing the ${db} database of an earlier run\n`);
        await admin.command({ query: `DROP DATABASE IF EXISTS \`${db}\` SYNC` });
      }
      await migrate(admin, {
        database: db,
        cluster: config.clickhouse.cluster,
        ttlDays: config.clickhouse.ttlDays,
      });
    } finally {
      await admin.close();
    }
    rmSync(demoDir, { recursive: true, force: true });
    mkdirSync(billingDir, { recursive: true });
    mkdirSync(estateDir, { recursive: true });

    // The anchor: simulated "now" when the live part starts; history and changes lead up to it.
    const anchor = Date.now();
    const today = Math.floor(anchor / DAY) * DAY;
    const spikeDay = today - DAY;

    // The estate, as the export files an organisation has, imported like `opsight ... import`
    // before the correlator starts (it loads the CMDB at start, then every minute).
    const files = {
      cis: join(estateDir, 'cmdb-cis.csv'),
      rels: join(estateDir, 'cmdb-relations.csv'),
      kedb: join(estateDir, 'known-errors.yaml'),
      changes: join(estateDir, 'change_request.json'),
    };
    writeFileSync(files.cis, cmdbCisCsv());
    writeFileSync(files.rels, cmdbRelationsCsv());
    writeFileSync(files.kedb, knownErrorsYaml());
    writeFileSync(files.changes, changesJson(anchor));
    const client = connect(target);
    try {
      const results = [
        await cmdbImport(client, files.cis, { source: 'demo' }),
        await cmdbImport(client, files.rels, { source: 'demo' }),
        await kedbImport(client, files.kedb, { source: 'demo' }),
        await changesImport(client, files.changes, { source: 'demo' }),
      ];
      const bad = results.flatMap((r) => r.errors);
      if (bad.length) throw new Error(`demo estate import failed: ${bad.join('; ')}`);
      out(
        `demo: estate imported: ${SERVICES.length} CIs with ${results[1]!.accepted} dependencies, ` +
          `${results[2]!.accepted} known errors, ${results[3]!.accepted} changes (${estateDir})\n`,
      );
    } finally {
      await client.close();
    }

    // Billing: the month-to-date FOCUS exports as delivered until the day before yesterday.
    const billing = new BillingGenerator(seed, spikeDay);
    const firstBillingDay = spikeDay - 35 * DAY;
    let billingRows = 0;
    for (const f of billing.exports(firstBillingDay, spikeDay - DAY)) {
      writeAtomic(join(billingDir, f.name), f.csv);
      billingRows += f.csv.split('\n').length - 2;
    }

    runtime = await startRuntime({ ...config, clickhouse: { ...config.clickhouse, url } }, starters, [
      'ingest',
      'detect',
      'correlate',
    ]);
    const http = `http://${runtime.httpAddress}`;
    out(
      `demo: opsight running (ingest, detect, correlate) on ${http}, ClickHouse ${url} database ${db}\n` +
        `demo: replaying ${historyMs / 3_600_000} h of metrics and logs at ${speed}x, then live\n`,
    );

    const metrics = new MetricsGenerator(SERVICES, seed);
    const logs = new LogsGenerator(SERVICES, seed);
    const cond: Conditions = { anchor, outage: false };
    const sent = { metricPoints: 0, logLines: 0, billingRows };
    const send = async (steps: number[], stepMs: number) => {
      const req = metrics.request(steps, stepMs, cond);
      const lines = steps.flatMap((t) => logs.lines(t, stepMs, cond));
      sent.metricPoints += countPoints(req);
      sent.logLines += lines.length;
      await Promise.all([
        post(http, '/v1/metrics', JSON.stringify(req), 'application/json'),
        lines.length
          ? post(
              http,
              '/api/v1/logs/jsonl',
              lines.map((l) => JSON.stringify(l)).join('\n'),
              'application/x-ndjson',
            )
          : Promise.resolve(),
      ]);
    };

    // Incidents as they form, from the incidents API.
    const shown = new Map<string, string>();
    const counts = new Map<string, number>();
    const incidents = new Map<string, DemoIncident>();
    const oncall = new OnCall(http, out);
    let shownCost = 0;
    const poll = async () => {
      // A failed read (a connection reset under load) is only a skipped round.
      const res = await fetch(`${http}/api/v1/incidents?status=open,acknowledged,resolved&limit=100`).catch(
        () => undefined,
      );
      if (!res?.ok) return;
      const { incidents: list } = (await res.json()) as { incidents: Incident[] };
      for (const inc of list.map(view).reverse()) {
        incidents.set(inc.id, inc);
        const sig = JSON.stringify([
          inc.rootCause,
          inc.blastRadius,
          inc.knownError?.id,
          inc.change?.id,
          inc.priority,
          inc.affected,
        ]);
        if (shown.get(inc.id) === sig) {
          // More alerts on the same CIs: one line, not the whole triage again.
          if (counts.get(inc.id) !== inc.alertCount) out(formatGrowth(inc));
        } else out(formatIncident(inc, shown.has(inc.id)));
        shown.set(inc.id, sig);
        counts.set(inc.id, inc.alertCount);
      }
      const costs = await costAlerts(runtime!.clickhouse);
      for (const c of costs.slice(shownCost)) out(formatCostAlert(c));
      shownCost = Math.max(shownCost, costs.length);
      await oncall.acknowledgeDue(incidents.values());
    };
    const byFault = () => {
      const m = new Map<string, DemoIncident>();
      for (const i of incidents.values()) {
        const f = classify(i);
        if (f && !m.has(f)) m.set(f, i);
      }
      return m;
    };

    // History, compressed.
    const replayStart = Date.now();
    let t = anchor - historyMs;
    let lastPoll = 0;
    while (true) {
      const simNow = anchor - historyMs + (Date.now() - replayStart) * speed;
      const wall = Date.now();
      if (t + HISTORY_STEP * BATCH > wall) break;
      if (t + HISTORY_STEP * BATCH > simNow) {
        await sleep(Math.min(1000, (t + HISTORY_STEP * BATCH - simNow) / speed));
        continue;
      }
      await send(
        Array.from({ length: BATCH }, (_, i) => t + (i + 1) * HISTORY_STEP),
        HISTORY_STEP,
      );
      t += HISTORY_STEP * BATCH;
      if (Date.now() - lastPoll > 3000) {
        lastPoll = Date.now();
        await poll();
      }
    }
    const liveStart = Date.now();
    const replaySeconds = Math.round((liveStart - replayStart) / 1000);
    out(
      `demo: history replayed in ${replaySeconds} s (${sent.metricPoints} metric points, ${sent.logLines} log lines); live from now\n`,
    );

    // Live, in real time: the outage, then yesterday's bill arrives.
    let outageEnd: number | undefined;
    let billed = false;
    let settleUntil: number | undefined;
    let complete = false;
    while (Date.now() - liveStart < maxWait) {
      const now = Date.now();
      const elapsed = now - liveStart;
      if (!cond.outage && outageEnd === undefined && elapsed >= OUTAGE_AT) {
        cond.outage = true;
        out(`demo: injecting the ${FAULTS.outage.ci} outage (its WAL volume is full)\n`);
      }
      if (!billed && elapsed >= 15_000) {
        billed = true;
        const files = billing.exports(firstBillingDay, spikeDay);
        for (const f of files) writeAtomic(join(billingDir, f.name), f.csv);
        sent.billingRows = files.reduce((n, f) => n + f.csv.split('\n').length - 2, 0);
        out(
          `demo: the billing export with yesterday's usage arrived (${FAULTS.cost.resource} scaled out to 60 instances)\n`,
        );
      }
      // Steps end at "now": align to the live grid (t continues from the replay).
      while (t + LIVE_STEP <= now) {
        t += LIVE_STEP;
        await send([t], LIVE_STEP);
      }
      await poll();
      const f = byFault();
      // At least a minute down, so the health rules (target down, error ratio over their
      // 5-minute window) fire as well as the log alerts; at most four.
      const outageFor = elapsed - OUTAGE_AT;
      if (cond.outage && ((ready(f.get('outage'), 'outage') && outageFor >= 60_000) || outageFor > 240_000)) {
        cond.outage = false;
        outageEnd = now;
        out(`demo: ${FAULTS.outage.ci} is back (failed over to the standby)\n`);
      }
      const done =
        outageEnd !== undefined &&
        ready(f.get('outage'), 'outage') &&
        ready(f.get('leak'), 'leak') &&
        f.has('cost');
      if (done && settleUntil === undefined) settleUntil = Date.now() + 15_000;
      if (settleUntil !== undefined && Date.now() >= settleUntil) {
        complete = true;
        break;
      }
      await sleep(2000);
    }
    // The on-call closes the outage's incident once the database is back and nothing more
    // joined it (resolving earlier would let a late alert of the outage open a second incident).
    const outage = byFault().get('outage');
    if (outageEnd !== undefined && outage)
      await oncall.resolve(outage, `${FAULTS.outage.ci} is back on the standby`);
    await poll();
    const result: DemoResult = {
      incidents: [...incidents.values()],
      costAlerts: await costAlerts(runtime.clickhouse),
      complete,
      clickhouseUrl: url,
      database: db,
      anchor: new Date(anchor).toISOString(),
      sent,
      seconds: Math.round((Date.now() - started) / 1000),
      replaySeconds,
      liveSeconds: Math.round((Date.now() - liveStart) / 1000),
    };
    out(
      `demo: ${complete ? 'done' : 'stopped waiting'} after ${result.seconds} s: ${result.incidents.length} incidents, ` +
        `${result.costAlerts.length} cost alert(s); the data stays in ${db} for Grafana ` +
        `(opsight clickhouse --start, then point Grafana at it)\n`,
    );
    if (options.keepRunning) {
      out(`demo: still running: HTTP ${http}, ClickHouse ${url} database ${db}; Ctrl-C stops it\n`);
      await new Promise<void>((done) => {
        process.once('SIGINT', () => done());
        process.once('SIGTERM', () => done());
      });
    }
    return result;
  } finally {
    await runtime?.stop();
    await embedded?.stop();
  }
}

function countPoints(req: object): number {
  let n = 0;
  for (const rm of (
    req as {
      resourceMetrics: { scopeMetrics: { metrics: Record<string, { dataPoints?: unknown[] }>[] }[] }[];
    }
  ).resourceMetrics)
    for (const sm of rm.scopeMetrics)
      for (const m of sm.metrics)
        for (const v of Object.values(m))
          if (v && typeof v === 'object' && 'dataPoints' in v) n += v.dataPoints!.length;
  return n;
}
