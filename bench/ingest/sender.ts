/**
 * The ingest benchmark's sender, a process of its own as Prometheus, a log shipper or a
 * billing export is: it prepares the workload's data, says `ready` on stdout, waits for the
 * running opsight's address on stdin, sends everything and prints its own CPU time as JSON.
 * Started by run.ts; in one event loop with opsight it took a share of the thread it measures.
 */
import { createInterface } from 'node:readline';
import { WORKLOADS, type SendContext, type WorkloadOptions } from './sources.ts';

export interface SenderInput {
  workload: string;
  rows: number;
  options: WorkloadOptions;
  ctx: Omit<SendContext, 'http'>;
}

export interface SenderResult {
  /** User + system CPU of the sender from the first byte sent to the last answer, µs. */
  cpuMicros: number;
}

const input = JSON.parse(process.env.BENCH_INGEST_SENDER ?? '') as SenderInput;
const workload = WORKLOADS[input.workload]!(input.rows, input.options);
const ctx: SendContext = { ...input.ctx, http: '' };
await workload.prepare?.(ctx);
process.stdout.write('ready\n');
const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  ctx.http = (JSON.parse(line) as { http: string }).http;
  break;
}
lines.close();
const cpu0 = process.cpuUsage();
await workload.send(ctx);
const cpu = process.cpuUsage(cpu0);
process.stdout.write(`${JSON.stringify({ cpuMicros: cpu.user + cpu.system } satisfies SenderResult)}\n`);
