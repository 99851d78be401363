/**
 * fedgate's own pages in the shared layout, the app's `views` taking them over, and
 * `errorHandler: 'next'` handing errors to Express's error handler.
 */
import type { ErrorRequestHandler } from 'express';
import { DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET } from '../fixtures/op.js';
import { startRedis, stopAllRedis, type RedisServer } from '../fixtures/redis.js';
import { startStack, type Stack, type StackOptions } from '../fixtures/stack.js';
import { authOf, FedgateError, withAuth, type ChooserViewContext, type ErrorViewContext, type FedgateViews, type ForbiddenViewContext } from '../../index.js';

const html = { headers: { accept: 'text/html' } };
let redis: RedisServer;
let plain: Stack;
let themed: Stack;
let nextStack: Stack;
const seen: { error?: ErrorViewContext; forbidden?: ForbiddenViewContext; chooser?: ChooserViewContext } = {};
const handled: Array<{ code: unknown; status: unknown; isFedgateError: boolean }> = [];

const twoConnectors: NonNullable<StackOptions['config']> = (config, op) => {
  config.connectors = [
    {
      id: 'corp',
      type: 'oidc',
      name: 'Corporate SSO',
      issuer: op.issuer,
      clientId: DEFAULT_CLIENT_ID,
      clientSecret: DEFAULT_CLIENT_SECRET,
      scopes: ['openid', 'profile', 'email', 'roles'],
    },
    { id: 'second', type: 'oidc', name: 'Second SSO', issuer: op.issuer, clientId: DEFAULT_CLIENT_ID, clientSecret: DEFAULT_CLIENT_SECRET },
  ] as typeof config.connectors;
};

const views: FedgateViews = {
  error: (c) => {
    seen.error = c;
    return `<!doctype html><title>App error</title><p id="app-error">${c.code}</p>`;
  },
  forbidden: (c) => {
    seen.forbidden = c;
    return `<!doctype html><title>App 403</title><a id="switch" href="${c.switchAccountUrl}">switch</a>`;
  },
  chooser: (c) => {
    seen.chooser = c;
    if (c.loginHint === 'boom@nowhere.example') throw new Error('template bug');
    return `<!doctype html><title>App chooser</title>${c.connectors.map((x) => `<a href="${x.loginUrl}">${x.name}</a>`).join('')}`;
  },
};

beforeAll(async () => {
  redis = await startRedis();
  plain = await startStack({ redis, config: twoConnectors });
  themed = await startStack({ redis, config: twoConnectors, options: { views } });
  nextStack = await startStack({
    redis,
    options: { errorHandler: 'next' },
    routes: (app) => {
      // Registered before the stack's own routes exist is fine: Express runs error handlers last.
      const onError: ErrorRequestHandler = (err: unknown, _req, res, _next) => {
        handled.push({ code: (err as FedgateError).code, status: (err as FedgateError).status, isFedgateError: err instanceof FedgateError });
        res
          .status((err as FedgateError).status ?? 500)
          .type('text')
          .send(`app handled ${String((err as FedgateError).code)}`);
      };
      app.get(
        '/typed',
        withAuth((req, res) => {
          res.json({ sub: req.auth.sub.toUpperCase(), connector: req.auth.connector, via: req.auth.via });
        }),
      );
      app.get('/auth-of', (req, res) => {
        res.json({ sub: authOf(req).sub });
      });
      app.use(onError);
    },
  });
});
afterAll(async () => {
  await Promise.all([plain, themed, nextStack].map((s) => s?.close()));
  await stopAllRedis();
});

describe("fedgate's own pages", () => {
  test('an error page: shared layout, the code, a way to try again and a way home', async () => {
    const res = await plain.browser().get(`${plain.url}/auth/callback/corp?code=x&state=not-a-state`, html);
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.body).toMatch(
      /^<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">/,
    );
    expect(res.body).toContain('<main><h1>Sign-in problem</h1>');
    expect(res.body).toMatch(/Error code: <code>CALLBACK_[A-Z_]+<\/code>/);
    expect(res.body).toContain('<a class="button" href="&#47;auth&#47;login">Try again</a>');
    expect(res.body).toContain(`<a href="${plain.url.replace(/\//g, '&#47;').replace(':', ':')}&#47;">Back to the application</a>`);
  });

  test('the 403 page offers "sign in with another account": sign out, then sign in again for the same page', async () => {
    const browser = await plain.login(plain.browser(), '/auth/login/corp?returnTo=%2Fdashboard');
    const res = await browser.get(`${plain.url}/admin?tab=1`, html);
    expect(res.status).toBe(403);
    expect(res.body).toContain('<h1>Access denied</h1>');
    const href = /<a class="button" href="([^"]+)">Sign in with another account<\/a>/
      .exec(res.body)?.[1]
      ?.replace(/&#(\d+);/g, (_m, n: string) => String.fromCharCode(Number(n)));
    expect(href).toBe(`/auth/logout?returnTo=${encodeURIComponent(`/auth/login?prompt=login&returnTo=${encodeURIComponent('/admin?tab=1')}`)}`);
    const out = await browser.get(`${plain.url}${href!}`, { headers: { ...html.headers, 'sec-fetch-site': 'same-origin' } });
    expect(out.status).toBe(302);
    expect(out.location).toBe(`${plain.url}/auth/login?prompt=login&returnTo=${encodeURIComponent('/admin?tab=1')}`);
    const after = await browser.get(`${plain.url}/dashboard`, html);
    expect([after.status, after.location]).toEqual([302, `${plain.url}/auth/login?returnTo=%2Fdashboard`]); // signed out
  });
});

