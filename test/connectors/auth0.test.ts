import type { Response } from 'express';
import { fedgate, ConfigError } from '../../index.js';
import { auth0Issuer } from '../../connectors/auth0/index.js';
import { DEFAULT_CLIENT_SECRET, type OpOptions, type TestOp } from '../fixtures/op.js';
import { SESSION_SECRET, testKeys } from '../fixtures/stack.js';
import { clientCredentials, jwtParam, queryOf, runConformance } from './conformance.js';

const ns = 'https://example.com';
const subject = 'auth0|5f7c8ec7c33c6c004bbafe82';

/** Clears oidc-provider's session cookies, as Auth0 ends its SSO session on logout. */
function clearOpSession(res: Response): void {
  for (const name of ['_session', '_session.sig']) res.clearCookie(name, { path: '/' });
}

/**
 * Auth0 per reference 11.1: trailing-slash issuer at `/`, Auth0 endpoint paths, profile claims in
 * the ID token, namespaced roles/groups, Auth0's authorize extras, and a `/v2/logout` stub.
 */
function auth0Op(endSessionDiscovered: boolean): OpOptions {
  return {
    issuerTrailingSlash: true,
    routes: {
      authorization: '/authorize',
      token: '/oauth/token',
      userinfo: '/userinfo',
      end_session: '/oidc/logout',
      jwks: '/.well-known/jwks.json',
    },
    conformIdTokenClaims: false,
    extraParams: ['audience', 'connection', 'organization', 'invitation', 'screen_hint'],
    claims: { openid: [`${ns}/roles`, `${ns}/groups`] },
    accounts: {
      [subject]: {
        email: 'alice@example.com',
        email_verified: true,
        name: 'Alice Example',
        given_name: 'Alice',
        family_name: 'Example',
        nickname: 'alice.e',
        picture: 'https://s.gravatar.com/avatar/alice.png',
        preferred_username: 'not-used-by-auth0',
        [`${ns}/roles`]: ['admin', 'analyst'],
        [`${ns}/groups`]: ['engineering'],
      },
    },
    setup({ op, app }) {
      op.nextLogin = subject;
      // The RP-logout discovery setting of older tenants is off (https://auth0.com/docs/ja-jp/authenticate/login/logout/log-users-out-of-auth0).
      if (!endSessionDiscovered) {
        op.discoveryOverride = (doc) => {
          delete doc.end_session_endpoint;
          return doc;
        };
      }
      // Legacy logout (https://auth0.com/docs/api/authentication/logout/oidc-logout.md): client_id required, returnTo must be an allowed logout URL.
      app.get('/v2/logout', (req, res) => {
        const client = typeof req.query.client_id === 'string' ? op.getClient(req.query.client_id) : undefined;
        const returnTo = req.query.returnTo;
        if (!client) {
          res.status(400).send('missing or unknown client_id');
          return;
        }
        if (typeof returnTo !== 'string' || !(client.post_logout_redirect_uris ?? []).includes(returnTo)) {
          res.status(400).send('returnTo is not an allowed logout URL');
          return;
        }
        clearOpSession(res);
        res.redirect(302, returnTo);
      });
    },
  };
}

const profile = {
  email: 'alice@example.com',
  email_verified: true,
  name: 'Alice Example',
  given_name: 'Alice',
  family_name: 'Example',
  picture: 'https://s.gravatar.com/avatar/alice.png',
  username: 'alice.e',
  roles: ['admin', 'analyst'],
  groups: ['engineering'],
};

