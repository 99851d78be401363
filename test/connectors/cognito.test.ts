import { createServer } from 'node:http';
import express from 'express';
import { fedgate, ConfigError } from '../../index.js';
import { cognitoIssuer } from '../../connectors/cognito/index.js';
import type { OpOptions } from '../fixtures/op.js';
import { closeServer, listenEphemeral } from '../fixtures/ports.js';
import { SESSION_SECRET, testKeys } from '../fixtures/stack.js';
import { clientCredentials, queryOf, runConformance } from './conformance.js';

const poolId = 'eu-west-1_TEST';
const subject = '7c1e3c9a-1b2d-4e5f-8a9b-0c1d2e3f4a5b';
/** Origin of the imitated hosted UI domain (second host), set when the OP starts. */
let hosted = '';

/**
 * Cognito per reference 11.2: the issuer host `/{poolId}` serves discovery and JWKS, while the
 * OAuth endpoints and `/logout` live on a second host, the hosted UI domain, where the same
 * provider is mounted at `/` (https://github.com/paulmboyce/cdk-cf-cognito-site/blob/HEAD/notes.md, https://github.com/localstack/localstack/issues/12914). Profile claims are in the ID token;
 * userInfo sends `email_verified` as a string (https://github.com/zitadel/oidc/pull/139, https://github.com/pomerium/pomerium/pull/792).
 */
