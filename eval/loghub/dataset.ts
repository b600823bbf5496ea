import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { compileLogFormat, contentOf } from './format.ts';

/** One system of a Loghub-2k-layout directory: its messages and their ground truth. */
export interface LoghubSystem {
  name: string;
  /** The Content part of each raw line, split off with the system's log_format. */
  contents: string[];
  eventIds: string[];
  templates: string[];
  /** formats.json's `regex`: masking patterns the benchmark gives for this system. */
  patterns: string[];
}

interface FormatEntry {
  log_format: string;
  regex?: string[];
}

/** Reads a file, naming it in the error. */
function read(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`);
  }
}

export function readFormats(dir: string): Record<string, FormatEntry> {
  const path = join(dir, 'formats.json');
  const text = read(path);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    // V8 reports a character position; a line number is what an editor needs.
    const at = /position (\d+)/.exec((err as Error).message);
    const line = at ? text.slice(0, Number(at[1])).split('\n').length : undefined;
    throw new Error(`${path}${line ? `:${line}` : ''}: ${(err as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new Error(`${path}: expected an object of systems`);
  for (const [name, entry] of Object.entries(json as Record<string, unknown>)) {
    const e = entry as Partial<FormatEntry> | null;
    if (!e || typeof e.log_format !== 'string')
      throw new Error(`${path}: system ${name} has no log_format string`);
    if (e.regex !== undefined && !(Array.isArray(e.regex) && e.regex.every((r) => typeof r === 'string')))
      throw new Error(`${path}: system ${name}: regex must be a list of strings`);
  }
  return json as Record<string, FormatEntry>;
}

/** Splits on LF, dropping the empty string after a final newline (some files have none). */
function lines(text: string): string[] {
  const out = text.split('\n');
  if (out[out.length - 1] === '') out.pop();
  return out.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
}

export function loadSystem(dir: string, name: string, entry: FormatEntry): LoghubSystem {
  const logPath = join(dir, name, `${name}_2k.log`);
  const csvPath = join(dir, name, `${name}_2k.log_structured.csv`);
  const format = compileLogFormat(entry.log_format);
  const contents = lines(read(logPath)).map((line, i) => {
    const c = contentOf(format, line);
    if (c === undefined)
      throw new Error(
        `${logPath}:${i + 1}: line does not match log_format ${JSON.stringify(entry.log_format)}`,
      );
    return c;
  });
  let rows: Record<string, string>[];
  try {
    rows = parse(read(csvPath), { columns: true, skip_empty_lines: true, relax_column_count: false });
  } catch (err) {
    const e = err as Error & { lines?: number };
    throw new Error(`${csvPath}${e.lines ? `:${e.lines}` : ''}: ${e.message}`);
  }
  if (rows.length !== contents.length)
    throw new Error(`${csvPath}: ${rows.length} records for ${contents.length} lines in ${logPath}`);
  const eventIds: string[] = [];
  const templates: string[] = [];
  rows.forEach((r, i) => {
    // Line i + 2 of the CSV: the header is line 1 (records here never span lines).
    if (r.EventId === undefined || r.EventTemplate === undefined)
      throw new Error(`${csvPath}:${i + 2}: record has no EventId/EventTemplate column`);
    if (r.LineId !== undefined && Number(r.LineId) !== i + 1)
      throw new Error(`${csvPath}:${i + 2}: LineId ${r.LineId}, expected ${i + 1}`);
    eventIds.push(r.EventId);
    templates.push(r.EventTemplate);
  });
  for (const p of entry.regex ?? []) {
    try {
      new RegExp(p, 'g');
    } catch (err) {
      throw new Error(`${join(dir, 'formats.json')}: ${name}: ${(err as Error).message}`);
    }
  }
  return { name, contents, eventIds, templates, patterns: entry.regex ?? [] };
}
