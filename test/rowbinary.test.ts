import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  RowBinaryTypeError,
  compileEncoder,
  describeTable,
  insertRowBinary,
  parseDecimal,
  type EncoderColumn,
} from '../core/clickhouse/rowbinary.ts';
import { parseType } from '../core/clickhouse/rowbinary-types.ts';

/**
 * The RowBinary encoder against the real server: every supported type is written by the encoder
 * and read back by ClickHouse as text, so a wrong byte layout shows up as a wrong value (or as
 * ClickHouse refusing the body), not as a test that agrees with itself.
 */

const url = inject('clickhouseUrl');
const database = `rowbinary_${Date.now().toString(36)}`;
let client: ClickHouseClient;

beforeAll(async () => {
  const admin = createClient({ url });
  await admin.command({ query: `CREATE DATABASE ${database}` });
  await admin.close();
  client = createClient({ url, database });
});

afterAll(async () => {
  await client.command({ query: `DROP DATABASE IF EXISTS ${database}` });
  await client.close();
});

let tableSeq = 0;

/** Creates a table, encodes rows with the encoder compiled from system.columns, reads them back. */
async function roundTrip(
  columnsDdl: string,
  rows: Record<string, unknown>[],
  select = '*',
  options: { sortMapKeys?: boolean; optional?: string[] } = {},
) {
  const table = `t${++tableSeq}`;
  await client.command({
    query: `CREATE TABLE ${table} (${columnsDdl}) ENGINE = MergeTree ORDER BY tuple()`,
  });
  const described = await describeTable(client, database, table);
  const columns: EncoderColumn<Record<string, unknown>>[] = described.map((c) => ({
    name: c.name,
    type: c.type,
    optional: options.optional?.includes(c.name),
  }));
  const encoder = compileEncoder(columns, { sortMapKeys: options.sortMapKeys });
  const { data, rejected, rows: accepted } = encoder.encodeRows(rows);
  if (accepted > 0) {
    await insertRowBinary(client, {
      database,
      table,
      columns: encoder.columns,
      data,
      clickhouse_settings: { async_insert: 0 },
    });
  }
  const rs = await client.query({
    query: `SELECT ${select} FROM ${table} ORDER BY tuple()`,
    format: 'JSONEachRow',
    clickhouse_settings: {
      output_format_json_quote_64bit_integers: 1,
      output_format_json_quote_decimals: 1,
      output_format_json_quote_denormals: 1,
    },
  });
  return { read: await rs.json<Record<string, unknown>>(), rejected };
}

