import { describe, expect, it } from 'vitest';
import { compilePatterns, maskMessage, maskToken } from '../../core/logs/mask.ts';

describe('log masking', () => {
  it.each([
    ['1234', '<*>'],
    ['-17', '<*>'],
    ['0x7fed806eb5d', '<*>'],
    ['10.251.73.220:50010', '<*>'],
    ['/10.10.34.11:45307', '<*>'],
    ['blk_-1608999687919862906', '<*>'],
    ['core.2275', '<*>'],
    ['(HWID=3180)', '(HWID=<*>)'],
    ['node-246', '<*>'],
    ['3f2504e0-4f89-11d3-9a0c-0305e82c3301', '<*>'],
    ['2016-09-28T04:30:31.455Z', '<*>'],
    ['12:01:01', '<*>'],
    ['/var/log/messages', '<*>'],
    ['file=/tmp/x.log,', 'file=<*>,'],
    ['C:\\Windows\\winsxs\\cbscore.dll', 'C:<*>'],
    ['attempt_1445144423722_0020_m_000000_0', '<*>'],
    ['terminating', 'terminating'],
    ['instruction......0', 'instruction......<*>'],
    ['FF:F2:9F:16:E2:23:00:0D:60:E9:1D:DC', '<*>'],
    ['[DFSClient_NONMAPREDUCE_1537864556_1]', '[<*>]'],
    ['v6.1.7601.23505', '<*>'],
    ['NameSystem.allocateBlock:', 'NameSystem.allocateBlock:'],
    ['<memory:1024,', '<memory:<*>,'],
  ])('%s → %s', (token, masked) => {
    expect(maskToken(token)).toBe(masked);
  });

  it('masks a message as maskToken masks its tokens, a run of variables folded into one', () => {
    // maskMessage classifies most tokens while splitting instead of calling maskToken: the
    // answers must stay the same on tokens built from the characters either one looks at.
    const parts = [
      'a',
      'B',
      '7',
      '0x1f',
      '/',
      '\\',
      '<',
      '<*>',
      '.',
      '..',
      ':',
      '=',
      ',',
      '(',
      '"',
      '|',
      '-',
      '_',
      'de:ad:be:ef:00:11',
      'aa-bb-cc-dd-e5',
      'é',
      '/var/log',
      ' ',
      '  ',
      '\t',
    ];
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648) % parts.length;
    for (let i = 0; i < 20_000; i++) {
      let message = '';
      for (let j = next() % 12; j > 0; j--) message += parts[next()];
      const expected: string[] = [];
      for (const token of message.split(/[ \t\n\v\f\r]+/).filter(Boolean)) {
        const m = maskToken(token);
        if (m !== '<*>' || expected[expected.length - 1] !== '<*>') expected.push(m);
      }
      expect(maskMessage(message), JSON.stringify(message)).toEqual(expected);
    }
  });

  it('applies extra patterns before splitting, even across whitespace', () => {
    const patterns = compilePatterns(['0x.*?\\s', 'blk_-?\\d+']);
    expect(maskMessage('Deleting blk_-42 at 0xdead beef now', patterns)).toEqual([
      'Deleting',
      '<*>',
      'at',
      '<*>',
      'now',
    ]);
    expect(maskMessage('  a\tb  c ')).toEqual(['a', 'b', 'c']);
  });

  it('masks dates written with month names as one variable', () => {
    expect(maskMessage('connection from 1.2.3.4 () at Sun Jul 24 02:40:25 2005')).toEqual([
      'connection',
      'from',
      '<*>',
      '()',
      'at',
      '<*>',
    ]);
    expect(maskMessage('kernel (Release Date: Fri Dec 10 19:02:14 EST 2004) ok')).toEqual([
      'kernel',
      '(Release',
      'Date:',
      '<*>)',
      'ok',
    ]);
    // A month name that is not part of a date stays a word.
    expect(maskMessage('Mayday Mar madness')).toEqual(['Mayday', 'Mar', 'madness']);
  });

  it('folds a run of variable tokens into one, so lists of any length match', () => {
    expect(maskMessage('resolve names host1 host2 host3 failed')).toEqual([
      'resolve',
      'names',
      '<*>',
      'failed',
    ]);
    expect(maskMessage('resolve names host7 failed')).toEqual(['resolve', 'names', '<*>', 'failed']);
  });
});
