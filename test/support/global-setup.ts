import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbedded, type EmbeddedClickHouse } from '../../core/clickhouse/embedded.ts';

/** One embedded ClickHouse for the whole run; tests that stop servers start their own. */
declare module 'vitest' {
  export interface ProvidedContext {
    clickhouseUrl: string;
  }
}

let ch: EmbeddedClickHouse | undefined;
let dir: string | undefined;

export async function setup(project: TestProject): Promise<void> {
  dir = mkdtempSync(join(tmpdir(), 'opsight-test-'));
  ch = await startEmbedded({ dataDir: dir });
  project.provide('clickhouseUrl', ch.url);
}

export async function teardown(): Promise<void> {
  await ch?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}
