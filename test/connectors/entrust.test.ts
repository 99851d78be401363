import type { KoaContextWithOIDC } from 'oidc-provider';
import { entrustIssuer } from '../../connectors/entrust/index.js';
import { DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, PLACEHOLDER_REDIRECT_URI, type OpOptions } from '../fixtures/op.js';
import { clientCredentials, queryOf, runConformance } from './conformance.js';

const subject = 'a1b2c3d4-0000-4000-8000-entrust00001';
/** One-shot switch: the next userinfo JWT gets a broken signature. */
let breakUserinfoSignature = false;
/** Content type of every userinfo response the imitation sent. */
const userinfoTypes: string[] = [];

/**
 * Entrust IDaaS per reference 11.5: issuer `/api/oidc`, userinfo signed as a JWT (the app's "User
 * Info Signing Algorithm") (https://mobile2.managed.entrust.com/pkihub/Entrust-Identity-as-a-Service-(IDaaS).250347375.html, https://github.com/guitaoliu/idaas-auth-js), groups and roles as admin-defined
 * custom claims, `acr` in every ID token (https://github.com/curityio/entrust-idaas/blob/HEAD/src/main/java/io/curity/entrust/oidc/authentication/CallbackRequestHandler.java).
 */
const entrustOp: OpOptions = {
  mountPath: '/api/oidc',
  routes: { authorization: '/authorize', token: '/token', userinfo: '/userinfo', jwks: '/jwks', end_session: '/logout' },
  // Profile and custom claims come from the signed userinfo only.
  conformIdTokenClaims: true,
  clients: [
    {
      client_id: DEFAULT_CLIENT_ID,
      client_secret: DEFAULT_CLIENT_SECRET,
      redirect_uris: [PLACEHOLDER_REDIRECT_URI],
      post_logout_redirect_uris: [],
      userinfo_signed_response_alg: 'RS256',
    },
  ],
  features: { jwtUserinfo: { enabled: true } },
  claims: { profile: ['memberOf', 'appRoles'] },
  accounts: {
    [subject]: {
      email: 'alice@example.com',
      email_verified: true,
      name: 'Alice Example',
      given_name: 'Alice',
      family_name: 'Example',
      preferred_username: 'alice',
      memberOf: ['Finance', 'VPN Users'],
      appRoles: ['approver'],
    },
  },
  setup({ op, provider }) {
    op.nextLogin = subject;
    op.loginExtras = { acr: 'knowledge' };
    provider.use(async (ctx: KoaContextWithOIDC, next: () => Promise<void>) => {
      await next();
      if (ctx.oidc?.route === 'userinfo') userinfoTypes.push(ctx.response.type);
      if (ctx.oidc?.route === 'userinfo' && typeof ctx.body === 'string' && breakUserinfoSignature) {
        breakUserinfoSignature = false;
        const jwt = ctx.body;
        ctx.body = `${jwt.slice(0, jwt.lastIndexOf('.') + 1)}${'A'.repeat(342)}`;
      }
    });
  },
};

runConformance({
  title: 'entrust (/api/oidc, signed userinfo)',
  op: entrustOp,
  connector: (op) => ({
    type: 'entrust',
    name: 'Entrust',
    domain: op.url,
    groupsClaim: 'memberOf',
    rolesClaim: 'appRoles',
    userinfoSignedResponseAlg: 'RS256',
    ...clientCredentials,
  }),
  variants: (op) => [
    { id: 'entrust-unpinned', type: 'entrust', domain: op.url, groupsClaim: 'memberOf', ...clientCredentials },
    { id: 'entrust-offline', type: 'entrust', domain: op.url, scopes: ['openid', 'profile', 'email', 'offline_access'], ...clientCredentials },
  ],
  subject,
  profile: {
    email: 'alice@example.com',
    email_verified: true,
    name: 'Alice Example',
    given_name: 'Alice',
    family_name: 'Example',
    username: 'alice',
    groups: ['Finance', 'VPN Users'],
    roles: ['approver'],
  },
  expectLogoutUrl(url, { op, postLogoutRedirectUri, clientId }) {
    expect(`${url.origin}${url.pathname}`).toBe(`${op.url}/api/oidc/logout`);
    expect(queryOf(url)).toEqual({ client_id: clientId, post_logout_redirect_uri: postLogoutRedirectUri });
  },
  extraTests(ctx) {
    test('the profile really came from a signed userinfo JWT', async () => {
      const before = userinfoTypes.length;
      const { auth } = await ctx().login();
      expect(userinfoTypes.slice(before)).toEqual(['application/jwt']);
      expect(auth.claims.groups).toEqual(['Finance', 'VPN Users']);
    });

    test('a userinfo JWT with a broken signature is refused', async () => {
      breakUserinfoSignature = true;
      try {
        const res = await ctx().attemptLogin();
        ctx().expectErrorPage(res, 502, 'UPSTREAM_RESPONSE_INVALID', "The identity provider's userinfo response was rejected.");
      } finally {
        breakUserinfoSignature = false;
      }
    });

    test('with userinfoSignedResponseAlg pinned, a plain-JSON userinfo (downgrade) is refused; unpinned it is accepted', async () => {
      const { op } = ctx();
      const client = op.getClient()!;
      const { userinfo_signed_response_alg: _alg, ...plain } = client;
      await op.setClient(plain);
      try {
        const res = await ctx().attemptLogin();
        ctx().expectErrorPage(res, 502, 'UPSTREAM_RESPONSE_INVALID', "The identity provider's userinfo response was rejected.");
        const { auth } = await ctx().login('entrust-unpinned');
        expect(auth.claims).toMatchObject({ sub: `entrust-unpinned|${subject}`, email: 'alice@example.com', groups: ['Finance', 'VPN Users'] });
        expect(auth.claims).not.toHaveProperty('roles');
      } finally {
        await op.setClient(client);
      }
    });

    test('offline_access is sent with prompt=consent, as the Entrust SDK does', async () => {
      await ctx().login('entrust-offline');
      const authz = ctx().op.authorizationRequests.at(-1)!;
      expect({ scope: authz.get('scope'), prompt: authz.get('prompt') }).toEqual({ scope: 'openid profile email offline_access', prompt: 'consent' });
    });
  },
});

describe('entrust preset', () => {
  test('issuer is https://{domain}/api/oidc', () => {
    expect(entrustIssuer({ domain: 'acme.us.trustedauth.com' })).toBe('https://acme.us.trustedauth.com/api/oidc');
  });
});
