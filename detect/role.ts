import { electLeader, whileLeading } from '../core/bus/leader.ts';
import { logger } from '../core/log.ts';
import type { RoleContext, RunningRole } from '../core/role.ts';
import { BusAlertSink } from './alerts/sink.ts';
import type { Detector, DetectorContext } from './detector.ts';
import { buildDetectors } from './detectors.ts';
import { ClickHouseStateStore } from '../core/state/store.ts';

/**
 * The detect role: detectors read the bus (streaming) or ClickHouse (batch) and raise alerts on
 * opsight.alerts; their state lives in detector_state. `GET /api/v1/detectors` shows each one.
 *
 * Several detect processes may run. Stream detectors run in each (their consumer groups split
 * the partitions); batch detectors (`leaderOnly`) run only in the elected leader
 * (core/bus/leader.ts). A process that becomes leader starts fresh batch detectors, which load
 * the state the previous leader saved in detector_state; one that loses it stops them.
 *
 * `build` makes the detectors (default: those the config enables); it is called again for the
 * batch detectors at each leadership gain, since a stopped detector does not start again.
 */
export async function startDetectRole(
  ctx: RoleContext,
  build: () => Detector[] = () => buildDetectors(ctx.config),
): Promise<RunningRole> {
  const log = logger('detect');
  const all = build();
  const stream = all.filter((d) => !d.leaderOnly);
  const batchNames = all.filter((d) => d.leaderOnly).map((d) => d.name);
  let batch: Detector[] = [];
  let fresh: Detector[] | undefined = all.filter((d) => d.leaderOnly);
  const alerts = new BusAlertSink(ctx.bus);
  const state = new ClickHouseStateStore(ctx.clickhouse);
  const dctx = (d: Detector): DetectorContext => ({
    config: ctx.config,
    bus: ctx.bus,
    clickhouse: ctx.clickhouse,
    log: log.child({ detector: d.name }),
    alerts,
    state,
  });
  const startAll = async (list: Detector[]): Promise<Detector[]> => {
    const started: Detector[] = [];
    try {
      for (const d of list) {
        await d.start(dctx(d));
        started.push(d);
      }
    } catch (err) {
      await stopAll(started);
      throw err;
    }
    return started;
  };
  const stopAll = async (list: Detector[]) => {
    for (const d of [...list].reverse())
      await d.stop().catch((err: unknown) => log.error({ err, detector: d.name }, 'stop failed'));
  };

  const leadership = await electLeader({
    name: 'detect',
    bus: ctx.bus,
    replicationFactor: ctx.config.kafka.replicationFactor,
    log,
  });
  ctx.http.route('get', '/api/v1/detectors', 'read', (_req, res) => {
    res.json({
      leader: leadership.isLeader(),
      detectors: [...stream, ...batch].map((d) => d.stats()),
      // Batch detectors that run in the leader, not here.
      ...(leadership.isLeader() ? {} : { standby: batchNames }),
    });
  });

  const streamStarted = await startAll(stream).catch(async (err: unknown) => {
    await leadership.close();
    throw err;
  });
  leadership.onChange(async (leader) => {
    if (leader) {
      const started = await whileLeading(
        leadership,
        'starting the batch detectors',
        () => {
          // A stopped (or half-started) detector does not start again: fresh ones each time.
          const list = fresh ?? build().filter((d) => d.leaderOnly);
          fresh = undefined;
          return startAll(list);
        },
        log,
      );
      batch = started ?? [];
      log.info({ detectors: batch.map((d) => d.name) }, 'leader: batch detectors started');
    } else {
      const list = batch;
      batch = [];
      await stopAll(list);
      if (list.length) log.info({ detectors: list.map((d) => d.name) }, 'standby: batch detectors stopped');
    }
  });
  // Leading from the start (always so on the in-process bus): start returns once they run
  // (listeners are called in order, so this one runs after the one above has finished).
  if (leadership.isLeader()) await new Promise<void>((r) => leadership.onChange(() => r()));
  log.info({ detectors: all.map((d) => d.name), leader: leadership.isLeader() }, 'detect role started');
  return {
    name: 'detect',
    stop: async () => {
      // Batch detectors stop (saving their state) before a standby may take over.
      await leadership.close();
      await stopAll(streamStarted);
    },
  };
}
