import { defaultIdTokenSigningAlg } from '../../lib/config/connector-base.js';
import * as oidc from 'openid-client';
import * as jose from 'jose';
import type {
  BeginLoginInput,
  BeginLoginResult,
  CompleteLoginInput,
  Connector,
  ConnectorContext,
  ConnectorStatus,
  LogoutInput,
  LogoutTokenClaims,
  LogoutTokenVerifier,
  Refreshable,
  RefreshInput,
  UpstreamIdentity,
  UpstreamLogout,
  UpstreamTokens,
} from '../../lib/connector.js';
import { connectorSettings } from '../../lib/connector-settings.js';
import { FedgateError } from '../../lib/errors.js';
import { limitedFetch } from '../common/limited-fetch.js';
import { translateUpstreamError, UpstreamAuthorizationError } from '../common/errors.js';
import type { OidcPreset } from './preset.js';
import { verifyLogoutToken } from './logout-token.js';
import { grantWithOwnIdToken, takeCallbackIssuer, type GrantSetup, type IdTokenValidator } from './own-validation.js';
import type { OidcConfig } from './schema.js';

/** Seconds an upstream ID token may be old at login, and the clock skew allowed on top. */
const defaultIdTokenMaxAge = 300;
const idTokenClockTolerance = 30;

/** Connector config fields the generic implementation reads (vendor schemas add their own). */
export type OidcConnectorConfig = Omit<OidcConfig, 'type' | 'issuer'> & { type: string; issuer?: string | undefined };

const maxBackoffMs = 60_000;

/** Algorithms accepted on an upstream JWT access token a preset asks to verify (never HS*, never none). */
const accessTokenAlgs = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

/** Claims an upstream may never inject into the identity (aggregated/distributed claims are ignored). */
const droppedUpstreamClaims = new Set(['_claim_names', '_claim_sources']);

/**
 * The generic OpenID Connect connector: discovery (lazy, cached, retried with backoff), PKCE S256,
 * state, nonce, RFC 9207 `iss`, a pinned ID token algorithm, signature verification of the ID
 * token even from the token endpoint, finite timeouts, an ID token always required.
 */
export class OidcConnector implements Connector, Refreshable, UpstreamLogout, LogoutTokenVerifier {
  readonly id: string;
  readonly type: string;
  /** The display name, for messages. */
  readonly name: string;

  readonly #cfg: OidcConnectorConfig;
  readonly #ctx: ConnectorContext;
  readonly #preset: OidcPreset;
  #discovery: Promise<oidc.Configuration> | undefined;
  #jwks: jose.JWTVerifyGetKey | undefined;
  /** Set after discovery when the preset validates ID tokens itself (`idTokenValidator`). */
  #own: { validator: IdTokenValidator; setup: GrantSetup } | undefined;
  #failures = 0;
  #retryAt = 0;
  #status: ConnectorStatus;

  constructor(cfg: OidcConnectorConfig, ctx: ConnectorContext, preset: OidcPreset) {
    this.#cfg = cfg;
    this.#ctx = ctx;
    this.#preset = preset;
    this.id = cfg.id;
    this.type = cfg.type;
    this.name = connectorSettings(cfg, ctx.baseUrl).name;
    this.#status = { id: cfg.id, type: cfg.type, state: 'pending' };
  }

