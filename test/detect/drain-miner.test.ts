import { describe, expect, it } from 'vitest';
import { TemplateMiner, type MinerState } from '../../core/logs/drain.ts';
import { loadSystem, readFormats } from '../../eval/loghub/dataset.ts';
import { evaluateSystem } from '../../eval/loghub/run.ts';

const LOGHUB = new URL('../../../shared/data/loghub', import.meta.url).pathname;

describe('TemplateMiner', () => {
  it('gives lines of one template one id, the template text and the parameters', () => {
    const m = new TemplateMiner();
    const a = m.add('Received block blk_1 of size 67108864 from /10.250.19.102');
    const b = m.add('Received block blk_2 of size 512 from /10.250.19.16');
    expect(a.isNew).toBe(true);
    expect(b.isNew).toBe(false);
    expect(b.templateId).toBe(a.templateId);
    expect(b.template).toBe('Received block <*> of size <*> from <*>');
    expect(b.params).toEqual(['blk_2', '512', '/10.250.19.16']);
    const c = m.add('Deleting block blk_3 file /data/x');
    expect(c.templateId).not.toBe(a.templateId);
  });

  it('keeps the id when a template generalises and reports the new text', () => {
    const m = new TemplateMiner();
    const first = m.add('session closed for user root by admin');
    const second = m.add('session closed for user cyrus by admin');
    expect(second.templateId).toBe(first.templateId);
    expect(second.changed).toBe(true);
    expect(second.template).toBe('session closed for user <*> by admin');
    expect(second.params).toEqual(['cyrus']);
  });

  it('keeps different leading words apart (Starting / Ending)', () => {
    const m = new TemplateMiner();
    const s = m.add('Starting TrustedInstaller initialization.');
    const e = m.add('Ending TrustedInstaller initialization.');
    expect(e.templateId).not.toBe(s.templateId);
  });

  it('merges siblings that differ at one position once it has taken 3 values, aliasing the ids', () => {
    const m = new TemplateMiner();
    const results = ['chargen', 'daytime', 'echo'].map((s) => m.add(`xinetd removing service ${s}`));
    const ids = results.map((r) => r.templateId);
    expect(ids[1]).not.toBe(ids[0]);
    // The third value merges the three; the oldest id survives and the others alias to it.
    expect(ids[2]).toBe(ids[0]);
    expect(results[2]!.merged).toEqual([ids[1]]);
    expect(results[2]!.isNew).toBe(false);
    expect(results[2]!.changed).toBe(true);
    const resolved = new Set(ids.map((id) => m.resolve(id)));
    expect(resolved.size).toBe(1);
    const next = m.add('xinetd removing service ftp');
    expect(resolved.has(next.templateId)).toBe(true);
    expect(next.template).toBe('xinetd removing service <*>');
  });

  it('resumes with the same ids after a restore from serialised state', () => {
    const lines = [
      'PacketResponder 1 for block blk_38865049064139660 terminating',
      'Verification succeeded for blk_-4980916519894289629',
      'session opened for user root by (uid=0)',
      'session opened for user news by (uid=0)',
    ];
    const m = new TemplateMiner();
    const before = lines.map((l) => m.add(l).templateId);
    const state = JSON.parse(JSON.stringify(m.snapshot())) as MinerState;
    const r = TemplateMiner.restore(state);
    const after = lines.map((l) => r.add(l));
    expect(after.map((x) => x.templateId)).toEqual(before);
    expect(after.every((x) => !x.isNew)).toBe(true);
    // A fresh miner meeting the same first line derives the same id (a hash of the text).
    expect(new TemplateMiner().add(lines[0]!).templateId).toBe(before[0]);
  });

  it('keeps merged ids resolvable across a restore', () => {
    const m = new TemplateMiner();
    const ids = ['chargen', 'daytime', 'echo'].map((s) => m.add(`xinetd removing service ${s}`).templateId);
    const r = TemplateMiner.restore(JSON.parse(JSON.stringify(m.snapshot())) as MinerState);
    expect(r.resolve(ids[1]!)).toBe(ids[0]);
    expect(r.add('xinetd removing service telnet').templateId).toBe(ids[0]);
    expect(r.size).toBe(1);
  });

  it('bounds its clusters, evicting the least recently used', () => {
    const m = new TemplateMiner({ maxClusters: 50 });
    const keep = m.add('hot template alpha beta').templateId;
    for (let i = 0; i < 500; i++) {
      m.add(
        `event${String.fromCharCode(97 + (i % 26))}${String.fromCharCode(97 + Math.floor(i / 26))} happened here`,
      );
      m.add('hot template alpha beta');
    }
    expect(m.size).toBeLessThanOrEqual(50);
    expect(m.add('hot template alpha beta').templateId).toBe(keep);
  });

  it('groups the Loghub HDFS sample with a grouping accuracy above 0.99', () => {
    const formats = readFormats(LOGHUB);
    const hdfs = loadSystem(LOGHUB, 'HDFS', formats.HDFS!);
    const r = evaluateSystem(hdfs);
    expect(r.grouping_accuracy).toBeGreaterThan(0.99);
    expect(r.templates).toBeLessThan(20);
  });
});
