/**
 * A strict JSON reader for configuration files (RFC 8259). `JSON.parse` silently keeps the last
 * of two equal keys (RFC 8259 §4 only says names SHOULD be unique) and its error messages quote
 * the text around the mistake, which may be a secret. This reader reports duplicate keys with
 * their path and position, and syntax errors by line and column without quoting anything.
 */

/** A key that appears twice in the same object. */
export interface JsonDuplicateKey {
  /** Path of the duplicated key, e.g. `['connectors', 0, 'clientSecret']`. */
  readonly path: readonly PropertyKey[];
  readonly line: number;
  readonly column: number;
}

/** A JSON syntax error; the message describes the mistake but never quotes the text. */
export class JsonSyntaxError extends Error {
  constructor(
    message: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(`${message} at line ${line}, column ${column}`);
    this.name = 'JsonSyntaxError';
  }
}

/** Deeper nesting is refused instead of risking a stack overflow; no real config comes close. */
const maxDepth = 256;
const numberPattern = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const escapes: Readonly<Record<string, string>> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

class Reader {
  private pos = 0;
  readonly duplicates: JsonDuplicateKey[] = [];

  constructor(private readonly text: string) {}

  document(): unknown {
    this.skipSpace();
    const value = this.value([], 0);
    this.skipSpace();
    if (this.pos < this.text.length) throw this.fail('unexpected content after the JSON value');
    return value;
  }

  private value(path: PropertyKey[], depth: number): unknown {
    if (depth > maxDepth) throw this.fail(`nested deeper than ${maxDepth} levels`);
    const c = this.text[this.pos];
    if (c === '{') return this.object(path, depth);
    if (c === '[') return this.array(path, depth);
    if (c === '"') return this.string();
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.number();
    for (const [word, v] of [
      ['true', true],
      ['false', false],
      ['null', null],
    ] as const) {
      if (this.text.startsWith(word, this.pos)) {
        this.pos += word.length;
        return v;
      }
    }
    throw this.fail(c === undefined ? 'unexpected end of file' : 'expected a value');
  }

  private object(path: PropertyKey[], depth: number): Record<string, unknown> {
    this.pos++;
    // Own data properties only: a "__proto__" key stays a plain key, as with JSON.parse.
    const out: Record<string, unknown> = {};
    const seen = new Set<string>();
    this.skipSpace();
    if (this.text[this.pos] === '}') {
      this.pos++;
      return out;
    }
    for (;;) {
      if (this.text[this.pos] !== '"') throw this.fail(this.pos >= this.text.length ? 'unexpected end of file' : 'expected a string key');
      const keyAt = this.pos;
      const key = this.string();
      if (seen.has(key)) this.duplicates.push({ path: [...path, key], ...this.position(keyAt) });
      seen.add(key);
      this.skipSpace();
      this.expect(':');
      this.skipSpace();
      const value = this.value([...path, key], depth + 1);
      Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
      this.skipSpace();
      if (this.text[this.pos] === '}') {
        this.pos++;
        return out;
      }
      this.expect(',', "expected ',' or '}'");
      this.skipSpace();
    }
  }

  private array(path: PropertyKey[], depth: number): unknown[] {
    this.pos++;
    const out: unknown[] = [];
    this.skipSpace();
    if (this.text[this.pos] === ']') {
      this.pos++;
      return out;
    }
    for (;;) {
      out.push(this.value([...path, out.length], depth + 1));
      this.skipSpace();
      if (this.text[this.pos] === ']') {
        this.pos++;
        return out;
      }
      this.expect(',', "expected ',' or ']'");
      this.skipSpace();
    }
  }

  private string(): string {
    const start = this.pos;
    this.pos++;
    let out = '';
    for (;;) {
      const c = this.text[this.pos];
      if (c === undefined) throw this.fail('unterminated string', start);
      if (c === '"') {
        this.pos++;
        return out;
      }
      if (c < ' ') throw this.fail('control character in a string (escape it)');
      if (c !== '\\') {
        out += c;
        this.pos++;
        continue;
      }
      const e = this.text[this.pos + 1];
      if (e === 'u') {
        const hex = this.text.slice(this.pos + 2, this.pos + 6);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw this.fail('invalid \\u escape');
        out += String.fromCharCode(parseInt(hex, 16));
        this.pos += 6;
      } else if (e !== undefined && Object.hasOwn(escapes, e)) {
        out += escapes[e];
        this.pos += 2;
      } else {
        throw this.fail('invalid escape sequence');
      }
    }
  }

  private number(): number {
    numberPattern.lastIndex = this.pos;
    const m = numberPattern.exec(this.text);
    if (!m) throw this.fail('invalid number');
    this.pos += m[0].length;
    return Number(m[0]);
  }

  private skipSpace(): void {
    while (this.pos < this.text.length) {
      const c = this.text[this.pos];
      if (c !== ' ' && c !== '\t' && c !== '\n' && c !== '\r') return;
      this.pos++;
    }
  }

  private expect(char: string, message = `expected '${char}'`): void {
    if (this.text[this.pos] !== char) throw this.fail(this.pos >= this.text.length ? 'unexpected end of file' : message);
    this.pos++;
  }

  private position(at: number): { line: number; column: number } {
    let line = 1;
    let lineStart = 0;
    for (let i = 0; i < at; i++) {
      if (this.text[i] === '\n') {
        line++;
        lineStart = i + 1;
      }
    }
    return { line, column: at - lineStart + 1 };
  }

  private fail(message: string, at = this.pos): JsonSyntaxError {
    const { line, column } = this.position(at);
    return new JsonSyntaxError(message, line, column);
  }
}

/**
 * Parses JSON text like `JSON.parse` (same values; a `__proto__` key is an own property) and
 * also returns every key that appears twice in one object.
 *
 * @throws JsonSyntaxError naming line and column (1-based) of the first mistake
 */
export function parseJsonStrict(text: string): { value: unknown; duplicates: JsonDuplicateKey[] } {
  const reader = new Reader(text);
  const value = reader.document();
  return { value, duplicates: reader.duplicates };
}

/**
 * Decodes a file as UTF-8, refusing anything else instead of turning bad bytes into U+FFFD (a
 * secret ending in Latin-1 bytes would silently become another secret). A UTF-8 BOM is skipped.
 *
 * @returns the text, or a reason (no content quoted) when the bytes are not UTF-8 JSON text
 */
export function decodeUtf8(bytes: Uint8Array): { text: string } | { reason: string } {
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
    return { reason: 'is UTF-16 text; save it as UTF-8' };
  }
  // NUL bytes are valid UTF-8 but never appear in JSON text: this is UTF-16 (or UTF-32) without a BOM.
  if (bytes.includes(0)) return { reason: 'is not UTF-8 text (it contains NUL bytes, as UTF-16 does); save it as UTF-8' };
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes) };
  } catch {
    return { reason: 'is not valid UTF-8 (Latin-1 or another encoding?); save it as UTF-8' };
  }
}
