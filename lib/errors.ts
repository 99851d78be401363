/**
 * Every error fedgate throws or renders carries a stable `code` that a `switch` can narrow.
 * `message` is safe to show to a client and never contains a secret, token, code or cookie;
 * `detail` is for logs and is still free of secrets. `cause` is non-enumerable so that logging
 * an error never dumps an upstream response.
 */
export const errorCodes = {
  CONFIG_INVALID: { status: 500, doc: 'The configuration failed validation; `problems` lists every path and message.' },
  CONFIG_FILE_UNREADABLE: {
    status: 500,
    doc: 'The configuration file (or a file it points to, such as `tokens.keys`) could not be read, is not UTF-8, or is not valid JSON (the problem names the line and column).',
  },
  INVALID_ARGUMENT: {
    status: 500,
    doc: "A fedgate function was called with an argument it cannot use (`requireAuth({ scope: 5 })`, an unknown or mistyped `requireAuth` or `fedgate()` option, `revokeSessions({ sub: '' })`): a programming error, thrown at the call as a `TypeError` with this `code`, never an HTTP answer.",
  },
  GATEWAY_NOT_MOUNTED: {
    status: 500,
    doc: '`requireAuth` ran on a request that did not pass through the gateway middleware (`app.use(gateway)` missing or mounted after the route).',
  },
  GATEWAY_CLOSED: { status: 503, doc: 'The gateway was closed with `gateway.close()`.' },
  NOT_FOUND: { status: 404, doc: 'Nothing is served at this path (`gateway.metrics` with metrics off).' },
  METHOD_NOT_ALLOWED: { status: 405, doc: 'A fedgate route was called with a method it does not serve; the `Allow` header lists the ones it does.' },
  CONNECTOR_UNKNOWN: { status: 404, doc: 'No connector with that id is configured.' },
  CONNECTOR_REQUIRED: {
    status: 400,
    doc: 'Several connectors are configured and a non-browser client did not choose one; the response lists the connector ids.',
  },
  LOGIN_HINT_INVALID: { status: 400, doc: '`login_hint` is too long or contains control characters.' },
  CALLBACK_PARAMS_INVALID: {
    status: 400,
    doc: 'The callback query is malformed: `state` missing, neither `code` nor `error`, a parameter repeated or in array/object notation (`code[]=`), a name or value too long, or too many parameters. Refused before any token request.',
  },
  CALLBACK_STATE_INVALID: {
    status: 400,
    doc: 'The callback `state` matches no pending login of this browser: unknown, expired, already used, or from another browser.',
  },
  CALLBACK_CONNECTOR_MISMATCH: {
    status: 400,
    doc: "The callback arrived on another connector's path than the one the login started with (mix-up defence); no token request was made.",
  },
  UPSTREAM_AUTHORIZATION_ERROR: { status: 400, doc: 'The upstream provider answered the login with an `error` (for example `access_denied`).' },
  UPSTREAM_UNAVAILABLE: { status: 503, doc: 'The upstream provider could not be reached or its discovery failed; other connectors keep working.' },
  UPSTREAM_RESPONSE_INVALID: { status: 502, doc: 'The upstream token, userinfo or discovery response was rejected (bad shape, too large, wrong issuer).' },
  ID_TOKEN_INVALID: {
    status: 502,
    doc: "The upstream ID token failed validation (signature, algorithm, `iss`, `aud`, `nonce`, expiry, `iat` older than the connector's `idTokenMaxAge`) or was missing.",
  },
  USERINFO_SUBJECT_MISMATCH: { status: 502, doc: 'The upstream userinfo `sub` differs from the ID token `sub`.' },
  CLAIM_REQUIRED_MISSING: { status: 403, doc: "A claim marked `required` in the connector's mapping is absent from the upstream identity." },
  CLAIMS_INVALID: { status: 502, doc: 'The upstream identity could not be mapped (a value of the wrong type, or the mapped claims exceed the size cap).' },
  SESSION_STORE_UNAVAILABLE: {
    status: 503,
    doc: 'Redis (the session store) failed or timed out. fedgate answers 503 with `Retry-After` and never grants access.',
  },
  UNAUTHORIZED: { status: 401, doc: 'The request carries no valid session or bearer token.' },
  TOKEN_INVALID: { status: 401, doc: 'The bearer token is malformed, too large, expired, not an access token, or fails verification.' },
  DPOP_PROOF_INVALID: {
    status: 401,
    doc: 'A request with `Authorization: DPoP` has no valid DPoP proof: missing or repeated `DPoP` header, wrong `typ` or algorithm, private or mismatched `jwk`, bad signature, `htm`/`htu` of another request, `iat` outside the window, replayed `jti`, or `ath` of another token (RFC 9449 §4.3); the answer carries `WWW-Authenticate: DPoP ... error="invalid_dpop_proof"`.',
  },
  DPOP_BINDING_INVALID: {
    status: 401,
    doc: 'A DPoP-bound access token (`cnf.jkt`) was presented as a plain `Bearer` token, the proof\'s key is not the one the token is bound to, or an unbound token was presented with the `DPoP` scheme (RFC 9449 §7); the answer carries `WWW-Authenticate: DPoP ... error="invalid_token"`.',
  },
  INSUFFICIENT_SCOPE: { status: 403, doc: 'The local access token lacks a scope that `requireAuth({ scope })` asks for.' },
  FORBIDDEN: { status: 403, doc: 'A `claims` or `check` condition of `requireAuth` failed.' },
  CROSS_SITE_REQUEST: {
    status: 403,
    doc: 'A POST, PUT, PATCH or DELETE authenticated by the session cookie came from another origin (`Origin` of another origin, `Origin: null` without `Sec-Fetch-Site: same-origin`, or `Sec-Fetch-Site: cross-site`/`same-site`); `requireAuth({ allowCrossSite: true })` accepts it on one route.',
  },
  LOGOUT_CROSS_SITE: { status: 403, doc: 'A logout request came from another site (`Origin` / `Sec-Fetch-Site`); GET shows a confirmation form instead.' },
  REFRESH_REJECTED: {
    status: 401,
    doc: 'The upstream refused to refresh the session (`invalid_grant` or any other 4xx answer of its token endpoint) or returned another identity; the session has ended.',
  },
  LOGOUT_TOKEN_INVALID: {
    status: 400,
    doc: 'A back-channel `logout_token` failed validation (signature, `iss`, `aud`, `iat`, `events`, `nonce`, replayed `jti`); nothing was changed.',
  },
  SAML_RESPONSE_INVALID: {
    status: 400,
    doc: 'A SAML response was refused: malformed or oversized XML, a DTD, not exactly one assertion, a non-success status, or a wrong `Destination`, `Recipient`, `Audience`, issuer, `InResponseTo` or validity window; no session was created.',
  },
  SAML_SIGNATURE_INVALID: {
    status: 400,
    doc: "A SAML response or message is unsigned where a signature is required, signed by a certificate the IdP's configuration does not list, signed with SHA-1 (unless `allowSha1`), or wrapped (the signature does not cover what would be used).",
  },
  SAML_REPLAYED: { status: 400, doc: 'A SAML assertion (by its `ID`) was presented a second time; assertions are remembered until they expire.' },
  SAML_UNSOLICITED: { status: 400, doc: 'A SAML response answers no AuthnRequest (IdP-initiated) and the connector does not set `allowUnsolicited`.' },
  SAML_LOGOUT_INVALID: {
    status: 400,
    doc: 'A SAML LogoutRequest or LogoutResponse at the SLO endpoint failed validation (signature, issuer, destination, validity); no session was changed.',
  },
  KEYS_UNAVAILABLE: { status: 503, doc: 'No signing key is loaded, so local tokens cannot be minted.' },
  INTERACTION_INVALID: {
    status: 400,
    doc: 'Broker mode: the sign-in or consent step of a client application is unknown, expired, already finished or belongs to another browser; start again from the application.',
  },
  FORM_TOKEN_INVALID: {
    status: 403,
    doc: 'Broker mode: a consent or consents-page form was posted without its one-time token, with a wrong one, or from another site.',
  },
  CLI_USAGE: { status: 400, doc: 'The `fedgate` CLI was called with an unknown command or flag, a missing argument or a bad flag value (exit code 2).' },
  CLI_INPUT_INVALID: {
    status: 400,
    doc: 'A file given to the `fedgate` CLI is missing, unreadable, not JSON or of the wrong shape, or an output file exists without `--force` (exit code 1).',
  },
  INTERNAL_ERROR: { status: 500, doc: 'An unexpected internal failure; details are logged, never sent to the client.' },
} as const satisfies Record<string, { status: number; doc: string }>;

