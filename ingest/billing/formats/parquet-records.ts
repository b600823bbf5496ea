import { open, type FileHandle } from 'node:fs/promises';
import {
  parquetMetadataAsync,
  parquetRead,
  parquetSchema,
  type AsyncBuffer,
  type FileMetaData,
  type SchemaElement,
  type SchemaTree,
} from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { FocusFileError } from '../focus.ts';
import type { ColumnSlice, RecordFile, RecordItem } from './records.ts';
import type { NativeRecord, NativeValue } from './types.ts';
import { doubleToText, unscaledToText } from './values.ts';

/**
 * A Parquet billing file as records, one row group at a time (the file is read by byte ranges
 * from disk, never whole). Values become the text the CSV path sees: DECIMAL columns exactly
 * (hyparquet would make them JS numbers, so their annotation is hidden from it and the
 * unscaled integers converted here), DOUBLE as its shortest round-trip text, timestamps and
 * dates ISO 8601 UTC; MAP and struct columns stay nested records, lists arrays.
 */

/** Positional reads on one open file descriptor. */
function fileBuffer(fh: FileHandle, size: number): AsyncBuffer {
  return {
    byteLength: size,
    async slice(start: number, end?: number) {
      const stop = Math.min(end ?? size, size);
      const buf = Buffer.allocUnsafe(Math.max(0, stop - start));
      let done = 0;
      while (done < buf.length) {
        const { bytesRead } = await fh.read(buf, done, buf.length - done, start + done);
        if (!bytesRead) throw new Error(`unexpected end of file at byte ${start + done}`);
        done += bytesRead;
      }
      return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length) as ArrayBuffer;
    },
  };
}

type Conv = (v: unknown) => NativeValue;

const utf8 = new TextDecoder();

const isDecimal = (e: SchemaElement) => e.converted_type === 'DECIMAL' || e.logical_type?.type === 'DECIMAL';

function decimalScale(e: SchemaElement): number {
  const lt = e.logical_type;
  return lt?.type === 'DECIMAL' ? lt.scale : (e.scale ?? 0);
}

/**
 * Big-endian two's complement bytes -> a number when the value fits 48 bits (money exports
 * store small amounts in 16-byte decimals: the leading bytes are only the sign), else BigInt.
 * Building a BigInt byte by byte was the largest cost of a Parquet billing row.
 */
function bytesToUnits(b: Uint8Array): number | bigint {
  const n = b.length;
  if (n === 0) return 0;
  const fill = b[0]! & 0x80 ? 0xff : 0;
  const low = Math.max(0, n - 6);
  let fits = true;
  for (let i = 0; i < low; i++) if (b[i] !== fill) fits = false;
  // The sign must also show in the 48 bits kept.
  if (fits && (low === 0 || (b[low]! & 0x80 ? 0xff : 0) === fill)) {
    let v = 0;
    for (let i = low; i < n; i++) v = v * 256 + b[i]!;
    const width = (n - low) * 8;
    return fill ? v - 2 ** width : v;
  }
  return bytesToBigInt(b);
}

/** Big-endian two's complement bytes -> BigInt. */
function bytesToBigInt(b: Uint8Array): bigint {
  let v = 0n;
  for (const byte of b) v = (v << 8n) | BigInt(byte);
  return b.length && b[0]! & 0x80 ? v - (1n << BigInt(b.length * 8)) : v;
}

/** Shortest text that reads back as the same 32-bit float. */
function floatToText(n: number): string {
  for (let p = 1; p <= 9; p++) {
    const s = n.toPrecision(p);
    if (Math.fround(Number(s)) === n) return doubleToText(Number(s));
  }
  return doubleToText(n);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return (
    v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date) && !ArrayBuffer.isView(v)
  );
}

/** Any value by its JS type, for leaves whose Parquet type needs nothing special. */
function generic(v: unknown): NativeValue {
  if (v === null || v === undefined) return null;
  switch (typeof v) {
    case 'string':
      return v;
    case 'number':
      return Number.isFinite(v) ? doubleToText(v) : String(v);
    case 'bigint':
    case 'boolean':
      return String(v);
  }
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString();
  if (v instanceof Uint8Array) return utf8.decode(v);
  if (Array.isArray(v)) return v.map(generic);
  if (isPlainObject(v)) {
    const out: NativeRecord = {};
    for (const [k, x] of Object.entries(v)) out[k] = generic(x);
    return out;
  }
  return String(v as string);
}

function leafConv(e: SchemaElement): Conv {
  if (isDecimal(e)) {
    const scale = decimalScale(e);
    return (v) => {
      if (v === null || v === undefined) return null;
      const units = v instanceof Uint8Array ? bytesToUnits(v) : BigInt(v as number | bigint);
      return unscaledToText(units, scale);
    };
  }
  if (e.type === 'FLOAT')
    return (v) => (typeof v === 'number' && Number.isFinite(v) ? floatToText(v) : generic(v));
  return generic;
}

