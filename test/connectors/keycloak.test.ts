import type { KoaContextWithOIDC } from 'oidc-provider';
import { keycloakIssuer } from '../../connectors/keycloak/index.js';
import type { OpOptions } from '../fixtures/op.js';
import { clientCredentials, jwtParam, queryOf, runConformance } from './conformance.js';

const subject = '3f6b1a52-8c1e-4a8e-9d3b-5b0a0c7e2f11';
const oidcPath = '/protocol/openid-connect';

/** Claims the imitation adds to JWT access tokens; tests override single ones. */
let accessTokenOverrides: Record<string, unknown> = {};

/**
 * Keycloak per reference 11.8: realm issuer and `/protocol/openid-connect/*` endpoints; roles only
 * in the access token, a JWT for audience "account" with `azp`, `typ: "Bearer"`, `realm_access`
 * and `resource_access` (https://github.com/keycloak/keycloak/issues/14617, https://github.com/keycloak/keycloak/issues/14356); logout refuses post_logout_redirect_uri without
 * id_token_hint or client_id (https://gist.github.com/austincunningham/5be1ebd92bff95bf1a85434125815c4b, https://github.com/mposolda/keycloak-documentation/blob/HEAD/upgrading/topics/keycloak/changes-19_0_2.adoc).
 */
