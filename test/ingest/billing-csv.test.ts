import { Readable } from 'node:stream';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { isCsvError, readCsv, type CsvItem } from '../../ingest/billing/csv.ts';

/** The billing CSV reader against csv-parse (the reference) on random input cut into random chunks. */

let seed = 7;
const rnd = (n: number) => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed % n;
};

async function read(chunks: string[], maxRecordChars?: number): Promise<CsvItem[]> {
  const out: CsvItem[] = [];
  for await (const items of readCsv(Readable.from(chunks.map((c) => Buffer.from(c))), { maxRecordChars }))
    out.push(...items);
  return out;
}

function cut(text: string): string[] {
  const chunks: string[] = [];
  for (let i = 0; i < text.length;) {
    const k = 1 + rnd(40);
    chunks.push(text.slice(i, i + k));
    i += k;
  }
  return chunks;
}

const quote = (f: string) => (/[",\r\n]/.test(f) || rnd(4) === 0 ? `"${f.replace(/"/g, '""')}"` : f);

describe('billing CSV reader', () => {
  it('agrees with csv-parse on 2000 random well-formed files in random chunks', async () => {
    const alphabet = ['a', 'b', ' ', ',', '"', '\n', '\r\n', 'é', '€', '1', '.'];
    for (let t = 0; t < 2000; t++) {
      const rows = Array.from({ length: 1 + rnd(6) }, () =>
        Array.from({ length: 1 + rnd(4) }, () =>
          Array.from({ length: rnd(6) }, () => alphabet[rnd(alphabet.length)]).join(''),
        ),
      );
      // A lone empty field would be a blank line, which both readers skip.
      const usable = rows.filter((r) => !(r.length === 1 && r[0] === ''));
      const eol = rnd(2) ? '\n' : '\r\n';
      const text = usable.map((r) => r.map(quote).join(',')).join(eol) + (rnd(2) ? eol : '');
      const want = parse(text, { relax_column_count: true, skip_empty_lines: true }) as string[][];
      const got = await read(cut(text));
      expect(got.filter(isCsvError)).toEqual([]);
      expect(got.map((r) => (isCsvError(r) ? [] : r.fields))).toEqual(want);
    }
  });

  it('numbers lines across quoted line breaks, blank lines and CRLF', async () => {
    const got = await read(['\ufeffh1,h2\r\n', '\r\n', '"a\nb",1\r\n', 'c,2\n\n', 'd,"3"']);
    expect(got).toEqual([
      { fields: ['h1', 'h2'], line: 1 },
      { fields: ['a\nb', '1'], line: 3 },
      { fields: ['c', '2'], line: 5 },
      { fields: ['d', '3'], line: 7 },
    ]);
  });

  it('reports a malformed record and goes on with the next line', async () => {
    expect(await read(['a,b\n', '"x"y,1\n', 'c,2\n', '"never closed,3\nd,4\n'])).toEqual([
      { fields: ['a', 'b'], line: 1 },
      { line: 2, reason: 'text after a closing quote in field 1' },
      { fields: ['c', '2'], line: 3 },
      { line: 4, reason: 'quote not closed before the end of the file' },
      { fields: ['d', '4'], line: 5 },
    ]);
    expect(await read(['a\n"this field is far', ' too long\nb,1\n'], 20)).toEqual([
      { fields: ['a'], line: 1 },
      { line: 2, reason: 'record longer than 20 characters (an unclosed quote?)' },
      { fields: ['b', '1'], line: 3 },
    ]);
    expect(await read(['a\n"open'])).toEqual([
      { fields: ['a'], line: 1 },
      { line: 2, reason: 'quote not closed before the end of the file' },
    ]);
  });
});
