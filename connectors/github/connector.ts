import { createHash, randomBytes } from 'node:crypto';
import type {
  BeginLoginInput,
  BeginLoginResult,
  CompleteLoginInput,
  Connector,
  ConnectorContext,
  ConnectorStatus,
  Refreshable,
  RefreshInput,
  UpstreamIdentity,
  UpstreamTokens,
} from '../../lib/connector.js';
import { connectorSettings } from '../../lib/connector-settings.js';
import { FedgateError } from '../../lib/errors.js';
import type { ClaimMapping } from '../../lib/claims/schema.js';
import { limitedFetch } from '../common/limited-fetch.js';
import { UpstreamAuthorizationError } from '../common/errors.js';
import { trimSlash } from '../common/vendor-url.js';
import { apiGet, apiList, tokenRequest, type GithubHttp, type GithubTokens } from './api.js';
import type { GithubConfig } from './schema.js';
import { isRecord } from '../../lib/values.js';

/**
 * Default mapping (https://docs.github.com/en/rest/users/users): the numeric `id` as subject (`login` is
 * mutable), `email_verified` true only for the verified primary address from `/user/emails`,
 * `name ?? login`, `avatar_url`, and `org:team` groups when `teams` is on.
 */
export const githubClaims: ClaimMapping = {
  sub: 'sub',
  email: 'email',
  email_verified: { from: 'email_verified', type: 'boolean', default: false },
  name: { from: ['name', 'login'] },
  picture: 'avatar_url',
  username: 'login',
  groups: { from: 'groups', type: 'string[]' },
};

/** The endpoints of github.com, a GitHub Enterprise Server, or the test overrides. */
export function githubUrls(cfg: Pick<GithubConfig, 'enterpriseUrl' | 'authorizeUrl' | 'tokenUrl' | 'apiBaseUrl'>) {
  // (https://github.com/dexidp/dex/blob/HEAD/connector/github/github.go, https://github.com/nextauthjs/next-auth/blob/HEAD/packages/core/src/providers/github.ts): fixed github.com URLs; GHE at {host}/login/oauth/... and {host}/api/v3.
  const ghe = cfg.enterpriseUrl ? trimSlash(cfg.enterpriseUrl) : undefined;
  return {
    authorize: cfg.authorizeUrl ?? `${ghe ?? 'https://github.com'}/login/oauth/authorize`,
    token: cfg.tokenUrl ?? `${ghe ?? 'https://github.com'}/login/oauth/access_token`,
    api: trimSlash(cfg.apiBaseUrl ?? (ghe ? `${ghe}/api/v3` : 'https://api.github.com')),
  };
}

const invalidResponse = (detail: string) => new FedgateError('UPSTREAM_RESPONSE_INVALID', 'The identity provider sent an invalid response.', { detail });

/**
 * GitHub sign-in: OAuth 2.0 only (no discovery, no ID token, no userinfo), so this connector
 * implements `Connector` directly. PKCE S256 and `state`; the profile comes from the REST API with
 * the access token, which stays opaque. No upstream logout exists: logout is local.
 */
export class GithubConnector implements Connector, Refreshable {
  readonly id: string;
  readonly type: string;
  /** The display name, for messages. */
  readonly name: string;

  readonly #cfg: GithubConfig;
  readonly #ctx: ConnectorContext;
  readonly #urls: ReturnType<typeof githubUrls>;
  readonly #http: GithubHttp;

  constructor(cfg: GithubConfig, ctx: ConnectorContext) {
    this.#cfg = cfg;
    this.#ctx = ctx;
    this.id = cfg.id;
    this.type = cfg.type;
    this.name = connectorSettings(cfg, ctx.baseUrl).name;
    this.#urls = githubUrls(cfg);
    this.#http = { fetch: limitedFetch(ctx.fetch), timeoutMs: ctx.httpTimeout * 1000, userAgent: 'fedgate' };
  }

