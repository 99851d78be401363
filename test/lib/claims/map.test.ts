import { CompiledMapping, compileMapping, mapClaims, mergeMappings } from '../../../lib/claims/index.js';
import type { ClaimMapping, ClaimRule } from '../../../lib/claims/index.js';
import { FedgateError } from '../../../lib/errors.js';

function caught(fn: () => unknown): FedgateError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FedgateError);
    return err as FedgateError;
  }
  throw new Error('expected a FedgateError');
}

function expectError(fn: () => unknown, code: string, message: string): FedgateError {
  const err = caught(fn);
  expect({ code: err.code, message: err.message }).toEqual({ code, message });
  return err;
}

/** Maps one rule named `c` and returns what it produced (undefined when dropped). */
function one(rule: ClaimRule | string | null, upstream: Record<string, unknown>): unknown {
  const out = mapClaims({ c: rule }, upstream);
  return Object.hasOwn(out, 'c') ? out.c : undefined;
}

describe('mapClaims: entry forms and source lookup', () => {
  test.each<[string, ClaimRule | string | null, Record<string, unknown>, unknown]>([
    ['string copies', 'email', { email: 'a@x.io' }, 'a@x.io'],
    ['string copies an absent source as nothing', 'email', {}, undefined],
    ['from string', { from: 'mail' }, { mail: 'a@x.io' }, 'a@x.io'],
    ['from list: first present wins', { from: ['a', 'b', 'c'] }, { b: 2, c: 3 }, 2],
    ['from list: null counts as absent', { from: ['a', 'b'] }, { a: null, b: 'y' }, 'y'],
    ['from list: false and 0 and "" are present', { from: ['a', 'b'] }, { a: false, b: true }, false],
    ['empty string is present', { from: ['a', 'b'] }, { a: '', b: 'y' }, ''],
    ['constant', { value: 'staff' }, {}, 'staff'],
    ['constant wins over upstream of the same name', { value: 1 }, { c: 2 }, 1],
    ['null drops', null, { c: 'x' }, undefined],
    ['no from/value reads the same name', { type: 'string' }, { c: 5 }, '5'],
    ['literal name with colon', 'cognito:groups', { 'cognito:groups': ['a'] }, ['a']],
    ['literal URL name with dots', 'https://example.com/roles', { 'https://example.com/roles': ['r'] }, ['r']],
    ['literal a.b wins over path', 'a.b', { 'a.b': 'literal', a: { b: 'path' } }, 'literal'],
    ['null literal falls back to path', 'a.b', { 'a.b': null, a: { b: 'path' } }, 'path'],
    ['nested path', 'realm_access.roles', { realm_access: { roles: ['admin'] } }, ['admin']],
    ['deep path', 'resource_access.app.roles', { resource_access: { app: { roles: ['r1'] } } }, ['r1']],
    ['array index', 'emails.0', { emails: ['a@x.io', 'b@x.io'] }, 'a@x.io'],
    ['array index 1', 'emails.1', { emails: ['a@x.io', 'b@x.io'] }, 'b@x.io'],
    ['index out of range', 'emails.5', { emails: ['a@x.io'] }, undefined],
    ['negative index', 'emails.-1', { emails: ['a@x.io'] }, undefined],
    ['non-canonical index', 'emails.00', { emails: ['a@x.io'] }, undefined],
    ['array length is not a path', 'emails.length', { emails: ['a@x.io'] }, undefined],
    ['path through a scalar', 'a.b', { a: 'str' }, undefined],
    ['path through null', 'a.b', { a: null }, undefined],
    ['inherited property not read', 'a.toString', { a: {} }, undefined],
    ['literal inherited name not read', 'hasOwnProperty', {}, undefined],
  ])('%s', (_name, rule, upstream, expected) => {
    expect(one(rule, upstream)).toEqual(expected);
  });

  test('mapping runs every rule and leaves absent claims out', () => {
    const mapping: ClaimMapping = { sub: 'sub', email: 'email', name: { from: ['name', 'nickname'] }, gone: null };
    expect(mapClaims(mapping, { sub: 's1', nickname: 'n' })).toEqual({ sub: 's1', name: 'n' });
  });
});

