import { rfc3339Nanos } from './normalize.ts';

/**
 * Syslog message parsers: RFC 5424 and RFC 3164 (BSD), chosen by the VERSION field after
 * the PRI. Pure and total: any input yields a message; what could not be parsed is named in
 * `error` and the raw text becomes the message, as rsyslog keeps such messages rather than
 * dropping them.
 */

export interface SyslogMessage {
  format: 'rfc5424' | 'rfc3164' | 'unknown';
  /** From PRI; undefined when there was no valid PRI. */
  facility?: number;
  severity?: number;
  /** Unix nanoseconds; undefined when the message carries no (valid) time. */
  timeUnixNano?: bigint;
  hostname?: string;
  appName?: string;
  procId?: string;
  msgId?: string;
  /** SD-ID -> params, in message order. */
  structuredData: [string, [string, string][]][];
  message: string;
  error?: string;
}

export const FACILITIES = [
  'kern',
  'user',
  'mail',
  'daemon',
  'auth',
  'syslog',
  'lpr',
  'news',
  'uucp',
  'cron',
  'authpriv',
  'ftp',
  'ntp',
  'security',
  'console',
  'solaris-cron',
  'local0',
  'local1',
  'local2',
  'local3',
  'local4',
  'local5',
  'local6',
  'local7',
] as const;

const PRI = /^<(\d{1,3})>/;

export function parseSyslog(raw: string, now: Date = new Date()): SyslogMessage {
  const pri = PRI.exec(raw);
  const value = pri ? Number(pri[1]) : NaN;
  if (!pri || value > 191 || (pri[1]!.length > 1 && pri[1]!.startsWith('0'))) {
    return {
      format: 'unknown',
      structuredData: [],
      message: raw,
      error: pri ? `invalid PRI <${pri[1]}>: expected 0..191` : 'no PRI: expected <0..191> at the start',
    };
  }
  const head = { facility: value >> 3, severity: value & 7 };
  const rest = raw.slice(pri[0].length);
  if (/^[1-9]\d{0,2} /.test(rest)) return parse5424(raw, rest, head);
  return parse3164(rest, head, now);
}

type Head = { facility: number; severity: number };

const NIL = '-';

function parse5424(raw: string, rest: string, head: Head): SyslogMessage {
  const fail = (error: string): SyslogMessage => ({
    format: 'rfc5424',
    ...head,
    structuredData: [],
    message: raw,
    error: `RFC 5424: ${error}`,
  });
  let i = 0;
  const token = (name: string, max: number): string | undefined => {
    const end = rest.indexOf(' ', i);
    if (end === -1) return undefined;
    const t = rest.slice(i, end);
    if (t.length === 0 || t.length > max) return undefined;
    i = end + 1;
    return t;
  };
  const version = token('VERSION', 3);
  if (version !== '1') return fail(`unsupported VERSION ${version ?? '(missing)'}`);
  const ts = token('TIMESTAMP', 64);
  if (ts === undefined) return fail('missing TIMESTAMP');
  let timeUnixNano: bigint | undefined;
  if (ts !== NIL) {
    timeUnixNano = rfc3339Nanos(ts);
    if (timeUnixNano === undefined || !/[Zz+-]\d{0,2}:?\d{0,2}$/.test(ts))
      return fail(`invalid TIMESTAMP ${JSON.stringify(ts)}: expected RFC 3339 with a time zone`);
  }
  const fields: string[] = [];
  for (const [name, max] of [
    ['HOSTNAME', 255],
    ['APP-NAME', 48],
    ['PROCID', 128],
    ['MSGID', 32],
  ] as const) {
    const t = token(name, max);
    if (t === undefined) return fail(`missing or too long ${name}`);
    fields.push(t);
  }
  const sd = parseStructuredData(rest, i);
  if (typeof sd === 'string') return fail(sd);
  i = sd.end;
  let message = '';
  if (i < rest.length) {
    if (rest[i] !== ' ') return fail(`expected a space after STRUCTURED-DATA at offset ${i}`);
    message = rest.slice(i + 1);
    if (message.charCodeAt(0) === 0xfeff) message = message.slice(1);
  }
  const [hostname, appName, procId, msgId] = fields.map((f) => (f === NIL ? undefined : f));
  const msg: SyslogMessage = { format: 'rfc5424', ...head, structuredData: sd.elements, message };
  if (timeUnixNano !== undefined) msg.timeUnixNano = timeUnixNano;
  if (hostname) msg.hostname = hostname;
  if (appName) msg.appName = appName;
  if (procId) msg.procId = procId;
  if (msgId) msg.msgId = msgId;
  return msg;
}

