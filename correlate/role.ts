import { TOPICS } from '../core/bus/topics.ts';
import type { BusBatch, Subscription } from '../core/bus/types.ts';
import { electLeader, whileLeading } from '../core/bus/leader.ts';
import { logger, type Logger } from '../core/log.ts';
import type { Alert, Incident } from '../core/model/records.ts';
import type { RoleContext, RunningRole } from '../core/role.ts';
import { Correlator, type IncidentEvent } from './engine/correlator.ts';
import { KnownErrorMatcher } from './engine/kedb.ts';
import { mountCmdbApi } from './http/cmdb.ts';
import { mountIncidentApi, type LiveCorrelator } from './http/incidents.ts';
import { mountAlertIntake } from './http/intake.ts';
import { Dispatcher } from './notify/dispatcher.ts';
import { latestAlerts, storeAlerts } from './store/alerts.ts';
import {
  loadChanges,
  loadCis,
  loadKnownErrors,
  loadRelations,
  saveDiscovered,
  telemetryServices,
} from './store/cmdb.ts';
import type { Ci } from './engine/model.ts';
import { queryIncidents, saveIncidents } from './store/incidents.ts';

/**
 * The correlate role: alerts from opsight.alerts (detectors, and the Alertmanager and generic
 * intake endpoints, which publish there) are stored in `alerts` and fed to the correlator;
 * every incident change is stored as a new version in `incidents` and published on
 * opsight.incidents for the notifiers. Incident state lives in memory and is rebuilt from
 * ClickHouse when the correlator starts.
 *
 * Grouping needs every alert, so one correlator runs at a time: several correlate processes
 * elect a leader (core/bus/leader.ts), and only the leader consumes opsight.alerts, runs the
 * correlator and the notifiers. On becoming leader a process restores incidents from ClickHouse,
 * then subscribes; on losing it, it unsubscribes (committing what it stored) and drops its
 * state. Every process serves the intake (it only publishes), the CMDB API and incident reads
 * (from ClickHouse); incident changes on a standby answer 503 `standby`.
 */
export const CORRELATE_GROUP = 'opsight-correlate';

interface Active extends LiveCorrelator {
  stop(): Promise<void>;
}

export async function startCorrelateRole(ctx: RoleContext): Promise<RunningRole> {
  const log = logger('correlate');
  const cfg = ctx.config.correlate;
  let active: Active | undefined;

  const leadership = await electLeader({
    name: 'correlate',
    bus: ctx.bus,
    replicationFactor: ctx.config.kafka.replicationFactor,
    log,
  });
  ctx.watchLag(CORRELATE_GROUP, TOPICS.alerts);
  mountAlertIntake(ctx.http, ctx.bus, cfg.fingerprintLabels);
  mountIncidentApi(ctx.http, ctx.clickhouse, () => active);
  mountCmdbApi(ctx.http, ctx.clickhouse);

  leadership.onChange(async (leader) => {
    if (leader) {
      active = await whileLeading(
        leadership,
        'starting the correlator',
        () => startCorrelator(ctx, log),
        log,
      );
      if (active) log.info('leader: correlator running');
    } else if (active) {
      const was = active;
      active = undefined;
      await was.stop();
      log.info('standby: correlator stopped');
    }
  });
  // Leading from the start (always so on the in-process bus): start returns once it runs.
  if (leadership.isLeader()) await new Promise<void>((r) => leadership.onChange(() => r()));
  log.info({ leader: leadership.isLeader() }, 'correlate role started');

  return {
    name: 'correlate',
    // Steps down first (final flush, offsets committed), then leaves the election.
    stop: () => leadership.close(),
  };
}