describe('mapClaims: coercion', () => {
  test.each<[string, ClaimRule, unknown, unknown]>([
    ['string ← string', { type: 'string' }, 'x', 'x'],
    ['string ← number', { type: 'string' }, 12345, '12345'],
    ['string ← boolean', { type: 'string' }, true, 'true'],
    ['number ← number', { type: 'number' }, 1.5, 1.5],
    ['number ← numeric string', { type: 'number' }, '42', 42],
    ['number ← signed decimal string', { type: 'number' }, '-1.5e2', -150],
    ['boolean ← true', { type: 'boolean' }, true, true],
    ['boolean ← "true"', { type: 'boolean' }, 'true', true],
    ['boolean ← "FALSE"', { type: 'boolean' }, 'FALSE', false],
    ['boolean ← "True"', { type: 'boolean' }, 'True', true],
    ['string[] ← array', { type: 'string[]' }, ['a', 'b'], ['a', 'b']],
    ['string[] ← mixed scalars', { type: 'string[]' }, ['a', 1, false], ['a', '1', 'false']],
    ['string[] ← single string', { type: 'string[]' }, 'a b', ['a b']],
    ['string[] ← single number', { type: 'string[]' }, 7, ['7']],
    ['string[] ← split', { type: 'string[]', split: ',' }, ' a, b ,,c ', ['a', 'b', 'c']],
    ['string[] ← split of empty', { type: 'string[]', split: ' ' }, '   ', []],
    ['string[] split leaves arrays alone', { type: 'string[]', split: ',' }, ['a,b'], ['a,b']],
  ])('%s', (_name, rule, input, expected) => {
    expect(one({ ...rule, from: 'x' }, { x: input })).toEqual(expected);
  });

  test.each<[string, ClaimRule, unknown, string, string]>([
    ['string ← object', { type: 'string' }, { a: 1 }, 'is not a valid string', 'upstream value is object'],
    ['string ← array', { type: 'string' }, ['a'], 'is not a valid string', 'upstream value is array'],
    ['number ← non-numeric string', { type: 'number' }, '12abc', 'is not a valid number', 'upstream value is string'],
    ['number ← empty string', { type: 'number' }, '', 'is not a valid number', 'upstream value is string'],
    ['number ← hex string', { type: 'number' }, '0x10', 'is not a valid number', 'upstream value is string'],
    ['number ← overflowing string', { type: 'number' }, '1e999', 'is not a valid number', 'upstream value is string'],
    ['number ← boolean', { type: 'number' }, true, 'is not a valid number', 'upstream value is boolean'],
    ['boolean ← "yes"', { type: 'boolean' }, 'yes', 'is not a valid boolean', 'upstream value is string'],
    ['boolean ← 1', { type: 'boolean' }, 1, 'is not a valid boolean', 'upstream value is number'],
    ['string[] ← object item', { type: 'string[]' }, ['a', { b: 1 }], 'is not a valid string[]', 'upstream value is object'],
    ['string[] ← null item', { type: 'string[]' }, ['a', null], 'is not a valid string[]', 'upstream value is null'],
    ['string[] ← object', { type: 'string[]' }, { a: 1 }, 'is not a valid string[]', 'upstream value is object'],
  ])('%s → CLAIMS_INVALID', (_name, rule, input, message, detail) => {
    const secret = { x: input };
    const err = expectError(() => one({ ...rule, from: 'x' }, secret), 'CLAIMS_INVALID', `Claim "c" ${message}`);
    expect(err.detail).toBe(detail);
  });

  test('error messages never carry upstream values', () => {
    const err = caught(() => one({ from: 'x', type: 'number' }, { x: 'jane.doe@example.com' }));
    expect(`${err.message} ${err.detail ?? ''}`).not.toContain('jane');
  });
});

