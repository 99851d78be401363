import { randomUUID } from 'node:crypto';
import { startStack, type Stack } from '../fixtures/stack.js';
import { startCluster, command, type ClusterSetup } from '../fixtures/redis-topologies.js';
import { DEFAULT_CLIENT_ID, signWithSharedKey } from '../fixtures/op.js';
import { testClock } from '../fixtures/clock.js';
import { getJson, refreshCount, sessionCookie, sessionKey, type JsonResponse } from './helpers.js';

// A 3-master Redis Cluster (no replicas). Every script and command fedgate sends touches one key,
// so sessions, indexes, locks and replay guards spread freely over the slots.
let cluster: ClusterSetup;
let stack: Stack;
const ACCESS_TOKEN_TTL = 300;
/** Moved (never waited on) to make an upstream token due; each login starts at wall time. */
const clock = testClock();

beforeAll(async () => {
  cluster = await startCluster(3);
  stack = await startStack({
    redis: cluster.nodes[0]!,
    op: { ttl: { AccessToken: ACCESS_TOKEN_TTL }, issueRefreshToken: true, rotateRefreshToken: true },
    options: { now: clock.now },
    config: (c) => {
      (c.session as Record<string, unknown>).redis = { cluster: cluster.addresses, commandTimeout: 1000, connectTimeout: 1000 };
    },
  });
  await stack.gateway.ready();
}, 60_000);
afterAll(async () => {
  await stack?.close();
  await cluster?.stop();
});
beforeEach(() => {
  clock.reset();
  stack.op.reset();
});

/** The node holding `key` (the others answer MOVED), or undefined when no node has it. */
async function ownerOf(key: string): Promise<number | undefined> {
  for (const n of cluster.nodes) {
    if ((await command(n.port, ['EXISTS', key]).catch(() => 0)) === 1) return n.port;
  }
  return undefined;
}

async function readSession(cookie: string): Promise<{ rev: number } | undefined> {
  for (const n of cluster.nodes) {
    const raw = await command(n.port, ['GET', sessionKey(cookie)]).catch(() => null);
    if (typeof raw === 'string') return (JSON.parse(raw) as { fedgate: { rev: number } }).fedgate;
  }
  return undefined;
}

const dashboard = (cookie: string): Promise<JsonResponse> => getJson(`${stack.url}/dashboard`, { cookie });

describe('Redis Cluster', () => {
  test('login, use and logout; session keys spread over the masters', async () => {
    const cookies: string[] = [];
    for (let i = 0; i < 6; i++) cookies.push(sessionCookie(await stack.login(), stack.url));
    const owners = new Set<number>();
    for (const c of cookies) {
      expect((await dashboard(c)).status).toBe(200);
      const owner = await ownerOf(sessionKey(c));
      expect(owner).toBeDefined();
      owners.add(owner!);
    }
    const sizes = await Promise.all(cluster.nodes.map(async (n) => Number(await command(n.port, ['DBSIZE']))));
    expect(sizes.filter((s) => s > 0).length).toBeGreaterThanOrEqual(2);

    const logout = await fetch(`${stack.url}/auth/logout`, { method: 'POST', headers: { cookie: cookies[0]! }, redirect: 'manual' });
    expect(logout.status).toBe(302);
    expect(await ownerOf(sessionKey(cookies[0]!))).toBeUndefined();
    expect((await dashboard(cookies[0]!)).status).toBe(401);
    expect((await dashboard(cookies[1]!)).status).toBe(200);
    expect(await stack.gateway.health()).toMatchObject({ ok: true, redis: 'ready' });
  });

  test('back-channel logout (sub) and its jti replay guard', async () => {
    const a = sessionCookie(await stack.login(), stack.url);
    const b = sessionCookie(await stack.login(), stack.url);
    const now = Math.floor(Date.now() / 1000);
    const token = await signWithSharedKey(
      {
        iss: stack.op.issuer,
        aud: DEFAULT_CLIENT_ID,
        iat: now,
        exp: now + 60,
        jti: randomUUID(),
        sub: 'alice',
        events: { 'http://schemas.openid.net/event/backchannel-logout': {} },
      },
      { typ: 'logout+jwt' },
    );
    const post = () =>
      fetch(`${stack.url}/auth/backchannel-logout/corp`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ logout_token: token }),
      });
    expect((await post()).status).toBe(200);
    expect((await dashboard(a)).status).toBe(401);
    expect((await dashboard(b)).status).toBe(401);
    const replay = await post();
    expect(replay.status).toBe(400);
    expect(await replay.json()).toEqual({ error: 'invalid_request', code: 'LOGOUT_TOKEN_INVALID', message: 'The logout token is invalid.' });
  });

  test('revokeSessions', async () => {
    const a = sessionCookie(await stack.login(), stack.url);
    expect(await stack.gateway.revokeSessions({ sub: 'corp|alice' })).toBeGreaterThanOrEqual(1);
    expect((await dashboard(a)).status).toBe(401);
    expect(await ownerOf(sessionKey(a))).toBeUndefined();
  });

  test('single-flight refresh (lock and guarded write scripts) under concurrency', async () => {
    const cookie = sessionCookie(await stack.login(), stack.url);
    stack.op.tokenRequests.length = 0;
    const stored = await readSession(cookie);
    clock.advance(ACCESS_TOKEN_TTL * 1000); // the upstream token is due
    const results = await Promise.all(Array.from({ length: 6 }, () => dashboard(cookie)));
    expect(results.map((r) => r.status)).toEqual(Array(6).fill(200));
    expect(refreshCount(stack.op.tokenRequests)).toBe(1);
    expect((await readSession(cookie))?.rev).toBe(stored!.rev + 1);
  });
});
