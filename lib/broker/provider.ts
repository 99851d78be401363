import type Provider from 'oidc-provider';
import type { Account, ClientMetadata, Configuration, Grant, KoaContextWithOIDC } from 'oidc-provider';
import type { JWK } from 'jose';
import type { KeySet, SigningAlgorithm } from '../tokens/keys.js';
import { dpopAlgorithms } from '../tokens/dpop.js';
import { createRedisAdapter } from './redis-adapter.js';
import { accountClaims, providerClaimsConfig } from './claims-filter.js';
import type { OpClientConfig } from '../config/op.js';
import { defaultClientScopes, type BrokerSettings } from './config.js';
import { logoutSource, postLogoutSuccessSource, renderError } from './provider-pages.js';
import { installProviderHooks } from './provider-hooks.js';
import type { LogoutChain } from './logout-chain.js';
import { installAtHash } from './at-hash.js';
import { audienceOf, resourceScopesOf, sessionPrincipal, type BrokerRuntime } from './runtime.js';
import type { Req } from '../http/respond.js';

/** Routes of the provider, relative to basePath; discovery lists them as absolute URLs. */
export const providerRoutes = {
  authorization: '/authorize',
  token: '/token',
  end_session: '/end-session',
  revocation: '/revoke',
  pushed_authorization_request: '/par',
  jwks: '/jwks.json',
  userinfo: '/userinfo',
} as const;

/** Cookie names of the provider; distinct from the app's and fedgate's own. */
const cookieNames = { session: 'fedgate_op_session', interaction: 'fedgate_op_interaction', resume: 'fedgate_op_resume' };

function clientMetadata(c: OpClientConfig, alg: SigningAlgorithm): ClientMetadata {
  const method = c.token_endpoint_auth_method ?? (c.client_secret ? 'client_secret_basic' : 'none');
  return {
    client_id: c.client_id,
    ...(c.client_secret !== undefined && method !== 'none' ? { client_secret: c.client_secret } : {}),
    ...(c.client_name !== undefined ? { client_name: c.client_name } : {}),
    application_type: 'web',
    redirect_uris: [...c.redirect_uris],
    post_logout_redirect_uris: [...(c.post_logout_redirect_uris ?? [])],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: method,
    id_token_signed_response_alg: alg,
    scope: [...(c.scopes ?? defaultClientScopes)].join(' '),
    ...(c.backchannel_logout_uri !== undefined ? { backchannel_logout_uri: c.backchannel_logout_uri, backchannel_logout_session_required: true } : {}),
  };
}

/** The account id behind a provider request, wherever oidc-provider keeps it at that point. */
function accountIdOf(ctx: KoaContextWithOIDC): string | undefined {
  const e = ctx.oidc.entities;
  return e.Account?.accountId ?? e.AuthorizationCode?.accountId ?? e.RefreshToken?.accountId ?? ctx.oidc.session?.accountId;
}

/** Local claims of an account: the live fedgate session's when it is this user's, else the stored record. */
async function claimsOf(rt: BrokerRuntime, ctx: KoaContextWithOIDC, sub: string): Promise<Readonly<Record<string, unknown>> | undefined> {
  const live = sessionPrincipal(ctx.req as Req);
  if (live && live.sub === sub) {
    await rt.records.saveAccount(sub, live.claims);
    return live.claims;
  }
  return rt.records.account(sub);
}

/**
 * Builds the oidc-provider instance of broker mode: one issuer (`tokens.issuer`), the gateway's
 * own keys, RFC 9068 JWT access tokens for each client's resource, fedgate's own interactions.
 */
export async function buildProvider(rt: BrokerRuntime, chain: LogoutChain): Promise<Provider> {
  // Loaded on first use: apps without broker mode never load oidc-provider (nor Koa).
  const oidc = await import('oidc-provider');
  const [jwks, keySet] = await Promise.all([rt.ctx.tokens.privateJwks(), rt.ctx.tokens.keySet()]);
  const provider = new oidc.default(rt.ctx.config.tokens.issuer, providerConfiguration(rt, oidc, jwks.keys, keySet));
  // Every URL the provider prints is built from baseUrl: the dispatcher sets these headers from
  // the configuration, never from the request.
  provider.proxy = true;
  installProviderHooks(rt, provider, chain);
  installAtHash(provider);
  return provider;
}

type OidcModule = typeof import('oidc-provider');

