import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { parse } from 'csv-parse/sync';
import { afterAll, describe, expect, it } from 'vitest';
import type { BillingLine } from '../../core/model/records.ts';
import { parseFocusCsv, type FocusBatch } from '../../ingest/billing/focus.ts';
import { openCsvRecords } from '../../ingest/billing/formats/csv-records.ts';
import { focusReader } from '../../ingest/billing/formats/focus.ts';
import { isRecordError } from '../../ingest/billing/formats/records.ts';

/**
 * What the FOCUS CSV fast path reuses between rows (dropped columns left unread, shared Tags
 * objects, interned text) must not change what it yields: the same lines as the general
 * record path, full records in dead letters, right line numbers.
 */

const SAMPLE = readFileSync('/work/shared/data/focus/focus_sample.csv', 'utf8');
const dir = mkdtempSync(join(tmpdir(), 'opsight-billing-reuse-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function fast(text: string, batchSize = 64): Promise<FocusBatch> {
  const all: FocusBatch = { lines: [], problems: [] };
  // Small chunks: records and quoted fields cut across chunk boundaries.
  const chunks: string[] = [];
  for (let i = 0; i < text.length; i += 997) chunks.push(text.slice(i, i + 997));
  for await (const b of parseFocusCsv(Readable.from(chunks), {
    sourceName: 's',
    sourceFile: 'f.csv',
    batchSize,
  })) {
    all.lines.push(...b.lines);
    all.problems.push(...b.problems);
  }
  return all;
}

/** The same file through the general path: CSV records by name, then the FOCUS reader. */
async function general(text: string): Promise<BillingLine[]> {
  const path = join(dir, `g${Math.random().toString(36).slice(2)}.csv`);
  writeFileSync(path, text);
  const file = await openCsvRecords(path, 'f.csv');
  const map = focusReader.open(file.columns, { sourceName: 's', sourceFile: 'f.csv' });
  const out: BillingLine[] = [];
  for await (const items of file.batches())
    for (const item of items) {
      if (isRecordError(item)) continue;
      const r = map(item.record, item.line);
      if (typeof r !== 'string') out.push(r);
    }
  return out;
}

describe('FOCUS CSV fast path', () => {
  it('yields the same lines as the general record path for the whole sample', async () => {
    const got = await fast(SAMPLE);
    expect(got.problems).toEqual([]);
    expect(got.lines.length).toBe(1000);
    expect(got.lines).toEqual(await general(SAMPLE));
  });

  it('shares one frozen Tags object per tag text, and keeps tags of different text apart', async () => {
    const { lines } = await fast(SAMPLE);
    const byText = new Map<string, Set<object>>();
    for (const l of lines) {
      const key = JSON.stringify(l.Tags);
      if (!byText.has(key)) byText.set(key, new Set());
      byText.get(key)!.add(l.Tags);
      expect(Object.isFrozen(l.Tags)).toBe(true);
    }
    // The sample repeats one tag set on 176 lines: one object for all of them.
    const busiest = [...byText.values()].sort((a, b) => b.size - a.size)[0]!;
    expect(busiest.size).toBe(1);
    const objects = new Set(lines.map((l) => l.Tags));
    expect(objects.size).toBe(byText.size);
    expect(() => {
      (lines[0]!.Tags as Record<string, string>).x = 'y';
    }).toThrow(TypeError);
  });

  it('puts the dropped columns in a bad row’s dead letter and counts lines through them', async () => {
    const header = SAMPLE.slice(0, SAMPLE.indexOf('\n'));
    const names = header.split(',').map((c) => c.replace(/"/g, ''));
    const rows = SAMPLE.slice(header.length + 1)
      .split('\n')
      .slice(0, 3);
    const at = (n: string) => names.indexOf(n);
    // Every field quoted again: NULL reads the same quoted or not.
    const quote = (f: string) => `"${f.replace(/"/g, '""')}"`;
    const fieldsOf = (row: string) => (parse(row) as string[][])[0]!.map(quote);
    const bad = fieldsOf(rows[1]!);
    bad[at('BilledCost')] = 'twelve';
    // Dropped columns (Id, ChargeClass) with text worth keeping, one over two lines.
    bad[at('Id')] = quote('id-777');
    bad[at('ChargeClass')] = quote('first\nsecond "quoted"');
    const multi = fieldsOf(rows[2]!);
    multi[at('ChargeClass')] = quote('x\ny\nz');
    const text = [header, rows[0], bad.join(','), multi.join(','), rows[0]].join('\n') + '\n';
    const got = await fast(text, 2);
    expect(got.lines.map((l) => l.SourceLine)).toEqual([2, 5, 8]);
    expect(got.problems).toHaveLength(1);
    const p = got.problems[0]!;
    expect(p.line).toBe(3);
    expect(p.reason).toMatch(/^BilledCost = "twelve": not a decimal number/);
    const record = p.record as Record<string, string>;
    expect(record.Id).toBe('id-777');
    expect(record.ChargeClass).toBe('first\nsecond "quoted"');
    expect(record.BilledCost).toBe('twelve');
    expect(Object.keys(record)).toEqual(names);
  });
});
