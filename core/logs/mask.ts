/**
 * Turns a log message into the masked tokens the miner compares. Variables are masked before the
 * tree descent, so a block id or a port never decides which branch a line takes.
 *
 * A message is split on whitespace; each token is cut into pieces at punctuation that commonly
 * separates a key from its value (`= : , ; ( ) [ ] { } " ' |` and `...` padding), and every piece
 * that looks like a variable becomes `<*>` while the punctuation is kept: `(HWID=3180)` →
 * `(HWID=<*>)`, `10.0.0.1:50010` → `<*>`, `blk_-42` → `<*>`. Then a run of variable tokens
 * folds into one `<*>`.
 */

export const WILDCARD = '<*>';

/** Extra masking patterns, applied in order to the whole message before tokenising. */
export interface MaskOptions {
  extraPatterns?: readonly (RegExp | string)[];
}

const isDigit = (c: number) => c >= 48 && c <= 57;

// Pieces are cut at these characters; the characters themselves stay in the token.
const DELIM = new Uint8Array(128);
for (const ch of '=:,;()[]{}"\'|') DELIM[ch.charCodeAt(0)] = 1;

const SLASH = 47;
const BACKSLASH = 92;
const LT = 60;
const DOT = 46;

/**
 * A piece is a variable when it is an absolute path (`/var/log/x`, `C:\...`), holds a digit
 * (numbers, hex such as 0x1f, ids such as blk_42 or attempt_1_m_2, IPs, UUIDs, versions) or
 * was replaced by an extra pattern. The whole piece becomes `<*>`, the convention of the
 * corrected Loghub labels (Khan et al. 2022): `core.2275` → `<*>`, `(HWID=3180)` → `(HWID=<*>)`.
 */
function variablePiece(tok: string, start: number, end: number): boolean {
  const c0 = tok.charCodeAt(start);
  if (end - start > 1 && c0 === SLASH) return true;
  for (let i = start; i < end; i++) {
    const c = tok.charCodeAt(i);
    if (isDigit(c) || c === BACKSLASH || (c === LT && tok.startsWith(WILDCARD, i))) return true;
  }
  return false;
}

// MAC addresses and similar byte strings, whose letter-only bytes would otherwise stay constant.
const HEX_BYTES = /^(?:[0-9A-Fa-f]{2}[:-]){3,}[0-9A-Fa-f]{2}$/;

/** Masks one whitespace-free token; returns the token itself when nothing in it is variable. */
export function maskToken(tok: string): string {
  // Fast path: most tokens are words with nothing a variable could start with.
  let plain = true;
  for (let i = 0; i < tok.length; i++) {
    const c = tok.charCodeAt(i);
    if (isDigit(c) || c === SLASH || c === BACKSLASH || c === LT) {
      plain = false;
      break;
    }
  }
  if (plain) return tok;
  // Byte strings are 11+ characters with a separator third; most tokens skip the regex.
  if (tok.length >= 11 && (tok.charCodeAt(2) === 58 || tok.charCodeAt(2) === 45) && HEX_BYTES.test(tok))
    return WILDCARD;
  let out: string | undefined;
  let pieceStart = 0;
  let last = 0; // tok[last, pieceStart) is copied to out verbatim on the next variable piece
  const n = tok.length;
  for (let i = 0; i <= n; i++) {
    const c = i < n ? tok.charCodeAt(i) : 0;
    // `...` padding separates too (`instruction......0` → `instruction......<*>`).
    const delim =
      i === n ||
      (c < 128 && DELIM[c] === 1) ||
      (c === DOT && (tok.charCodeAt(i + 1) === DOT || tok.charCodeAt(i - 1) === DOT));
    if (!delim) continue;
    if (i > pieceStart && variablePiece(tok, pieceStart, i)) {
      out = (out ?? '') + tok.slice(last, pieceStart) + WILDCARD;
      last = i;
    }
    pieceStart = i + 1;
  }
  if (out === undefined) return tok;
  out += tok.slice(last);
  // Variables joined only by `:` are one value (`<*>:<*>` from host:port, `12:01:01`).
  return out.length > 3 && out.includes('>:<') ? out.replace(/<\*>(?::<\*>)+/g, WILDCARD) : out;
}