const cognitoOp: OpOptions = {
  mountPath: `/${poolId}`,
  routes: {
    authorization: '/oauth2/authorize',
    token: '/oauth2/token',
    userinfo: '/oauth2/userInfo',
    revocation: '/oauth2/revoke',
    jwks: '/.well-known/jwks.json',
  },
  conformIdTokenClaims: false,
  claims: { openid: ['cognito:username', 'cognito:groups', 'cognito:roles', 'custom:tenant', 'token_use', 'username'] },
  accounts: {
    [subject]: {
      email: 'alice@example.com',
      email_verified: true,
      name: 'Alice Example',
      given_name: 'Alice',
      family_name: 'Example',
      'cognito:username': 'alice',
      'cognito:groups': ['admins', 'readers'],
      'cognito:roles': ['arn:aws:iam::123456789012:role/Admins'],
      'custom:tenant': 'acme',
      token_use: 'id',
    },
  },
  userinfoOverrides: { [subject]: { email_verified: 'true', username: 'alice', token_use: undefined } },
  async setup({ op, provider }) {
    op.nextLogin = subject;
    const app = express();
    // Cognito's /logout: client_id required, logout_uri must be a registered sign-out URL,
    // post_logout_redirect_uri and id_token_hint ignored (https://github.com/ITfoxtec/FoxIDs/issues/961, https://github.com/openid/AppAuth-Android/issues/697).
    app.get('/logout', (req, res) => {
      const client = typeof req.query.client_id === 'string' ? op.getClient(req.query.client_id) : undefined;
      const logoutUri = req.query.logout_uri;
      if (!client) {
        res.status(400).send("Required String parameter 'client_id' is not present");
        return;
      }
      if (typeof logoutUri !== 'string' || !(client.post_logout_redirect_uris ?? []).includes(logoutUri)) {
        res.status(400).send('Invalid logout_uri');
        return;
      }
      for (const name of ['_session', '_session.sig']) res.clearCookie(name, { path: '/' });
      res.redirect(302, logoutUri);
    });
    // Interaction redirects are relative, so the browser stays on the hosted domain.
    app.get(`/${poolId}/interaction/:uid`, (req, res) => op.handleInteraction(req, res));
    app.use('/', provider.callback());
    const server = createServer(app);
    hosted = `http://127.0.0.1:${await listenEphemeral(server)}`;
    op.discoveryOverride = (doc) => ({
      ...doc,
      authorization_endpoint: `${hosted}/oauth2/authorize`,
      token_endpoint: `${hosted}/oauth2/token`,
      userinfo_endpoint: `${hosted}/oauth2/userInfo`,
      revocation_endpoint: `${hosted}/oauth2/revoke`,
      end_session_endpoint: `${hosted}/logout`,
      response_types_supported: ['code', 'token'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    });
    return () => closeServer(server);
  },
};

const profile = {
  email: 'alice@example.com',
  email_verified: true,
  name: 'Alice Example',
  given_name: 'Alice',
  family_name: 'Example',
  username: 'alice',
  groups: ['admins', 'readers'],
};

runConformance({
  title: 'cognito (issuer host + hosted UI domain)',
  op: cognitoOp,
  connector: (op) => ({
    type: 'cognito',
    name: 'Cognito',
    region: 'eu-west-1',
    userPoolId: poolId,
    domain: hosted,
    issuer: op.issuer,
    userinfo: true,
    ...clientCredentials,
  }),
  variants: (op) => [
    { id: 'cognito-id-token', type: 'cognito', region: 'eu-west-1', userPoolId: poolId, domain: hosted, issuer: op.issuer, ...clientCredentials },
  ],
  subject,
  profile,
  scope: 'openid email profile',
  expectLogoutUrl(url, { postLogoutRedirectUri, clientId }) {
    expect(`${url.origin}${url.pathname}`).toBe(`${hosted}/logout`);
    expect(queryOf(url)).toEqual({ client_id: clientId, logout_uri: postLogoutRedirectUri });
  },
  extraTests(ctx) {
    test('the OAuth endpoints are used on the hosted domain, discovery and JWKS on the issuer host', async () => {
      const { op } = ctx();
      const start = op.requests.length;
      const tokenRequests = op.tokenRequests.length;
      await ctx().login('cognito-id-token');
      // The issuer host saw discovery and JWKS only; authorize and token ran on the hosted domain.
      const issuerHostPaths = op.requests.slice(start).map((r) => r.path.split('?')[0]);
      expect(issuerHostPaths.length).toBeGreaterThan(0);
      for (const path of issuerHostPaths) expect([`/${poolId}/.well-known/openid-configuration`, `/${poolId}/.well-known/jwks.json`]).toContain(path);
      expect(op.tokenRequests.length).toBe(tokenRequests + 1);
    });

    test('ID token only (default): the boolean email_verified and cognito:* claims map the same way', async () => {
      const { auth } = await ctx().login('cognito-id-token');
      expect(auth.claims).toEqual({ ...profile, sub: `cognito-id-token|${subject}` });
    });

    test('a userInfo email_verified "false" string is coerced to false, overriding the ID token', async () => {
      const { op } = ctx();
      op.userinfoOverrides[subject] = { ...op.userinfoOverrides[subject], email_verified: 'false' };
      try {
        const { auth } = await ctx().login();
        expect(auth.claims.email_verified).toBe(false);
      } finally {
        op.userinfoOverrides[subject] = { ...op.userinfoOverrides[subject], email_verified: 'true' };
      }
    });

    test('the imitated /logout is as strict as Cognito: no client_id, or an unregistered logout_uri, is refused', async () => {
      const noClient = await fetch(`${hosted}/logout?logout_uri=${encodeURIComponent(`${ctx().stack.url}/`)}`, { redirect: 'manual' });
      const badUri = await fetch(`${hosted}/logout?client_id=${clientCredentials.clientId}&logout_uri=https%3A%2F%2Fevil.example%2F`, { redirect: 'manual' });
      expect([noClient.status, badUri.status]).toEqual([400, 400]);
    });
  },
});

describe('cognito config', () => {
  test('issuer on cognito-idp.{region}.amazonaws.com/{userPoolId}', () => {
    expect(cognitoIssuer({ region: 'eu-west-1', userPoolId: 'eu-west-1_AbCdEf123' })).toBe('https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123');
  });

  test('a pool id from another region, and an http hosted domain without allowInsecureRequests, are refused', async () => {
    const config = {
      baseUrl: 'https://app.example.com',
      session: { secret: SESSION_SECRET, redis: { url: 'redis://127.0.0.1:1' } },
      tokens: { keys: (await testKeys()) as { keys: Record<string, unknown>[] } },
      connectors: [{ id: 'cog', type: 'cognito', clientId: 'x', region: 'us-east-1', userPoolId: 'eu-west-1_AbCdEf123', domain: 'http://auth.example.com' }],
    };
    let error: unknown;
    try {
      fedgate(config as Parameters<typeof fedgate>[0]);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect({ code: (error as ConfigError).code, problems: (error as ConfigError).problems }).toEqual({
      code: 'CONFIG_INVALID',
      problems: [
        { path: 'connectors[0].userPoolId', message: 'must belong to region "us-east-1"' },
        { path: 'connectors[0].domain', message: 'must be https (http needs allowInsecureRequests, development only)' },
      ],
    });
  });
});