function nodeConv(node: SchemaTree): Conv {
  const e = node.element;
  let conv: Conv;
  if (!node.children.length) {
    conv = leafConv(e);
  } else if (
    e.converted_type === 'MAP' ||
    e.converted_type === 'MAP_KEY_VALUE' ||
    e.logical_type?.type === 'MAP'
  ) {
    const value = node.children[0]?.children.find((c) => c.element.name === 'value');
    const vc = value ? nodeConv(value) : generic;
    conv = (v) => {
      if (!isPlainObject(v)) return generic(v);
      const out: NativeRecord = {};
      for (const [k, x] of Object.entries(v)) out[k] = vc(x);
      return out;
    };
  } else if (e.converted_type === 'LIST' || e.logical_type?.type === 'LIST') {
    const rep = node.children[0];
    const elem = rep && rep.children.length === 1 ? rep.children[0] : rep;
    const ec = elem ? nodeConv(elem) : generic;
    conv = (v) => (Array.isArray(v) ? v.map(ec) : generic(v));
  } else {
    const fields = new Map(node.children.map((c) => [c.element.name, nodeConv(c)]));
    conv = (v) => {
      if (!isPlainObject(v)) return generic(v);
      const out: NativeRecord = {};
      for (const [k, x] of Object.entries(v)) out[k] = (fields.get(k) ?? generic)(x);
      return out;
    };
  }
  if (e.repetition_type !== 'REPEATED') return conv;
  const one = conv;
  return (v) => (Array.isArray(v) ? v.map(one) : one(v));
}

/** One column's raw values converted; a value identical to the previous one reuses its result. */
function convertColumn(raw: unknown[] | undefined, rows: number, conv: Conv): NativeValue[] {
  const out = new Array<NativeValue>(rows);
  let prev: unknown = {};
  let prevOut: NativeValue = null;
  for (let i = 0; i < rows; i++) {
    const v = raw?.[i];
    // Only primitives and shared objects are reused; a converted record or array is never
    // handed out twice (a consumer may change it).
    if (v !== prev || (prevOut !== null && typeof prevOut === 'object')) {
      prev = v;
      prevOut = conv(v);
    }
    out[i] = prevOut;
  }
  return out;
}

/** The metadata hyparquet reads with: DECIMAL annotations removed so it hands over raw integers. */
function rawDecimals(md: FileMetaData): FileMetaData {
  return {
    ...md,
    schema: md.schema.map((e) =>
      isDecimal(e) ? { ...e, converted_type: undefined, logical_type: undefined } : e,
    ),
  };
}

export async function openParquetRecords(path: string, file: string, batchSize = 5000): Promise<RecordFile> {
  const fh = await open(path, 'r');
  let md: FileMetaData;
  let convs: { name: string; conv: Conv }[];
  try {
    const { size } = await fh.stat();
    const buffer = fileBuffer(fh, size);
    try {
      md = await parquetMetadataAsync(buffer);
      convs = parquetSchema(md).children.map((c) => ({ name: c.element.name, conv: nodeConv(c) }));
    } catch (err) {
      throw new FocusFileError(`${file}: not a readable Parquet file: ${(err as Error).message}`);
    }
    const readMd = rawDecimals(md);
    const columns = convs.map((c) => c.name);
    /** Row groups as converted columns, in slices of batchSize rows. */
    async function* slices(): AsyncGenerator<ColumnSlice> {
      try {
        let start = 0;
        for (const [g, group] of md.row_groups.entries()) {
          const rows = Number(group.num_rows);
          // Column by column: hyparquet's row objects are skipped, and each column is
          // converted in one loop of its own (one converter, and a dictionary-encoded
          // column's repeated entries, which are the same objects, converted once).
          const raw = new Map<string, unknown[]>();
          try {
            await parquetRead({
              file: buffer,
              metadata: readMd,
              rowStart: start,
              rowEnd: start + rows,
              compressors,
              utf8: false,
              onChunk: ({ columnName, columnData, rowStart }) => {
                let col = raw.get(columnName);
                if (!col) raw.set(columnName, (col = new Array<unknown>(rows)));
                for (let i = 0; i < columnData.length; i++) {
                  const at = rowStart - start + i;
                  if (at >= 0 && at < rows) col[at] = columnData[i];
                }
              },
            });
          } catch (err) {
            throw new FocusFileError(
              `${file}: row group ${g} (records ${start + 1}-${start + rows}) unreadable: ${(err as Error).message}`,
            );
          }
          const values = convs.map(({ conv, name }) => convertColumn(raw.get(name), rows, conv));
          raw.clear();
          for (let i = 0; i < rows; i += batchSize)
            yield { values, from: i, to: Math.min(rows, i + batchSize), firstLine: start + 1 };
          start += rows;
        }
      } finally {
        await fh.close().catch(() => {});
      }
    }
    return {
      columns,
      async *batches() {
        for await (const { values, from, to, firstLine } of slices()) {
          const batch: RecordItem[] = [];
          for (let j = from; j < to; j++) {
            const record: NativeRecord = {};
            for (let c = 0; c < convs.length; c++) record[convs[c]!.name] = values[c]![j]!;
            batch.push({ line: firstLine + j, record });
          }
          yield batch;
        }
      },
      columnSlices: slices,
      close: () => fh.close().catch(() => {}),
    };
  } catch (err) {
    await fh.close().catch(() => {});
    throw err;
  }
}
