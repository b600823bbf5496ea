/**
 * A parser for ClickHouse type names as `system.columns.type` prints them
 * (`Map(LowCardinality(String), String)`, `DateTime64(9, 'UTC')`, `Enum8('a' = 1)`,
 * `Tuple(a UInt8, b String)`, ...), so the RowBinary encoder can be compiled from a table.
 */

export type TypeArg =
  | { kind: 'type'; type: TypeNode }
  | { kind: 'number'; value: number }
  | { kind: 'string'; value: string }
  | { kind: 'named'; name: string; type: TypeNode }
  | { kind: 'enum'; name: string; value: number };

export interface TypeNode {
  name: string;
  args: TypeArg[];
  /** The text the node was parsed from, for error messages. */
  text: string;
}

export class TypeParseError extends Error {}

class Parser {
  pos = 0;
  constructor(private readonly src: string) {}

  private ws(): void {
    while (this.pos < this.src.length && /\s/.test(this.src[this.pos]!)) this.pos++;
  }

  private fail(what: string): never {
    throw new TypeParseError(`cannot parse ClickHouse type '${this.src}' at ${this.pos}: ${what}`);
  }

  private peek(): string {
    this.ws();
    return this.src[this.pos] ?? '';
  }

  private ident(): string {
    this.ws();
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.src.slice(this.pos));
    if (m) {
      this.pos += m[0].length;
      return m[0];
    }
    // Backquoted names appear in named tuples whose element names are not identifiers.
    if (this.src[this.pos] === '`') {
      const end = this.src.indexOf('`', this.pos + 1);
      if (end < 0) this.fail('unterminated `name`');
      const name = this.src.slice(this.pos + 1, end);
      this.pos = end + 1;
      return name;
    }
    return this.fail('expected a name');
  }

  private quoted(): string {
    this.ws();
    if (this.src[this.pos] !== "'") this.fail("expected '");
    let out = '';
    this.pos++;
    while (this.pos < this.src.length) {
      const c = this.src[this.pos++]!;
      if (c === '\\') {
        out += this.src[this.pos++] ?? '';
      } else if (c === "'") {
        if (this.src[this.pos] === "'") {
          out += "'";
          this.pos++;
        } else {
          return out;
        }
      } else {
        out += c;
      }
    }
    return this.fail('unterminated string');
  }

  private number(): number {
    this.ws();
    const m = /^-?\d+/.exec(this.src.slice(this.pos));
    if (!m) this.fail('expected a number');
    this.pos += m[0].length;
    return Number(m[0]);
  }

  private arg(): TypeArg {
    const c = this.peek();
    if (c === "'") {
      const value = this.quoted();
      if (this.peek() === '=') {
        this.pos++;
        return { kind: 'enum', name: value, value: this.number() };
      }
      return { kind: 'string', value };
    }
    if (c === '-' || (c >= '0' && c <= '9')) return { kind: 'number', value: this.number() };
    const start = this.pos;
    const name = this.ident();
    // `name Type` (named tuple element or Nested field) versus a bare type.
    const next = this.peek();
    if (next !== '(' && next !== ',' && next !== ')' && next !== '') {
      return { kind: 'named', name, type: this.type() };
    }
    this.pos = start;
    return { kind: 'type', type: this.type() };
  }

  type(): TypeNode {
    this.ws();
    const start = this.pos;
    const name = this.ident();
    const args: TypeArg[] = [];
    if (this.peek() === '(') {
      this.pos++;
      if (this.peek() !== ')') {
        for (;;) {
          args.push(this.arg());
          const c = this.peek();
          if (c === ',') {
            this.pos++;
            continue;
          }
          if (c === ')') break;
          this.fail("expected ',' or ')'");
        }
      }
      this.pos++;
    }
    return { name, args, text: this.src.slice(start, this.pos).trim() };
  }

  done(): void {
    this.ws();
    if (this.pos !== this.src.length) this.fail('unexpected trailing text');
  }
}

export function parseType(text: string): TypeNode {
  const p = new Parser(text);
  const node = p.type();
  p.done();
  return node;
}

/** The type argument at index i, or a clear error naming the whole type. */
export function typeArg(node: TypeNode, i: number): TypeNode {
  const a = node.args[i];
  if (a?.kind === 'type') return a.type;
  throw new TypeParseError(`${node.text}: argument ${i + 1} must be a type`);
}

export function numberArg(node: TypeNode, i: number, fallback?: number): number {
  const a = node.args[i];
  if (a === undefined && fallback !== undefined) return fallback;
  if (a?.kind === 'number') return a.value;
  throw new TypeParseError(`${node.text}: argument ${i + 1} must be a number`);
}