runConformance({
  title: 'auth0 (end_session_endpoint discovered)',
  op: auth0Op(true),
  // `domain` as an origin: the computed issuer is `${op.url}/`, trailing slash kept.
  connector: (op: TestOp) => ({
    type: 'auth0',
    name: 'Auth0',
    domain: op.url,
    claimNamespace: ns,
    ...clientCredentials,
    authorizationParams: { connection: 'Username-Password-Authentication', screen_hint: 'login' },
  }),
  subject,
  profile,
  expectLogoutUrl(url, { op, postLogoutRedirectUri, clientId }) {
    expect(`${url.origin}${url.pathname}`).toBe(`${op.url}/oidc/logout`);
    expect(queryOf(url)).toEqual({ id_token_hint: '<jwt>', post_logout_redirect_uri: postLogoutRedirectUri, client_id: clientId });
    expect(jwtParam(url, 'id_token_hint')).toMatchObject({ sub: subject, iss: op.issuer, aud: clientId });
  },
  extraTests(ctx) {
    test('Auth0 authorize extras pass through unchanged', async () => {
      await ctx().login();
      const authz = ctx().op.authorizationRequests.at(-1)!;
      expect({ connection: authz.get('connection'), screen_hint: authz.get('screen_hint') }).toEqual({
        connection: 'Username-Password-Authentication',
        screen_hint: 'login',
      });
    });

    test('an ID token whose iss lacks the trailing slash is rejected (exact issuer comparison)', async () => {
      const { op } = ctx();
      expect(op.issuer.endsWith('/')).toBe(true);
      op.tamperIdToken = (payload, header) => ({ payload: { ...payload, iss: op.issuer.slice(0, -1) }, header });
      try {
        const res = await ctx().attemptLogin();
        ctx().expectErrorPage(res, 502, 'ID_TOKEN_INVALID', "The identity provider's ID token was rejected.");
      } finally {
        op.tamperIdToken = undefined;
      }
    });

    test('the pinned algorithm holds: an HS256 ID token (signed with the client secret) is refused', async () => {
      const { op } = ctx();
      op.tamperIdToken = (payload, { kid: _kid, ...header }) => ({ payload, header: { ...header, alg: 'HS256' } });
      op.tamperSigningKey = new TextEncoder().encode(DEFAULT_CLIENT_SECRET);
      try {
        const res = await ctx().attemptLogin();
        ctx().expectErrorPage(res, 502, 'ID_TOKEN_INVALID', "The identity provider's ID token was rejected.");
      } finally {
        op.tamperIdToken = undefined;
        op.tamperSigningKey = undefined;
      }
    });
  },
});

runConformance({
  title: 'auth0 (legacy tenant: no end_session_endpoint, /v2/logout)',
  op: auth0Op(false),
  // An explicit `issuer` wins over the domain (custom domains, tests).
  connector: (op: TestOp) => ({
    type: 'auth0',
    name: 'Auth0 legacy',
    domain: 'dev-abc.eu.auth0.com',
    issuer: op.issuer,
    claimNamespace: `${ns}/`,
    ...clientCredentials,
  }),
  subject,
  profile,
  expectLogoutUrl(url, { op, postLogoutRedirectUri, clientId }) {
    expect(`${url.origin}${url.pathname}`).toBe(`${op.url}/v2/logout`);
    expect(queryOf(url)).toEqual({ client_id: clientId, returnTo: postLogoutRedirectUri });
  },
});

describe('auth0 config', () => {
  test('issuer is https://{domain}/ with the trailing slash; an origin keeps its scheme', () => {
    expect(auth0Issuer({ domain: 'dev-abc.eu.auth0.com' })).toBe('https://dev-abc.eu.auth0.com/');
    expect(auth0Issuer({ domain: 'login.example.com/' })).toBe('https://login.example.com/');
    expect(auth0Issuer({ domain: 'http://127.0.0.1:4000' })).toBe('http://127.0.0.1:4000/');
  });

  test('domain is required and must be a host, HS256 needs a secret, http needs allowInsecureRequests', async () => {
    const base = {
      baseUrl: 'https://app.example.com',
      session: { secret: SESSION_SECRET, redis: { url: 'redis://127.0.0.1:1' } },
      tokens: { keys: (await testKeys()) as { keys: Record<string, unknown>[] } },
    };
    const build = (connector: Record<string, unknown>) => () => fedgate({ ...base, connectors: [connector] } as Parameters<typeof fedgate>[0]);
    const problems = (fn: () => unknown): unknown => {
      try {
        fn();
      } catch (err) {
        if (err instanceof ConfigError) return { code: err.code, problems: err.problems };
        throw err;
      }
      throw new Error('no ConfigError');
    };
    expect(problems(build({ id: 'a0', type: 'auth0', clientId: 'x' }))).toEqual({
      code: 'CONFIG_INVALID',
      problems: [{ path: 'connectors[0].domain', message: 'required' }],
    });
    expect(problems(build({ id: 'a0', type: 'auth0', clientId: 'x', domain: 'https://x.auth0.com/path' }))).toMatchObject({
      problems: [{ path: 'connectors[0].domain', message: expect.stringMatching(/^must be a host name/) }],
    });
    expect(problems(build({ id: 'a0', type: 'auth0', clientId: 'x', domain: 'x.auth0.com', idTokenSigningAlg: 'HS256' }))).toEqual({
      code: 'CONFIG_INVALID',
      problems: [{ path: 'connectors[0].idTokenSigningAlg', message: 'HS256 needs a clientSecret (public clients cannot use HMAC)' }],
    });
    expect(problems(build({ id: 'a0', type: 'auth0', clientId: 'x', domain: 'http://x.auth0.com' }))).toEqual({
      code: 'CONFIG_INVALID',
      problems: [{ path: 'connectors[0].issuer', message: 'must be https (http needs allowInsecureRequests, development only)' }],
    });
  });
});