describe('mapClaims: default, required and string options', () => {
  test.each<[string, ClaimRule, Record<string, unknown>, unknown]>([
    ['default when absent', { from: 'x', default: 'd' }, {}, 'd'],
    ['default when null', { from: 'x', default: 'd' }, { x: null }, 'd'],
    ['default not used when present', { from: 'x', default: 'd' }, { x: 'v' }, 'v'],
    ['default is coerced', { from: 'x', type: 'boolean', default: 'false' }, {}, false],
    ['default split', { from: 'x', type: 'string[]', split: ',', default: 'a,b' }, {}, ['a', 'b']],
    ['default for a constant null', { value: null, default: 'd' }, {}, 'd'],
    ['lowercase string', { from: 'x', lowercase: true }, { x: 'A@X.IO' }, 'a@x.io'],
    ['lowercase items', { from: 'x', type: 'string[]', lowercase: true }, { x: ['A', 'b'] }, ['a', 'b']],
    ['prefix string', { from: 'x', prefix: 'gh:' }, { x: 'octo' }, 'gh:octo'],
    ['prefix items', { from: 'x', prefix: 'kc:' }, { x: ['a', 'b'] }, ['kc:a', 'kc:b']],
    ['prefix is not lower-cased', { from: 'x', lowercase: true, prefix: 'App:' }, { x: 'B' }, 'App:b'],
    ['prefix after match', { from: 'x', match: '^app-', prefix: 'x:' }, { x: ['app-1', 'other'] }, ['x:app-1']],
    ['match after lowercase', { from: 'x', lowercase: true, match: '^adm' }, { x: ['ADMIN', 'user'] }, ['admin']],
    ['match filters items', { from: 'x', type: 'string[]', match: '^g-' }, { x: ['g-1', 'h-1', 'g-2'] }, ['g-1', 'g-2']],
    ['match can empty an array', { from: 'x', match: '^z' }, { x: ['a'] }, []],
    ['match keeps a matching string', { from: 'x', match: '@corp\\.com$' }, { x: 'a@corp.com' }, 'a@corp.com'],
    ['match drops a non-matching string', { from: 'x', match: '@corp\\.com$' }, { x: 'a@evil.com' }, undefined],
    ['match drops non-string items (untyped)', { from: 'x', match: '.' }, { x: ['a', 1, { b: 1 }] }, ['a']],
    ['match drops a non-string scalar (untyped)', { from: 'x', match: '.' }, { x: 1 }, undefined],
    ['string options skip non-strings without match', { from: 'x', prefix: 'p' }, { x: [1, 'a'] }, [1, 'pa']],
    ['string options leave objects alone', { from: 'x', lowercase: true }, { x: { A: 'B' } }, { A: 'B' }],
  ])('%s', (_name, rule, upstream, expected) => {
    expect(one(rule, upstream)).toEqual(expected);
  });

  test.each<[string, ClaimRule, Record<string, unknown>]>([
    ['absent', { from: 'email', required: true }, {}],
    ['null', { from: 'email', required: true }, { email: null }],
    ['dropped by match', { from: 'email', required: true, match: '@corp\\.com$' }, { email: 'a@evil.com' }],
  ])('required and %s → CLAIM_REQUIRED_MISSING', (_name, rule, upstream) => {
    expectError(() => mapClaims({ email: rule }, upstream), 'CLAIM_REQUIRED_MISSING', 'Required claim "email" is missing');
  });

  test('required is satisfied by a default or a present falsy value', () => {
    expect(mapClaims({ v: { required: true, default: false } }, {})).toEqual({ v: false });
    expect(mapClaims({ v: { required: true } }, { v: 0 })).toEqual({ v: 0 });
  });
});

