import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** One labelled series of a NAB-layout directory. */
export interface NabFile {
  /** `<category>/<name>.csv`, the key used in the label files. */
  key: string;
  timestamps: Float64Array;
  values: Float64Array;
  /** Windows as inclusive [startRow, endRow] row indices. */
  windows: Array<[number, number]>;
}

/** An error that names the file (and line) at fault, for CLI messages. */
export class NabInputError extends Error {}

/** `YYYY-MM-DD HH:MM:SS[.ffffff]` read as UTC milliseconds; NaN when malformed. */
export function parseNabTime(s: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/.exec(s.trim());
  if (!m) return Number.NaN;
  const frac = m[7] ? Number(`0.${m[7]}`) * 1000 : 0;
  return (
    Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])) + frac
  );
}

/** Parses a `timestamp,value` CSV (CRLF and a missing final newline tolerated). */
export function parseSeriesCsv(
  text: string,
  file: string,
): { timestamps: Float64Array; values: Float64Array } {
  const lines = text.split('\n');
  const ts: number[] = [];
  const vs: number[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? '').replace(/\r$/, '');
    if (line === '') continue;
    if (i === 0 && /^timestamp\s*,/i.test(line)) continue;
    const comma = line.indexOf(',');
    const t = comma < 0 ? Number.NaN : parseNabTime(line.slice(0, comma));
    const rest =
      comma < 0
        ? ''
        : line
            .slice(comma + 1)
            .split(',')[0]!
            .trim();
    const v = rest === '' ? Number.NaN : Number(rest);
    if (!Number.isFinite(t) || !Number.isFinite(v)) {
      throw new NabInputError(
        `${file}:${i + 1}: expected "YYYY-MM-DD HH:MM:SS,<number>", got ${JSON.stringify(line)}`,
      );
    }
    ts.push(t);
    vs.push(v);
  }
  return { timestamps: Float64Array.from(ts), values: Float64Array.from(vs) };
}

/** Maps window timestamps to row indices; a window end must equal a row's timestamp. */
export function windowRows(
  timestamps: Float64Array,
  windows: ReadonlyArray<readonly [string, string]>,
  where: string,
): Array<[number, number]> {
  const index = new Map<number, number>();
  for (let i = 0; i < timestamps.length; i++) if (!index.has(timestamps[i]!)) index.set(timestamps[i]!, i);
  return windows.map(([a, b]) => {
    const s = index.get(parseNabTime(a));
    const e = index.get(parseNabTime(b));
    if (s === undefined || e === undefined || e < s) {
      throw new NabInputError(`${where}: window [${a}, ${b}] does not match rows of the series`);
    }
    return [s, e];
  });
}

/**
 * Loads `DIR/data/<category>/<name>.csv` with `DIR/labels/combined_windows.json`. Windows of files
 * absent from DIR/data are ignored, so any subset of NAB can be scored; a data file without a label
 * entry is an error (it could not be scored).
 */
export function loadNabDir(dir: string): NabFile[] {
  const dataDir = join(dir, 'data');
  const labelsPath = join(dir, 'labels', 'combined_windows.json');
  if (!isDir(dataDir)) throw new NabInputError(`${dataDir}: no such directory`);
  let labels: Record<string, Array<[string, string]>>;
  try {
    labels = JSON.parse(readFileSync(labelsPath, 'utf8')) as Record<string, Array<[string, string]>>;
  } catch (err) {
    throw new NabInputError(`${labelsPath}: ${(err as Error).message}`);
  }
  const files: NabFile[] = [];
  for (const category of readdirSync(dataDir).sort()) {
    const catDir = join(dataDir, category);
    if (!isDir(catDir)) continue;
    for (const name of readdirSync(catDir).sort()) {
      if (!name.endsWith('.csv')) continue;
      const key = `${category}/${name}`;
      const path = join(catDir, name);
      const wins = labels[key];
      if (!Array.isArray(wins)) throw new NabInputError(`${labelsPath}: no entry for ${key}`);
      const { timestamps, values } = parseSeriesCsv(readFileSync(path, 'utf8'), path);
      files.push({
        key,
        timestamps,
        values,
        windows: windowRows(timestamps, wins, `${labelsPath} (${key})`),
      });
    }
  }
  return files;
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}
