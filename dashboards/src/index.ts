import type { Dashboard } from '@grafana/schema';
import { format, resolveConfig } from 'prettier';
import { finops } from './finops.ts';
import { incidents } from './incidents.ts';
import { logs } from './logs.ts';
import { serviceDetail } from './service-detail.ts';
import { sreOverview } from './sre-overview.ts';

/** Every dashboard, by the file name it is written to in dashboards/. */
export function allDashboards(): Record<string, Dashboard> {
  return {
    'sre-overview.json': sreOverview(),
    'service-detail.json': serviceDetail(),
    'logs.json': logs(),
    'finops.json': finops(),
    'incidents.json': incidents(),
  };
}

/** The JSON text of a dashboard file, formatted as `npm run lint` (prettier) expects it. */
export async function dashboardJson(d: Dashboard, file = 'dashboard.json'): Promise<string> {
  const path = new URL(`../${file}`, import.meta.url).pathname;
  return format(JSON.stringify(d), { ...(await resolveConfig(path)), filepath: path });
}