describe('mapClaims: vendor-shaped identities', () => {
  test('Auth0 namespaced roles', () => {
    const mapping: ClaimMapping = { sub: 'sub', roles: { from: 'https://example.com/roles', type: 'string[]' }, username: 'nickname' };
    expect(mapClaims(mapping, { sub: 'auth0|abc', nickname: 'jd', 'https://example.com/roles': ['admin'] })).toEqual({
      sub: 'auth0|abc',
      roles: ['admin'],
      username: 'jd',
    });
  });

  test('Cognito userInfo: string email_verified, groups, custom attribute', () => {
    const mapping: ClaimMapping = {
      email_verified: { type: 'boolean', default: false },
      groups: { from: 'cognito:groups', type: 'string[]' },
      username: 'cognito:username',
      tenant: 'custom:tenant',
    };
    const upstream = { email_verified: 'true', 'cognito:groups': ['eu-admins'], 'cognito:username': 'jd', 'custom:tenant': 't-1' };
    expect(mapClaims(mapping, upstream)).toEqual({ email_verified: true, groups: ['eu-admins'], username: 'jd', tenant: 't-1' });
    expect(mapClaims(mapping, { email_verified: 'false' })).toEqual({ email_verified: false });
  });

  test('Keycloak realm and client roles', () => {
    const mapping: ClaimMapping = {
      roles: { from: 'realm_access.roles', type: 'string[]' },
      client_roles: { from: 'resource_access.app.roles', type: 'string[]', prefix: 'app:' },
    };
    const upstream = { realm_access: { roles: ['offline_access', 'admin'] }, resource_access: { app: { roles: ['editor'] }, account: { roles: ['x'] } } };
    expect(mapClaims(mapping, upstream)).toEqual({ roles: ['offline_access', 'admin'], client_roles: ['app:editor'] });
  });

  test('Azure AD B2C emails[0] with email fallback', () => {
    const mapping: ClaimMapping = { email: { from: ['emails.0', 'email'] }, email_verified: { value: false } };
    expect(mapClaims(mapping, { emails: ['b2c@x.io'] })).toEqual({ email: 'b2c@x.io', email_verified: false });
    expect(mapClaims(mapping, { email: 'e@x.io' })).toEqual({ email: 'e@x.io', email_verified: false });
  });

  test('Entra oid and tid, groups as GUIDs, no email_verified', () => {
    const mapping: ClaimMapping = { sub: 'oid', tid: 'tid', groups: { type: 'string[]' }, email_verified: { type: 'boolean', default: false } };
    const upstream = { sub: 'pairwise', oid: '00000000-0000-0000-0000-000000000001', tid: '9188040d-6c67-4c5b-b112-36a304b66dad', groups: ['g1'] };
    expect(mapClaims(mapping, upstream)).toEqual({ sub: upstream.oid, tid: upstream.tid, groups: ['g1'], email_verified: false });
  });

  test('GitHub numeric id becomes a string; name falls back to login', () => {
    const mapping: ClaimMapping = { sub: { from: 'id', type: 'string', required: true }, name: { from: ['name', 'login'] }, picture: 'avatar_url' };
    expect(mapClaims(mapping, { id: 583231, login: 'octocat', name: null, avatar_url: 'https://a/1' })).toEqual({
      sub: '583231',
      name: 'octocat',
      picture: 'https://a/1',
    });
  });
});

