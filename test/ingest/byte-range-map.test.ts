import { describe, expect, it } from 'vitest';
import { ByteRangeMap, hashRange } from '../../ingest/metrics/byte-range-map.ts';

/** `text` inside a larger buffer, at an odd offset of a view that itself starts at an offset. */
function placed(texts: string[]): { view: DataView; ranges: [number, number][] } {
  const pad = Buffer.from('xyz');
  const parts = texts.map((t) => Buffer.from(t, 'latin1'));
  const all = Buffer.concat([Buffer.alloc(5, 1), pad, ...parts]);
  const view = new DataView(all.buffer, all.byteOffset + 5, all.length - 5);
  const ranges: [number, number][] = [];
  let at = pad.length;
  for (const p of parts) {
    ranges.push([at, at + p.length]);
    at += p.length;
  }
  return { view, ranges };
}

describe('ByteRangeMap', () => {
  it('finds a range by its bytes wherever they lie, and only those bytes', () => {
    // Keys differing in one byte (first, middle, last, a tail byte), in length only, and empty.
    const keys = ['abcdefgh1', 'Xbcdefgh1', 'abcdXfgh1', 'abcdefgh2', 'abcdefgh', 'abcdefgh12', ''];
    const { view, ranges } = placed(keys);
    const map = new ByteRangeMap<string>();
    for (const [i, [s, e]] of ranges.entries()) {
      expect(map.get(view, s, e, hashRange(view, s, e))).toBeUndefined();
      map.add(view, s, e, hashRange(view, s, e), keys[i]!);
    }
    expect(map.size).toBe(keys.length);
    // The same bytes elsewhere (another buffer, another offset) find the stored value.
    const again = placed([...keys].reverse());
    for (const [i, [s, e]] of again.ranges.entries())
      expect(map.get(again.view, s, e, hashRange(again.view, s, e))).toBe(keys[keys.length - 1 - i]);
    // Keys are copies: overwriting the source does not change what is stored.
    new Uint8Array(view.buffer, view.byteOffset, view.byteLength).fill(0);
    const [s0, e0] = again.ranges[keys.length - 1]!;
    expect(map.get(again.view, s0, e0, hashRange(again.view, s0, e0))).toBe(keys[0]);
    map.clear();
    expect(map.size).toBe(0);
    expect(map.get(again.view, s0, e0, hashRange(again.view, s0, e0))).toBeUndefined();
  });

  it('tells keys apart that share a hash', () => {
    const keys = ['series-a', 'series-b', 'series-c'];
    const { view, ranges } = placed(keys);
    const map = new ByteRangeMap<number>();
    // Every key under one hash: one bucket, told apart by their bytes.
    for (const [i, [s, e]] of ranges.entries()) map.add(view, s, e, 42, i);
    for (const [i, [s, e]] of ranges.entries()) expect(map.get(view, s, e, 42)).toBe(i);
    const other = placed(['series-d']);
    const [s, e] = other.ranges[0]!;
    expect(map.get(other.view, s, e, 42)).toBeUndefined();
  });

  it('spreads label sets that differ in a few bytes over distinct hashes', () => {
    const keys = Array.from(
      { length: 20_000 },
      (_, i) =>
        `\n\u0008__name__\u0012node_cpu_${i % 50}\n\u0003cpu\u0012${i % 64}\n\u0008instance\u0012host-${i}:9100`,
    );
    const { view, ranges } = placed(keys);
    const hashes = new Set(ranges.map(([s, e]) => hashRange(view, s, e)));
    // A 32-bit hash of 20k keys: a collision or two at most, by the birthday bound.
    expect(hashes.size).toBeGreaterThan(keys.length - 3);
  });
});
