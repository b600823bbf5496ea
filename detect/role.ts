import { logger } from '../core/log.ts';
import type { RoleContext, RunningRole } from '../core/role.ts';

/**
 * The detect role: detectors read the bus (streaming) or ClickHouse (batch) and raise alerts on
 * opsight.alerts. The detectors themselves (metrics, logs, cost, health) register here as they
 * land; until then the role starts and reports that it runs none.
 */
export async function startDetectRole(_ctx: RoleContext): Promise<RunningRole> {
  logger('detect').info({ detectors: [] }, 'detect role started with no detectors configured');
  return { name: 'detect', stop: async () => {} };
}
