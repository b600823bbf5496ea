import { logger } from '../core/log.ts';
import type { RoleContext, RunningRole } from '../core/role.ts';

/**
 * The correlate role: alert intake, dedup, grouping into incidents, notification. Its stages
 * register here as they land; until then the role starts and reports that it runs none.
 */
export async function startCorrelateRole(_ctx: RoleContext): Promise<RunningRole> {
  logger('correlate').info({ stages: [] }, 'correlate role started with no stages configured');
  return { name: 'correlate', stop: async () => {} };
}