/** The provider's whole configuration; each concern is built by a helper below. */
function providerConfiguration(rt: BrokerRuntime, oidc: OidcModule, keys: JWK[], keySet: KeySet): Configuration {
  const { ctx, settings, table } = rt;
  const config = ctx.config;
  const signing = keySet.signing;
  const algs = [...new Set([...keySet.verifying.values()].map((k) => k.alg))];
  return {
    ...(rt.redis ? { adapter: createRedisAdapter(rt.redis, `${config.session.prefix}op:`, ctx.metrics?.redis) } : {}),
    clients: settings.clients.map((c) => clientMetadata(c, signing.alg)),
    jwks: { keys },
    claims: providerClaimsConfig(table),
    scopes: [...new Set(['openid', 'offline_access', ...Object.keys(table), ...Object.keys(config.tokens.scopes)])],
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'none'],
    // Claims requested by scope go into the ID token too: the client's access token is for its API.
    conformIdTokenClaims: false,
    allowOmittingSingleRegisteredRedirectUri: false,
    responseTypes: ['code'],
    subjectTypes: ['public'],
    clientDefaults: {
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: signing.alg,
    },
    cookies: {
      keys: [...config.session.secrets],
      names: cookieNames,
      long: { httpOnly: true, sameSite: 'lax' },
      short: { httpOnly: true, sameSite: 'lax' },
    },
    enabledJWA: {
      idTokenSigningAlgValues: algs,
      requestObjectSigningAlgValues: ['RS256', 'PS256', 'ES256', 'EdDSA'],
      clientAuthSigningAlgValues: ['RS256', 'PS256', 'ES256', 'EdDSA'],
      // The algorithms fedgate's resource side accepts in proofs (lib/tokens/dpop.ts).
      dPoPSigningAlgValues: [...dpopAlgorithms],
    },
    features: providerFeatures(rt, oidc, signing),
    findAccount: async (kctx, sub): Promise<Account | undefined> => {
      const claims = await claimsOf(rt, kctx, sub);
      if (!claims) return undefined;
      const released = accountClaims(claims, sub, table);
      return { accountId: sub, claims: () => released };
    },
    interactions: { url: (_kctx, interaction) => `${config.basePath}/interaction/${interaction.uid}`, policy: loginPolicy(oidc) },
    loadExistingGrant: (kctx) => loadGrant(rt, kctx),
    pkce: { required: (_kctx, client) => client.clientAuthMethod === 'none' },
    rotateRefreshToken: true,
    issueRefreshToken: (_kctx, client) => client.grantTypeAllowed('refresh_token'),
    // Logging out and a client revoking its own tokens (RFC 7009; mod_auth_openidc does it at
    // every logout) end the tokens, not the consent: only the user or the operator withdraws it.
    revokeGrantPolicy: (kctx) => kctx.oidc.route !== 'end_session_confirm' && kctx.oidc.route !== 'revocation',
    clientBasedCORS: (_kctx, origin, client) => origin !== 'null' && (client.redirectUris ?? []).some((u) => URL.parse(u)?.origin === origin),
    routes: providerRoutes,
    ttl: providerTtls(settings),
    formats: { customizers: { jwt: jwtCustomizer(rt) } },
    renderError: renderError(rt),
    fetch: boundedFetch(config.httpTimeout),
  };
}

/** A session of another user (or none) means the provider's own login state is not to be trusted. */
function loginPolicy({ interactionPolicy }: OidcModule): ReturnType<OidcModule['interactionPolicy']['base']> {
  const policy = interactionPolicy.base();
  policy.get('login')!.checks.add(
    new interactionPolicy.Check('fedgate_session', 'End-User authentication is required', 'login_required', (kctx) => {
      const principal = sessionPrincipal(kctx.req as Req);
      return principal === undefined || principal.sub !== kctx.oidc.session?.accountId
        ? interactionPolicy.Check.REQUEST_PROMPT
        : interactionPolicy.Check.NO_NEED_TO_PROMPT;
    }),
    0,
  );
  return policy;
}

function providerFeatures(rt: BrokerRuntime, { errors }: OidcModule, signing: KeySet['signing']): NonNullable<Configuration['features']> {
  return {
    devInteractions: { enabled: false },
    userinfo: { enabled: false },
    introspection: { enabled: false },
    registration: { enabled: false },
    claimsParameter: { enabled: false },
    // A client revokes only its own tokens.
    revocation: { enabled: true, allowedPolicy: (_kctx, client, token) => token.clientId === client.clientId },
    backchannelLogout: { enabled: true },
    // RFC 9449: a token request with a DPoP proof gets a token bound to its key (`cnf.jkt`),
    // which requireAuth() and userinfo then accept only with proofs (lib/guard/dpop.ts).
    dPoP: { enabled: true },
    rpInitiatedLogout: { enabled: true, logoutSource: logoutSource(rt), postLogoutSuccessSource: postLogoutSuccessSource(rt) },
    resourceIndicators: {
      enabled: true,
      defaultResource: (_kctx, client, oneOf) => oneOf ?? audienceOf(rt, client.clientId),
      // Always the client's resource: its access token is an RFC 9068 JWT for its API.
      useGrantedResource: () => true,
      getResourceServerInfo: async (kctx, indicator, client) => {
        if (indicator !== audienceOf(rt, client.clientId)) throw new errors.InvalidTarget();
        return {
          scope: (await resourceScopesFor(rt, kctx, client.clientId)).join(' '),
          audience: indicator,
          accessTokenTTL: rt.settings.ttl.accessToken,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: signing.alg, kid: signing.kid } },
        };
      },
    },
  };
}

