import { logger } from '../core/log.ts';
import type { RoleContext, RunningRole } from '../core/role.ts';
import { BusAlertSink } from './alerts/sink.ts';
import type { Detector } from './detector.ts';
import { buildDetectors } from './detectors.ts';
import { ClickHouseStateStore } from '../core/state/store.ts';

/**
 * The detect role: detectors read the bus (streaming) or ClickHouse (batch) and raise alerts on
 * opsight.alerts; their state lives in detector_state. `GET /api/v1/detectors` shows each one.
 */
export async function startDetectRole(ctx: RoleContext, detectors?: Detector[]): Promise<RunningRole> {
  const log = logger('detect');
  const list = detectors ?? buildDetectors(ctx.config);
  const alerts = new BusAlertSink(ctx.bus);
  const state = new ClickHouseStateStore(ctx.clickhouse);
  ctx.http.route('get', '/api/v1/detectors', 'read', (_req, res) => {
    res.json({ detectors: list.map((d) => d.stats()) });
  });
  const started: Detector[] = [];
  try {
    for (const d of list) {
      await d.start({
        config: ctx.config,
        bus: ctx.bus,
        clickhouse: ctx.clickhouse,
        log: log.child({ detector: d.name }),
        alerts,
        state,
      });
      started.push(d);
    }
  } catch (err) {
    for (const d of started.reverse()) await d.stop().catch(() => {});
    throw err;
  }
  log.info({ detectors: list.map((d) => d.name) }, 'detect role started');
  return {
    name: 'detect',
    stop: async () => {
      for (const d of started)
        await d.stop().catch((err: unknown) => log.error({ err, detector: d.name }, 'stop failed'));
    },
  };
}