describe('RowBinary encoder', () => {
  it('parses ClickHouse type names as system.columns prints them', () => {
    expect(parseType("DateTime64(9, 'UTC')").args).toEqual([
      { kind: 'number', value: 9 },
      { kind: 'string', value: 'UTC' },
    ]);
    const map = parseType('Map(LowCardinality(String), Array(Nullable(Float64)))');
    expect(map.name).toBe('Map');
    expect(map.args.map((a) => (a.kind === 'type' ? a.type.text : ''))).toEqual([
      'LowCardinality(String)',
      'Array(Nullable(Float64))',
    ]);
    expect(parseType("Enum8('a b' = 1, 'it''s' = -2)").args).toEqual([
      { kind: 'enum', name: 'a b', value: 1 },
      { kind: 'enum', name: "it's", value: -2 },
    ]);
    expect(
      parseType('Tuple(a UInt8, `b c` String)').args.map((a) => (a.kind === 'named' ? a.name : '')),
    ).toEqual(['a', 'b c']);
  });

  it('writes scalars, strings and times that ClickHouse reads back exactly', async () => {
    const { read, rejected } = await roundTrip(
      `s String, lc LowCardinality(String), fs FixedString(4), u8 UInt8, u16 UInt16, u32 UInt32,
       u64 UInt64, i8 Int8, i32 Int32, i64 Int64, i128 Int128, f32 Float32, f64 Float64, b Bool,
       d Date, d32 Date32, dt DateTime('UTC'), dt3 DateTime64(3, 'UTC'), dt9 DateTime64(9),
       u UUID, e Enum8('red' = 1, 'green' = 2), ip IPv4`,
      [
        {
          s: 'héllo wörld ✓ 日本',
          lc: 'x'.repeat(300),
          fs: 'ab',
          u8: 255,
          u16: 65535,
          u32: 4294967295,
          u64: '18446744073709551615',
          i8: -128,
          i32: -2147483648,
          i64: -9223372036854775808n,
          i128: '-170141183460469231731687303715884105728',
          f32: 1.5,
          f64: -0.1,
          b: true,
          d: '2024-02-29',
          d32: '1900-01-01',
          dt: '2024-02-29T12:34:56Z',
          dt3: '2024-02-29T12:34:56.789+02:00',
          dt9: '1709210096123456789',
          u: '61f0c404-5cb3-11e7-907b-a6006ad3dba0',
          e: 'green',
          ip: '192.168.1.20',
        },
        {
          s: '',
          lc: '',
          fs: '',
          u8: 0,
          u16: 0,
          u32: 0,
          u64: 0,
          i8: 127,
          i32: 2147483647,
          i64: '9223372036854775807',
          i128: 12345678901234567890123456789n,
          f32: 0,
          f64: Number.POSITIVE_INFINITY,
          b: false,
          d: new Date(Date.UTC(2149, 5, 6)),
          d32: '2299-12-31',
          dt: 0,
          dt3: 1709210096789,
          dt9: 1709210096123456789n,
          u: '00000000-0000-0000-0000-000000000000',
          e: 1,
          ip: 0,
        },
      ],
    );
    expect(rejected).toEqual([]);
    expect(read[0]).toEqual({
      s: 'héllo wörld ✓ 日本',
      lc: 'x'.repeat(300),
      fs: 'ab\u0000\u0000',
      u8: 255,
      u16: 65535,
      u32: 4294967295,
      u64: '18446744073709551615',
      i8: -128,
      i32: -2147483648,
      i64: '-9223372036854775808',
      i128: '-170141183460469231731687303715884105728',
      f32: 1.5,
      f64: -0.1,
      b: true,
      d: '2024-02-29',
      d32: '1900-01-01',
      dt: '2024-02-29 12:34:56',
      dt3: '2024-02-29 10:34:56.789',
      dt9: '2024-02-29 12:34:56.123456789',
      u: '61f0c404-5cb3-11e7-907b-a6006ad3dba0',
      e: 'green',
      ip: '192.168.1.20',
    });
    expect(read[1]).toMatchObject({
      i128: '12345678901234567890123456789',
      f64: 'inf',
      d: '2149-06-06',
      d32: '2299-12-31',
      dt: '1970-01-01 00:00:00',
      dt3: '2024-02-29 12:34:56.789',
      dt9: '2024-02-29 12:34:56.123456789',
      e: 'red',
      ip: '0.0.0.0',
    });
  });

  it('converts nanosecond timestamps at every precision without losing digits', async () => {
    const ns = '1709210096123456789';
    const { read } = await roundTrip(
      "t0 DateTime64(0, 'UTC'), t3 DateTime64(3, 'UTC'), t6 DateTime64(6, 'UTC'), t9 DateTime64(9, 'UTC'), dt DateTime('UTC')",
      [
        { t0: ns, t3: ns, t6: ns, t9: ns, dt: ns },
        { t0: 5n, t3: '999999', t6: '1000', t9: '0', dt: '999999999' },
      ],
    );
    expect(read[0]).toEqual({
      t0: '2024-02-29 12:34:56',
      t3: '2024-02-29 12:34:56.123',
      t6: '2024-02-29 12:34:56.123456',
      t9: '2024-02-29 12:34:56.123456789',
      dt: '2024-02-29 12:34:56',
    });
    expect(read[1]).toEqual({
      t0: '1970-01-01 00:00:00',
      t3: '1970-01-01 00:00:00.000',
      t6: '1970-01-01 00:00:00.000001',
      t9: '1970-01-01 00:00:00.000000000',
      dt: '1970-01-01 00:00:00',
    });
  });

  it('parses decimal strings exactly into Decimal(38, 10) and friends, truncating as ClickHouse does', async () => {
    expect(parseDecimal('12.5', 2)).toBe(1250n);
    expect(parseDecimal('-0.000000000149', 10)).toBe(-1n);
    expect(parseDecimal('1.5e-3', 4)).toBe(15n);
    expect(parseDecimal('1E+3', 0)).toBe(1000n);
    for (const bad of ['', '.', '1.2.3', '12,5', '1e', 'abc', '--1', '0x10', 'NaN']) {
      expect(parseDecimal(bad, 2), bad).toBeUndefined();
    }
    const { read, rejected } = await roundTrip(
      'm Decimal(38, 10), s Decimal(9, 2), l Decimal(18, 4), w Decimal(76, 20)',
      [
        {
          m: '9999999999999999999999999999.9999999999',
          s: '-9999999.99',
          l: 0.1 + 0.2,
          w: '-1234567890123456789012345678901234567890.12345678901234567890',
        },
        { m: '0.12345678995', s: 0, l: '1e-4', w: 7n },
        { m: '12,50', s: 1, l: 1, w: 1 },
        { m: '1', s: '10000000', l: 1, w: 1 },
      ],
    );
    expect(read).toEqual([
      {
        m: '9999999999999999999999999999.9999999999',
        s: '-9999999.99',
        // A JS number goes through its shortest decimal form (0.30000000000000004), then truncates.
        l: '0.3',
        w: '-1234567890123456789012345678901234567890.1234567890123456789',
      },
      { m: '0.1234567899', s: '0', l: '0.0001', w: '7' },
    ]);
    expect(rejected.map((r) => [r.row, r.column])).toEqual([
      [2, 'm'],
      [3, 's'],
    ]);
    expect(rejected[0]!.reason).toContain('expected a decimal number');
    expect(rejected[1]!.reason).toContain('out of range');
  });

  it('writes maps, arrays, nullables, tuples and flattened Nested columns', async () => {
    const bigMap = Object.fromEntries(
      Array.from({ length: 200 }, (_, i) => [`k${String(i).padStart(3, '0')}`, `v${i}`]),
    );
    const { read, rejected } = await roundTrip(
      `attrs Map(LowCardinality(String), String), counts Map(String, UInt64), bounds Array(Float64),
       buckets Array(UInt64), tags Array(LowCardinality(String)), n Nullable(String), ns Array(Nullable(Int32)),
       tup Tuple(a UInt8, b String), ex Nested(TimeUnix DateTime64(9), Value Float64)`,
      [
        {
          attrs: { zone: 'a', method: 'GET', code: 200 },
          counts: new Map([['x', 1n]]),
          bounds: new Float64Array([0.5, 1]),
          buckets: [1, 2, '3'],
          tags: ['a', 'b'],
          n: null,
          ns: [1, null, 3],
          tup: { a: 7, b: 'seven' },
          'ex.TimeUnix': ['1709210096000000001'],
          'ex.Value': [2.5],
        },
        {
          attrs: bigMap,
          counts: {},
          bounds: [],
          buckets: [],
          tags: [],
          n: 'set',
          ns: [],
          tup: [1, 'one'],
          'ex.TimeUnix': [],
          'ex.Value': [],
        },
      ],
      'attrs, counts, bounds, buckets, tags, n, ns, tup, ex.TimeUnix AS ext, ex.Value AS exv',
      { sortMapKeys: true },
    );
    expect(rejected).toEqual([]);
    expect(read[0]).toEqual({
      // Sorted: equal attribute sets make equal maps whatever order the source used.
      attrs: { code: '200', method: 'GET', zone: 'a' },
      counts: { x: '1' },
      bounds: [0.5, 1],
      buckets: ['1', '2', '3'],
      tags: ['a', 'b'],
      n: null,
      ns: [1, null, 3],
      tup: { a: 7, b: 'seven' },
      ext: ['2024-02-29 12:34:56.000000001'],
      exv: [2.5],
    });
    expect(Object.keys(read[1]!.attrs as object)).toHaveLength(200);
    expect(read[1]).toMatchObject({ attrs: bigMap, n: 'set', tup: { a: 1, b: 'one' } });
  });

  it('rejects a bad row with its column, value and reason, and keeps the others', async () => {
    const good = (i: number) => ({ name: `m${i}`, t: `${1709210096 + i}000000000`, v: i, cost: `${i}.25` });
    const { read, rejected } = await roundTrip(
      "name String, t DateTime64(9, 'UTC'), v Float64, cost Decimal(38, 10)",
      [
        good(0),
        { ...good(1), t: 'garbage' },
        good(2),
        { ...good(3), t: Number.NaN },
        { ...good(4), v: 'not a number' },
        { ...good(5), cost: '1.2.3' },
        { ...good(6), name: undefined },
        { ...good(7), name: { nested: true } },
        { ...good(8), t: '99999999999999999999' },
        good(9),
      ],
    );
    expect(read.map((r) => r.name)).toEqual(['m0', 'm2', 'm9']);
    expect(rejected.map((r) => [r.row, r.column])).toEqual([
      [1, 't'],
      [3, 't'],
      [4, 'v'],
      [5, 'cost'],
      [6, 'name'],
      [7, 'name'],
      [8, 't'],
    ]);
    expect(rejected[0]).toMatchObject({ value: 'garbage' });
    expect(rejected[0]!.reason).toMatch(/expected a timestamp.*"garbage"/);
    expect(rejected[1]!.reason).toMatch(/expected a timestamp.*NaN/);
    expect(rejected[2]!.reason).toContain('expected a number for Float64');
    expect(rejected[4]!.reason).toContain('missing value');
    expect(rejected[6]!.reason).toContain('out of range');
  });

  it('fills optional columns with zero values and leaves unlisted columns to their DEFAULT', async () => {
    const { read } = await roundTrip(
      "a String, n UInt32, m Map(String, String), t DateTime64(3, 'UTC'), d String DEFAULT concat('d-', a)",
      [{ a: 'x' }],
      '*',
      { optional: ['n', 'm', 't'] },
    );
    // d was part of the column list here (describeTable lists DEFAULT columns); optional it is not,
    // so the row is rejected unless given. The writer leaves such columns out of its list instead.
    expect(read).toEqual([]);
    const table = `t${tableSeq}`;
    const encoder = compileEncoder<Record<string, unknown>>([
      { name: 'a', type: 'String' },
      { name: 'n', type: 'UInt32', optional: true },
    ]);
    const { data } = encoder.encodeRows([{ a: 'y' }]);
    await insertRowBinary(client, { database, table, columns: encoder.columns, data });
    const rs = await client.query({ query: `SELECT a, n, m, t, d FROM ${table}`, format: 'JSONEachRow' });
    expect(await rs.json()).toEqual([{ a: 'y', n: 0, m: {}, t: '1970-01-01 00:00:00.000', d: 'd-y' }]);
  });

  it('names the column and the type it cannot encode, at compile time', () => {
    expect(() => compileEncoder([{ name: 'g', type: 'Array(IPv6)' }])).toThrow(RowBinaryTypeError);
    expect(() => compileEncoder([{ name: 'g', type: 'Array(IPv6)' }])).toThrow(
      /column g Array\(IPv6\): unsupported ClickHouse type IPv6/,
    );
    expect(() => compileEncoder([{ name: 'j', type: 'JSON' }])).toThrow(/column j JSON/);
    expect(() => compileEncoder([{ name: 'x', type: 'Map(String' }])).toThrow(/cannot parse/);
  });

  it('skips MATERIALIZED and ALIAS columns when describing a table', async () => {
    const table = `t${++tableSeq}`;
    await client.command({
      query: `CREATE TABLE ${table} (a String, b String MATERIALIZED upper(a), c String ALIAS lower(a), d UInt8 DEFAULT 1) ENGINE = Memory`,
    });
    expect((await describeTable(client, database, table)).map((c) => [c.name, c.defaultKind])).toEqual([
      ['a', ''],
      ['d', 'DEFAULT'],
    ]);
  });
});