describe('mapClaims: safety', () => {
  test.each<[string, string]>([
    ['__proto__ as a source', '__proto__'],
    ['__proto__ as a segment', 'a.__proto__.polluted'],
    ['constructor.prototype', 'constructor.prototype'],
    ['constructor on a nested object', 'a.constructor'],
    ['prototype segment', 'f.prototype'],
  ])('%s never resolves', (_name, source) => {
    const upstream = JSON.parse(
      '{"__proto__": {"polluted": 1}, "a": {"__proto__": {"polluted": 2}}, "constructor": {"prototype": 3}, "f": {"prototype": 4}}',
    ) as Record<string, unknown>;
    expect(one(source, upstream)).toBeUndefined();
  });

  test('__proto__ as a local name and inside upstream data pollutes nothing', () => {
    const upstream = JSON.parse('{"account": {"__proto__": {"isAdmin": true}, "constructor": {"prototype": {"isAdmin": true}}, "ok": 1}}') as Record<
      string,
      unknown
    >;
    const mapping = JSON.parse('{"__proto__": "account", "account": "account", "constructor": "account", "prototype": "account"}') as ClaimMapping;
    const out = mapClaims(mapping, upstream);
    expect(Object.keys(out)).toEqual(['account']);
    expect(out.account).toEqual({ ok: 1 });
    // No prototype at all: a polluted Object.prototype elsewhere cannot add claims either.
    expect(Object.getPrototypeOf(out)).toBeNull();
    expect(Object.getPrototypeOf(out.account)).toBeNull();
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
  });

  test('reserved JWT claims are never emitted', () => {
    const mapping: ClaimMapping = { iss: { value: 'x' }, aud: 'aud', exp: 'exp', iat: 'iat', nbf: 'nbf', jti: 'jti', sub: 'sub' };
    expect(mapClaims(mapping, { aud: 'a', exp: 1, iat: 1, nbf: 1, jti: 'j', sub: 's' })).toEqual({ sub: 's' });
  });

  test('untyped output never aliases upstream or config objects', () => {
    const upstream = { addr: { street: 'a', tags: ['x'] } };
    const value = { k: ['v'] };
    const out = mapClaims({ addr: 'addr', k: { value } }, upstream);
    expect(out).toEqual({ addr: { street: 'a', tags: ['x'] }, k: { k: ['v'] } });
    expect(out.addr).not.toBe(upstream.addr);
    expect((out.addr as { tags: unknown }).tags).not.toBe(upstream.addr.tags);
    expect(out.k).not.toBe(value);
  });

  test('cloning drops undefined, turns array holes into null, refuses non-JSON values', () => {
    expect(one('x', { x: { a: undefined, b: [1, undefined] } })).toEqual({ b: [1, null] });
    expectError(() => one('x', { x: { f: () => 1 } }), 'CLAIMS_INVALID', 'Claim "c" is not JSON data');
  });

  test('deep nesting is refused', () => {
    let deep: unknown = 'leaf';
    for (let i = 0; i < 40; i++) deep = { d: deep };
    expectError(() => one('x', { x: deep }), 'CLAIMS_INVALID', 'Claim "c" is nested too deeply');
  });

  test.each<[string, ClaimRule, unknown]>([
    ['typed array', { from: 'x', type: 'string[]' }, Array.from({ length: 1001 }, () => 'g')],
    ['split result', { from: 'x', type: 'string[]', split: ',' }, Array.from({ length: 1001 }, () => 'g').join(',')],
    ['untyped array', { from: 'x' }, Array.from({ length: 1001 }, () => 1)],
    ['nested untyped array', { from: 'x' }, { list: Array.from({ length: 1001 }, () => 1) }],
  ])('more than 1000 items in a %s → CLAIMS_INVALID', (_name, rule, input) => {
    expectError(() => mapClaims({ groups: rule }, { x: input }, { maxBytes: 1e6 }), 'CLAIMS_INVALID', 'Claim "groups" has more than 1000 items');
  });

  test('1000 items are fine', () => {
    const groups = Array.from({ length: 1000 }, (_, i) => `g${i}`);
    expect(mapClaims({ groups: { type: 'string[]' } }, { groups })).toEqual({ groups });
  });

  test('size cap: default 16384 bytes, counted in UTF-8, configurable', () => {
    const overhead = JSON.stringify({ c: '' }).length;
    expect(one('x', { x: 'a'.repeat(16_384 - overhead) })).toHaveLength(16_384 - overhead);
    expectError(() => one('x', { x: 'a'.repeat(16_385 - overhead) }), 'CLAIMS_INVALID', 'Mapped claims exceed 16384 bytes');
    expectError(() => one('x', { x: 'é'.repeat(9000) }), 'CLAIMS_INVALID', 'Mapped claims exceed 16384 bytes');
    expectError(() => mapClaims({ c: 'x' }, { x: 'abc' }, { maxBytes: 10 }), 'CLAIMS_INVALID', 'Mapped claims exceed 10 bytes');
  });
});

