import { createInterface } from 'node:readline';
import { FocusFileError } from '../focus.ts';
import { openBillingFile } from '../open-file.ts';
import type { RecordFile, RecordItem } from './records.ts';
import type { NativeRecord, NativeValue } from './types.ts';
import { clip } from './values.ts';

/**
 * Newline-delimited JSON (BigQuery's NEWLINE_DELIMITED_JSON extract, gzip or not): one object
 * a line. Numbers keep their source text (money must not pass through a JS float), so each
 * number token outside a string is quoted before JSON.parse.
 */

const TOKENS = /"(?:[^"\\]|\\.)*"|(-?\d[\d.eE+-]*)/g;

export function parseJsonKeepingNumbers(line: string): unknown {
  return JSON.parse(line.replace(TOKENS, (tok, num: string | undefined) => (num ? `"${num}"` : tok)));
}

/** Nested JSON -> NativeValue (booleans as text). */
function native(v: unknown): NativeValue {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return v.map(native);
  if (typeof v === 'object') {
    const out: NativeRecord = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = native(x);
    return out;
  }
  return String(v);
}

function parseLine(text: string, line: number): RecordItem {
  let parsed: unknown;
  try {
    parsed = parseJsonKeepingNumbers(text);
  } catch (err) {
    return { line, error: `invalid JSON: ${(err as Error).message}`, raw: clip(text) };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    return { line, error: 'not a JSON object', raw: clip(text) };
  return { line, record: native(parsed) as NativeRecord };
}

export async function openJsonlRecords(path: string, file: string, batchSize = 5000): Promise<RecordFile> {
  const input = await openBillingFile(path);
  const lines = createInterface({ input, crlfDelay: Infinity })[Symbol.asyncIterator]();
  const pending: RecordItem[] = [];
  let lineNo = 0;
  let columns: string[] | undefined;
  try {
    while (!columns) {
      const next = await lines.next();
      if (next.done) break;
      lineNo++;
      const t = next.value.trim();
      if (!t) continue;
      if (lineNo === 1 && t.startsWith('['))
        throw new FocusFileError(
          `${file}: a JSON array, expected newline-delimited JSON (one object a line)`,
        );
      const item = parseLine(t, lineNo);
      pending.push(item);
      if ('record' in item) columns = Object.keys(item.record);
    }
  } catch (err) {
    input.destroy();
    throw err;
  }
  if (!columns) {
    input.destroy();
    throw new FocusFileError(`${file}: no JSON object in the file`);
  }
  return {
    columns,
    async *batches() {
      try {
        let batch = pending.splice(0);
        for (;;) {
          const next = await lines.next();
          if (next.done) break;
          lineNo++;
          const t = next.value.trim();
          if (t) batch.push(parseLine(t, lineNo));
          if (batch.length >= batchSize) {
            yield batch;
            batch = [];
          }
        }
        if (batch.length) yield batch;
      } finally {
        input.destroy();
      }
    },
    close: async () => void input.destroy(),
  };
}
