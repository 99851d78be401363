import type { JWK } from 'jose';
import { buildDiscoveryDocument, publicJwks } from '../../../lib/tokens/metadata.js';
import { generatePrivateJwk, loadKeySet } from '../../../lib/tokens/keys.js';
import type { KeySet } from '../../../lib/tokens/keys.js';
import { computeScopes } from '../../../lib/tokens/scopes.js';

describe('computeScopes', () => {
  const rules = {
    'reports:read': { claim: 'roles', includes: 'analyst' },
    admin: { claim: 'roles', includes: 'admin' },
    'tenant:acme': { claim: 'tenant', equals: 'acme' },
    verified: { claim: 'email_verified', equals: true },
    basic: { always: true as const },
    'level:3': { claim: 'level', equals: 3 },
  };

  test('includes (array or equal string), equals (strict), always; sorted', () => {
    expect(computeScopes(rules, { roles: ['analyst', 'x'], tenant: 'acme', email_verified: true, level: 3 })).toEqual([
      'basic',
      'level:3',
      'reports:read',
      'tenant:acme',
      'verified',
    ]);
    expect(computeScopes(rules, { roles: 'admin' })).toEqual(['admin', 'basic']);
  });

  test('no loose matching', () => {
    expect(computeScopes(rules, { roles: 'analysts', tenant: 'ACME', email_verified: 'true', level: '3' })).toEqual(['basic']);
    expect(computeScopes(rules, { roles: ['analyst-lead'], tenant: ['acme'] })).toEqual(['basic']);
    expect(computeScopes({ n: { claim: 'n', includes: 1 } }, { n: 1 })).toEqual([]);
    expect(computeScopes({ n: { claim: 'n', includes: 1 } }, { n: [1] })).toEqual(['n']);
  });

  test('claims are read as own properties only', () => {
    const proto = { p: { claim: 'constructor', equals: 'x' }, q: { claim: 'toString', includes: 'x' } };
    expect(computeScopes(proto, {})).toEqual([]);
    const inherited = Object.create({ roles: ['admin'] }) as Record<string, unknown>;
    expect(computeScopes(rules, inherited)).toEqual(['basic']);
  });

  test('no rules, no scopes', () => {
    expect(computeScopes(undefined, { roles: ['admin'] })).toEqual([]);
    expect(computeScopes({}, {})).toEqual([]);
  });
});

describe('metadata', () => {
  let keySet: KeySet;
  let keys: JWK[];
  beforeAll(async () => {
    keys = await Promise.all([generatePrivateJwk('ES256'), generatePrivateJwk('EdDSA'), generatePrivateJwk('ES256')]);
    keySet = await loadKeySet({ keys: { keys }, baseDir: '/', logger: { debug() {}, info() {}, warn() {}, error() {} } });
  });

  test('discovery document of the local issuer', () => {
    const doc = buildDiscoveryDocument({
      issuer: 'https://app.example.com/auth',
      jwksUri: 'https://app.example.com/auth/jwks.json',
      userinfoEndpoint: 'https://app.example.com/auth/userinfo',
      keySet,
      scopes: ['reports:read', 'openid', 'admin'],
      claims: ['email', 'roles', 'sub'],
      extra: { issuer: 'https://evil.example', jwks_uri: 'https://evil.example/jwks', service_documentation: 'https://docs.example' },
    });
    expect(doc).toEqual({
      service_documentation: 'https://docs.example',
      issuer: 'https://app.example.com/auth',
      jwks_uri: 'https://app.example.com/auth/jwks.json',
      userinfo_endpoint: 'https://app.example.com/auth/userinfo',
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['ES256', 'EdDSA'],
      scopes_supported: ['openid', 'admin', 'reports:read'],
      claims_supported: ['aud', 'auth_time', 'email', 'exp', 'iat', 'iss', 'roles', 'sid', 'sub'],
    });
    expect(doc).not.toHaveProperty('token_endpoint_auth_methods_supported');
  });

  test('publicJwks is a copy with public members only', () => {
    const jwks = publicJwks(keySet);
    expect(jwks.keys.map((k) => k.kid)).toEqual(keys.map((k) => k.kid));
    for (const jwk of jwks.keys) {
      expect(Object.keys(jwk).sort()).toEqual(jwk.kty === 'EC' ? ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y'] : ['alg', 'crv', 'kid', 'kty', 'use', 'x']);
    }
    jwks.keys[0]!.kid = 'changed';
    expect(publicJwks(keySet).keys[0]!.kid).toBe(keys[0]!.kid);
  });
});