  status(): ConnectorStatus {
    return { ...this.#status };
  }

  async ready(): Promise<void> {
    await this.#config();
  }

  async beginLogin(input: BeginLoginInput): Promise<BeginLoginResult> {
    const config = await this.#config();
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const nonce = oidc.randomNonce();
    const params: Record<string, string> = {
      ...(this.#cfg.authorizationParams ?? {}),
      ...(this.#preset.loginParams?.(input.loginHint !== undefined ? { loginHint: input.loginHint } : {}) ?? {}),
      ...(input.extraParams ?? {}),
      redirect_uri: input.redirectUri,
      response_type: 'code',
      scope: (this.#cfg.scopes ?? this.#preset.scopes).join(' '),
      state: input.state,
      nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
    };
    if (input.loginHint !== undefined) params.login_hint = input.loginHint;
    if (input.reauthenticate) params.prompt = 'login';
    return { url: oidc.buildAuthorizationUrl(config, params), data: { codeVerifier, nonce } };
  }

  async completeLogin(input: CompleteLoginInput): Promise<UpstreamIdentity> {
    const config = await this.#config();
    const { codeVerifier, nonce } = input.data;
    if (!codeVerifier || !nonce) throw new FedgateError('CALLBACK_STATE_INVALID', 'The sign-in session is incomplete; please start again.');
    if (this.#own) return this.#completeOwn(config, this.#own, input, codeVerifier, nonce);
    let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
    try {
      tokens = await oidc.authorizationCodeGrant(config, input.callbackUrl, {
        pkceCodeVerifier: codeVerifier,
        expectedState: input.state,
        expectedNonce: nonce,
        idTokenExpected: true,
      });
    } catch (err) {
      if (err instanceof oidc.AuthorizationResponseError) {
        throw new UpstreamAuthorizationError(this.name, err.error, err.error_description);
      }
      throw translateUpstreamError(err, 'token');
    }
    return this.#identityFrom(config, tokens);
  }

  async refresh(input: RefreshInput): Promise<UpstreamIdentity> {
    const config = await this.#config();
    let tokens: Awaited<ReturnType<typeof oidc.refreshTokenGrant>>;
    let own: { idToken: string; claims: Record<string, unknown> } | undefined;
    try {
      if (this.#own) {
        const { validator, setup } = this.#own;
        const r = await grantWithOwnIdToken(setup, (c) => oidc.refreshTokenGrant(c, input.refreshToken));
        tokens = r.result;
        if (r.idToken) own = { idToken: r.idToken, claims: await validator.validate(r.idToken, {}) };
      } else {
        tokens = await oidc.refreshTokenGrant(config, input.refreshToken);
      }
    } catch (err) {
      throw translateUpstreamError(err, 'refresh');
    }
    // Before anything else can fail: a rotated refresh token must not be lost.
    if (tokens.refresh_token) await input.saveTokens?.({ refreshToken: tokens.refresh_token });
    const claims = own?.claims ?? tokens.claims();
    if (claims) {
      // OIDC Core 12.2: a refreshed ID token must keep iss, sub and aud; openid-client does not compare them.
      const orig = input.original.claims;
      const sameAud = JSON.stringify(claims.aud) === JSON.stringify(orig.aud) || claims.aud === this.#cfg.clientId;
      if (claims.iss !== orig.iss || claims.sub !== input.original.subject || !sameAud) {
        throw new FedgateError('ID_TOKEN_INVALID', 'The refreshed ID token belongs to another identity.');
      }
    }
    const identity = await this.#identityFrom(config, tokens, input.original, own);
    if (!identity.tokens.refreshToken) identity.tokens.refreshToken = input.refreshToken;
    return identity;
  }

  async buildLogoutUrl(input: LogoutInput): Promise<URL | undefined> {
    const config = await this.#config();
    const meta = config.serverMetadata();
    if (this.#preset.logoutUrl) return this.#preset.logoutUrl(meta, { ...input, clientId: this.#cfg.clientId });
    if (!meta.end_session_endpoint) return undefined;
    const params: Record<string, string> = { post_logout_redirect_uri: input.postLogoutRedirectUri, client_id: this.#cfg.clientId };
    if (input.idToken) params.id_token_hint = input.idToken;
    if (input.state) params.state = input.state;
    return oidc.buildEndSessionUrl(config, params);
  }

  async verifyLogoutToken(logoutToken: string): Promise<LogoutTokenClaims> {
    const config = await this.#config();
    const keys = this.#upstreamJwks(config.serverMetadata());
    if ('problem' in keys) throw new FedgateError('LOGOUT_TOKEN_INVALID', 'The logout token is invalid.', { detail: keys.problem });
    return verifyLogoutToken(logoutToken, {
      jwks: keys.jwks,
      issuer: this.#preset.issuer,
      clientId: this.#cfg.clientId,
      algorithm: this.#cfg.idTokenSigningAlg ?? defaultIdTokenSigningAlg,
      now: this.#ctx.now(),
    });
  }

  /**
   * Code exchange when the preset validates the ID token itself (an issuer template): the callback
   * `iss` is checked before the token request, the ID token after it (see own-validation.ts).
   */
  async #completeOwn(
    config: oidc.Configuration,
    own: { validator: IdTokenValidator; setup: GrantSetup },
    input: CompleteLoginInput,
    codeVerifier: string,
    nonce: string,
  ): Promise<UpstreamIdentity> {
    const { url, iss } = takeCallbackIssuer(input.callbackUrl, own.validator);
    let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
    let idToken: string | undefined;
    try {
      ({ result: tokens, idToken } = await grantWithOwnIdToken(own.setup, (c) =>
        oidc.authorizationCodeGrant(c, url, {
          pkceCodeVerifier: codeVerifier,
          expectedState: input.state,
          idTokenExpected: false,
        }),
      ));
    } catch (err) {
      if (err instanceof oidc.AuthorizationResponseError) {
        throw new UpstreamAuthorizationError(this.name, err.error, err.error_description);
      }
      throw translateUpstreamError(err, 'token');
    }
    if (!idToken) throw new FedgateError('ID_TOKEN_INVALID', 'The identity provider returned no ID token.');
    const claims = await own.validator.validate(idToken, { nonce });
    if (iss !== undefined && claims.iss !== iss) {
      throw new FedgateError('CALLBACK_PARAMS_INVALID', 'The sign-in response names another issuer.', { detail: 'callback iss differs from the ID token iss' });
    }
    return this.#identityFrom(config, tokens, undefined, { idToken, claims });
  }

  async #identityFrom(
    config: oidc.Configuration,
    tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers,
    previous?: UpstreamIdentity,
    own?: { idToken: string; claims: Record<string, unknown> },
  ): Promise<UpstreamIdentity> {
    const idClaims: Record<string, unknown> | undefined = own?.claims ?? tokens.claims();
    if (!idClaims && !previous) throw new FedgateError('ID_TOKEN_INVALID', 'The identity provider returned no ID token.');
    if (idClaims && !previous) this.#checkIdTokenAge(idClaims);
    // A refresh response without an ID token (OIDC Core §12.2) keeps the previous identity and
    // claims; userinfo, when on, overlays them and must name the same subject.
    let claims: Record<string, unknown> = { ...(idClaims ?? previous?.claims ?? {}) };
    const subject = idClaims ? String(idClaims.sub) : (previous?.subject ?? String(claims.sub));
    if (this.#cfg.userinfo ?? this.#preset.userinfo ?? false) {
      let info: oidc.UserInfoResponse;
      try {
        info = await oidc.fetchUserInfo(config, tokens.access_token, subject);
      } catch (err) {
        throw translateUpstreamError(err, 'userinfo');
      }
      claims = { ...claims, ...info };
    }
    for (const k of droppedUpstreamClaims) delete claims[k];
    const expiresIn = tokens.expiresIn();
    const upstreamTokens: UpstreamTokens = { accessToken: tokens.access_token };
    const idToken = own?.idToken ?? tokens.id_token ?? previous?.tokens.idToken;
    if (idToken) upstreamTokens.idToken = idToken;
    if (tokens.refresh_token) upstreamTokens.refreshToken = tokens.refresh_token;
    if (expiresIn !== undefined) upstreamTokens.expiresAt = Math.floor(this.#ctx.now() / 1000) + expiresIn;
    if (tokens.scope) upstreamTokens.scope = tokens.scope;
    let identity: UpstreamIdentity = { subject, claims, tokens: upstreamTokens };
    if (typeof claims.sid === 'string') identity.sid = claims.sid;
    if (this.#preset.transformIdentity) {
      const accessToken = tokens.access_token;
      identity = await this.#preset.transformIdentity(identity, {
        accessToken,
        ...(idClaims ? { idTokenClaims: { ...idClaims } } : {}),
        verifyAccessToken: () => this.#verifyAccessToken(config, accessToken),
      });
    }
    return identity;
  }

  /**
   * At login the ID token was just minted for this code exchange: one issued long ago (still
   * unexpired) is a replay or a broken upstream clock (OIDC Core §3.1.3.7 step 10 lets the client
   * refuse an `iat` too far in the past). `idTokenMaxAge` seconds, default 300, plus 30 s tolerance.
   */
  #checkIdTokenAge(claims: Record<string, unknown>): void {
    const iat = claims.iat;
    const maxAge = this.#cfg.idTokenMaxAge ?? defaultIdTokenMaxAge;
    const nowSeconds = Math.floor(this.#ctx.now() / 1000);
    if (typeof iat !== 'number' || !Number.isFinite(iat) || iat < nowSeconds - maxAge - idTokenClockTolerance) {
      throw new FedgateError('ID_TOKEN_INVALID', "The identity provider's ID token was rejected.", { detail: 'iat missing or older than idTokenMaxAge' });
    }
  }

  /** Verifies an upstream JWT access token against the discovered JWKS, for presets that read it (Keycloak roles). */
  async #verifyAccessToken(config: oidc.Configuration, accessToken: string | undefined): Promise<Record<string, unknown>> {
    const meta = config.serverMetadata();
    const invalid = (detail: string, cause?: unknown) =>
      new FedgateError('UPSTREAM_RESPONSE_INVALID', `${this.name} sent an access token that could not be verified.`, {
        detail,
        ...(cause !== undefined ? { cause } : {}),
      });
    if (!accessToken) throw invalid('no access token');
    const keys = this.#upstreamJwks(meta);
    if ('problem' in keys) throw invalid(keys.problem);
    try {
      const { payload } = await jose.jwtVerify(accessToken, keys.jwks, {
        issuer: meta.issuer,
        algorithms: accessTokenAlgs,
        currentDate: new Date(this.#ctx.now()),
        clockTolerance: 30,
      });
      return { ...payload };
    } catch (err) {
      // jose messages name claims and algorithms, never token contents.
      throw invalid(`access token: ${err instanceof Error ? err.message : String(err)}`.slice(0, 300), err);
    }
  }

  /** The upstream's public keys: one cached remote JWKS (finite timeout, size cap, https only). */
  #upstreamJwks(meta: oidc.ServerMetadata): { jwks: jose.JWTVerifyGetKey } | { problem: string } {
    if (!meta.jwks_uri) return { problem: 'no jwks_uri in discovery' };
    const uri = new URL(meta.jwks_uri);
    if (uri.protocol !== 'https:' && !this.#ctx.allowInsecureRequests) return { problem: 'jwks_uri is not https' };
    this.#jwks ??= jose.createRemoteJWKSet(uri, {
      timeoutDuration: this.#ctx.httpTimeout * 1000,
      [jose.customFetch]: limitedFetch(this.#ctx.fetch),
    });
    return { jwks: this.#jwks };
  }

  /** Lazy, cached discovery; after a failure, retried with exponential backoff (never crashes). */
  #config(): Promise<oidc.Configuration> {
    if (this.#discovery) return this.#discovery;
    const now = this.#ctx.now();
    if (now < this.#retryAt) {
      return Promise.reject(new FedgateError('UPSTREAM_UNAVAILABLE', `${this.name} is not reachable right now.`, { detail: 'discovery backoff' }));
    }
    const attempt = this.#discover().then(
      (config) => {
        this.#failures = 0;
        const wasFailed = this.#status.state === 'failed';
        this.#status = { id: this.id, type: this.type, state: 'ready', checkedAt: this.#ctx.now() };
        if (wasFailed) this.#ctx.onStatusChange?.(this.status());
        return config;
      },
      (err: unknown) => {
        this.#failures += 1;
        this.#retryAt = this.#ctx.now() + Math.min(maxBackoffMs, 500 * 2 ** (this.#failures - 1));
        this.#discovery = undefined;
        const error = translateUpstreamError(err, 'discovery');
        const wasFailed = this.#status.state === 'failed';
        this.#status = { id: this.id, type: this.type, state: 'failed', error: error.code, checkedAt: this.#ctx.now() };
        if (!wasFailed) this.#ctx.onStatusChange?.(this.status());
        this.#ctx.logger.warn({ event: 'connector.discovery_failed', connector: this.id, code: error.code, detail: error.detail }, 'Upstream discovery failed');
        throw error;
      },
    );
    this.#discovery = attempt;
    return attempt;
  }

  async #discover(): Promise<oidc.Configuration> {
    const cfg = this.#cfg;
    const auth = cfg.clientAuthMethod ?? (cfg.clientSecret ? 'client_secret_basic' : 'none');
    const clientAuth =
      auth === 'none' ? oidc.None() : auth === 'client_secret_post' ? oidc.ClientSecretPost(cfg.clientSecret) : oidc.ClientSecretBasic(cfg.clientSecret);
    const metadata: Partial<oidc.ClientMetadata> = {
      ...(this.#preset.clientMetadata ?? {}),
      id_token_signed_response_alg: cfg.idTokenSigningAlg ?? defaultIdTokenSigningAlg,
      ...(cfg.clientSecret ? { client_secret: cfg.clientSecret } : {}),
    };
    const fetchImpl = limitedFetch(this.#ctx.fetch);
    const execute = [oidc.enableNonRepudiationChecks];
    if (this.#ctx.allowInsecureRequests) execute.unshift(oidc.allowInsecureRequests);
    const timeout = this.#ctx.httpTimeout;
    let config: oidc.Configuration;
    if (this.#preset.discoveryUrl) {
      // The metadata URL differs from the issuer (Azure B2C): fetch it ourselves and pin the issuer.
      config = await this.#discoverFromUrl(new URL(this.#preset.discoveryUrl), metadata, clientAuth, fetchImpl, execute);
    } else {
      config = await oidc.discovery(new URL(this.#preset.issuer), cfg.clientId, metadata, clientAuth, {
        execute,
        timeout,
        [oidc.customFetch]: fetchImpl,
      });
    }
    config.timeout = timeout;
    config[oidc.customFetch] = fetchImpl;
    const meta = config.serverMetadata();
    const validator = this.#preset.idTokenValidator?.(meta);
    this.#own = validator ? { validator, setup: { meta, clientId: cfg.clientId, metadata, clientAuth, execute, timeout, fetch: fetchImpl } } : undefined;
    return config;
  }

  async #discoverFromUrl(
    url: URL,
    metadata: Partial<oidc.ClientMetadata>,
    clientAuth: oidc.ClientAuth,
    fetchImpl: ReturnType<typeof limitedFetch>,
    execute: Array<(c: oidc.Configuration) => void>,
  ): Promise<oidc.Configuration> {
    if (url.protocol !== 'https:' && !this.#ctx.allowInsecureRequests) throw new FedgateError('UPSTREAM_UNAVAILABLE', 'Discovery over http is not allowed.');
    const res = await fetchImpl(url.href, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(this.#ctx.httpTimeout * 1000) });
    if (res.status !== 200) throw new FedgateError('UPSTREAM_UNAVAILABLE', `${this.name} discovery answered ${res.status}.`);
    const meta: unknown = await res.json();
    const issuer = meta && typeof meta === 'object' ? (meta as { issuer?: unknown }).issuer : undefined;
    if (typeof issuer !== 'string' || (issuer !== this.#preset.issuer && !this.#preset.acceptsDiscoveredIssuer?.(issuer))) {
      throw new FedgateError('UPSTREAM_RESPONSE_INVALID', `${this.name} discovery names another issuer than configured.`);
    }
    const config = new oidc.Configuration(meta as oidc.ServerMetadata, this.#cfg.clientId, metadata, clientAuth);
    for (const fn of execute) fn(config);
    return config;
  }
}
