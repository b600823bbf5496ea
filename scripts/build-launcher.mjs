// npm postinstall: compile the embedded ClickHouse launcher now rather than at first start.
// A failure is not fatal here (CLICKHOUSE_URL may point at a real server); `opsight start`
// repeats the build and reports the same error if it is still needed.
import { spawnSync } from 'node:child_process';

const r = spawnSync(
  process.execPath,
  ['--import', 'tsx', '-e', "import('./core/clickhouse/launcher.ts').then(m => { m.ensureLauncher(); })"],
  {
    stdio: ['ignore', 'inherit', 'pipe'],
  },
);
if (r.status !== 0) {
  process.stderr.write(
    `opsight: ${
      r.stderr
        .toString()
        .trim()
        .split('\n')
        .filter((l) => l.includes('launcher'))
        .join('\n') || 'launcher build failed'
    }\n`,
  );
}