describe('ISO timestamp fast path', () => {
  it('gives the same nanoseconds as the general parser for the fixed UTC shape', async () => {
    const { ByteSink, compileColumnType, toUnixNanos } = await import('../core/clickhouse/rowbinary.ts');
    const codec = compileColumnType('t', 'DateTime64(9)');
    const secs = compileColumnType('t', 'DateTime');
    const texts = [
      '1970-01-01T00:00:00Z',
      '2024-02-29T23:59:59.999999999Z',
      '2026-11-23T05:39:21.5Z',
      '2000-03-01 12:00:00.123Z',
      '2100-02-28T00:00:00.000001Z',
      '2262-04-11T23:47:16Z',
    ];
    for (let i = 0; i < 2000; i++) {
      const ms = Date.UTC(1970, 0, 1) + Math.floor(Math.random() * 9_000_000_000_000);
      texts.push(new Date(ms).toISOString());
    }
    for (const text of texts) {
      const s = new ByteSink(64);
      codec.write(s, text);
      expect(s.buf.readBigInt64LE(0), text).toBe(toUnixNanos(text));
      if (toUnixNanos(text)! >= 4_294_967_296_000_000_000n) continue; // beyond DateTime
      const t = new ByteSink(64);
      secs.write(t, text);
      expect(BigInt(t.buf.readUInt32LE(0)), text).toBe(toUnixNanos(text)! / 1_000_000_000n);
    }
    // Not the fast shape: still refused or parsed by the general path, never misread.
    for (const bad of ['2024-02-30T00:00:00Z', '2024-13-01T00:00:00Z', '2024-01-01T24:00:00Z']) {
      expect(() => codec.write(new ByteSink(64), bad)).toThrow(/expected a timestamp/);
    }
    // Past the end of DateTime64(9) (Int64 nanoseconds end in 2262).
    expect(() => codec.write(new ByteSink(64), '2299-12-31T23:59:59Z')).toThrow(/out of range/);
  });
});

