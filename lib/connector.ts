import type { z } from 'zod';
import type { ClaimMapping } from './claims/schema.js';
import type { ConnectorBaseConfig } from './config/connector-base.js';
import type { Logger } from './logger.js';
import { FedgateError, type ConfigProblem, type ErrorCode } from './errors.js';

/**
 * The connector contract, in the spirit of Dex: the gateway owns `state`, storage and routing;
 * a connector only builds the upstream authorization URL (returning opaque per-login data the
 * gateway stores with the transaction) and later completes the login from the callback
 * parameters and that data, returning a normalized identity. Connectors import no Express and
 * no Redis.
 *
 * Only behaviour lives here. What merely echoes configuration (display name, domains, claim
 * mapping, logout and refresh switches) the gateway reads from the validated connector entry
 * ({@link ConnectorConfig}). Optional behaviour is a capability of its own, checked with a type
 * guard: {@link Refreshable}, {@link UpstreamLogout}, {@link LogoutTokenVerifier},
 * {@link FormPostCallback}, {@link EndpointProvider}.
 */
export interface Connector {
  /** The configured `id`, for status reports. */
  readonly id: string;
  /** The configured `type`, for status reports. */
  readonly type: string;

  /** Builds the authorization URL. `data` is stored server-side with the login transaction. */
  beginLogin(input: BeginLoginInput): Promise<BeginLoginResult>;

  /** Completes the login from the callback; throws a FedgateError with a stable code on failure. */
  completeLogin(input: CompleteLoginInput): Promise<UpstreamIdentity>;

  /** Current discovery state, for readiness reports. Never throws. */
  status(): ConnectorStatus;

  /** Eagerly runs discovery; throws UPSTREAM_UNAVAILABLE when it fails. */
  ready(): Promise<void>;
}

/**
 * Optional capability: upstream refresh. The gateway calls it when the upstream tokens near expiry
 * and the entry's `refresh` is not false.
 */
export interface Refreshable {
  /** Throws REFRESH_REJECTED when the upstream refused the refresh token (the session ends). */
  refresh(input: RefreshInput): Promise<UpstreamIdentity>;
}

/** True when `c` has the {@link Refreshable} capability. */
export function canRefresh(c: Connector): c is Connector & Refreshable {
  return typeof (c as Partial<Refreshable>).refresh === 'function';
}

/**
 * Optional capability: logout continues at the upstream. The gateway uses it when the entry says
 * `logout: "upstream"`.
 */
export interface UpstreamLogout {
  /** Builds the upstream logout URL, or undefined when the upstream has none. */
  buildLogoutUrl(input: LogoutInput): Promise<URL | undefined>;
}

/** True when `c` has the {@link UpstreamLogout} capability. */
export function logsOutUpstream(c: Connector): c is Connector & UpstreamLogout {
  return typeof (c as Partial<UpstreamLogout>).buildLogoutUrl === 'function';
}

/** Optional capability: OIDC Back-Channel Logout 1.0 (https://openid.net/specs/openid-connect-backchannel-1_0.html). */
export interface LogoutTokenVerifier {
  /** Validates a `logout_token`; throws LOGOUT_TOKEN_INVALID when it is not valid. */
  verifyLogoutToken(logoutToken: string): Promise<LogoutTokenClaims>;
}

/** True when `c` has the {@link LogoutTokenVerifier} capability. */
export function verifiesLogoutTokens(c: Connector): c is Connector & LogoutTokenVerifier {
  return typeof (c as Partial<LogoutTokenVerifier>).verifyLogoutToken === 'function';
}

export interface BeginLoginInput {
  /** The gateway's `state` for this transaction (≥128 bits, single use). */
  state: string;
  /** The callback URL for this connector, built from configuration only. */
  redirectUri: string;
  /** An allow-listed, length-limited hint from the client (e-mail address). */
  loginHint?: string;
  /** Extra per-login authorization parameters chosen by the gateway (never by the client). */
  extraParams?: Record<string, string>;
  /**
   * Set when the gateway begins this login because the previous one of the same connector ended
   * with a {@link LoginRestartRequest}: its `restart` value (e.g. `"password-reset"`).
   */
  restart?: string;
  /**
   * The user asked to sign in again, possibly as someone else ("Sign in with another account"):
   * the upstream must authenticate anew instead of reusing its own session (OIDC `prompt=login`,
   * https://openid.net/specs/openid-connect-core-1_0.html#AuthRequest). A connector whose
   * protocol has no such request ignores it.
   */
  reauthenticate?: boolean;
}

/**
 * Thrown by `completeLogin` when the upstream asks for the sign-in to start over in another flow
 * (Azure AD B2C `AADB2C90118`: "forgot password" clicked, restart with the password-reset policy).
 * The gateway then begins a new login for the same connector with the same `returnTo`, passing
 * `restart` in {@link BeginLoginInput}; no session is created. A connector must not request a
 * restart from a login that was itself a restart. Should the restart fail, the error page shows
 * this error (`UPSTREAM_AUTHORIZATION_ERROR`).
 */
