import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { NativeTypeError, compileNativeEncoder } from '../core/clickhouse/native.ts';
import { parseType, typeArg, type TypeNode } from '../core/clickhouse/rowbinary-types.ts';
import {
  compileEncoder,
  describeTable,
  insertRowBinary,
  quoteIdent,
  type EncoderColumn,
} from '../core/clickhouse/rowbinary.ts';
import { testDatabase, type TestDatabase } from './writer/support.ts';

/**
 * The Native encoder against the real server: every table of opsight's schema gets the same
 * rows once through RowBinary (tested value by value in rowbinary.test.ts) and once through
 * Native, and ClickHouse must read both back identically as JSON. Plus explicit values for the
 * types with a Native layout of their own (LowCardinality, Map, Array, Nullable, Tuple).
 */

const url = inject('clickhouseUrl');
let db: TestDatabase;

beforeAll(async () => {
  db = await testDatabase(url, 'native');
});

afterAll(async () => {
  await db?.drop();
});

type Row = Record<string, unknown>;

const NOW_S = Math.floor(Date.now() / 1000);

/** A value of type t for row i; varied (empty, unicode, extremes, unsorted maps) by i. */
function sample(t: TypeNode, i: number): unknown {
  switch (t.name) {
    case 'String':
      return ['', 'plain', 'héllo ✓ 日本 😀', 'x'.repeat(200)][i % 4];
    case 'LowCardinality':
      return sample(typeArg(t, 0), i);
    case 'SimpleAggregateFunction':
      return sample(typeArg(t, 1), i);
    case 'FixedString':
      return 'ab';
    case 'UInt8':
      return i % 2; // ReplacingMergeTree is_deleted columns take only 0 and 1
    case 'UInt16':
    case 'UInt32':
      return (i * 37) % 250;
    case 'Int32':
      return i % 2 ? -2147483648 : i;
    case 'UInt64':
      return i % 3 === 2 ? '18446744073709551615' : i * 1000;
    case 'Int64':
      return -i;
    case 'Float64':
    case 'Float32':
      return [0.25, -1e300, 3, 1.5][i % 4];
    case 'Bool':
    case 'Boolean':
      return i % 2 === 0;
    // Recent times: tables with a TTL would drop old rows.
    case 'DateTime64':
      return `${NOW_S + i}${String(i * 1_234_567).padStart(9, '0')}`;
    case 'DateTime':
      return (NOW_S + i) * 1000;
    case 'Date':
    case 'Date32':
      return new Date(NOW_S * 1000).toISOString().slice(0, 10);
    case 'Decimal':
      return ['123.456789012345678', '-0.5', '0', '99999999999999999999.000000000000001'][i % 4];
    case 'UUID':
      return '123e4567-e89b-12d3-a456-426614174000';
    case 'Enum8':
    case 'Enum16': {
      const a = t.args[i % t.args.length];
      return a?.kind === 'enum' ? a.name : undefined;
    }
    case 'Nullable':
      return i % 3 === 0 ? null : sample(typeArg(t, 0), i);
    case 'Array':
      return i % 4 === 1 ? [] : [sample(typeArg(t, 0), i), sample(typeArg(t, 0), i + 1)];
    case 'Map': {
      if (i % 4 === 1) return {};
      const k = typeArg(t, 0);
      const v = typeArg(t, 1);
      // Keys out of order: the encoders sort them.
      return Object.fromEntries([
        [String(sample(k, i + 2)) + 'z', sample(v, i)],
        [String(sample(k, i)) + 'a', sample(v, i + 1)],
      ]);
    }
    case 'Tuple':
      return t.args.map((a) => (a.kind === 'type' || a.kind === 'named' ? sample(a.type, i) : null));
    default:
      throw new Error(`no sample for ${t.text}`);
  }
}

async function readBack(table: string): Promise<Row[]> {
  const rs = await db.client.query({
    query: `SELECT * FROM ${quoteIdent(table)} ORDER BY tuple()`,
    format: 'JSONEachRow',
    clickhouse_settings: {
      output_format_json_quote_64bit_integers: 1,
      output_format_json_quote_decimals: 1,
      output_format_json_quote_denormals: 1,
    },
  });
  const rows = await rs.json<Row>();
  return rows.sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
}