/** The local scopes of a client's resource that the account behind the request holds. */
async function resourceScopesFor(rt: BrokerRuntime, kctx: KoaContextWithOIDC, clientId: string): Promise<string[]> {
  const allowed = resourceScopesOf(rt, clientId);
  const sub = accountIdOf(kctx);
  if (!sub || allowed.length === 0) return allowed;
  const claims = await claimsOf(rt, kctx, sub);
  const held = new Set(claims ? rt.ctx.tokens.scopesFor({ ...claims }) : []);
  return allowed.filter((s) => held.has(s));
}

function providerTtls(settings: BrokerSettings): NonNullable<Configuration['ttl']> {
  return {
    AccessToken: settings.ttl.accessToken,
    AuthorizationCode: settings.ttl.authorizationCode,
    IdToken: settings.ttl.idToken,
    RefreshToken: refreshTokenTtl(settings.ttl.refreshToken),
    Interaction: settings.ttl.interaction,
    Session: settings.ttl.session,
    Grant: settings.ttl.grant,
  };
}

type JwtCustomizer = NonNullable<NonNullable<NonNullable<Configuration['formats']>['customizers']>['jwt']>;

function jwtCustomizer(rt: BrokerRuntime): JwtCustomizer {
  return async (kctx, token, parts) => {
    const payload = parts.payload as Record<string, unknown>;
    // RFC 9068 §2.2.3: the scope claim lists what was granted, the OIDC scopes included,
    // so fedgate's userinfo can release claims by the token alone.
    const source = kctx.oidc.entities.AuthorizationCode ?? kctx.oidc.entities.RefreshToken;
    const grant = kctx.oidc.entities.Grant;
    const requested = kctx.oidc.params?.scope !== undefined ? kctx.oidc.requestParamScopes : source?.scopes;
    const oidcScopes = grant && requested ? grant.getOIDCScopeFiltered(requested).split(' ').filter(Boolean) : [];
    const scopes = [
      ...new Set([
        ...oidcScopes,
        ...String(payload.scope ?? '')
          .split(' ')
          .filter(Boolean),
      ]),
    ];
    if (scopes.length) payload.scope = scopes.join(' ');
    const grantId = 'grantId' in token && typeof token.grantId === 'string' ? token.grantId : undefined;
    if (grantId && typeof payload.jti === 'string' && typeof payload.exp === 'number') {
      await rt.records.rememberAccessToken(payload.jti, grantId, payload.exp - Math.floor(Date.now() / 1000) + 60);
    }
  };
}

/**
 * Back-channel logout URIs come from the configuration, not from dynamic registration, so
 * internal addresses are allowed; every request is bounded by the gateway's HTTP timeout.
 */
function boundedFetch(httpTimeout: number): NonNullable<Configuration['fetch']> {
  return (input, init) => {
    const { dispatcher: _ignored, ...rest } = (init ?? {}) as RequestInit & { dispatcher?: unknown };
    return fetch(input, { ...rest, signal: AbortSignal.timeout(httpTimeout * 1000) });
  };
}

/**
 * `ttl.RefreshToken`: the lifetime counts from the first refresh token of the family (`iiat`, which
 * oidc-provider copies to every rotated token), not from the last rotation. Otherwise a stolen
 * refresh token, used before its owner uses it, could be rotated for ever.
 */
function refreshTokenTtl(lifetime: number): (kctx: KoaContextWithOIDC | undefined, token: InstanceType<Provider['RefreshToken']>) => number {
  return (_kctx, token) => {
    const now = Math.floor(Date.now() / 1000);
    const first = typeof token.iiat === 'number' ? token.iiat : now;
    // At least one second: oidc-provider requires a positive TTL; a rotation only happens while
    // the previous token is unexpired, so the family's end is never pushed back by more than that.
    return Math.max(1, first + lifetime - now);
  };
}

/**
 * `loadExistingGrant`: the consent a user gave a client, across sessions, unless withdrawn.
 * Trusted clients get what they ask for without a consent page.
 */
async function loadGrant(rt: BrokerRuntime, kctx: KoaContextWithOIDC): Promise<Grant | undefined> {
  const { client, session } = kctx.oidc;
  const accountId = session?.accountId;
  if (!client || !accountId) return undefined;
  const provider = kctx.oidc.provider;
  const resultGrantId = kctx.oidc.result?.consent?.grantId;
  const grantId = typeof resultGrantId === 'string' ? resultGrantId : await rt.records.grantIdFor(accountId, client.clientId);
  let grant = grantId ? await provider.Grant.find(grantId) : undefined;
  if (grant && (grant.accountId !== accountId || grant.clientId !== client.clientId)) grant = undefined;
  if (rt.clients.get(client.clientId)?.trusted) {
    grant ??= new provider.Grant({ accountId, clientId: client.clientId });
    grant.addOIDCScope([...kctx.oidc.requestParamOIDCScopes]);
    for (const [indicator, server] of Object.entries(kctx.oidc.resourceServers ?? {})) {
      const wanted = [...kctx.oidc.requestParamScopes].filter((s) => server.scopes.has(s));
      if (wanted.length) grant.addResourceScope(indicator, wanted);
    }
    const saved = await grant.save();
    await rt.records.rememberGrant(accountId, client.clientId, saved);
  }
  return grant;
}
