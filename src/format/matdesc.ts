/**
 * The material description (`matdesc`): a JSON object whose values are all strings, stored in a header, that tells
 * a reader which master key wrapped an object (FORMAT.md §3).
 *
 * Reading is strict: anything but a flat object of string values is refused, including duplicate keys, which
 * `JSON.parse` would silently collapse. Comparison is by map, never by string: oss2 writes `json.dumps` style
 * (`", "` separators, insertion order) and Go writes compact sorted JSON, so equal descriptions are spelt differently
 * (`oss2-python.md` §2.1, §5; `oss-go-java.md` §1, §8).
 *
 * Writing follows Go's `json.Marshal` of a `map[string]string` (compact, keys in UTF-8 byte order, `<` `>` `&`
 * U+2028 U+2029 escaped), and additionally escapes every non-ASCII character and DEL, so the value is always a legal
 * HTTP header value.
 *
 * @packageDocumentation
 */

import { CseError, ErrorCode } from '../errors.js';
import type { MatDesc } from './types.js';

/**
 * Longest matdesc text we parse, in UTF-16 code units: 8 KiB, the whole OSS user-metadata budget. Bounds the work a
 * hostile header can cause.
 */
export const MATDESC_MAX_LENGTH = 8192;

class MatDescSyntaxError extends Error {}

/**
 * Parses a matdesc header value.
 *
 * @param raw - the header value
 * @param header - the header it came from, for the error message
 * @param object - the object key, for the error message
 * @returns a frozen map (own properties only; `__proto__` is an ordinary key)
 * @throws CseError ERR_CSE_ENVELOPE_BAD_MATDESC when `raw` is longer than {@link MATDESC_MAX_LENGTH}, is not JSON,
 *   is not an object, has a non-string value (number, null, boolean, array, object), has a duplicate key, or
 *   contains a lone surrogate
 */
export function parseMatDesc(raw: string, header?: string, object?: string): MatDesc {
  const context = { ...(object === undefined ? {} : { object }), ...(header === undefined ? {} : { header }) };
  if (raw.length > MATDESC_MAX_LENGTH) {
    throw new CseError(
      ErrorCode.ENVELOPE_BAD_MATDESC,
      `material description is ${raw.length} characters long, more than the ${MATDESC_MAX_LENGTH} allowed`,
      context,
    );
  }
  try {
    return new Parser(raw).parse();
  } catch (e) {
    if (e instanceof MatDescSyntaxError) {
      throw new CseError(
        ErrorCode.ENVELOPE_BAD_MATDESC,
        `material description is not a JSON object of string values: ${e.message}`,
        context,
      );
    }
    throw e;
  }
}

/** A single-pass parser for exactly `{ "k": "v", ... }`: linear in the input, no recursion. */
class Parser {
  private pos = 0;

  constructor(private readonly text: string) {}

  parse(): MatDesc {
    const out: Record<string, string> = {};
    const seen = new Set<string>();
    this.skipSpace();
    this.expect('{', 'expected "{"');
    this.skipSpace();
    if (this.peek() === '}') {
      this.pos++;
    } else {
      for (;;) {
        this.skipSpace();
        if (this.peek() !== '"') this.fail('expected a string key');
        const key = this.parseString();
        if (seen.has(key)) this.fail(`duplicate key ${JSON.stringify(key)}`);
        seen.add(key);
        this.skipSpace();
        this.expect(':', 'expected ":"');
        this.skipSpace();
        const c = this.peek();
        if (c !== '"') {
          this.fail(c === undefined ? 'unexpected end of input' : `the value of ${JSON.stringify(key)} is not a string`);
        }
        // defineProperty, not assignment: a "__proto__" key must become an own property, not a prototype.
        Object.defineProperty(out, key, { value: this.parseString(), enumerable: true, writable: true, configurable: true });
        this.skipSpace();
        const sep = this.peek();
        this.pos++;
        if (sep === '}') break;
        if (sep !== ',') this.fail('expected "," or "}"', this.pos - 1);
      }
    }
    this.skipSpace();
    if (this.pos !== this.text.length) this.fail('trailing characters after the object');
    return Object.freeze(out);
  }

  private peek(): string | undefined {
    return this.text[this.pos];
  }

  private expect(c: string, message: string): void {
    if (this.text[this.pos] !== c) this.fail(message);
    this.pos++;
  }

  private fail(message: string, at = this.pos): never {
    throw new MatDescSyntaxError(`${message} at position ${at}`);
  }

  private skipSpace(): void {
    for (;;) {
      const c = this.text[this.pos];
      if (c !== ' ' && c !== '\t' && c !== '\n' && c !== '\r') return;
      this.pos++;
    }
  }