describe('decimal fast path', () => {
  it('writes plain decimal text exactly as the BigInt path, at every width and sign', async () => {
    const { ByteSink, compileColumnType } = await import('../core/clickhouse/rowbinary.ts');
    const rnd = (n: number) => Math.floor(Math.random() * n);
    const digits = (n: number) => Array.from({ length: n }, () => rnd(10)).join('');
    for (const [precision, scale] of [
      [38, 15],
      [18, 4],
      [9, 2],
      [76, 10],
      [20, 15],
      [38, 0],
    ] as const) {
      const codec = compileColumnType('x', `Decimal(${precision}, ${scale})`);
      const bytes = precision <= 9 ? 4 : precision <= 18 ? 8 : precision <= 38 ? 16 : 32;
      const texts = ['0', '-0', '-0.000', '.5', '5.', '+7.25', '0.000000000000001', '-1', '1e3', ' 1', ''];
      for (let i = 0; i < 3000; i++) {
        const int = ['', '0', '00', digits(1 + rnd(6)), digits(1 + rnd(17))][rnd(5)]!;
        const frac = ['', '.', `.${digits(1 + rnd(20))}`][rnd(3)]!;
        texts.push(`${['', '-', '+'][rnd(3)]}${int}${frac}`);
      }
      for (const text of texts) {
        const expected = parseDecimal(text, scale);
        const s = new ByteSink(64);
        let error: string | undefined;
        try {
          codec.write(s, text);
        } catch (err) {
          error = (err as Error).message;
        }
        const limit = 10n ** BigInt(precision);
        if (expected === undefined || expected >= limit || expected <= -limit) {
          expect(error, `${text} as Decimal(${precision}, ${scale})`).toBeDefined();
          continue;
        }
        expect(error, text).toBeUndefined();
        let v = BigInt.asUintN(bytes * 8, expected);
        const want = Buffer.alloc(bytes);
        for (let off = 0; off < bytes; off += 4, v >>= 32n) want.writeUInt32LE(Number(v & 0xffffffffn), off);
        expect(s.buf.subarray(0, s.pos).toString('hex'), `${text} as Decimal(${precision}, ${scale})`).toBe(
          want.toString('hex'),
        );
      }
    }
  });

  it('repeats a DateTime64 text from its cache and still refuses a bad one after it', async () => {
    const { ByteSink, compileColumnType, toUnixNanos } = await import('../core/clickhouse/rowbinary.ts');
    const codec = compileColumnType('t', 'DateTime64(3)');
    for (const text of ['2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z', '1795408410123456789']) {
      const s = new ByteSink(64);
      codec.write(s, text);
      expect(s.buf.readBigInt64LE(0), text).toBe(toUnixNanos(text)! / 1_000_000n);
    }
    expect(() => codec.write(new ByteSink(64), '')).toThrow(/expected a timestamp/);
  });
});
