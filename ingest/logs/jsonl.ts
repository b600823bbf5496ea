import type { NextFunction, Request, Response } from 'express';
import { TOPICS } from '../../core/bus/topics.ts';
import type { Config } from '../../core/config/schema.ts';
import { HttpError } from '../../core/http/errors.ts';
import { recordsIn } from '../../core/metrics.ts';
import type { LogRecord } from '../../core/model/records.ts';
import { withSpan } from '../../core/telemetry.ts';
import type { DeadLetterSink } from '../dead-letters.ts';
import { SourceStats, type Source, type SourceContext } from '../source.ts';
import { normalizeJsonLog } from './normalize.ts';
import { logKey } from '../keys.ts';

/**
 * `POST /api/v1/logs/jsonl`: one JSON log object a line (Logstash, Fluent Bit, Vector, pino
 * output as they are). Unlike the all-or-nothing records API, good lines are kept and bad
 * ones reported by line number: log shippers resend whole batches rarely and cannot fix a line.
 */

export const JSONL_PATH = '/api/v1/logs/jsonl';
const TYPES = [
  'application/x-ndjson',
  'application/jsonl',
  'application/x-jsonlines',
  'application/json',
  'text/plain',
  'text/*',
];

export interface LineError {
  line: number;
  message: string;
}

export interface JsonlResult {
  records: LogRecord[];
  lines: number;
  rejected: number;
  errors: LineError[];
  /** Every rejected line (errors stops at maxErrors), with its text, for dead_letters. */
  bad?: BadLine[];
}

export interface BadLine extends LineError {
  text: string;
}

type ParseOptions = { serviceNameAttributes: readonly string[]; maxErrors: number; nowNanos: bigint };

/**
 * A body that is one JSON array (Fluent Bit's `format json`, Vector's default json encoding):
 * each element is a record and `line` in errors is its 1-based index. Undefined if not an array.
 */
function parseArray(text: string, options: ParseOptions): JsonlResult | undefined {
  let items: unknown;
  try {
    items = JSON.parse(text);
  } catch {
    return undefined; // e.g. NDJSON whose first line is an array: read line by line
  }
  if (!Array.isArray(items)) return undefined;
  const bad: BadLine[] = [];
  const result: JsonlResult = { records: [], lines: items.length, rejected: 0, errors: [], bad };
  items.forEach((item, i) => {
    const r = normalizeJsonLog(item, options);
    if (r.ok) result.records.push(r.record);
    else {
      result.rejected++;
      if (result.errors.length < options.maxErrors) result.errors.push({ line: i + 1, message: r.error });
      bad.push({ line: i + 1, message: r.error, text: JSON.stringify(item) ?? 'null' });
    }
  });
  return result;
}

/** Splits and normalises a body; blank lines are skipped and not counted. */
export function parseJsonl(text: string, options: ParseOptions): JsonlResult {
  if (text.trimStart().startsWith('[')) {
    const array = parseArray(text, options);
    if (array) return array;
  }
  const records: LogRecord[] = [];
  const errors: LineError[] = [];
  const bad: BadLine[] = [];
  let lines = 0;
  let rejected = 0;
  let start = 0;
  for (let n = 1; start <= text.length; n++) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    const line = text.slice(start, end).trim();
    start = end + 1;
    if (line === '') continue;
    lines++;
    let error: string;
    try {
      const r = normalizeJsonLog(JSON.parse(line), options);
      if (r.ok) {
        records.push(r.record);
        continue;
      }
      error = r.error;
    } catch (err) {
      error = `invalid JSON: ${(err as Error).message}`;
    }
    rejected++;
    if (errors.length < options.maxErrors) errors.push({ line: n, message: error });
    bad.push({ line: n, message: error, text: line });
  }
  return { records, lines, rejected, errors, bad };
}

export class JsonlSource implements Source {
  readonly name = 'jsonl';
  readonly kind = 'logs';
  private readonly stats = new SourceStats(this.name, this.kind);
  private deadLetters: DeadLetterSink | undefined;

  constructor(private readonly config: Config['ingest']['jsonl']) {}

  async start(ctx: SourceContext): Promise<void> {
    const { bus, http } = ctx;
    this.deadLetters = ctx.deadLetters;
    http.route(
      'post',
      JSONL_PATH,
      'ingest',
      http.body.raw(TYPES),
      (req: Request, res: Response, next: NextFunction) =>
        withSpan('receive', { 'opsight.kind': 'logs', 'http.route': JSONL_PATH }, async () => {
          try {
            if (!Buffer.isBuffer(req.body))
              throw new HttpError(
                415,
                'unsupported_media_type',
                `expected content-type application/x-ndjson, application/json or text/plain, got ${req.get('content-type') ?? 'none'}`,
              );
            const result = parseJsonl(req.body.toString('utf8'), {
              serviceNameAttributes: this.config.serviceNameAttributes,
              maxErrors: this.config.maxErrors,
              nowNanos: BigInt(Date.now()) * 1_000_000n,
            });
            this.stats.receive(result.lines);
            if (result.rejected) {
              const first = result.errors[0]!;
              this.stats.reject(result.rejected, `line ${first.line}: ${first.message}`);
              this.deadLetter(req, result.bad ?? []);
            }
            const summary = {
              accepted: result.records.length,
              rejected: result.rejected,
              errors: result.errors,
            };
            if (result.records.length === 0) {
              throw new HttpError(
                400,
                'bad_request',
                result.lines === 0
                  ? 'empty body: expected one JSON object a line'
                  : `all ${result.lines} lines invalid; line ${result.errors[0]!.line}: ${result.errors[0]!.message}`,
                summary,
              );
            }
            await bus.publish(
              TOPICS.logs,
              result.records.map((value) => ({ key: logKey(value), value })),
            );
            this.stats.accept(result.records.length);
            recordsIn.inc({ topic: TOPICS.logs }, result.records.length);
            res.status(202).json(summary);
          } catch (err) {
            next(err);
          }
        }),
    );
  }

  async stop(): Promise<void> {}

  /** One dead letter per bad line: `POST /api/v1/logs/jsonl from <peer>:<line>: reason`. */
  private deadLetter(req: Request, bad: readonly BadLine[]): void {
    const sink = this.deadLetters;
    if (!sink) return;
    const file = `${JSONL_PATH} from ${req.ip ?? req.socket.remoteAddress ?? 'unknown'}`;
    for (const b of bad) {
      sink.add({
        source: this.name,
        topic: TOPICS.logs,
        file,
        line: b.line,
        reason: b.message,
        payload: b.text,
      });
    }
  }

  state() {
    return this.stats.state();
  }
}

export function jsonlSources(config: Config): Source[] {
  return config.ingest.jsonl.enabled ? [new JsonlSource(config.ingest.jsonl)] : [];
}
