import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { calculateJwkThumbprint } from 'jose';
import type { JWK } from 'jose';
import { ConfigError } from '../../../lib/errors.js';
import type { Logger } from '../../../lib/logger.js';
import { generatePrivateJwk, loadKeySet, validatePrivateJwks } from '../../../lib/tokens/keys.js';
import { publicJwks } from '../../../lib/tokens/metadata.js';

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth'];

function recordingLogger(): Logger & { warnings: Array<{ obj: object; msg?: string | undefined }> } {
  const warnings: Array<{ obj: object; msg?: string | undefined }> = [];
  const noop = () => {};
  return { warnings, debug: noop, info: noop, error: noop, warn: (obj, msg) => warnings.push({ obj, msg }) };
}

async function rejection(promise: Promise<unknown>): Promise<ConfigError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

let es256: JWK;
let rs256: JWK;
let ps256: JWK;
let eddsa: JWK;

beforeAll(async () => {
  [es256, rs256, ps256, eddsa] = await Promise.all([
    generatePrivateJwk('ES256'),
    generatePrivateJwk('RS256'),
    generatePrivateJwk('PS256'),
    generatePrivateJwk('EdDSA'),
  ]);
});

describe('validatePrivateJwks', () => {
  test('accepts a JWKS of private ES256, RS256, PS256 and EdDSA keys', () => {
    expect(validatePrivateJwks({ keys: [es256, rs256, ps256, eddsa] }, 'tokens.keys')).toEqual([]);
  });

  test('refuses symmetric keys', () => {
    const oct = { kty: 'oct', k: 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0', kid: 'h', alg: 'HS256' };
    expect(validatePrivateJwks({ keys: [es256, oct] }, 'tokens.keys')).toEqual([
      { path: 'tokens.keys.keys[1].kty', message: 'symmetric keys ("oct") are not allowed: verifiers would hold the signing secret; use an asymmetric key' },
    ]);
  });

  test('refuses alg none and algorithms outside the list', () => {
    expect(
      validatePrivateJwks(
        {
          keys: [
            { ...es256, alg: 'none' },
            { ...es256, kid: 'b', alg: 'HS256' },
          ],
        },
        'tokens.keys',
      ),
    ).toEqual([
      { path: 'tokens.keys.keys[0].alg', message: '"none" is not allowed: tokens must be signed' },
      { path: 'tokens.keys.keys[1].alg', message: 'must be one of ES256, RS256, PS256, EdDSA, Ed25519' },
    ]);
  });

  test('requires alg and kid, and kids to be unique', () => {
    const { alg: _alg, ...noAlg } = es256;
    const { kid: _kid, ...noKid } = rs256;
    expect(validatePrivateJwks({ keys: [noAlg, noKid, { ...eddsa, kid: es256.kid }] }, 'tokens.keys')).toEqual([
      { path: 'tokens.keys.keys[0].alg', message: 'required, one of ES256, RS256, PS256, EdDSA, Ed25519' },
      { path: 'tokens.keys.keys[1].kid', message: 'required (a non-empty string)' },
      { path: 'tokens.keys.keys[2].kid', message: 'duplicate: keys[0] has the same kid' },
    ]);
  });

  test('refuses RSA keys under 2048 bits', () => {
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ format: 'jwk' });
    expect(validatePrivateJwks({ keys: [{ ...small, kid: 'small', alg: 'RS256' }] }, 'tokens.keys')).toEqual([
      { path: 'tokens.keys.keys[0].n', message: 'RSA key is 1024 bits; at least 2048 are required' },
    ]);
  });

  test('refuses public-only keys (no "d")', () => {
    const { d: _d, ...publicOnly } = es256;
    expect(validatePrivateJwks({ keys: [publicOnly] }, 'tokens.keys')).toEqual([
      { path: 'tokens.keys.keys[0].d', message: 'required: this is a public key, tokens.keys needs private keys (the public part is published automatically)' },
    ]);
  });

  test('checks that the key type fits the algorithm and that use is sig', () => {
    expect(
      validatePrivateJwks(
        {
          keys: [
            { ...rs256, alg: 'ES256' },
            { ...es256, kid: 'x', use: 'enc' },
          ],
        },
        'tokens.keys',
      ),
    ).toEqual([
      { path: 'tokens.keys.keys[0].kty', message: 'must be "EC" for alg ES256' },
      { path: 'tokens.keys.keys[1].use', message: 'must be "sig" when present' },
    ]);
  });

  test('reports shape problems with their path', () => {
    expect(validatePrivateJwks('nope', 'tokens.keys')).toEqual([{ path: 'tokens.keys', message: 'must be a JWKS object { "keys": [...] }' }]);
    expect(validatePrivateJwks({ keys: [] }, 'tokens.keys')).toEqual([{ path: 'tokens.keys.keys', message: 'must be a non-empty array of private JWKs' }]);
    expect(validatePrivateJwks({ keys: [42] }, 'tokens.keys')).toEqual([{ path: 'tokens.keys.keys[0]', message: 'must be a JWK object' }]);
  });

  test('never echoes key material', () => {
    const broken = [
      { ...rs256, alg: 'none', kid: '' },
      { ...es256, kty: 'oct' },
      { ...eddsa, use: 'enc', crv: 'X25519' },
    ];
    const text = JSON.stringify(validatePrivateJwks({ keys: broken }, 'tokens.keys'));
    for (const jwk of [rs256, es256, eddsa]) {
      for (const member of ['d', 'x', 'y', 'n', 'p', 'q'] as const) {
        const value = jwk[member];
        if (typeof value === 'string') expect(text).not.toContain(value);
      }
    }
  });
});

