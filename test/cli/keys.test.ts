import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadKeySet, validatePrivateJwks } from '../../lib/tokens/keys.js';
import { runCli, tempDir } from './run.js';

type Jwks = { keys: Array<Record<string, unknown> & { kid: string; alg: string }> };

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  tmp = await tempDir();
});
afterAll(async () => {
  await tmp.cleanup();
});

const silent = { debug() {}, info() {}, warn() {}, error() {} };
const readJwks = async (file: string) => JSON.parse(await readFile(file, 'utf8')) as Jwks;

describe('fedgate keys generate', () => {
  test('prints a private ES256 JWKS by default that fedgate loads as tokens.keys', async () => {
    const r = await runCli(['keys', 'generate']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const jwks = JSON.parse(r.stdout) as Jwks;
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    expect(jwks.keys[0]!.d).toEqual(expect.any(String));
    expect(validatePrivateJwks(jwks, 'tokens.keys')).toEqual([]);
    const ks = await loadKeySet({ keys: jwks, baseDir: tmp.dir, logger: silent });
    expect(ks.signing).toMatchObject({ kid: jwks.keys[0]!.kid, alg: 'ES256' });
  });

  test.each([
    ['RS256', { kty: 'RSA' }],
    ['PS256', { kty: 'RSA' }],
    ['EdDSA', { kty: 'OKP', crv: 'Ed25519' }],
  ])('--alg %s', async (alg, shape) => {
    const r = await runCli(['keys', 'generate', '--alg', alg]);
    expect(r.code).toBe(0);
    const jwks = JSON.parse(r.stdout) as Jwks;
    expect(jwks.keys[0]).toMatchObject({ ...shape, alg });
    expect(validatePrivateJwks(jwks, 'tokens.keys')).toEqual([]);
  });

  test('--out writes the file with mode 0600, refuses to overwrite it, and --force overwrites', async () => {
    const out = path.join(tmp.dir, 'jwks.json');
    const first = await runCli(['keys', 'generate', '--out', out]);
    expect(first.code).toBe(0);
    const written = await readJwks(out);
    expect(first.stdout).toContain(`kid ${written.keys[0]!.kid}`);
    expect(first.stdout).not.toContain(String(written.keys[0]!.d));
    expect((await stat(out)).mode & 0o777).toBe(0o600);

    const again = await runCli(['keys', 'generate', '--out', out]);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(`fedgate: ${out} already exists; use --force to overwrite it\n`);
    expect((await readJwks(out)).keys[0]!.kid).toBe(written.keys[0]!.kid);

    const forced = await runCli(['keys', 'generate', '--out', out, '--force', '--alg', 'RS256']);
    expect(forced.code).toBe(0);
    const replaced = await readJwks(out);
    expect(replaced.keys[0]!.alg).toBe('RS256');
    expect((await stat(out)).mode & 0o777).toBe(0o600);
  });

  test('--out into a folder that does not exist creates it (mode 0700), run from the project folder', async () => {
    const r = await runCli(['keys', 'generate', '--out', 'keys/jwks.json'], { cwd: tmp.dir });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^created folder keys \(mode 0700\)\nwrote keys\/jwks\.json \(mode 0600\)/);
    expect((await stat(path.join(tmp.dir, 'keys'))).mode & 0o777).toBe(0o700);
    expect((await stat(path.join(tmp.dir, 'keys', 'jwks.json'))).mode & 0o777).toBe(0o600);
    expect(validatePrivateJwks(await readJwks(path.join(tmp.dir, 'keys', 'jwks.json')), 'jwks')).toEqual([]);

    const nested = await runCli(['keys', 'generate', '--out', path.join(tmp.dir, 'a', 'b', 'jwks.json')]);
    expect(nested.code).toBe(0);
    expect((await stat(path.join(tmp.dir, 'a'))).mode & 0o777).toBe(0o700);
    expect((await stat(path.join(tmp.dir, 'a', 'b'))).mode & 0o777).toBe(0o700);
  });

  test('--out below a file (not a folder) is an input error', async () => {
    const file = await tmp.write('plain-file', 'x');
    const r = await runCli(['keys', 'generate', '--out', path.join(file, 'jwks.json')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`fedgate: cannot create folder ${file} (ENOTDIR)\n`);
    expect(r.stdout).toBe('');
  });

  test('--help works on every subcommand and exits 0 with the usage on stdout', async () => {
    for (const args of [
      ['keys', 'generate', '--help'],
      ['keys', 'rotate', '--help'],
      ['keys', 'generate', '-h'],
      ['keys', '--help'],
      ['help', 'keys'],
    ]) {
      const r = await runCli(args);
      expect({ args, code: r.code, stderr: r.stderr }).toEqual({ args, code: 0, stderr: '' });
      expect(r.stdout).toMatch(/^Usage:\n {2}fedgate keys generate /);
    }
    for (const [args, start] of [
      [['check', '--help'], 'Usage: fedgate check'],
      [['map', '--help'], 'Usage: fedgate map'],
      [['help', 'check'], 'Usage: fedgate check'],
      [['--help'], 'Usage: fedgate <command>'],
    ] as const) {
      const r = await runCli([...args]);
      expect({ args, code: r.code }).toEqual({ args, code: 0 });
      expect(r.stdout.startsWith(start)).toBe(true);
    }
  });

  test('bad flags are usage errors (exit 2) with the usage text', async () => {
    const badAlg = await runCli(['keys', 'generate', '--alg', 'HS256']);
    expect(badAlg.code).toBe(2);
    expect(badAlg.stderr).toMatch(/^fedgate: --alg must be one of ES256, RS256, PS256, EdDSA, Ed25519\n\nUsage:/);
    expect(badAlg.stdout).toBe('');

    const unknown = await runCli(['keys', 'generate', '--size', '4096']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^fedgate: Unknown option '--size'\n/);

    const forceAlone = await runCli(['keys', 'generate', '--force']);
    expect(forceAlone.code).toBe(2);
    expect(forceAlone.stderr).toMatch(/^fedgate: --force only applies with --out\n/);

    const sub = await runCli(['keys', 'make']);
    expect(sub.code).toBe(2);
    expect(sub.stderr).toMatch(/^fedgate: unknown keys command "make"; use generate or rotate\n/);
  });
});

describe('fedgate keys rotate', () => {
  test('add (published, not signing), promote (signs), retire (gone): tokens never stop verifying', async () => {
    const file = path.join(tmp.dir, 'rotate.json');
    expect((await runCli(['keys', 'generate', '--out', file])).code).toBe(0);
    const [original] = (await readJwks(file)).keys;

    const added = await runCli(['keys', 'rotate', file]);
    expect(added.code).toBe(0);
    const afterAdd = await readJwks(file);
    expect(afterAdd.keys.map((k) => k.kid)).toEqual([original!.kid, expect.any(String)]);
    const fresh = afterAdd.keys[1]!;
    expect(fresh.alg).toBe('ES256'); // the signing key's algorithm by default
    expect(added.stdout).toContain(`added kid ${fresh.kid} (ES256) last. It is published now; kid ${original!.kid} still signs.`);
    expect(added.stdout).toContain('--promote');
    // Step 1 keeps the signer and publishes both.
    const ks1 = await loadKeySet({ keys: afterAdd, baseDir: tmp.dir, logger: silent });
    expect(ks1.signing.kid).toBe(original!.kid);
    expect(ks1.publicJwks.keys.map((k) => k.kid)).toEqual([original!.kid, fresh.kid]);
    expect((await stat(file)).mode & 0o777).toBe(0o600);

    const promoted = await runCli(['keys', 'rotate', file, '--promote']);
    expect(promoted.code).toBe(0);
    expect(promoted.stdout).toContain(`kid ${fresh.kid} (ES256) now signs.`);
    expect(promoted.stdout).toContain(`--retire ${original!.kid}`);
    const ks2 = await loadKeySet({ keys: await readJwks(file), baseDir: tmp.dir, logger: silent });
    expect(ks2.signing.kid).toBe(fresh.kid);
    expect([...ks2.verifying.keys()]).toEqual([fresh.kid, original!.kid]);

    const signer = await runCli(['keys', 'rotate', file, '--retire', fresh.kid]);
    expect(signer.code).toBe(1);
    expect(signer.stderr).toBe(`fedgate: kid ${fresh.kid} is the signing key of ${file}; promote another key first\n`);

    const retired = await runCli(['keys', 'rotate', file, '--retire', original!.kid]);
    expect(retired.code).toBe(0);
    expect((await readJwks(file)).keys.map((k) => k.kid)).toEqual([fresh.kid]);
  });

  test('a kid that starts with "-" (a thumbprint can) is retired as printed, with or without "="', async () => {
    const file = path.join(tmp.dir, 'dash.json');
    expect((await runCli(['keys', 'generate', '--out', file])).code).toBe(0);
    expect((await runCli(['keys', 'rotate', file])).code).toBe(0);
    const jwks = await readJwks(file);
    jwks.keys[1]!.kid = '-dash-kid';
    jwks.keys.push({ ...jwks.keys[1]!, kid: '--double' });
    await writeFile(file, JSON.stringify(jwks), { mode: 0o600 });
    const retired = await runCli(['keys', 'rotate', file, '--retire', '-dash-kid']);
    expect({ code: retired.code, stderr: retired.stderr }).toEqual({ code: 0, stderr: '' });
    const again = await runCli(['keys', 'rotate', file, '--retire=--double']);
    expect({ code: again.code, stderr: again.stderr }).toEqual({ code: 0, stderr: '' });
    expect((await readJwks(file)).keys.map((k) => k.kid)).toEqual([jwks.keys[0]!.kid]);
  });

  test("--alg picks the new key's algorithm", async () => {
    const file = path.join(tmp.dir, 'alg.json');
    expect((await runCli(['keys', 'generate', '--out', file])).code).toBe(0);
    expect((await runCli(['keys', 'rotate', file, '--alg', 'EdDSA'])).code).toBe(0);
    expect((await readJwks(file)).keys.map((k) => k.alg)).toEqual(['ES256', 'EdDSA']);
  });

  test('bad input: missing file, not JSON, a public JWKS, nothing to promote, unknown kid', async () => {
    const missing = await runCli(['keys', 'rotate', path.join(tmp.dir, 'nope.json')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(`fedgate: key file ${path.join(tmp.dir, 'nope.json')} does not exist\n`);

    const notJson = await tmp.write('broken.json', '{"keys": [');
    const broken = await runCli(['keys', 'rotate', notJson]);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toBe(`fedgate: key file ${notJson} is not valid JSON\n`);

    const single = path.join(tmp.dir, 'single.json');
    expect((await runCli(['keys', 'generate', '--out', single])).code).toBe(0);
    const pub = await readJwks(single);
    const secretD = String(pub.keys[0]!.d);
    delete pub.keys[0]!.d;
    const publicFile = await tmp.write('public.json', pub);
    const publicOnly = await runCli(['keys', 'rotate', publicFile]);
    expect(publicOnly.code).toBe(1);
    expect(publicOnly.stderr).toContain(`fedgate: ${publicFile} is not a valid private JWKS:\n  keys[0].d: required: this is a public key`);
    expect(publicOnly.stderr).not.toContain(String(pub.keys[0]!.x));

    const nothing = await runCli(['keys', 'rotate', single, '--promote']);
    expect(nothing.code).toBe(1);
    expect(nothing.stderr).toBe(`fedgate: ${single} has one key: nothing to promote; run "fedgate keys rotate ${single}" first\n`);

    const unknownKid = await runCli(['keys', 'rotate', single, '--retire', 'no-such-kid']);
    expect(unknownKid.code).toBe(1);
    expect(unknownKid.stderr).toBe(`fedgate: ${single} has no key with kid "no-such-kid"; kids: ${pub.keys[0]!.kid}\n`);
    // No command ever echoes private key material.
    for (const r of [missing, broken, publicOnly, nothing, unknownKid]) expect(r.stdout + r.stderr).not.toContain(secretD);
  });

  test('usage errors: no file, two modes at once', async () => {
    const none = await runCli(['keys', 'rotate']);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^fedgate: missing argument <jwks\.json>\n/);
    const both = await runCli(['keys', 'rotate', 'x.json', '--promote', '--alg', 'ES256']);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/^fedgate: use one of --alg, --promote or --retire at a time\n/);
  });
});