/** Compiles extra patterns (strings as the Loghub benchmark gives them) with the `g` flag. */
export function compilePatterns(patterns: readonly (RegExp | string)[] | undefined): RegExp[] {
  return (patterns ?? []).map((p) =>
    typeof p === 'string' ? new RegExp(p, 'g') : p.global ? p : new RegExp(p.source, p.flags + 'g'),
  );
}

/** Applies the extra patterns in order, each match becoming `<*>`. */
export function applyPatterns(message: string, patterns: readonly RegExp[]): string {
  let s = message;
  for (const re of patterns) {
    re.lastIndex = 0;
    s = s.replace(re, WILDCARD);
  }
  return s;
}

/**
 * Dates written with month names (`Sun Jul 24 02:40:25 2005`, `Jul 24, 2005`, `Fri Dec 10
 * 19:02:14 EST 2004`): their words would otherwise be constants that split a template by month.
 */
const TEXT_DATE =
  /\b(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*,?\s+)?(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.?\s+\d{1,2}\b(?:,?\s+\d{4}\b)?(?:\s+\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:\s+[A-Z]{3,4}\b)?(?:\s+\d{4}\b)?/g;

/** Splits on any run of whitespace, dropping empty tokens. */
export function splitWhitespace(s: string): string[] {
  const out: string[] = [];
  let start = -1;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ws = c === 32 || (c >= 9 && c <= 13);
    if (ws) {
      if (start >= 0) {
        out.push(s.slice(start, i));
        start = -1;
      }
    } else if (start < 0) start = i;
  }
  if (start >= 0) out.push(s.slice(start));
  return out;
}

/**
 * Masked tokens of a message (extra patterns first, then per-token masking). A run of variable
 * tokens becomes one `<*>`: lists of varying length (`name a b c`, `name a`) are one template.
 */
export function maskMessage(message: string, patterns: readonly RegExp[] = []): string[] {
  let text = patterns.length ? applyPatterns(message, patterns) : message;
  TEXT_DATE.lastIndex = 0;
  text = text.replace(TEXT_DATE, WILDCARD);
  // One pass: cut at whitespace and classify each token as it is cut, so the common tokens
  // need no second scan: a token without the characters a variable needs stays as it is
  // (maskToken's fast path); one with nothing to cut it into pieces (no delimiter, no `..`,
  // no `<`) is one piece, a variable when it holds a digit or backslash or is an absolute
  // path: `<*>` without slicing it (maskToken gives the same).
  const tokens: string[] = [];
  let start = -1;
  let plain = true; // no digit, slash, backslash or `<`
  let variable = false; // a digit or backslash
  let cut = false; // a delimiter, `..` or `<`
  const n = text.length;
  for (let i = 0; i <= n; i++) {
    const c = i < n ? text.charCodeAt(i) : 32;
    if (c === 32 || (c >= 9 && c <= 13)) {
      if (start < 0) continue;
      if (plain) tokens.push(text.slice(start, i));
      else if (!cut && (variable || (text.charCodeAt(start) === SLASH && i - start > 1))) {
        if (tokens[tokens.length - 1] !== WILDCARD) tokens.push(WILDCARD);
      } else {
        const m = maskToken(text.slice(start, i));
        if (m !== WILDCARD || tokens[tokens.length - 1] !== WILDCARD) tokens.push(m);
      }
      start = -1;
      continue;
    }
    if (start < 0) {
      start = i;
      plain = true;
      variable = false;
      cut = false;
    }
    if (c >= 47 && c <= 57) {
      plain = false;
      if (c !== SLASH) variable = true;
    } else if (c === BACKSLASH) {
      plain = false;
      variable = true;
    } else if (c === LT) {
      plain = false;
      cut = true;
    } else if ((c < 128 && DELIM[c] === 1) || (c === DOT && i > start && text.charCodeAt(i - 1) === DOT))
      cut = true;
  }
  return tokens;
}