describe('compileMapping and mergeMappings', () => {
  test('a compiled mapping gives the same result and is frozen', () => {
    const mapping: ClaimMapping = { roles: { from: 'r', type: 'string[]', match: '^a', prefix: 'p:' }, gone: null, exp: 'exp' };
    const compiled = compileMapping(mapping);
    expect(compiled).toBeInstanceOf(CompiledMapping);
    expect(compiled.rules.map((r) => r.local)).toEqual(['roles']);
    expect(Object.isFrozen(compiled.rules[0])).toBe(true);
    const upstream = { r: ['ab', 'b', 'ac'] };
    expect(mapClaims(compiled, upstream)).toEqual(mapClaims(mapping, upstream));
    expect(mapClaims(compiled, upstream)).toEqual({ roles: ['p:ab', 'p:ac'] });
  });

  test('an invalid regex fails compilation with CONFIG_INVALID', () => {
    expectError(() => compileMapping({ roles: { match: '(' } }), 'CONFIG_INVALID', 'Claim "roles" has an invalid regular expression');
  });

  test('user entries replace preset entries whole; null removes; new entries are added', () => {
    const preset: ClaimMapping = { sub: 'sub', email: 'email', groups: { from: 'groups', type: 'string[]' }, picture: 'picture' };
    const user: ClaimMapping = { groups: { from: 'https://example.com/groups' }, picture: null, tenant: { value: 't' }, nothing: null };
    expect(mergeMappings(preset, user)).toEqual({ sub: 'sub', email: 'email', groups: { from: 'https://example.com/groups' }, tenant: { value: 't' } });
    expect(mergeMappings(preset)).toEqual(preset);
    expect(mergeMappings(preset)).not.toBe(preset);
  });

  test('merging keeps a __proto__ key as plain data', () => {
    const user = JSON.parse('{"__proto__": "x"}') as ClaimMapping;
    const merged = mergeMappings({ sub: 'sub' }, user);
    expect(Object.getPrototypeOf(merged)).toBe(Object.prototype);
    expect(Object.hasOwn(merged, '__proto__')).toBe(true);
  });
});

describe('mapClaims: standard claims (OpenID Connect Core §5.1)', () => {
  test('string claims are never arrays or objects: CLAIMS_INVALID names the claim, not the value', () => {
    for (const [local, value] of [
      ['email', ['mallory@evil.example', 'alice@example.com']],
      ['name', { first: 'A' }],
      ['picture', ['x']],
      ['phone_number', { n: 1 }],
    ] as const) {
      let err: unknown;
      try {
        mapClaims({ [local]: local }, { [local]: value });
      } catch (e) {
        err = e;
      }
      expect(err).toMatchObject({ code: 'CLAIMS_INVALID', message: `Claim "${local}" is not a valid string` });
      expect(JSON.stringify(err)).not.toContain('evil.example');
    }
  });

  test('boolean claims are booleans ("true"/"false" accepted); scalars become strings', () => {
    expect(mapClaims({ email_verified: 'ev', phone_number_verified: 'pv', name: 'n', locale: 'l' }, { ev: 'TRUE', pv: false, n: 42, l: 'de' })).toEqual({
      email_verified: true,
      phone_number_verified: false,
      name: '42',
      locale: 'de',
    });
    expect(() => mapClaims({ email_verified: 'ev' }, { ev: [true] })).toThrow('Claim "email_verified" is not a valid boolean');
  });

  test('a non-standard local name keeps any JSON value', () => {
    expect(mapClaims({ emails: 'email' }, { email: ['a@example.com', 'b@example.com'] })).toEqual({ emails: ['a@example.com', 'b@example.com'] });
  });
});