  status(): ConnectorStatus {
    return { id: this.id, type: this.type, state: 'ready' };
  }

  async ready(): Promise<void> {
    // Nothing to discover.
  }

  /** Default `read:user user:email`, plus `read:org` for teams. */
  get scopes(): readonly string[] {
    return this.#cfg.scopes ?? ['read:user', 'user:email', ...(this.#cfg.teams ? ['read:org'] : [])];
  }

  async beginLogin(input: BeginLoginInput): Promise<BeginLoginResult> {
    // (https://github.blog/changelog/2025-07-14-pkce-support-for-oauth-and-github-app-authentication): PKCE S256 supported (not required) since 2025-07-14; always sent.
    const codeVerifier = randomBytes(32).toString('base64url');
    const url = new URL(this.#urls.authorize);
    const params: Record<string, string> = {
      ...(this.#cfg.authorizationParams ?? {}),
      // GitHub's form of a login hint is `login` (suggested account).
      ...(input.loginHint !== undefined ? { login: input.loginHint } : {}),
      ...(input.extraParams ?? {}),
      client_id: this.#cfg.clientId,
      redirect_uri: input.redirectUri,
      scope: this.scopes.join(' '),
      state: input.state,
      code_challenge: createHash('sha256').update(codeVerifier).digest('base64url'),
      code_challenge_method: 'S256',
    };
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    return { url, data: { codeVerifier } };
  }

  async completeLogin(input: CompleteLoginInput): Promise<UpstreamIdentity> {
    const q = input.callbackUrl.searchParams;
    // GitHub never sends RFC 9207 `iss`: one present means the response came from another provider (mix-up).
    if (q.has('iss')) throw new FedgateError('CALLBACK_PARAMS_INVALID', 'The sign-in response names another issuer.', { detail: 'iss on a GitHub callback' });
    if (q.get('state') !== input.state)
      throw new FedgateError('CALLBACK_PARAMS_INVALID', 'The sign-in response does not match this sign-in.', { detail: 'state mismatch' });
    const error = q.get('error');
    if (error) throw new UpstreamAuthorizationError(this.name, error, q.get('error_description') ?? undefined);
    const code = q.get('code');
    if (!code) throw new FedgateError('CALLBACK_PARAMS_INVALID', 'The sign-in response is missing its code.', { detail: 'code missing' });
    const codeVerifier = input.data.codeVerifier;
    if (!codeVerifier) throw new FedgateError('CALLBACK_STATE_INVALID', 'The sign-in session is incomplete; please start again.');
    const redirectUri = new URL(input.callbackUrl);
    redirectUri.search = '';
    const tokens = await tokenRequest(
      this.#http,
      this.#urls.token,
      this.#tokenBody({ code, redirect_uri: redirectUri.href, code_verifier: codeVerifier }),
      this.#authHeader(),
      'token',
    );
    return this.#identity(tokens);
  }

  /** GitHub Apps with expiring user tokens (`expires_in: 28800`, rotating `ghr_` refresh tokens, (https://docs.github.com/en/developers/apps/refreshing-user-to-server-access-tokens)). */
  async refresh(input: RefreshInput): Promise<UpstreamIdentity> {
    const tokens = await tokenRequest(
      this.#http,
      this.#urls.token,
      this.#tokenBody({ grant_type: 'refresh_token', refresh_token: input.refreshToken }),
      this.#authHeader(),
      'refresh',
    );
    // The old refresh token is spent now: keep the rotated one before /user can fail.
    if (tokens.refreshToken) await input.saveTokens?.({ refreshToken: tokens.refreshToken });
    const identity = await this.#identity(tokens);
    if (identity.subject !== input.original.subject)
      throw new FedgateError('REFRESH_REJECTED', 'The identity provider returned another identity.', { detail: 'refresh: user id changed' });
    if (!identity.tokens.refreshToken) identity.tokens.refreshToken = input.refreshToken;
    return identity;
  }

  async buildLogoutUrl(): Promise<URL | undefined> {
    return undefined;
  }

  #tokenBody(params: Record<string, string>): URLSearchParams {
    const body = new URLSearchParams({ client_id: this.#cfg.clientId, ...params });
    if (this.#cfg.clientSecret && this.#cfg.clientAuthMethod !== 'client_secret_basic') body.set('client_secret', this.#cfg.clientSecret);
    return body;
  }

  #authHeader(): Record<string, string> {
    if (this.#cfg.clientAuthMethod !== 'client_secret_basic' || !this.#cfg.clientSecret) return {};
    const enc = (v: string) => encodeURIComponent(v);
    return { authorization: `Basic ${Buffer.from(`${enc(this.#cfg.clientId)}:${enc(this.#cfg.clientSecret)}`).toString('base64')}` };
  }

  async #identity(tokens: GithubTokens): Promise<UpstreamIdentity> {
    const api = this.#urls.api;
    const userRes = await apiGet(this.#http, api, `${api}/user`, tokens.accessToken);
    if (userRes.status !== 200) {
      throw new FedgateError('UPSTREAM_RESPONSE_INVALID', `${this.name} refused the profile request.`, { detail: `api: /user HTTP ${userRes.status}` });
    }
    const user = userRes.body;
    if (!isRecord(user)) throw invalidResponse('api: /user is not an object');
    // (https://github.com/nextauthjs/next-auth/blob/HEAD/packages/core/src/providers/github.ts): `id` is numeric and stable; `login` is mutable.
    const rawId = user.id;
    const subject =
      typeof rawId === 'number' && Number.isSafeInteger(rawId) && rawId > 0
        ? String(rawId)
        : typeof rawId === 'string' && /^[1-9]\d{0,19}$/.test(rawId)
          ? rawId
          : undefined;
    if (subject === undefined) throw invalidResponse('api: /user has no numeric id');
    const claims: Record<string, unknown> = {
      sub: subject,
      ...(typeof user.login === 'string' ? { login: user.login } : {}),
      ...(typeof user.name === 'string' && user.name ? { name: user.name } : {}),
      ...(typeof user.avatar_url === 'string' ? { avatar_url: user.avatar_url } : {}),
    };
    // only `primary && verified` from /user/emails proves an address; /user's `email` is only a public profile field.
    const emails = await apiList(this.#http, api, '/user/emails', tokens.accessToken);
    const primary = emails?.find((e): e is Record<string, unknown> => isRecord(e) && e.primary === true && e.verified === true && typeof e.email === 'string');
    if (primary) {
      claims.email = primary.email;
      claims.email_verified = true;
    } else {
      if (typeof user.email === 'string' && user.email) claims.email = user.email;
      claims.email_verified = false;
    }
    if (this.#cfg.teams) {
      // (https://github.com/dexidp/dex/blob/HEAD/connector/github/github.go): `org:team`, needs read:org.
      const teams = await apiList(this.#http, api, '/user/teams', tokens.accessToken);
      if (teams === undefined)
        throw new FedgateError('UPSTREAM_RESPONSE_INVALID', `${this.name} refused the team lookup (the read:org scope is needed).`, {
          detail: 'api: /user/teams 403/404',
        });
      claims.groups = teams.flatMap((t) => {
        const org = isRecord(t) && isRecord(t.organization) ? t.organization.login : undefined;
        const slug = isRecord(t) ? t.slug : undefined;
        return typeof org === 'string' && typeof slug === 'string' ? [`${org}:${slug}`] : [];
      });
    }
    const upstream: UpstreamTokens = { accessToken: tokens.accessToken };
    if (tokens.refreshToken) upstream.refreshToken = tokens.refreshToken;
    if (tokens.expiresIn !== undefined) upstream.expiresAt = Math.floor(this.#ctx.now() / 1000) + tokens.expiresIn;
    if (tokens.scope !== undefined) upstream.scope = tokens.scope;
    return { subject, claims, tokens: upstream };
  }
}
