import { getFreePort } from '../fixtures/ports.js';
import { createDefaultLogger } from '../../lib/logger.js';
import { startStack, type Stack } from '../fixtures/stack.js';
import { DEFAULT_CLIENT_SECRET } from '../fixtures/op.js';

let stack: Stack;
const redisPassword = 'startup-redis-password-0123456789';

beforeAll(async () => {
  stack = await startStack({
    config: (c) => {
      (c.connectors as Array<Record<string, unknown>>).push({
        id: 'down',
        type: 'oidc',
        name: 'Down SSO',
        issuer: 'http://127.0.0.1:1',
        clientId: 'x',
        clientSecret: DEFAULT_CLIENT_SECRET,
      });
    },
  });
});
afterAll(async () => {
  await stack.close();
});

describe('ready()', () => {
  test('a connector that cannot be discovered is named, with its issuer and its code', async () => {
    await expect(stack.gateway.ready()).rejects.toMatchObject({
      code: 'UPSTREAM_UNAVAILABLE',
      message: 'Connector "down" (http://127.0.0.1:1): The identity provider is not reachable right now.',
    });
    expect(stack.logger.lines.filter((l) => (l.obj as { event?: string }).event === 'gateway.ready')).toEqual([]);
  });
});

describe('ready() success line', () => {
  let ok: Stack;
  beforeAll(async () => {
    ok = await startStack({
      redis: stack.redis,
      config: (c) => {
        c.op = {
          enabled: true,
          clients: [{ client_id: 'reports', client_name: 'Reports', redirect_uris: ['http://127.0.0.1:1/cb'], token_endpoint_auth_method: 'none' }],
        };
      },
    });
  });
  afterAll(async () => {
    await ok.close();
  });

  test('one info line names connectors and issuers, the store host, key ids and broker mode; nothing secret', async () => {
    await ok.gateway.ready();
    await ok.gateway.ready(); // announced once
    const lines = ok.logger.lines.filter((l) => (l.obj as { event?: string }).event === 'gateway.ready');
    expect(lines).toHaveLength(1);
    const [line] = lines;
    const kid = ok.gateway.config.tokens.keys !== undefined ? String((ok.gateway.config.tokens.keys as { keys: Array<{ kid: string }> }).keys[0]!.kid) : '';
    expect(line!.level).toBe('info');
    expect(line!.msg).toBe(
      `fedgate ready at ${ok.url}/auth; connectors corp (oidc ${ok.op.issuer}); store redis 127.0.0.1:${ok.redis.port}; `
        + `signing key ${kid}; broker mode on (1 client)`,
    );
    expect(line!.obj).toEqual({
      event: 'gateway.ready',
      connectors: [{ id: 'corp', type: 'oidc', issuer: ok.op.issuer }],
      store: `redis 127.0.0.1:${ok.redis.port}`,
      signingKid: kid,
      kids: [kid],
      broker: true,
      clients: ['reports'],
    });
  });
});

describe('ready() with a dead Redis', () => {
  test('names the Redis host and port, never its password', async () => {
    const port = await getFreePort();
    const dead = await startStack({
      redis: stack.redis,
      config: (c) => {
        c.session = { ...c.session, redis: { url: `redis://:${redisPassword}@127.0.0.1:${port}/0`, connectTimeout: 300, commandTimeout: 300 } };
      },
    });
    try {
      const err: unknown = await dead.gateway.ready().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ code: 'SESSION_STORE_UNAVAILABLE', message: `Redis is not reachable: redis 127.0.0.1:${port}.` });
      expect(JSON.stringify(dead.logger.lines)).not.toContain(redisPassword);
    } finally {
      await dead.close();
    }
  });
});

describe('default logger levels (FEDGATE_LOG_LEVEL)', () => {
  function capture(run: () => void): string[] {
    const writes: string[] = [];
    const original = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => {
      writes.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    try {
      run();
    } finally {
      process.stderr.write = original;
    }
    return writes.map((w) => String((JSON.parse(w) as { level: string }).level));
  }
  const all = (log: ReturnType<typeof createDefaultLogger>) => {
    log.debug({}, 'd');
    log.info({}, 'i');
    log.warn({}, 'w');
    log.error({}, 'e');
  };

  test('warn by default, info and debug on request, unknown values ignored', () => {
    const saved = process.env.FEDGATE_LOG_LEVEL;
    try {
      delete process.env.FEDGATE_LOG_LEVEL;
      expect(capture(() => all(createDefaultLogger()))).toEqual(['warn', 'error']);
      process.env.FEDGATE_LOG_LEVEL = 'info';
      expect(capture(() => all(createDefaultLogger()))).toEqual(['info', 'warn', 'error']);
      process.env.FEDGATE_LOG_LEVEL = 'debug';
      expect(capture(() => all(createDefaultLogger()))).toEqual(['debug', 'info', 'warn', 'error']);
      process.env.FEDGATE_LOG_LEVEL = 'verbose';
      expect(capture(() => all(createDefaultLogger()))).toEqual(['warn', 'error']);
    } finally {
      if (saved === undefined) delete process.env.FEDGATE_LOG_LEVEL;
      else process.env.FEDGATE_LOG_LEVEL = saved;
    }
  });
});

describe('login.failed.detail', () => {
  test('a provider that refuses the client authentication: the user sees the code, the debug log the reason', async () => {
    const wrong = await startStack({
      redis: stack.redis,
      config: (c) => {
        (c.connectors as Array<Record<string, unknown>>)[0]!.clientSecret = 'a-wrong-client-secret-0123456789abcdef';
      },
    });
    try {
      const res = await wrong.browser().follow(`${wrong.url}/dashboard`);
      expect(res.body).toContain('UPSTREAM_RESPONSE_INVALID');
      expect(res.body).toContain('The identity provider refused the request (invalid_client).');
      const failed = wrong.logger.lines.find((l) => (l.obj as { event?: string }).event === 'login.failed');
      const detail = wrong.logger.lines.find((l) => (l.obj as { event?: string }).event === 'login.failed.detail');
      expect(detail?.level).toBe('debug');
      expect(detail?.obj).toMatchObject({ code: (failed!.obj as { code?: string }).code });
      expect(String((detail!.obj as { detail?: string }).detail)).toMatch(/invalid_client/);
    } finally {
      await wrong.close();
    }
  });
});