export type ErrorCode = keyof typeof errorCodes;

export interface FedgateErrorOptions {
  /** Extra context for logs; must never contain secrets or tokens. */
  detail?: string;
  /** The underlying error. Kept non-enumerable. */
  cause?: unknown;
  /** Overrides the code's default HTTP status. */
  status?: number;
}

/** Base class of every error fedgate throws. */
export class FedgateError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  declare readonly detail?: string;

  constructor(code: ErrorCode, message: string, options: FedgateErrorOptions = {}) {
    super(message);
    this.name = 'FedgateError';
    this.code = code;
    this.status = options.status ?? errorCodes[code].status;
    if (options.detail !== undefined) {
      Object.defineProperty(this, 'detail', { value: options.detail, enumerable: false });
    }
    if (options.cause !== undefined) {
      Object.defineProperty(this, 'cause', { value: options.cause, enumerable: false, writable: true });
    }
  }
}

/** One problem found in the configuration: a dotted JSON path and what is wrong there. */
export interface ConfigProblem {
  path: string;
  message: string;
}

/** Thrown by `fedgate()` when the configuration is invalid; lists every problem at once. */
export class ConfigError extends FedgateError {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[], code: 'CONFIG_INVALID' | 'CONFIG_FILE_UNREADABLE' = 'CONFIG_INVALID') {
    const lines = problems.map((p) => `${p.path}: ${p.message}`);
    super(code, `Invalid fedgate configuration:\n  ${lines.join('\n  ')}`);
    this.name = 'ConfigError';
    this.problems = Object.freeze([...problems]);
  }
}

/** The `TypeError` of a wrong argument to a fedgate function; `code` lets a `switch` tell it apart. */
export type InvalidArgumentError = TypeError & { readonly code: 'INVALID_ARGUMENT' };

/**
 * API misuse, as Node and oauth4webapi report theirs: a `TypeError` carrying a `code`
 * (https://nodejs.org/api/errors.html#class-typeerror). The message names the function and
 * the argument; it never holds the value, which may be a secret.
 */
export function invalidArgument(message: string): InvalidArgumentError {
  return Object.assign(new TypeError(message), { code: 'INVALID_ARGUMENT' as const });
}

/** Narrows an unknown thrown value to a FedgateError, wrapping anything else as INTERNAL_ERROR. */
export function toFedgateError(err: unknown): FedgateError {
  if (err instanceof FedgateError) return err;
  return new FedgateError('INTERNAL_ERROR', 'Internal error', { cause: err });
}
