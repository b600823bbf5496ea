import { writeFileSync } from 'node:fs';
import { allDashboards, dashboardJson } from './index.ts';

/** `npx tsx dashboards/src/build.ts`: writes dashboards/*.json from the sources beside it. */
const dir = new URL('../', import.meta.url);
for (const [file, d] of Object.entries(allDashboards())) {
  writeFileSync(new URL(file, dir), await dashboardJson(d, file));
  process.stdout.write(`dashboards/${file}: ${d.panels?.length ?? 0} panels\n`);
}
