import { claimMappingSchema, hasNestedRepetition, validateMapping } from '../../../lib/claims/index.js';
import type { ClaimMapping } from '../../../lib/claims/index.js';

const at = 'connectors[0].claims';

describe('validateMapping', () => {
  test('a realistic mapping has no problems', () => {
    const mapping: ClaimMapping = {
      sub: 'oid',
      email: { from: ['emails.0', 'email'], lowercase: true, required: true },
      email_verified: { from: 'email_verified', type: 'boolean', default: 'false' },
      groups: { from: 'cognito:groups', type: 'string[]', split: ',', match: '^app-[a-z]+$', prefix: 'g:' },
      level: { value: '3', type: 'number' },
      picture: null,
      iss: null,
    };
    expect(validateMapping(mapping, at)).toEqual([]);
  });

  test.each<[string, ClaimMapping, Array<{ path: string; message: string }>]>([
    ...['iss', 'aud', 'exp', 'iat', 'nbf', 'jti'].map((name): [string, ClaimMapping, Array<{ path: string; message: string }>] => [
      `reserved ${name}`,
      { [name]: 'x' },
      [{ path: `${at}.${name}`, message: 'reserved JWT claim cannot be mapped' }],
    ]),
    ['reserved name in object form', { exp: { value: 1 } }, [{ path: `${at}.exp`, message: 'reserved JWT claim cannot be mapped' }]],
    ['constructor as local name', { constructor: 'x' }, [{ path: `${at}.constructor`, message: 'is not an allowed claim name' }]],
    ['prototype as local name', { prototype: 'x' }, [{ path: `${at}.prototype`, message: 'is not an allowed claim name' }]],
    ['from and value', { a: { from: 'x', value: 1 } }, [{ path: `${at}.a`, message: 'cannot have both "from" and "value"' }]],
    ['from and value null', { a: { from: 'x', value: null } }, [{ path: `${at}.a`, message: 'cannot have both "from" and "value"' }]],
    ['split without type', { a: { split: ',' } }, [{ path: `${at}.a.split`, message: 'requires type "string[]"' }]],
    ['split with type string', { a: { type: 'string', split: ',' } }, [{ path: `${at}.a.split`, message: 'requires type "string[]"' }]],
    ['invalid regex', { roles: { match: '(' } }, [{ path: `${at}.roles.match`, message: 'invalid regular expression' }]],
    ['regex invalid under the u flag', { roles: { match: '\\-' } }, [{ path: `${at}.roles.match`, message: 'invalid regular expression' }]],
    ['regex too long', { roles: { match: 'a'.repeat(513) } }, [{ path: `${at}.roles.match`, message: 'regular expression is longer than 512 characters' }]],
    ['catastrophic regex', { roles: { match: '^(a+)+$' } }, [{ path: `${at}.roles.match`, message: 'regular expression may backtrack catastrophically' }]],
    ['default not a number', { n: { type: 'number', default: 'abc' } }, [{ path: `${at}.n.default`, message: 'does not match type "number"' }]],
    ['default not a boolean', { b: { type: 'boolean', default: 'yes' } }, [{ path: `${at}.b.default`, message: 'does not match type "boolean"' }]],
    ['default object for string', { s: { type: 'string', default: { a: 1 } } }, [{ path: `${at}.s.default`, message: 'does not match type "string"' }]],
    ['default object items for string[]', { g: { type: 'string[]', default: [{}] } }, [{ path: `${at}.g.default`, message: 'does not match type "string[]"' }]],
    ['value not a number', { n: { type: 'number', value: true } }, [{ path: `${at}.n.value`, message: 'does not match type "number"' }]],
    ['lowercase on a boolean', { b: { type: 'boolean', lowercase: true } }, [{ path: `${at}.b.lowercase`, message: 'does not apply to type "boolean"' }]],
    [
      'prefix and match on a number',
      { n: { type: 'number', prefix: 'p', match: '^1' } },
      [
        { path: `${at}.n.prefix`, message: 'does not apply to type "number"' },
        { path: `${at}.n.match`, message: 'does not apply to type "number"' },
      ],
    ],
    [
      'every problem at once',
      { jti: 'x', a: { from: 'x', value: 1, split: ',', match: '(' } },
      [
        { path: `${at}.jti`, message: 'reserved JWT claim cannot be mapped' },
        { path: `${at}.a`, message: 'cannot have both "from" and "value"' },
        { path: `${at}.a.split`, message: 'requires type "string[]"' },
        { path: `${at}.a.match`, message: 'invalid regular expression' },
      ],
    ],
  ])('%s', (_name, mapping, problems) => {
    expect(validateMapping(mapping, at)).toEqual(problems);
  });

  test('__proto__ as a local name (an own key, as JSON.parse delivers it) is rejected', () => {
    const mapping = JSON.parse('{"__proto__": "sub", "sub": "sub"}') as ClaimMapping;
    expect(validateMapping(mapping, at)).toEqual([{ path: `${at}.__proto__`, message: 'is not an allowed claim name' }]);
  });

  test('zod already drops a __proto__ key, leaving nothing to report', () => {
    const mapping = claimMappingSchema.parse(JSON.parse('{"__proto__": {"from": "x"}, "sub": "sub"}'));
    expect(Object.keys(mapping)).toEqual(['sub']);
    expect(Object.getPrototypeOf(mapping)).toBe(Object.prototype);
    expect(validateMapping(mapping, at)).toEqual([]);
  });

  test('a default that coerces is fine, including null for "no default"', () => {
    expect(
      validateMapping(
        {
          a: { type: 'string', default: 5 },
          b: { type: 'string[]', default: 'x' },
          c: { type: 'number', default: '1.5' },
          d: { type: 'boolean', default: 'TRUE' },
          e: { type: 'number', default: null },
        },
        at,
      ),
    ).toEqual([]);
  });
});

describe('hasNestedRepetition', () => {
  test.each(['(a+)+', '(a*)*', '(.*)*', '^(a+)+$', '(\\w+)*x', '((ab)*c)+', '(?:a+){2,}', '(a+){1,10}', '(?<n>x+)+', '([a-z]+,)*'])('flags %s', (pattern) => {
    expect(hasNestedRepetition(pattern)).toBe(true);
  });

  test.each(['^app-[a-z]+$', '(a)+', '(ab)*', '(a+)', '(a+)?', '(a+){2}', '(a+){1,1}', '[(a+)]+', '\\(a+\\)+', 'a++', '^(admin|editor)$', '(a{2})+'])(
    'accepts %s',
    (pattern) => {
      expect(hasNestedRepetition(pattern)).toBe(false);
    },
  );
});