function keycloakOp(mountPath: string): OpOptions {
  return {
    mountPath,
    routes: {
      authorization: `${oidcPath}/auth`,
      token: `${oidcPath}/token`,
      userinfo: `${oidcPath}/userinfo`,
      end_session: `${oidcPath}/logout`,
      jwks: `${oidcPath}/certs`,
      introspection: `${oidcPath}/token/introspect`,
      revocation: `${oidcPath}/revoke`,
    },
    conformIdTokenClaims: false,
    issueRefreshToken: true,
    rotateRefreshToken: true,
    extraParams: ['kc_idp_hint'],
    claims: { profile: ['groups'], openid: ['realm_access', 'resource_access'] },
    accounts: {
      [subject]: {
        email: 'alice@example.com',
        email_verified: true,
        name: 'Alice Example',
        given_name: 'Alice',
        family_name: 'Example',
        preferred_username: 'alice',
        picture: 'https://example.com/alice.png',
        groups: ['/staff/engineering'],
      },
    },
    features: {
      resourceIndicators: {
        enabled: true,
        defaultResource: () => 'urn:keycloak:account',
        getResourceServerInfo: () => ({ scope: '', audience: 'account', accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } }),
        useGrantedResource: () => true,
      },
    },
    configure(config) {
      config.extraTokenClaims = (_ctx, token) =>
        token.kind === 'AccessToken'
          ? {
              azp: token.clientId,
              typ: 'Bearer',
              realm_access: { roles: ['offline_access', 'uma_authorization', 'admin'] },
              resource_access: { [String(token.clientId)]: { roles: ['reports-reader', 'admin'] }, account: { roles: ['manage-account'] } },
              ...accessTokenOverrides,
            }
          : undefined;
    },
    setup({ op, provider }) {
      op.nextLogin = subject;
      const logout = provider.pathFor('end_session', { mountPath: '' });
      provider.use(async (ctx: KoaContextWithOIDC, next: () => Promise<void>) => {
        if (ctx.method === 'GET' && ctx.path === logout && ctx.query.post_logout_redirect_uri && !ctx.query.id_token_hint && !ctx.query.client_id) {
          ctx.status = 400;
          ctx.body = { error: 'invalid_request', error_description: 'Missing parameters: id_token_hint' };
          return;
        }
        await next();
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
  picture: 'https://example.com/alice.png',
  username: 'alice',
  groups: ['/staff/engineering'],
  // realm roles ∪ roles of our client ("app"), never another client's ("account").
  roles: ['offline_access', 'uma_authorization', 'admin', 'reports-reader'],
};

function expectKeycloakLogout(realmPath: string) {
  return (url: URL, { op, postLogoutRedirectUri, clientId }: { op: { url: string; issuer: string }; postLogoutRedirectUri: string; clientId: string }) => {
    expect(`${url.origin}${url.pathname}`).toBe(`${op.url}${realmPath}${oidcPath}/logout`);
    expect(queryOf(url)).toEqual({ id_token_hint: '<jwt>', client_id: clientId, post_logout_redirect_uri: postLogoutRedirectUri });
    expect(jwtParam(url, 'id_token_hint')).toMatchObject({ sub: subject, iss: op.issuer, aud: clientId });
  };
}

runConformance({
  title: 'keycloak (/realms/test, roles in the access token)',
  op: keycloakOp('/realms/test'),
  connector: (op) => ({ type: 'keycloak', name: 'Keycloak', url: op.url, realm: 'test', ...clientCredentials }),
  variants: (op) => [{ id: 'kc-id-token-roles-only', type: 'keycloak', url: op.url, realm: 'test', rolesFromAccessToken: false, ...clientCredentials }],
  subject,
  profile,
  expectLogoutUrl: expectKeycloakLogout('/realms/test'),
  extraTests(ctx) {
    test('an access token issued to another client (azp) is refused', async () => {
      accessTokenOverrides = { azp: 'another-client' };
      try {
        const res = await ctx().attemptLogin();
        ctx().expectErrorPage(res, 502, 'UPSTREAM_RESPONSE_INVALID', 'Keycloak sent an access token for another client or user.');
      } finally {
        accessTokenOverrides = {};
      }
    });

    test('an access token that is not a Keycloak access token (typ) is refused', async () => {
      accessTokenOverrides = { typ: 'Refresh' };
      try {
        const res = await ctx().attemptLogin();
        ctx().expectErrorPage(res, 502, 'UPSTREAM_RESPONSE_INVALID', 'Keycloak sent an access token for another client or user.');
      } finally {
        accessTokenOverrides = {};
      }
    });

    test('an access token with a broken signature is refused', async () => {
      const { op } = ctx();
      op.tamperTokenResponse = (body) => {
        const at = String(body.access_token);
        return { ...body, access_token: `${at.slice(0, at.lastIndexOf('.') + 1)}${'A'.repeat(342)}` };
      };
      try {
        const res = await ctx().attemptLogin();
        ctx().expectErrorPage(res, 502, 'UPSTREAM_RESPONSE_INVALID', 'Keycloak sent an access token that could not be verified.');
      } finally {
        op.tamperTokenResponse = undefined;
      }
    });

    test('roles in the ID token (a mapper with "Add to ID token") are used without reading the access token', async () => {
      const { op } = ctx();
      const account = op.accounts[subject]!;
      op.accounts[subject] = {
        ...account,
        realm_access: { roles: ['id-token-role'] },
        resource_access: { app: { roles: ['client-role'] }, other: { roles: ['x'] } },
      };
      accessTokenOverrides = { azp: 'another-client' }; // would fail if the access token were read
      try {
        const { auth } = await ctx().login();
        expect(auth.claims.roles).toEqual(['id-token-role', 'client-role']);
      } finally {
        op.accounts[subject] = account;
        accessTokenOverrides = {};
      }
    });

    test('rolesFromAccessToken: false leaves roles out when the ID token has none', async () => {
      const { auth } = await ctx().login('kc-id-token-roles-only');
      const { roles: _roles, ...withoutRoles } = profile;
      expect(auth.claims).toEqual({ ...withoutRoles, sub: `kc-id-token-roles-only|${subject}` });
    });

    test('the imitated logout is as strict as Keycloak: post_logout_redirect_uri alone is refused', async () => {
      const res = await fetch(`${ctx().op.issuer}${oidcPath}/logout?post_logout_redirect_uri=${encodeURIComponent(`${ctx().stack.url}/`)}`);
      expect(res.status).toBe(400);
    });
  },
});

runConformance({
  title: 'keycloak (legacy /auth prefix)',
  op: keycloakOp('/auth/realms/test'),
  connector: (op) => ({ type: 'keycloak', name: 'Keycloak legacy', url: `${op.url}/auth/`, realm: 'test', ...clientCredentials }),
  subject,
  profile,
  expectLogoutUrl: expectKeycloakLogout('/auth/realms/test'),
});

describe('keycloak preset', () => {
  test('issuer is {url}/realms/{realm}, with or without the legacy /auth prefix', () => {
    expect(keycloakIssuer({ url: 'https://sso.example.com', realm: 'acme' })).toBe('https://sso.example.com/realms/acme');
    expect(keycloakIssuer({ url: 'https://sso.example.com/auth/', realm: 'acme' })).toBe('https://sso.example.com/auth/realms/acme');
  });
});