  /** Parses a JSON string starting at the opening quote (RFC 8259 §7). */
  private parseString(): string {
    const start = this.pos;
    this.pos++;
    let out = '';
    for (;;) {
      const code = this.text.charCodeAt(this.pos);
      if (Number.isNaN(code)) this.fail('unterminated string', start);
      if (code === 0x22) {
        this.pos++;
        break;
      }
      if (code < 0x20) this.fail('unescaped control character in a string');
      if (code !== 0x5c) {
        out += this.text.charAt(this.pos);
        this.pos++;
        continue;
      }
      const esc = this.text[this.pos + 1];
      this.pos += 2;
      switch (esc) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          const hex = this.text.slice(this.pos, this.pos + 4);
          if (!/^[0-9A-Fa-f]{4}$/.test(hex)) this.fail('bad \\u escape', this.pos - 2);
          out += String.fromCharCode(parseInt(hex, 16));
          this.pos += 4;
          break;
        }
        default:
          this.fail('bad escape', this.pos - 2);
      }
    }
    // A lone surrogate cannot be encoded as UTF-8, so it has no byte order and no place in a header (FORMAT.md §3).
    if (!isWellFormed(out)) this.fail('lone UTF-16 surrogate in a string', start);
    return out;
  }
}

function isWellFormed(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (!(d >= 0xdc00 && d <= 0xdfff)) return false;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      return false;
    }
  }
  return true;
}

/**
 * Compares two strings by their UTF-8 bytes, which for well-formed strings is code-point order (JavaScript's `<`
 * compares UTF-16 code units, which differs above U+FFFF). This is the order Go's `json.Marshal` sorts map keys in.
 */
function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i) ?? 0;
    const y = b.codePointAt(i) ?? 0;
    if (x !== y) return x < y ? -1 : 1;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}

const HEX = '0123456789abcdef';

function u4(code: number): string {
  return `\\u${HEX[(code >> 12) & 15] ?? ''}${HEX[(code >> 8) & 15] ?? ''}${HEX[(code >> 4) & 15] ?? ''}${HEX[code & 15] ?? ''}`;
}

/** JSON string literal with Go's escapes plus `\uXXXX` for everything outside printable ASCII. */
function quote(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    switch (c) {
      case 0x22: out += '\\"'; break;
      case 0x5c: out += '\\\\'; break;
      case 0x0a: out += '\\n'; break;
      case 0x0d: out += '\\r'; break;
      case 0x09: out += '\\t'; break;
      // Go ≥ 1.22 writes \b and \f; older Go wrote \u0008, \u000c. Both decode to the same map.
      case 0x08: out += '\\b'; break;
      case 0x0c: out += '\\f'; break;
      // Go's HTML-safe escapes (json.Marshal escapes < > & by default, `oss-go-java.md` §1).
      case 0x3c: case 0x3e: case 0x26: out += u4(c); break;
      default:
        // Control characters, DEL and all non-ASCII (including U+2028/U+2029, which Go escapes too): \uXXXX, UTF-16
        // code unit by code unit, as Python's ensure_ascii does. Keeps the header value printable ASCII.
        out += c < 0x20 || c >= 0x7f ? u4(c) : s.charAt(i);
    }
  }
  return `${out}"`;
}

/**
 * Encodes a matdesc the way we write it: compact JSON, keys sorted by UTF-8 bytes, Go's escaping of `<` `>` `&`
 * U+2028 U+2029, and every non-ASCII character (and DEL) as `\uXXXX`. For ASCII maps without `<` `>` `&` or control
 * characters the result is byte-identical to Go's `json.Marshal` (vector `go/put-17-matdesc`).
 *
 * An empty map encodes as `{}`; envelope writers omit the header instead (`oss-go-java.md` §1).
 *
 * @param m - the description
 * @returns the header value
 * @throws CseError ERR_CSE_INVALID_ARGUMENT when a value is not a string or a key or value has a lone surrogate
 */
export function encodeMatDesc(m: MatDesc): string {
  assertMatDesc(m);
  const keys = Object.keys(m).sort(compareUtf8);
  return `{${keys.map((k) => `${quote(k)}:${quote(m[k] ?? '')}`).join(',')}}`;
}

/**
 * Checks at run time that `m` is a plain map of strings with well-formed keys and values (for JavaScript callers and
 * values built by hand).
 *
 * @throws CseError ERR_CSE_INVALID_ARGUMENT otherwise
 */
export function assertMatDesc(m: unknown): asserts m is MatDesc {
  if (typeof m !== 'object' || m === null || Array.isArray(m)) {
    throw new CseError(ErrorCode.INVALID_ARGUMENT, 'expected a material description object of string values');
  }
  for (const [k, v] of Object.entries(m)) {
    if (typeof v !== 'string') {
      throw new CseError(ErrorCode.INVALID_ARGUMENT, `material description value of ${JSON.stringify(k)} is not a string`);
    }
    if (!isWellFormed(k) || !isWellFormed(v)) {
      throw new CseError(ErrorCode.INVALID_ARGUMENT, 'material description has a lone UTF-16 surrogate');
    }
  }
}

/**
 * Map equality of two descriptions: same keys, same values; order and spelling of the JSON do not matter, and an
 * absent header (`{}`) equals an empty object (Java and oss2 semantics, `oss-go-java.md` §8, `oss2-python.md` §5).
 */
export function matDescEquals(a: MatDesc, b: MatDesc): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && a[k] === b[k]);
}

/**
 * A canonical string for a description, equal for equal maps: usable as a `Map` key when choosing a master key by
 * description. It is {@link encodeMatDesc}'s output.
 *
 * @throws CseError ERR_CSE_INVALID_ARGUMENT as {@link encodeMatDesc}
 */
export function matDescKey(m: MatDesc): string {
  return encodeMatDesc(m);
}
