import { Cluster, Redis } from 'ioredis';
import { startStack, type Stack } from '../fixtures/stack.js';
import { startRedis, type RedisServer } from '../fixtures/redis.js';
import { startCluster, type ClusterSetup } from '../fixtures/redis-topologies.js';
import { ConfigError, fedgate } from '../../index.js';
import { getJson, sessionCookie, sessionKey } from './helpers.js';

// `fedgate(config, { redis })`: the app hands over its own ioredis client (or Cluster); the config
// then needs no `session.redis`, and `gateway.close()` leaves the client open for the app.

const withoutSessionRedis = (c: Record<string, unknown>) => {
  delete (c.session as Record<string, unknown>).redis;
};

describe('options.redis: an ioredis client owned by the app', () => {
  let redis: RedisServer;
  let client: Redis;
  let stack: Stack;
  let errorListeners = 0;
  beforeAll(async () => {
    redis = await startRedis();
    client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    errorListeners = client.listenerCount('error');
    stack = await startStack({ redis, config: withoutSessionRedis, options: { redis: client } });
  });
  afterAll(async () => {
    await stack?.close();
    client?.disconnect();
    await redis?.stop();
  });

  test('the config needs no session.redis; sessions live in the given client', async () => {
    await stack.gateway.ready();
    const cookie = sessionCookie(await stack.login(), stack.url);
    expect((await getJson(`${stack.url}/dashboard`, { cookie })).status).toBe(200);
    // Stored through the app's client under the default prefix.
    expect(await client.exists(sessionKey(cookie))).toBe(1);
    expect((await stack.gateway.health()).redis).toBe('ready');
  });

  test('gateway.close() does not quit a client it did not open', async () => {
    expect(client.listenerCount('error')).toBe(errorListeners + 1);
    await stack.gateway.close();
    expect(client.status).toBe('ready');
    expect(await client.ping()).toBe('PONG');
    // Its error logger is detached again: the client outlives the gateway.
    expect(client.listenerCount('error')).toBe(errorListeners);
  });
});

describe('options.redis: a Cluster owned by the app', () => {
  let cluster: ClusterSetup;
  let client: Cluster;
  let stack: Stack;
  beforeAll(async () => {
    cluster = await startCluster(3);
    client = new Cluster(cluster.addresses, { redisOptions: { maxRetriesPerRequest: 1 } });
    stack = await startStack({ redis: cluster.nodes[0]!, config: withoutSessionRedis, options: { redis: client } });
  }, 60_000);
  afterAll(async () => {
    await stack?.close();
    client?.disconnect();
    await cluster?.stop();
  });

  test('logins work through the Cluster and close() leaves it open', async () => {
    await stack.gateway.ready();
    const cookie = sessionCookie(await stack.login(), stack.url);
    expect((await getJson(`${stack.url}/dashboard`, { cookie })).status).toBe(200);
    expect(await client.exists(sessionKey(cookie))).toBe(1);
    await stack.gateway.close();
    expect(client.status).toBe('ready');
    expect(await client.set('fedgate-test:after-close', '1', 'EX', 5)).toBe('OK');
  });
});

test('options.redis together with session.insecureMemoryStore is refused (which store would it be?)', () => {
  const client = new Redis({ lazyConnect: true });
  let error: unknown;
  try {
    fedgate(
      {
        baseUrl: 'http://localhost:3000',
        session: { secret: 'x'.repeat(40), insecureMemoryStore: true },
        tokens: { insecureEphemeralKeys: true },
        connectors: [],
      },
      { redis: client },
    );
  } catch (err) {
    error = err;
  } finally {
    client.disconnect();
  }
  expect(error).toBeInstanceOf(ConfigError);
  expect((error as ConfigError).problems).toContainEqual({ path: 'session.insecureMemoryStore', message: 'cannot be combined with options.redis' });
});

describe('without options.redis', () => {
  test('session.redis (or insecureMemoryStore) is still required', () => {
    let error: unknown;
    try {
      fedgate({ baseUrl: 'http://localhost:3000', session: { secret: 'x'.repeat(40) }, tokens: { insecureEphemeralKeys: true }, connectors: [] });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toContainEqual({ path: 'session.redis', message: 'required (or session.insecureMemoryStore for development)' });
  });
});