/** Copies `table` twice, loads `rows` into one by each format, reads both back (sorted as text). */
async function bothFormats(table: string, rows: Row[], columnsOf?: (cols: string[]) => string[]) {
  const described = await describeTable(db.client, db.database, table);
  const names = columnsOf ? columnsOf(described.map((c) => c.name)) : described.map((c) => c.name);
  const columns: EncoderColumn<Row>[] = described
    .filter((c) => names.includes(c.name))
    .map((c) => ({ name: c.name, type: c.type }));
  const out: Record<'rb' | 'nat', Row[]> = { rb: [], nat: [] };
  for (const kind of ['rb', 'nat'] as const) {
    const copy = `${table}_${kind}`;
    await db.client.command({
      query: `CREATE TABLE ${quoteIdent(copy)} AS ${quoteIdent(table)}`,
    });
    let data: Buffer;
    if (kind === 'rb') {
      const encoded = compileEncoder(columns, { sortMapKeys: true }).encodeRows(rows);
      expect(encoded.rejected).toEqual([]);
      data = encoded.data;
    } else {
      const enc = compileNativeEncoder(columns, { sortMapKeys: true }).create();
      for (const r of rows) expect(enc.append(r)).toBeUndefined();
      data = enc.finish().encode();
    }
    await insertRowBinary(db.client, {
      database: db.database,
      table: copy,
      columns: columns.map((c) => c.name),
      data,
      format: kind === 'rb' ? 'RowBinary' : 'Native',
      clickhouse_settings: { async_insert: 0 },
    });
    out[kind] = await readBack(copy);
  }
  return out;
}