export class LoginRestartRequest extends FedgateError {
  /** What the next `beginLogin` receives as `restart`; meaningful to the connector only. */
  readonly restart: string;

  constructor(restart: string, message: string) {
    super('UPSTREAM_AUTHORIZATION_ERROR', message, { detail: `restart requested: ${restart}` });
    this.name = 'LoginRestartRequest';
    this.restart = restart;
  }
}

export interface BeginLoginResult {
  url: URL;
  /** Opaque per-login data (nonce, PKCE verifier...). JSON-serializable strings only. */
  data: Record<string, string>;
}

export interface CompleteLoginInput {
  /** `redirectUri` plus the real callback query string (never built from Host). */
  callbackUrl: URL;
  state: string;
  data: Record<string, string>;
  /**
   * Set when the upstream answered with a form POST ({@link FormPostCallback}): what the
   * connector's `acceptCallbackPost` returned as `data`, handed back in the browser-bound step.
   */
  posted?: Record<string, string>;
}

export interface UpstreamTokens {
  idToken?: string;
  accessToken?: string;
  refreshToken?: string;
  /** Epoch seconds. */
  expiresAt?: number;
  scope?: string;
}

/** What a connector returns from a completed login or refresh. */
export interface UpstreamIdentity {
  /** The upstream subject (ID token `sub`, or the provider's stable id). */
  subject: string;
  /** Upstream claims: ID token claims overlaid by userinfo claims when enabled. */
  claims: Record<string, unknown>;
  /** Upstream tokens; stored server-side only. */
  tokens: UpstreamTokens;
  /** Upstream session id (`sid`), used by back-channel logout. */
  sid?: string;
  /** Opaque strings kept server-side with the session and handed back as `LogoutInput.data`. */
  logoutData?: Record<string, string>;
}

export interface LogoutInput {
  idToken?: string;
  postLogoutRedirectUri: string;
  /** Upstream `sid` etc., as stored in the session. */
  claims?: Record<string, unknown>;
  /** A random single-use value the gateway checks when the browser comes back (RP-Initiated Logout `state`). */
  state?: string;
  /** The `logoutData` the connector returned with the identity, when it did. */
  data?: Record<string, string>;
}

export interface RefreshInput {
  refreshToken: string;
  /**
   * The identity of the last login or refresh as the session stored it (never rebuilt or
   * completed): `subject`, `claims` (the upstream claims, for `iss`/`sub`/`aud` comparisons and to
   * carry over when the refresh response has no ID token, OIDC Core §12.2), `tokens` (the last
   * upstream ID token among them), `sid` and `logoutData`.
   */
  original: UpstreamIdentity;
  /**
   * Stores new upstream tokens (a rotated refresh token) in the session at once. A connector calls
   * it as soon as the token endpoint answered, before any step that may still fail (userinfo...),
   * so a rotated refresh token is never lost. Optional: absent, nothing is stored early.
   */
  saveTokens?(tokens: UpstreamTokens): Promise<void>;
}

export interface LogoutTokenClaims {
  iss: string;
  sub?: string;
  sid?: string;
  jti: string;
  iat: number;
}

export type ConnectorState = 'pending' | 'ready' | 'failed';

export interface ConnectorStatus {
  id: string;
  type: string;
  state: ConnectorState;
  /** Stable error code of the last failure. */
  error?: ErrorCode;
  /** Epoch ms of the last discovery attempt. */
  checkedAt?: number;
}

/** What the gateway hands a connector factory: everything injected, nothing global. */
export interface ConnectorContext {
  fetch: typeof fetch;
  logger: Logger;
  /** Milliseconds since epoch. */
  now: () => number;
  /** Allows http:// upstreams (development and tests only). */
  allowInsecureRequests: boolean;
  /** Per-request upstream timeout, seconds. */
  httpTimeout: number;
  /** Called when the connector's discovery state changes (ready ↔ failed); feeds audit events. */
  onStatusChange?: (status: ConnectorStatus) => void;
  /** The gateway's base URL, e.g. for building post-logout redirect URIs. */
  baseUrl: string;
  /** The gateway's route prefix (`basePath`), for connectors that publish endpoints of their own. */
  basePath?: string;
  /** Folder that relative file paths in the connector's config resolve against. */
  baseDir?: string;
  /** Server-side state the gateway keeps for this connector (Redis in production); keys are namespaced per connector. */
  store?: ConnectorStore;
}

/** The small, TTL-bound key-value surface a connector may use (replay guards). */
export interface ConnectorStore {
  /** Sets `key` only when absent; true when it was absent (the first use of a one-time value). */
  setIfAbsent(key: string, value: string, ttlSeconds: number): Promise<boolean>;
}

/**
 * Optional capability: the upstream answers the login with a cross-site form POST to the callback
 * URL (SAML HTTP-POST binding). Such a POST carries no `SameSite=Lax` cookie, so the gateway splits
 * the callback: `acceptCallbackPost` validates everything that needs no browser (signatures,
 * audience, replay), the gateway keeps its result under a one-time handle and sends the browser on
 * a same-site navigation, where the pending login of that browser is taken and `completeLogin`
 * runs with `posted` set.
 */
