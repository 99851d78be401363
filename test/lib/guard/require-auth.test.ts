// requireAuth on its own: argument misuse is a coded TypeError at declaration, and every JSON
// refusal has fedgate's one error shape ({ error, code, message, ...extras }).
import type { Auth } from '../../../lib/auth.js';
import { errorCodes, type ErrorCode } from '../../../lib/errors.js';
import { gatewayInfo, requireAuth, type GatewayInfo, type RequireAuthOptions } from '../../../lib/guard/require-auth.js';
import type { Req, Res } from '../../../lib/http/respond.js';

describe('requireAuth arguments', () => {
  const misuse: Array<[string, unknown]> = [
    ['a misspelt option (scopes)', { scopes: 'admin' }],
    ['an unknown option next to known ones', { scope: 'admin', role: 'x' }],
    ['a number scope', { scope: 5 }],
    ['a scope that is no scope token', { scope: ['ok', 'two words'] }],
    ['claims that are not an object', { claims: 'role=admin' }],
    ['a claims value that is an object', { claims: { role: { in: ['admin'] } } }],
    ['a check that is not a function', { check: true }],
    ['a non-boolean allowCrossSite', { allowCrossSite: 'yes' }],
    ['a string instead of options', 'admin'],
    ['null options', null],
  ];

  test.each(misuse)('%s: TypeError with code INVALID_ARGUMENT', (_name, options) => {
    let thrown: unknown;
    try {
      requireAuth(options as RequireAuthOptions);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(TypeError);
    expect(thrown).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/^requireAuth: /) as unknown });
    expect(Object.hasOwn(errorCodes, (thrown as { code: string }).code)).toBe(true);
  });

  test('valid options declare a guard', () => {
    for (const options of [
      undefined,
      {},
      { scope: 'read' },
      { scope: ['read', 'write'] },
      { claims: { role: 'admin', level: 2, staff: true } },
      { check: () => true },
      { allowCrossSite: true },
    ]) {
      expect(typeof requireAuth(options)).toBe('function');
    }
  });
});

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

function run(auth: Partial<Auth> | undefined, options: RequireAuthOptions = {}, method = 'GET'): Promise<Answer | 'next'> {
  const info: GatewayInfo = { basePath: '/auth', origin: 'https://app.example' };
  const req = { method, url: '/api', headers: { accept: 'application/json' }, ...(auth ? { auth: { ...auth, [gatewayInfo]: info } } : {}) } as unknown as Req;
  return new Promise((resolve) => {
    const headers: Record<string, string> = {};
    const res = {
      statusCode: 200,
      setHeader: (k: string, v: string) => {
        headers[k.toLowerCase()] = v;
      },
      getHeader: (k: string) => headers[k.toLowerCase()],
      hasHeader: (k: string) => k.toLowerCase() in headers,
      end(this: { statusCode: number }, body: string) {
        resolve({ status: this.statusCode, headers, body: JSON.parse(body) as unknown });
      },
    } as unknown as Res;
    requireAuth(options)(req, res, () => resolve('next'));
  });
}

const anonymous: Partial<Auth> = { isAuthenticated: false, claims: {}, scope: [] };
const alice: Partial<Auth> = { isAuthenticated: true, sub: 'corp|alice', connector: 'corp', via: 'bearer', claims: { role: 'user' }, scope: ['read'] };

describe('requireAuth refusals: one JSON error shape', () => {
  const refusals: Array<[string, Promise<Answer | 'next'>, number, ErrorCode, string]> = [
    ['gateway not mounted', run(undefined), 500, 'GATEWAY_NOT_MOUNTED', 'gateway_not_mounted'],
    ['not signed in', run(anonymous), 401, 'UNAUTHORIZED', 'unauthorized'],
    ['an invalid bearer token', run({ ...anonymous, error: { code: 'TOKEN_INVALID', status: 401 } }), 401, 'TOKEN_INVALID', 'invalid_token'],
    [
      'the session store down',
      run({ ...anonymous, error: { code: 'SESSION_STORE_UNAVAILABLE', status: 503 } }),
      503,
      'SESSION_STORE_UNAVAILABLE',
      'temporarily_unavailable',
    ],
    ['a missing scope', run(alice, { scope: 'admin' }), 403, 'INSUFFICIENT_SCOPE', 'insufficient_scope'],
    ['a claims condition', run(alice, { claims: { role: 'admin' } }), 403, 'FORBIDDEN', 'forbidden'],
    ['a check returning false', run(alice, { check: () => false }), 403, 'FORBIDDEN', 'forbidden'],
    [
      'a check that throws',
      run(alice, {
        check: () => {
          throw new Error('db down');
        },
      }),
      503,
      'INTERNAL_ERROR',
      'temporarily_unavailable',
    ],
  ];

  test.each(refusals)('%s → %i %s', async (_name, answer, status, code, error) => {
    const a = await answer;
    if (a === 'next') throw new Error('the guard let the request through');
    expect(a.status).toBe(status);
    const body = a.body as Record<string, unknown>;
    expect(Object.keys(body).slice(0, 3)).toEqual(['error', 'code', 'message']);
    expect(body).toMatchObject({ error, code, message: expect.any(String) as unknown });
    expect((body.message as string).length).toBeGreaterThan(0);
  });

  test('the scope refusal names the scopes the route needs', async () => {
    const a = await run(alice, { scope: ['read', 'admin'] });
    expect(a).toMatchObject({
      status: 403,
      body: { scope: 'read admin' },
      headers: { 'www-authenticate': 'Bearer realm="fedgate", error="insufficient_scope", scope="read admin"' },
    });
  });

  test('a signed-in request meeting every condition goes on', async () => {
    expect(await run(alice, { scope: 'read', claims: { role: 'user' }, check: async () => true })).toBe('next');
  });
});