const SD_NAME = /^[^= \]"]{1,32}/;

/** STRUCTURED-DATA at `i`: `-` or `[id k="v" ...]...`; values unescape \" \\ \]. */
function parseStructuredData(
  s: string,
  start: number,
): { elements: [string, [string, string][]][]; end: number } | string {
  if (s[start] === NIL) return { elements: [], end: start + 1 };
  if (s[start] !== '[') return `expected STRUCTURED-DATA ("-" or "[") at offset ${start}`;
  const elements: [string, [string, string][]][] = [];
  let i = start;
  while (s[i] === '[') {
    const id = SD_NAME.exec(s.slice(i + 1, i + 34));
    if (!id) return `invalid SD-ID at offset ${i + 1}`;
    i += 1 + id[0].length;
    const params: [string, string][] = [];
    while (s[i] === ' ') {
      const name = SD_NAME.exec(s.slice(i + 1, i + 34));
      if (!name) return `invalid PARAM-NAME at offset ${i + 1}`;
      i += 1 + name[0].length;
      if (s[i] !== '=' || s[i + 1] !== '"') return `expected ="..." after PARAM-NAME ${name[0]}`;
      i += 2;
      let value = '';
      for (;;) {
        if (i >= s.length) return `unterminated PARAM-VALUE of ${name[0]}`;
        const c = s[i]!;
        if (c === '\\' && (s[i + 1] === '"' || s[i + 1] === '\\' || s[i + 1] === ']')) {
          value += s[i + 1];
          i += 2;
        } else if (c === '"') {
          i++;
          break;
        } else {
          value += c;
          i++;
        }
      }
      params.push([name[0], value]);
    }
    if (s[i] !== ']') return `expected "]" closing SD-ELEMENT ${id[0]} at offset ${i}`;
    i++;
    elements.push([id[0], params]);
  }
  return { elements, end: i };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const BSD_TIME = /^([A-Z][a-z]{2}) ([ \d]?\d) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))? /;
const ISO_TIME = /^(\d{4}-\d{2}-\d{2}T\S+) /;
// TAG: letters, digits and the punctuation daemons use, optionally [PID], then ":".
const TAG = /^([^\s[\]:]{1,48})(?:\[([^\]\s]{1,128})\])?: ?/;

/**
 * RFC 3164 has no year and no zone: the receiver's local time zone and the year that puts the
 * time nearest to now (a December message read in January is last year's), as rsyslog does.
 */
function parse3164(rest: string, head: Head, now: Date): SyslogMessage {
  const msg: SyslogMessage = { format: 'rfc3164', ...head, structuredData: [], message: '' };
  let i = 0;
  const bsd = BSD_TIME.exec(rest);
  if (bsd) {
    const month = MONTHS.indexOf(bsd[1]!);
    const [day, h, m, s] = [bsd[2]!, bsd[3]!, bsd[4]!, bsd[5]!].map(Number) as [
      number,
      number,
      number,
      number,
    ];
    if (month >= 0 && day >= 1 && day <= 31 && h < 24 && m < 60 && s < 61) {
      let d = new Date(now.getFullYear(), month, day, h, m, s);
      if (d.getTime() - now.getTime() > 86_400_000) d = new Date(now.getFullYear() - 1, month, day, h, m, s);
      const micros = BigInt((bsd[6] ?? '').padEnd(6, '0'));
      msg.timeUnixNano = BigInt(d.getTime()) * 1_000_000n + micros * 1000n;
      i = bsd[0].length;
    } else {
      msg.error = `RFC 3164: invalid TIMESTAMP ${JSON.stringify(bsd[0].trim())}`;
    }
  } else {
    const iso = ISO_TIME.exec(rest);
    const t = iso ? rfc3339Nanos(iso[1]!) : undefined;
    if (iso && t !== undefined) {
      msg.timeUnixNano = t;
      i = iso[0].length;
    }
  }
  // HOSTNAME is present when a TIMESTAMP was, unless the next word already is a TAG.
  if (i > 0) {
    const end = rest.indexOf(' ', i);
    const word = end === -1 ? '' : rest.slice(i, end);
    if (word && !/[:\]]$/.test(word)) {
      msg.hostname = word;
      i = end + 1;
    }
  }
  const tag = TAG.exec(rest.slice(i));
  if (tag) {
    msg.appName = tag[1]!;
    if (tag[2]) msg.procId = tag[2];
    i += tag[0].length;
  }
  msg.message = rest.slice(i);
  return msg;
}