export interface FormPostCallback {
  acceptCallbackPost(input: { form: URLSearchParams; callbackUrl: string }): Promise<PostedCallback>;
}

/** What a form-post callback's first, browser-independent half returns. */
export interface PostedCallback {
  /** The gateway `state` the upstream echoed (SAML `RelayState`); absent for an unsolicited response. */
  state?: string;
  /** Unsolicited responses only: where the browser should go afterwards (the gateway sanitizes it). */
  returnTo?: string;
  /** Validated, JSON-serializable result, handed to `completeLogin` as `posted`. */
  data: Record<string, string>;
}

/** True when `c` has the {@link FormPostCallback} capability. */
export function acceptsFormPost(c: Connector): c is Connector & FormPostCallback {
  return typeof (c as Partial<FormPostCallback>).acceptCallbackPost === 'function';
}

/** One route a connector publishes under `basePath` (e.g. SAML metadata and single logout). */
export interface ConnectorEndpoint {
  /** Path below basePath, e.g. `/saml/corp/metadata`. */
  path: string;
  methods: ReadonlyArray<'GET' | 'POST'>;
}

/** A request to a connector endpoint, reduced to what a connector may read. */
export interface EndpointRequest {
  path: string;
  method: 'GET' | 'POST';
  query: URLSearchParams;
  /** The query string exactly as received (signed redirect-binding messages are verified over it). */
  rawQuery: string;
  /** The urlencoded body of a POST. */
  form?: URLSearchParams;
}

/** What the gateway sends for an endpoint; `endSessions` are destroyed first (server-side). */
export type EndpointResponse = ({ kind: 'document'; status: number; contentType: string; body: string } | { kind: 'redirect'; location: string }) & {
  endSessions?: Array<{ upstreamSub: string } | { upstreamSid: string }>;
};

/** Optional capability: routes of the connector's own (SAML SP metadata, SLO). */
export interface EndpointProvider {
  readonly endpoints: readonly ConnectorEndpoint[];
  /** Throws a FedgateError with a stable code on bad input. */
  handleEndpoint(input: EndpointRequest): Promise<EndpointResponse>;
}

/** True when `c` has the {@link EndpointProvider} capability. */
export function providesEndpoints(c: Connector): c is Connector & EndpointProvider {
  return Array.isArray((c as Partial<EndpointProvider>).endpoints) && typeof (c as Partial<EndpointProvider>).handleEndpoint === 'function';
}

/**
 * The keys of a connector entry the gateway reads itself: `type` and `id`, and the optional
 * common keys of `connectorBaseShape` a type may offer (plus `postLogoutRedirectUri`, which
 * types with upstream logout add). A type's schema output must fit this shape.
 */
export type ConnectorConfig = Pick<ConnectorBaseConfig, 'type' | 'id'> &
  Partial<Pick<ConnectorBaseConfig, 'name' | 'domains' | 'claims' | 'logout' | 'refresh' | 'exposeUpstreamTokens'>> & {
    postLogoutRedirectUri?: string | undefined;
  };

/**
 * A connector type: its config schema (usually `connectorBaseShape` extended with the type's own
 * keys) and its factory. The gateway validates every entry of this `type` with `schema` and hands
 * the factory the parsed value. Define one with {@link defineConnectorType}.
 */
export interface ConnectorType<S extends z.ZodType<ConnectorConfig> = z.ZodType<ConnectorConfig>> {
  /** The `type` value of the entries this type handles; unique in the registry. */
  readonly type: string;
  readonly schema: S;
  /**
   * The type's default claim mapping (a vendor preset); the entry's own `claims` overlay it
   * (an entry set to null removes a default). Absent: only the entry's `claims` map.
   */
  claims?(config: z.output<S>): ClaimMapping;
  /** Config-time checks beyond the schema (e.g. HS256 needs a clientSecret); paths start with `at`. */
  validate?(config: z.output<S>, at: string, ctx: { allowInsecureRequests: boolean }): ConfigProblem[];
  /** Builds the connector of one validated entry. Connects to nothing yet (discovery is lazy). */
  create(config: z.output<S>, ctx: ConnectorContext): Connector;
}

/**
 * Declares a connector type. The config type of `claims`, `validate` and `create` is inferred
 * from `schema`, and the result goes into `options.connectorTypes` (or a registry) as it is.
 *
 * @example
 * const acme = defineConnectorType({
 *   type: 'acme',
 *   schema: z.strictObject({ type: z.literal('acme'), ...connectorBaseShape, tenant: z.string() }),
 *   create: (config, ctx) => new AcmeConnector(config, ctx),
 * });
 */
export function defineConnectorType<S extends z.ZodType<ConnectorConfig>>(definition: ConnectorType<S>): ConnectorType<S> {
  return definition;
}

/** Maps a `type` to its connector; the package entry registers the built-in ones. */
export type ConnectorRegistry = ReadonlyMap<string, ConnectorType>;