describe('Native encoder', () => {
  it('writes every column type of every opsight table as RowBinary does', async () => {
    const tables = await db.rows<{ name: string }>(
      `SELECT name FROM system.tables WHERE database = currentDatabase() AND engine LIKE '%MergeTree' ORDER BY name`,
    );
    expect(tables.length).toBeGreaterThan(5);
    const seen = new Set<string>();
    for (const { name } of tables) {
      const described = await describeTable(db.client, db.database, name);
      const rows: Row[] = Array.from({ length: 6 }, (_, i) =>
        Object.fromEntries(described.map((c) => [c.name, sample(parseType(c.type), i)])),
      );
      for (const c of described) seen.add(c.type);
      const { rb, nat } = await bothFormats(name, rows);
      expect(nat, name).toEqual(rb);
      // ReplacingMergeTree tables collapse equal keys within the insert, in both formats alike.
      expect(nat.length, name).toBeGreaterThan(0);
    }
    // The schema's composite types all went through it.
    expect([...seen]).toEqual(
      expect.arrayContaining([
        'LowCardinality(String)',
        'Map(LowCardinality(String), String)',
        'DateTime64(9)',
        'Decimal(38, 15)',
        'Nullable(Float64)',
        'Array(Map(LowCardinality(String), String))',
      ]),
    );
  });

  it('reads back the values themselves: dictionary strings, maps, arrays, nulls, tuples', async () => {
    await db.client.command({
      query: `CREATE TABLE explicit (lc LowCardinality(String), m Map(LowCardinality(String), String),
        a Array(Float64), am Array(Map(LowCardinality(String), String)), n Nullable(Float64),
        t Array(Tuple(String, UInt8)), ts DateTime64(9, 'UTC'), d Decimal(38, 15), s String)
        ENGINE = MergeTree ORDER BY tuple()`,
    });
    const many = Array.from({ length: 300 }, (_, i) => `k${i}`); // > 256 keys: 16-bit indexes
    const rows: Row[] = [
      ...many.map((k, i) => ({
        lc: k,
        m: { z: 'last', a: k },
        a: [i, 0.5],
        am: [{ x: '1' }, {}],
        n: i % 2 ? null : i,
        t: [['p', i % 256]],
        ts: '1790000000123456789',
        d: '-12.000000000000001',
        s: 'é',
      })),
    ];
    const { nat } = await bothFormats('explicit', rows);
    expect(nat.length).toBe(300);
    expect(nat.find((r) => r.lc === 'k299')).toEqual({
      lc: 'k299',
      m: { a: 'k299', z: 'last' },
      a: [299, 0.5],
      am: [{ x: '1' }, {}],
      n: null,
      t: [['p', 43]],
      ts: `${new Date(1_790_000_000_000).toISOString().slice(0, 19).replace('T', ' ')}.123456789`,
      d: '-12.000000000000001',
      s: 'é',
    });
    expect(nat.find((r) => r.lc === 'k0')!.n).toBe(0);
    expect(new Set(nat.map((r) => r.lc)).size).toBe(300);
  });

  it('encodes a block whose Map columns are all empty (no dictionary for an empty key column)', async () => {
    await db.client.command({
      query: `CREATE TABLE empty_maps (m Map(LowCardinality(String), String), lc LowCardinality(String), a Array(LowCardinality(String)))
        ENGINE = MergeTree ORDER BY tuple()`,
    });
    const rows: Row[] = [
      { m: {}, lc: 'x', a: [] },
      { m: {}, lc: 'y', a: [] },
    ];
    const { nat } = await bothFormats('empty_maps', rows);
    expect(nat).toEqual([
      { m: {}, lc: 'x', a: [] },
      { m: {}, lc: 'y', a: [] },
    ]);
  });

  it('leaves a refused row out of every column and encodes any row range', async () => {
    await db.client.command({
      query: `CREATE TABLE ranges (a String, m Map(LowCardinality(String), String), n UInt8, lc LowCardinality(String))
        ENGINE = MergeTree ORDER BY tuple()`,
    });
    const described = await describeTable(db.client, db.database, 'ranges');
    const enc = compileNativeEncoder<Row>(described, { sortMapKeys: true }).create();
    expect(enc.append({ a: 'r0', m: { k: 'v0' }, n: 0, lc: 'x' })).toBeUndefined();
    // Fails at column n after a and m were appended: both must be rolled back.
    expect(enc.append({ a: 'bad', m: { k: 'bad', j: 'bad' }, n: 300, lc: 'y' })).toMatchObject({
      row: 1,
      column: 'n',
    });
    expect(enc.append({ a: 'r1', m: { k: 'v1' }, n: 1 })).toMatchObject({ row: 2, column: 'lc' });
    expect(enc.append({ a: 'r2', m: {}, n: 2, lc: 'z' })).toBeUndefined();
    expect(enc.append({ a: 'r3', m: { b: 'v3', a: 'w3' }, n: 3, lc: 'x' })).toBeUndefined();
    const block = enc.finish();
    expect(block.rows).toBe(3);
    for (const [lo, hi] of [
      [0, 3],
      [1, 3],
      [2, 3],
      [0, 1],
    ] as const) {
      await insertRowBinary(db.client, {
        database: db.database,
        table: 'ranges',
        columns: described.map((c) => c.name),
        data: block.encode(lo, hi),
        format: 'Native',
      });
    }
    const read = await db.rows<Row>('SELECT a, m, n, lc FROM ranges ORDER BY a, n');
    expect(read).toEqual([
      { a: 'r0', m: { k: 'v0' }, n: 0, lc: 'x' },
      { a: 'r0', m: { k: 'v0' }, n: 0, lc: 'x' },
      { a: 'r2', m: {}, n: 2, lc: 'z' },
      { a: 'r2', m: {}, n: 2, lc: 'z' },
      { a: 'r3', m: { a: 'w3', b: 'v3' }, n: 3, lc: 'x' },
      { a: 'r3', m: { a: 'w3', b: 'v3' }, n: 3, lc: 'x' },
      { a: 'r3', m: { a: 'w3', b: 'v3' }, n: 3, lc: 'x' },
    ]);
  });

  it('encodes a map object seen before exactly as a fresh copy, also after a refused row', async () => {
    await db.client.command({
      query: `CREATE TABLE shared (a String, m Map(LowCardinality(String), String), n UInt8)
        ENGINE = MergeTree ORDER BY tuple()`,
    });
    const described = await describeTable(db.client, db.database, 'shared');
    const compiled = compileNativeEncoder<Row>(described, { sortMapKeys: true });
    // Sources hand the same attribute object to every sample of a series.
    const x = { host: 'db-1', zone: 'eu-1 ✓' };
    const y = { b: 'v', a: 'unsorted' };
    const rows: Row[] = [
      { a: 'r0', m: x, n: 0 },
      { a: 'r1', m: y, n: 1 },
      { a: 'r2', m: x, n: 2 },
      // Refused at n after m was appended: row 3's number is reused by the next row.
      { a: 'bad', m: x, n: 300 },
      { a: 'r3', m: y, n: 3 },
      { a: 'r4', m: x, n: 4 },
      { a: 'r5', m: y, n: 5 },
    ];
    const shared = compiled.create();
    const fresh = compiled.create();
    for (const r of rows) {
      expect(shared.append(r)).toEqual(fresh.append({ ...r, m: structuredClone(r.m) }));
    }
    const a = shared.finish();
    const b = fresh.finish();
    expect(a.rows).toBe(6);
    expect(a.encode().equals(b.encode())).toBe(true);
    expect(a.encode(2, 5).equals(b.encode(2, 5))).toBe(true);
    await insertRowBinary(db.client, {
      database: db.database,
      table: 'shared',
      columns: described.map((c) => c.name),
      data: a.encode(),
      format: 'Native',
    });
    const read = await db.rows<Row>('SELECT a, m FROM shared ORDER BY a');
    expect(read.map((r) => [r.a, r.m])).toEqual([
      ['r0', x],
      ['r1', { a: 'unsorted', b: 'v' }],
      ['r2', x],
      ['r3', { a: 'unsorted', b: 'v' }],
      ['r4', x],
      ['r5', { a: 'unsorted', b: 'v' }],
    ]);
  });

  it('encodes the rows of a group from its first entry exactly as if each were encoded anew', async () => {
    await db.client.command({
      query: `CREATE TABLE grouped (s String, lc LowCardinality(String), m Map(LowCardinality(String), String),
          e Array(Tuple(m Map(LowCardinality(String), String), t DateTime64(9), v Float64)), n Nullable(String),
          f UInt32, t DateTime64(9), v Float64,
          cs String, cz UInt32, cm Map(LowCardinality(String), String), cl LowCardinality(String))
        ENGINE = MergeTree ORDER BY tuple()`,
    });
    await db.client.command({ query: 'CREATE TABLE grouped_plain AS grouped' });
    const described = await describeTable(db.client, db.database, 'grouped');
    const perRow = new Set(['t', 'v']);
    // A store of at most 8 entries: the third batch starts a new one.
    const grouped = compileNativeEncoder<Row>(
      described.map((c) => ({ ...c, group: !perRow.has(c.name) })),
      { sortMapKeys: true, maxGroupEntries: 8 },
    ).create();
    const plain = compileNativeEncoder<Row>(described, { sortMapKeys: true }).create();
    const heads = Array.from({ length: 5 }, (_, k): Row => {
      const h: Row = {};
      for (const c of described) if (!perRow.has(c.name)) h[c.name] = sample(parseType(c.type), k);
      // Columns with one value in every row (written by a fill, not row by row).
      return { ...h, cs: 'same ✓', cz: 7, cm: {}, cl: 'one' };
    });
    heads.push({ ...heads[0]!, f: 300_000_000_000 }); // refused at f, a group column
    const t = parseType('DateTime64(9)');
    let stored = 0;
    for (const [batch, size] of [40, 25, 30].entries()) {
      // Heads met in a different order in every batch; a new head in the second one.
      if (batch === 1) heads.push({ ...heads[1]!, s: 'new in batch 2', cz: 8 });
      for (let i = 0; i < size; i++) {
        const k = (i * (batch + 7)) % heads.length;
        // Row 17 is refused at v, a row column, after its group was met.
        const row = { ...heads[k], t: sample(t, i), v: i === 17 ? 'x' : i * 0.5 + batch };
        const a = grouped.append(row, heads[k]);
        expect(a).toEqual(plain.append(row));
        if (k === 5) expect(a).toMatchObject({ column: 'f' });
      }
      const g = grouped.finish();
      const p = plain.finish();
      expect(g.rows).toBe(p.rows);
      expect(g.rows).toBeGreaterThan(size * 0.6);
      // The first batch has a fresh store: the same bytes. Later ones share dictionaries with
      // earlier batches (other key order), so they are compared by what ClickHouse reads.
      if (batch === 0) expect(g.encode().equals(p.encode())).toBe(true);
      for (const [lo, hi] of [
        [0, g.rows],
        [3, 11],
        [10, 11],
        [g.rows - 4, g.rows],
      ] as const) {
        for (const [table, block] of [
          ['grouped', g],
          ['grouped_plain', p],
        ] as const) {
          await insertRowBinary(db.client, {
            database: db.database,
            table,
            columns: described.map((c) => c.name),
            data: block.encode(lo, hi),
            format: 'Native',
          });
        }
        stored += hi - lo;
      }
    }
    const read = (table: string) => readBack(table);
    const [a, b] = [await read('grouped'), await read('grouped_plain')];
    expect(a).toHaveLength(stored);
    expect(a).toEqual(b);
    expect(await db.rows('SELECT uniqExact(s, m, e, cz) AS heads FROM grouped')).toEqual([{ heads: 6 }]);
  });

  it('refuses types it does not encode natively, so the caller can fall back to RowBinary', () => {
    expect(() => compileNativeEncoder([{ name: 'x', type: 'LowCardinality(Nullable(String))' }])).toThrow(
      NativeTypeError,
    );
    expect(() => compileNativeEncoder([{ name: 'x', type: 'Variant(String, UInt8)' }])).toThrow(
      NativeTypeError,
    );
  });
});
