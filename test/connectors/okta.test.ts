import type { KoaContextWithOIDC } from 'oidc-provider';
import { oktaIssuer, oktaPreset } from '../../connectors/okta/index.js';
import { oktaSchema } from '../../connectors/okta/schema.js';
import type { OpOptions, TestOp } from '../fixtures/op.js';
import { clientCredentials, jwtParam, queryOf, runConformance, type VendorCase } from './conformance.js';

const subject = '00u1a2b3c4d5e6f7g8h9';

/**
 * Okta per reference 11.7. `prefix` is the path of the endpoints below the mount: `/v1` on a custom
 * authorization server, `/oauth2/v1` on the org server. Scope claims (groups included) only come
 * from userinfo (`conformIdTokenClaims: true`), and the pre-middleware is as strict as Okta:
 * authorize needs `state` and `nonce`, logout needs `id_token_hint` (https://github.com/okta/okta-developer-docs/blob/HEAD/packages/@okta/vuepress-site/docs/reference/api/oidc/index.md).
 */
function oktaOp(mountPath: string, prefix: string): OpOptions {
  return {
    mountPath,
    routes: {
      authorization: `${prefix}/authorize`,
      token: `${prefix}/token`,
      userinfo: `${prefix}/userinfo`,
      end_session: `${prefix}/logout`,
      jwks: `${prefix}/keys`,
    },
    conformIdTokenClaims: true,
    extraParams: ['idp', 'sessionToken', 'idp_scope'],
    accounts: {
      [subject]: {
        email: 'alice@example.com',
        email_verified: true,
        name: 'Alice Example',
        given_name: 'Alice',
        family_name: 'Example',
        preferred_username: 'alice@example.com',
        groups: ['Everyone', 'Engineering'],
      },
    },
    setup({ op, provider }) {
      op.nextLogin = subject;
      const authorize = provider.pathFor('authorization', { mountPath: '' });
      const logout = provider.pathFor('end_session', { mountPath: '' });
      provider.use(async (ctx: KoaContextWithOIDC, next: () => Promise<void>) => {
        if (ctx.method === 'GET' && ctx.path === authorize && (!ctx.query.state || !ctx.query.nonce)) {
          ctx.status = 400;
          ctx.body = { error: 'invalid_request', error_description: 'state and nonce are required' };
          return;
        }
        if (ctx.method === 'GET' && ctx.path === logout && !ctx.query.id_token_hint) {
          ctx.status = 400;
          ctx.body = { errorCode: 'invalid_request', errorSummary: "The 'id_token_hint' parameter is required." };
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
  username: 'alice@example.com',
  groups: ['Everyone', 'Engineering'],
};

function oktaCase(title: string, op: OpOptions, connector: (op: TestOp) => Record<string, unknown>, logoutPath: string): VendorCase {
  return {
    title,
    op,
    connector: (running) => ({ type: 'okta', name: 'Okta', scopes: ['openid', 'profile', 'email', 'groups'], ...clientCredentials, ...connector(running) }),
    variants: (running) => [{ id: 'okta-no-userinfo', type: 'okta', ...connector(running), ...clientCredentials, userinfo: false }],
    subject,
    profile,
    scope: 'openid profile email groups',
    expectLogoutUrl(url, { op: running, postLogoutRedirectUri, clientId }) {
      expect(`${url.origin}${url.pathname}`).toBe(`${running.url}${logoutPath}`);
      expect(queryOf(url)).toEqual({ id_token_hint: '<jwt>', post_logout_redirect_uri: postLogoutRedirectUri });
      expect(jwtParam(url, 'id_token_hint')).toMatchObject({ sub: subject, iss: running.issuer, aud: clientId });
    },
    extraTests(ctx) {
      test('groups and profile claims come only from userinfo: without it nothing is proven', async () => {
        const { auth } = await ctx().login('okta-no-userinfo');
        // The ID token holds `sub` only; email_verified defaults to false, never true without proof.
        expect(auth.claims).toEqual({ sub: `okta-no-userinfo|${subject}`, email_verified: false });
      });

      test('a userinfo for another subject is rejected', async () => {
        const { op } = ctx();
        op.tamperUserinfo = (body) => ({ ...body, sub: '00uSOMEONEELSE' });
        try {
          const res = await ctx().attemptLogin();
          ctx().expectErrorPage(res, 502, 'USERINFO_SUBJECT_MISMATCH', "The identity provider's userinfo does not match the signed-in user.");
        } finally {
          op.tamperUserinfo = undefined;
        }
      });
    },
  };
}

runConformance(
  oktaCase(
    'okta (custom authorization server "default")',
    oktaOp('/oauth2/default', '/v1'),
    (op) => ({ domain: op.url, authorizationServer: 'default' }),
    '/oauth2/default/v1/logout',
  ),
);

runConformance(oktaCase('okta (org authorization server)', oktaOp('/', '/oauth2/v1'), (op) => ({ domain: op.url }), '/oauth2/v1/logout'));

describe('okta preset', () => {
  test('org and custom authorization server issuers; an explicit issuer wins', () => {
    expect(oktaIssuer({ domain: 'acme.okta.com' })).toBe('https://acme.okta.com');
    expect(oktaIssuer({ domain: 'acme.okta.com', authorizationServer: 'default' })).toBe('https://acme.okta.com/oauth2/default');
    expect(oktaIssuer({ domain: 'acme.okta.com', issuer: 'https://login.acme.com/oauth2/aus1' })).toBe('https://login.acme.com/oauth2/aus1');
  });

  test('without an ID token there is no Okta logout URL (id_token_hint is mandatory)', () => {
    const preset = oktaPreset(oktaSchema.parse({ type: 'okta', id: 'okta', clientId: 'c', domain: 'acme.okta.com' }));
    const meta = { issuer: 'https://acme.okta.com' };
    expect(preset.logoutUrl!(meta, { postLogoutRedirectUri: 'https://app.example.com/', clientId: 'c' })).toBeUndefined();
    expect(preset.logoutUrl!(meta, { idToken: 'h.p.s', postLogoutRedirectUri: 'https://app.example.com/', clientId: 'c' })?.href).toBe(
      'https://acme.okta.com/oauth2/v1/logout?id_token_hint=h.p.s&post_logout_redirect_uri=https%3A%2F%2Fapp.example.com%2F',
    );
  });
});