describe('loadKeySet', () => {
  const baseDir = '/nonexistent';

  test('the first key signs, every key verifies and is published with public members only', async () => {
    const keySet = await loadKeySet({ keys: { keys: [es256, rs256, ps256, eddsa] }, baseDir, logger: recordingLogger() });
    expect(keySet.signing).toMatchObject({ kid: es256.kid, alg: 'ES256' });
    expect(keySet.signing.key.type).toBe('private');
    expect([...keySet.verifying.keys()]).toEqual([es256.kid, rs256.kid, ps256.kid, eddsa.kid]);
    for (const { key } of keySet.verifying.values()) expect(key.type).toBe('public');

    const { keys } = publicJwks(keySet);
    expect(keys).toHaveLength(4);
    for (const jwk of keys) {
      for (const member of PRIVATE_MEMBERS) expect(jwk).not.toHaveProperty(member);
      expect(jwk).toEqual(expect.objectContaining({ kid: expect.any(String), alg: expect.any(String), use: 'sig' }));
    }
    expect(keys[0]).toEqual({ kty: 'EC', crv: 'P-256', x: es256.x, y: es256.y, kid: es256.kid, alg: 'ES256', use: 'sig' });
    expect(keys[1]).toEqual({ kty: 'RSA', n: rs256.n, e: rs256.e, kid: rs256.kid, alg: 'RS256', use: 'sig' });
    expect(keys[3]).toEqual({ kty: 'OKP', crv: 'Ed25519', x: eddsa.x, kid: eddsa.kid, alg: 'EdDSA', use: 'sig' });
  });

  test('reads a key file relative to baseDir', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fedgate-keys-'));
    await writeFile(join(dir, 'jwks.json'), JSON.stringify({ keys: [rs256] }));
    const keySet = await loadKeySet({ keys: './jwks.json', baseDir: dir, logger: recordingLogger() });
    expect(keySet.signing.kid).toBe(rs256.kid);
  });

  test('an unreadable or invalid key file names the path, never the content', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fedgate-keys-'));
    const err1 = await rejection(loadKeySet({ keys: 'missing.json', baseDir: dir, logger: recordingLogger() }));
    expect(err1.code).toBe('CONFIG_FILE_UNREADABLE');
    expect(err1.problems).toEqual([{ path: 'tokens.keys', message: `cannot read "${join(dir, 'missing.json')}" as a JSON JWKS file` }]);

    await writeFile(join(dir, 'bad.json'), `{ "keys": [ { "d": "${String(es256.d)}" ,,, ] }`);
    const err2 = await rejection(loadKeySet({ keys: 'bad.json', baseDir: dir, logger: recordingLogger() }));
    expect(err2.code).toBe('CONFIG_FILE_UNREADABLE');
    expect(err2.message).toBe(`Invalid fedgate configuration:\n  tokens.keys: cannot read "${join(dir, 'bad.json')}" as a JSON JWKS file`);
    expect(err2.message).not.toContain(String(es256.d));
  });

  test('lists every validation problem at once', async () => {
    const err = await rejection(
      loadKeySet({
        keys: {
          keys: [
            { ...es256, alg: 'none' },
            { kty: 'oct', k: 'AAAA' },
          ],
        },
        baseDir,
        logger: recordingLogger(),
      }),
    );
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.problems.map((p) => p.path)).toEqual(['tokens.keys.keys[0].alg', 'tokens.keys.keys[1].kty']);
  });

  test('a key with unusable parameters is a config problem, without key material', async () => {
    const broken = { ...es256, x: 'AAAA' };
    const err = await rejection(loadKeySet({ keys: { keys: [broken] }, baseDir, logger: recordingLogger() }));
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.problems).toEqual([{ path: 'tokens.keys.keys[0]', message: 'cannot be imported: invalid key parameters for its kty/crv/alg' }]);
    expect(err.message).not.toContain(String(es256.d));
  });

  test('keys are required unless ephemeral keys are asked for', async () => {
    const err = await rejection(loadKeySet({ baseDir, logger: recordingLogger() }));
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toBe('Invalid fedgate configuration:\n  tokens.keys: required (or set tokens.insecureEphemeralKeys for development)');
  });

  test('ephemeral keys: one ES256 key and a loud warning', async () => {
    const logger = recordingLogger();
    const keySet = await loadKeySet({ insecureEphemeralKeys: true, baseDir, nodeEnv: 'development', logger });
    expect(keySet.signing.alg).toBe('ES256');
    expect(keySet.publicJwks.keys).toHaveLength(1);
    expect(logger.warnings).toHaveLength(1);
    expect(logger.warnings[0]!.msg).toMatch(/^INSECURE: .*Development only: configure tokens\.keys\.$/);
    expect(logger.warnings[0]!.obj).toEqual({ kid: keySet.signing.kid, setting: 'tokens.insecureEphemeralKeys' });
  });

  test('ephemeral keys are refused with NODE_ENV=production', async () => {
    const logger = recordingLogger();
    const err = await rejection(loadKeySet({ insecureEphemeralKeys: true, baseDir, nodeEnv: 'production', logger }));
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toBe('Invalid fedgate configuration:\n  tokens.insecureEphemeralKeys: refused with NODE_ENV=production; configure tokens.keys');
    expect(logger.warnings).toHaveLength(0);
  });
});

describe('generatePrivateJwk', () => {
  test.each(['ES256', 'RS256', 'PS256', 'EdDSA', 'Ed25519'] as const)('%s: private JWK with kid = RFC 7638 thumbprint', async (alg) => {
    const jwk = await generatePrivateJwk(alg);
    expect(jwk).toEqual(expect.objectContaining({ alg, use: 'sig', d: expect.any(String) }));
    expect(jwk.kid).toBe(await calculateJwkThumbprint(jwk, 'sha256'));
    expect(validatePrivateJwks({ keys: [jwk] }, 'k')).toEqual([]);
  });

  test('refuses an unsupported algorithm', async () => {
    await expect(generatePrivateJwk('HS256' as 'ES256')).rejects.toThrow('generatePrivateJwk: unsupported alg; use one of ES256, RS256, PS256, EdDSA, Ed25519');
  });
});