/** The leader's part: restore, consume opsight.alerts, tick, notify; stop() undoes it. */
async function startCorrelator(ctx: RoleContext, log: Logger): Promise<Active> {
  const cfg = ctx.config.correlate;
  const s = (x: number) => x * 1000;
  const correlator = new Correlator(
    {
      groupWindowMs: s(cfg.groupWindowSeconds),
      maxHops: cfg.maxHops,
      flapWindowMs: s(cfg.flapWindowSeconds),
      quietPeriodMs: s(cfg.quietPeriodSeconds),
      changeWindowMs: s(cfg.changeWindowSeconds),
      rules: cfg.rules.map((r) => ({ name: r.name, labels: r.labels, windowMs: s(r.windowSeconds) })),
    },
    { kedb: new KnownErrorMatcher([], cfg.kedbThreshold) },
  );

  const refresh = async () => {
    const [cis, rels, kes, changes] = await Promise.all([
      loadCis(ctx.clickhouse),
      loadRelations(ctx.clickhouse),
      loadKnownErrors(ctx.clickhouse),
      loadChanges(ctx.clickhouse, Date.now() - s(cfg.changeWindowSeconds + cfg.groupWindowSeconds)),
    ]);
    // Services seen in telemetry in the last hour but unknown to the CMDB become discovered CIs,
    // so their alerts bind, group and show up for the CMDB's owners.
    const known = new Set(cis.flatMap((c) => [c.name.toLowerCase(), (c.service ?? '').toLowerCase()]));
    const discovered: Ci[] = (await telemetryServices(ctx.clickhouse, Date.now() - 3600_000))
      .filter((name) => !known.has(name.toLowerCase()))
      .map((name) => ({
        id: `discovered:${name}`,
        name,
        class: 'service',
        service: name,
        attributes: {},
        discovered: true,
      }));
    if (discovered.length) await saveDiscovered(ctx.clickhouse, discovered);
    // The stored CMDB is the truth: retracted CIs and relations leave the graph too.
    correlator.graph.replaceAll([...cis, ...discovered], rels);
    for (const c of changes) correlator.changes.add(c);
    correlator.kedb.load(kes);
    correlator.cmdbChanged();
    return { cis: cis.length, relations: rels.length, knownErrors: kes.length, changes: changes.length };
  };
  const loaded = await refresh();

  // Open incidents, and resolved ones that an alert may still flap back into.
  const since = new Date(
    Date.now() - s(Math.max(cfg.flapWindowSeconds, cfg.groupWindowSeconds)),
  ).toISOString();
  const stored = [
    ...(await queryIncidents(ctx.clickhouse, { status: ['open', 'acknowledged'], limit: 100_000 })),
    ...(await queryIncidents(ctx.clickhouse, { status: ['resolved'], since, limit: 100_000 })),
  ];
  const members = await latestAlerts(ctx.clickhouse, [
    ...new Set(stored.flatMap((i) => i.alertFingerprints)),
  ]);
  correlator.restore(stored, members, Date.now());
  log.info({ ...loaded, restoredIncidents: stored.length }, 'correlator loaded');

  // Serialised: a flush stores versions in order and never overlaps another.
  let flushing: Promise<void> = Promise.resolve();
  // Per bus batch an incident growing in a storm is re-triaged at most once a second; the tick
  // and API actions force it.
  const flush = (force = false): Promise<void> =>
    (flushing = flushing.then(() => persist(correlator.drain(force))));
  const persist = async (events: IncidentEvent[]) => {
    const discovered = correlator.drainDiscovered();
    if (discovered.length) await saveDiscovered(ctx.clickhouse, discovered);
    if (!events.length) return;
    const latest = new Map<string, Incident>();
    for (const e of events) latest.set(e.incident.id, e.incident);
    await saveIncidents(ctx.clickhouse, [...latest.values()]);
    // Notifiers want every meaningful transition, not the coalesced state.
    const notable = events.filter((e) => e.type !== 'updated');
    if (notable.length)
      await ctx.bus.publish(
        TOPICS.incidents,
        notable.map((e) => ({ key: e.incident.id, value: e })),
      );
  };

  const handle = async (batch: BusBatch<Alert>) => {
    const alerts = batch.messages.map((m) => m.value);
    const first = batch.messages[0]!.offset;
    const last = batch.messages[batch.messages.length - 1]!.offset;
    await storeAlerts(
      ctx.clickhouse,
      alerts,
      Date.now(),
      `${batch.topic}:${batch.partition}:${first}:${last}`,
    );
    const now = Date.now();
    for (const a of alerts) correlator.ingest(a, now);
    await flush();
  };
  const sub: Subscription = await ctx.bus.subscribe<Alert>({
    group: CORRELATE_GROUP,
    topics: [TOPICS.alerts],
    handler: handle,
  });

  const dispatcher = new Dispatcher(ctx.config.notify, {
    bus: ctx.bus,
    clickhouse: ctx.clickhouse,
    log: logger('notify'),
    ownerGroup: (ci) => correlator.graph.get(ci)?.ownerGroup,
  });
  await dispatcher.start().catch(async (err: unknown) => {
    await sub.close();
    throw err;
  });

  let ticks = 0;
  let ticking: Promise<void> | undefined;
  const timer = setInterval(() => {
    if (ticking) return;
    ticking = (async () => {
      correlator.tick(Date.now());
      // The CMDB, KEDB and changes may be imported by another process: re-read now and then.
      if (++ticks % 6 === 0) await refresh();
      await flush(true);
    })()
      .catch((err: unknown) => log.warn({ err }, 'correlator tick failed'))
      .finally(() => (ticking = undefined));
  }, s(cfg.tickSeconds));
  timer.unref();

  return {
    correlator,
    flush: () => flush(true),
    stop: async () => {
      clearInterval(timer);
      await ticking;
      await sub.close();
      await flush(true).catch((err: unknown) => log.error({ err }, 'final incident flush failed'));
      await dispatcher.stop();
    },
  };
}