describe('views: the app renders the pages', () => {
  test('error, forbidden and chooser views get typed contexts with the URLs and form fields they need', async () => {
    const err = await themed.browser().get(`${themed.url}/auth/callback/corp?code=x&state=nope`, html);
    expect(err.body).toMatch(/<p id="app-error">CALLBACK_[A-Z_]+<\/p>/);
    expect(seen.error).toMatchObject({ status: 400, homeUrl: `${themed.url}/`, basePath: '/auth', retryUrl: '/auth/login' });

    const chooser = await themed.browser().get(`${themed.url}/auth/login?returnTo=%2Fdashboard`, html);
    expect(chooser.body).toContain('<title>App chooser</title>');
    expect(seen.chooser).toEqual({
      homeUrl: `${themed.url}/`,
      basePath: '/auth',
      returnTo: '/dashboard',
      connectors: [
        { id: 'corp', name: 'Corporate SSO', loginUrl: '/auth/login/corp?returnTo=%2Fdashboard' },
        { id: 'second', name: 'Second SSO', loginUrl: '/auth/login/second?returnTo=%2Fdashboard' },
      ],
      form: { method: 'get', action: '/auth/login', fields: { returnTo: '/dashboard' } },
    });

    const browser = await themed.login(themed.browser(), '/auth/login/corp?returnTo=%2Fdashboard');
    const forbidden = await browser.get(`${themed.url}/admin`, html);
    expect(forbidden.status).toBe(403);
    expect(forbidden.body).toContain('<title>App 403</title>');
    expect(seen.forbidden).toEqual({
      homeUrl: `${themed.url}/`,
      basePath: '/auth',
      code: 'FORBIDDEN',
      switchAccountUrl: `/auth/logout?returnTo=${encodeURIComponent('/auth/login?prompt=login&returnTo=%2Fadmin')}`,
    });
  });

  test("a view that throws falls back to fedgate's own page", async () => {
    const res = await themed.browser().get(`${themed.url}/auth/login?login_hint=${encodeURIComponent('boom@nowhere.example')}`, html);
    expect(res.status).toBe(200);
    expect(res.body).toContain('<h1>Sign in</h1>');
    expect(res.body).toContain('value="boom@nowhere.example"');
  });
});

describe("errorHandler: 'next'", () => {
  test("fedgate's route errors and requireAuth's 403 reach the app's error handler as coded FedgateErrors", async () => {
    const err = await nextStack.browser().get(`${nextStack.url}/auth/callback/corp?code=x&state=nope`, html);
    expect(err.body).toMatch(/^app handled CALLBACK_[A-Z_]+$/);
    expect(err.status).toBe(400);
    expect(handled[0]).toMatchObject({ status: 400, isFedgateError: true });

    const json = await nextStack.browser().get(`${nextStack.url}/auth/login/nope`);
    expect(json.body).toBe('app handled CONNECTOR_UNKNOWN');

    const browser = await nextStack.login();
    const forbidden = await browser.get(`${nextStack.url}/admin`, html);
    expect(forbidden.status).toBe(403);
    expect(forbidden.body).toBe('app handled FORBIDDEN');
    expect(handled.at(-1)).toEqual({ code: 'FORBIDDEN', status: 403, isFedgateError: true });
    // Allowed routes are untouched.
    expect((await browser.get(`${nextStack.url}/dashboard`)).status).toBe(200);
  });
});

describe('typed req.auth: authOf and withAuth', () => {
  test('signed in: the handler gets sub, connector and via; anonymous: UNAUTHORIZED reaches the error handler', async () => {
    const anonymous = nextStack.browser();
    expect(await anonymous.get(`${nextStack.url}/typed`)).toMatchObject({ status: 401, body: 'app handled UNAUTHORIZED' });
    expect(await anonymous.get(`${nextStack.url}/auth-of`)).toMatchObject({ status: 401, body: 'app handled UNAUTHORIZED' });
    const browser = await nextStack.login();
    expect((await browser.get(`${nextStack.url}/typed`)).json()).toEqual({ sub: 'CORP|ALICE', connector: 'corp', via: 'session' });
    expect((await browser.get(`${nextStack.url}/auth-of`)).json()).toEqual({ sub: 'corp|alice' });
  });
});
