import { getFreePort } from '../fixtures/ports.js';
import { closeAllOps, getSharedKey, startOp, type TestOp } from '../fixtures/op.js';
import { startRedis, stopAllRedis, type RedisServer } from '../fixtures/redis.js';
import { generatePrivateJwk } from '../../lib/tokens/keys.js';
import { clientSecret, runCli, sessionSecret, tempDir } from './run.js';

const redisPassword = 'redis-password-not-for-output';
let tmp: Awaited<ReturnType<typeof tempDir>>;
let op: TestOp;
let redis: RedisServer;

const env = { CLI_SESSION_SECRET: sessionSecret, CLI_CLIENT_SECRET: clientSecret };

function config(issuer: string, redisUrl = redis.url): Record<string, unknown> {
  return {
    baseUrl: 'http://localhost:3000',
    allowInsecureRequests: true,
    session: { secret: '${env:CLI_SESSION_SECRET}', redis: { url: redisUrl } },
    tokens: { keys: './jwks.json' },
    connectors: [{ id: 'corp', type: 'oidc', name: 'Corporate SSO', issuer, clientId: 'app', clientSecret: '${env:CLI_CLIENT_SECRET}' }],
  };
}

const noSecrets = (text: string) => {
  for (const s of [sessionSecret, clientSecret, redisPassword]) expect(text).not.toContain(s);
};

beforeAll(async () => {
  tmp = await tempDir();
  await tmp.write('jwks.json', { keys: [await generatePrivateJwk('ES256')] });
  [op, redis] = await Promise.all([startOp(), startRedis({ password: redisPassword })]);
});
afterAll(async () => {
  await closeAllOps();
  await stopAllRedis();
  await tmp.cleanup();
});
afterEach(() => op.reset());

describe('fedgate check --probe', () => {
  test('reports the session store, the discovery, the exact issuer match, endpoints, algorithms and the JWKS', async () => {
    const file = await tmp.write('probe.json', config(op.issuer));
    const r = await runCli(['check', file, '--probe'], { env });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines).toContain('probe session store:');
    expect(lines).toContain(`  PING redis 127.0.0.1:${redis.port} -> PONG`);
    expect(lines).toContain('probe corp (oidc):');
    expect(lines).toContain(`  GET ${op.issuer}/.well-known/openid-configuration -> 200`);
    expect(lines).toContain(`  issuer                  ${op.issuer} (exact match)`);
    expect(lines).toContain(`  authorization_endpoint  ${op.issuer}/auth`);
    expect(lines).toContain(`  jwks_uri                ${op.issuer}/jwks`);
    expect(lines.find((l) => l.startsWith('  id_token algs'))).toMatch(/RS256.*; expected RS256$/);
    expect(lines).toContain(`  jwks                    1 key: ${getSharedKey().kid} RSA RS256 sig`);
    expect(op.requests.map((q) => q.path)).toEqual(['/.well-known/openid-configuration', '/jwks']);
    noSecrets(r.stdout);
  });

  test('an issuer that differs from the configured one, and an algorithm the upstream does not offer', async () => {
    op.discoveryOverride = (doc) => ({ ...doc, issuer: `${op.issuer}/other`, id_token_signing_alg_values_supported: ['ES256'] });
    const file = await tmp.write('mismatch.json', config(op.issuer));
    const r = await runCli(['check', file, '--probe'], { env });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(
      `connectors[0] (corp): issuer mismatch: discovery says "${op.issuer}/other", the config says "${op.issuer}" (they must be equal, character for character)`,
    );
    expect(r.stdout).toContain('connectors[0] (corp): discovery rejected: ');
    expect(r.stdout).toContain('connectors[0] (corp): the upstream does not advertise RS256 for ID tokens; set idTokenSigningAlg to one of ES256');
  });

  test('an unreachable upstream: one line naming the URL and the cause, nothing contradicting it', async () => {
    const port = await getFreePort();
    const file = await tmp.write('down.json', config(`http://127.0.0.1:${port}`));
    const r = await runCli(['check', file, '--probe', '--timeout', '2'], { env });
    expect(r.code).toBe(1);
    const url = `http://127.0.0.1:${port}/.well-known/openid-configuration`;
    const probe = r.stdout.slice(r.stdout.indexOf('probe corp (oidc):')).trim().split('\n');
    expect(probe).toEqual([
      'probe corp (oidc):',
      `  GET ${url} -> failed: ECONNREFUSED 127.0.0.1:${port}`,
      `connectors[0] (corp): discovery failed: ${url} is not reachable (ECONNREFUSED 127.0.0.1:${port})`,
    ]);
  });

  test('a discovery URL that answers 404 names the URL and the status', async () => {
    const file = await tmp.write('notfound.json', config(`${op.issuer}/nope`));
    const r = await runCli(['check', file, '--probe'], { env });
    expect(r.code).toBe(1);
    const url = `${op.issuer}/nope/.well-known/openid-configuration`;
    const probe = r.stdout.slice(r.stdout.indexOf('probe corp (oidc):')).trim().split('\n');
    expect(probe).toEqual([
      'probe corp (oidc):',
      `  GET ${url} -> 404`,
      `connectors[0] (corp): discovery failed: ${url} answered 404, not a discovery document`,
    ]);
  });

  test('a dead Redis does not pass: the host and the cause are named, the password is not', async () => {
    const port = await getFreePort();
    const file = await tmp.write('dead-redis.json', config(op.issuer, `redis://:${redisPassword}@127.0.0.1:${port}/0`));
    const r = await runCli(['check', file, '--probe', '--timeout', '2'], { env });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`session.redis: redis 127.0.0.1:${port} is not reachable (ECONNREFUSED 127.0.0.1:${port})`);
    expect(r.stdout).toContain('probe corp (oidc):'); // the upstreams are still probed
    noSecrets(r.stdout + r.stderr);
  });

  test('a Redis that refuses the password does not pass', async () => {
    const url = new URL(redis.url);
    url.password = 'wrong-password-0123456789';
    const file = await tmp.write('bad-redis-password.json', config(op.issuer, url.href));
    const r = await runCli(['check', file, '--probe', '--timeout', '2'], { env });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`session\\.redis: redis 127\\.0\\.0\\.1:${redis.port} refused the connection: WRONGPASS`));
    expect(r.stdout).not.toContain('wrong-password-0123456789');
  });

  test('a paused Redis (accepts connections, answers nothing) fails within the timeout', async () => {
    redis.pause();
    try {
      const file = await tmp.write('paused-redis.json', config(op.issuer));
      const started = Date.now();
      const r = await runCli(['check', file, '--probe', '--timeout', '1'], { env });
      expect(r.code).toBe(1);
      expect(r.stdout).toContain(`session.redis: redis 127.0.0.1:${redis.port} is not reachable (no answer within 1 s)`);
      expect(Date.now() - started).toBeLessThan(15_000);
    } finally {
      redis.resume();
    }
  });
});
