import { JsonSyntaxError, parseJsonStrict } from '../../../lib/config/json.js';

// The strict reader must accept exactly what JSON.parse accepts and yield the same values.
const validTexts = [
  '{}',
  '[]',
  '0',
  '-0',
  '1.5e-3',
  '-12E+2',
  '"x"',
  'true',
  'false',
  'null',
  ' \t\r\n{ "a" : [ 1 , 2 ] } \n',
  '{"a":{"b":{"c":[null,true,false,"s",1e2]}}}',
  '"\\u00e9\\uD83D\\uDE00\\n\\t\\"\\\\\\/\\b\\f\\r"',
  '"\\uD800"',
  '"caf\u00e9 \ud83d\ude00"',
  '{"__proto__": {"x": 1}, "constructor": 2}',
  '[[[[[[[[[[]]]]]]]]]]',
  '123456789012345678901234567890',
];
const invalidTexts = [
  '',
  ' ',
  '{',
  '}',
  '[1,]',
  '{"a":1,}',
  '{a:1}',
  "{'a':1}",
  '01',
  '1.',
  '.5',
  '+1',
  '-',
  '1e',
  'tru',
  'nul',
  '"unterminated',
  '"bad \\x escape"',
  '"\\u12G4"',
  '"tab\there"',
  '{"a" 1}',
  '[1 2]',
  '{} {}',
  'NaN',
  'Infinity',
  '/* c */ {}',
  '{"a":1}//',
];

describe('parseJsonStrict', () => {
  test.each(validTexts)('accepts %j like JSON.parse', (text) => {
    const { value, duplicates } = parseJsonStrict(text);
    expect(value).toEqual(JSON.parse(text));
    expect(duplicates).toEqual([]);
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      expect(Object.keys(value)).toEqual(Object.keys(JSON.parse(text) as object));
    }
  });

  test.each(invalidTexts)('refuses %j like JSON.parse', (text) => {
    expect(() => JSON.parse(text)).toThrow(SyntaxError);
    expect(() => parseJsonStrict(text)).toThrow(JsonSyntaxError);
  });

  test('a __proto__ key is an own property, never the prototype', () => {
    const { value } = parseJsonStrict('{"__proto__": {"polluted": true}}');
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.hasOwn(value as object, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  test('duplicates are found at every depth with their path and position; the last value wins, as with JSON.parse', () => {
    const text = '{"a": 1, "b": [{"c": 1,\n  "c": 2}], "a": 3}';
    const { value, duplicates } = parseJsonStrict(text);
    expect(value).toEqual(JSON.parse(text));
    expect(duplicates).toEqual([
      { path: ['b', 0, 'c'], line: 2, column: 3 },
      { path: ['a'], line: 2, column: 13 },
    ]);
  });

  test('positions are 1-based lines and columns; messages quote nothing', () => {
    const secret = 'do-not-quote-this-secret';
    for (const [text, message] of [
      [`{\n  "s": "${secret}"\n  "t": 1\n}`, "expected ',' or '}' at line 3, column 3"],
      [`{"s": "${secret}`, 'unterminated string at line 1, column 7'],
      [`["${secret}" x]`, "expected ',' or ']' at line 1, column 29"],
      ['{"a": 1}\n\n  x', 'unexpected content after the JSON value at line 3, column 3'],
    ] as const) {
      let err: unknown;
      try {
        parseJsonStrict(text);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(JsonSyntaxError);
      expect((err as Error).message).toBe(message);
    }
  });

  test('deep nesting is refused instead of overflowing the stack', () => {
    expect(() => parseJsonStrict(`${'['.repeat(10_000)}${']'.repeat(10_000)}`)).toThrow('nested deeper than 256 levels at line 1, column 258');
  });
});
