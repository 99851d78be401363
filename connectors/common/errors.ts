import { FedgateError, type ErrorCode } from '../../lib/errors.js';
import { isRecord } from '../../lib/values.js';
import { ResponseTooLargeError } from './limited-fetch.js';

/** An upstream `error=` response, carried to the error page (escaped there). */
export class UpstreamAuthorizationError extends FedgateError {
  readonly error: string;
  readonly errorDescription?: string;

  constructor(connectorName: string, error: string, errorDescription?: string) {
    const safeError = sanitizeParam(error, 64);
    super('UPSTREAM_AUTHORIZATION_ERROR', `${connectorName} did not complete the sign-in (${safeError}).`);
    this.error = safeError;
    const desc = errorDescription === undefined ? undefined : sanitizeParam(errorDescription, 300);
    if (desc !== undefined) this.errorDescription = desc;
  }
}

/** Keeps printable characters only and caps the length; rendering escapes the rest. */
export function sanitizeParam(value: string, max: number): string {
  return value.replace(/[^\x20-\x7E]/g, '').slice(0, max);
}

/**
 * The `code`s of oauth4webapi's errors (https://github.com/panva/oauth4webapi/blob/main/docs/README.md#constants),
 * under the names it exports them by, plus the two openid-client adds for an aborted request.
 * Spelled out because oauth4webapi is openid-client's dependency, not fedgate's; the unit test
 * compares them with the installed library.
 */
export const oauthErrorCodes = {
  WWW_AUTHENTICATE_CHALLENGE: 'OAUTH_WWW_AUTHENTICATE_CHALLENGE',
  RESPONSE_BODY_ERROR: 'OAUTH_RESPONSE_BODY_ERROR',
  AUTHORIZATION_RESPONSE_ERROR: 'OAUTH_AUTHORIZATION_RESPONSE_ERROR',
  INVALID_RESPONSE: 'OAUTH_INVALID_RESPONSE',
  JWT_CLAIM_COMPARISON: 'OAUTH_JWT_CLAIM_COMPARISON_FAILED',
  JWT_TIMESTAMP_CHECK: 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED',
  KEY_SELECTION: 'OAUTH_KEY_SELECTION_FAILED',
  JSON_ATTRIBUTE_COMPARISON: 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED',
  CLIENT_TIMEOUT: 'OAUTH_TIMEOUT',
  CLIENT_ABORT: 'OAUTH_ABORT',
} as const;

const c = oauthErrorCodes;

/** Where the upstream call failed: it decides what a rejected JWT or a refused request means. */
export type UpstreamStage = 'discovery' | 'token' | 'userinfo' | 'refresh';

type Verdict = readonly [ErrorCode, string];

const unreachable: Verdict = ['UPSTREAM_UNAVAILABLE', 'The identity provider is not reachable right now.'];
const sessionEnded: Verdict = ['REFRESH_REJECTED', 'The identity provider ended the session.'];
const invalid: Verdict = ['UPSTREAM_RESPONSE_INVALID', 'The identity provider sent an invalid response.'];
const idTokenRejected: Verdict = ['ID_TOKEN_INVALID', "The identity provider's ID token was rejected."];
// A signed userinfo (Entrust) fails like a JWT does: it is not the ID token that was rejected.
const subjectMismatch: Verdict = ['USERINFO_SUBJECT_MISMATCH', "The identity provider's userinfo does not match the signed-in user."];
const userinfoRejected: Verdict = ['UPSTREAM_RESPONSE_INVALID', "The identity provider's userinfo response was rejected."];
const refused = (error: unknown): Verdict => [
  'UPSTREAM_RESPONSE_INVALID',
  `The identity provider refused the request${typeof error === 'string' ? ` (${sanitizeParam(error, 64)})` : ''}.`,
];

/**
 * Translates openid-client / oauth4webapi / network failures into fedgate's coded errors by the
 * library's `code`, the failing attribute it names and the shape of its `cause` — never by its
 * message, which is not an API. Messages stay generic; the library's message goes to `detail`
 * (it never holds token values). Anything unrecognised is a 502 that grants nothing.
 */
export function translateUpstreamError(err: unknown, stage: UpstreamStage): FedgateError {
  if (err instanceof FedgateError) return err;
  // Not `instanceof Error`: fetch's errors may come from another realm (jest's vm contexts), and
  // a DOMException is no Error there; everything below reads fields it checks first.
  const e: Thrown = typeof err === 'object' && err !== null ? err : { message: String(err) };
  const [code, message] = classify(e, stage);
  return new FedgateError(code, message, { detail: detailOf(e, stage), cause: err });
}

/** What is read from a thrown value; each field is checked before it is used. */
interface Thrown {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  cause?: unknown;
  status?: unknown;
  error?: unknown;
}

function classify(e: Thrown, stage: UpstreamStage): Verdict {
  if (someCause(e, (x) => x instanceof ResponseTooLargeError)) return ['UPSTREAM_RESPONSE_INVALID', 'The identity provider sent a response that is too large.'];
  if (someCause(e, isNetworkFailure)) return unreachable;
  if (stage === 'discovery') return ['UPSTREAM_UNAVAILABLE', "The identity provider's configuration could not be loaded."];
  // A refresh token refused in any shape (400 with or without a JSON body, invalid_grant, reuse
  // detection, 401 invalid_client) cannot succeed on retry: the session ends and the user signs
  // in again, instead of every later request answering 503 (RFC 6749 §5.2).
  if (stage === 'refresh' && refusedStatus(e)) return sessionEnded;
  return classifyCoded(libraryError(e), stage);
}

/** One verdict per oauth4webapi code; INVALID_RESPONSE is told apart by what its `cause` holds. */
function classifyCoded(e: Thrown, stage: UpstreamStage): Verdict {
  const code = codeOf(e);
  switch (code) {
    case c.WWW_AUTHENTICATE_CHALLENGE:
      return refused(challengeError(e));
    case c.RESPONSE_BODY_ERROR:
      return stage === 'refresh' && e.error === 'invalid_grant' ? sessionEnded : refused(e.error);
    case c.AUTHORIZATION_RESPONSE_ERROR: {
      const error = typeof e.error === 'string' ? sanitizeParam(e.error, 64) : 'error';
      return ['UPSTREAM_AUTHORIZATION_ERROR', `The identity provider did not complete the sign-in (${error}).`];
    }
    default:
      break;
  }
  if (stage === 'userinfo') return failingUserinfoMember(code, e.cause) === 'sub' ? subjectMismatch : userinfoRejected;
  switch (code) {
    case c.JWT_CLAIM_COMPARISON:
    case c.JWT_TIMESTAMP_CHECK:
    case c.KEY_SELECTION:
      return idTokenRejected;
    case c.INVALID_RESPONSE:
      return classifyInvalidResponse(e.cause);
    default:
      return invalid;
  }
}

/**
 * OAUTH_INVALID_RESPONSE covers three things, told apart by the `cause` oauth4webapi attaches:
 * the authorization response (`parameters`, or nothing for a repeated or missing parameter), the
 * token response body (`body`, where the first failing member is the one it rejected) and a JWT
 * (`claims`, `header`, the signature inputs, or the compact JWS itself) — at the token endpoint
 * that is the ID token.
 */
function classifyInvalidResponse(cause: unknown): Verdict {
  if (cause === undefined || (isRecord(cause) && cause.parameters instanceof URLSearchParams)) {
    // fedgate matched `state` before the connector ran (lib/flow/callback.ts) and oauth4webapi
    // checks `iss` before `state`: an expected value that was not met is the issuer's.
    return isRecord(cause) && 'expected' in cause
      ? ['CALLBACK_PARAMS_INVALID', 'The sign-in response names another issuer.']
      : ['CALLBACK_PARAMS_INVALID', 'The sign-in response is malformed.'];
  }
  if (isRecord(cause) && isRecord(cause.body)) return failingTokenMember(cause.body) === 'id_token' ? idTokenRejected : invalid;
  return idTokenRejected;
}

/**
 * The userinfo member oauth4webapi names: `attribute` of a comparison, or `sub` when the body it
 * rejected has none (a userinfo without `sub` is no more the signed-in user's than one with another).
 */
function failingUserinfoMember(code: string | undefined, cause: unknown): unknown {
  if (!isRecord(cause)) return undefined;
  if (code === c.JSON_ATTRIBUTE_COMPARISON) return cause.attribute;
  if (code === c.INVALID_RESPONSE && isRecord(cause.body) && !(typeof cause.body.sub === 'string' && cause.body.sub.length > 0)) return 'sub';
  return undefined;
}

/**
 * The token response member oauth4webapi rejects first, checked in its order
 * (processGenericAccessTokenResponse, then the ID token an OpenID code grant requires).
 */
function failingTokenMember(body: Record<string, unknown>): string | undefined {
  const nonEmpty = (v: unknown) => typeof v === 'string' && v.length > 0;
  if (!nonEmpty(body.access_token)) return 'access_token';
  if (!nonEmpty(body.token_type)) return 'token_type';
  if (body.expires_in !== undefined && !(Number(body.expires_in) >= 0)) return 'expires_in';
  if (body.refresh_token !== undefined && !nonEmpty(body.refresh_token)) return 'refresh_token';
  if (body.scope !== undefined && typeof body.scope !== 'string') return 'scope';
  if (!nonEmpty(body.id_token)) return 'id_token';
  return undefined;
}

function codeOf(e: unknown): string | undefined {
  const code = typeof e === 'object' && e !== null ? (e as Thrown).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

/**
 * openid-client rethrows oauth4webapi's error wrapped in its own ClientError with the same
 * `code` (https://github.com/panva/openid-client/blob/v6.x/src/index.ts, `errorHandler`); the
 * wrapped one carries the `cause` that tells what failed.
 */
function libraryError(e: Thrown): Thrown {
  const code = codeOf(e);
  return code !== undefined && codeOf(e.cause) === code ? (e.cause as Thrown) : e;
}

/** Whether `e` or anything on its `cause` chain (at most six deep) satisfies `test`. */
function someCause(e: unknown, test: (x: unknown) => boolean): boolean {
  let current = e;
  for (let depth = 0; depth < 6 && current !== null && typeof current === 'object'; depth += 1) {
    if (test(current)) return true;
    const next: unknown = (current as { cause?: unknown }).cause;
    if (next === current) break;
    current = next;
  }
  return false;
}

const networkCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE']);

/**
 * A request that never got an answer: an aborted or timed-out signal (DOMException names, or
 * openid-client's OAUTH_TIMEOUT / OAUTH_ABORT), a socket error code (Node's, undici's UND_ERR_*),
 * or fetch's network error, a TypeError without a code of its own
 * (https://fetch.spec.whatwg.org/#dom-global-fetch). By name, not instanceof: fetch's TypeError
 * may come from another realm (jest's vm contexts), and openid-client then wraps it in a
 * ClientError without a code. Library misuse TypeErrors carry `ERR_INVALID_ARG_*`.
 */
function isNetworkFailure(x: unknown): boolean {
  if (typeof x !== 'object' || x === null) return false;
  const { name, cause } = x as Thrown;
  const code = codeOf(x);
  if (name === 'AbortError' || name === 'TimeoutError') return true;
  if (code === c.CLIENT_TIMEOUT || code === c.CLIENT_ABORT) return true;
  if (code !== undefined && (networkCodes.has(code) || code.startsWith('UND_ERR_'))) return true;
  return name === 'TypeError' && code === undefined && cause !== undefined;
}

/**
 * Whether the token endpoint answered with a client error (4xx other than 408 and 429, which are
 * worth retrying). oauth4webapi puts the status on its ResponseBodyError and on a challenge error;
 * for a non-conforming response, openid-client's ClientError carries the Response as `cause`.
 */
function refusedStatus(e: Thrown): boolean {
  const cause = typeof e.cause === 'object' && e.cause !== null ? (e.cause as Thrown) : {};
  const status = typeof e.status === 'number' ? e.status : typeof cause.status === 'number' ? cause.status : undefined;
  return status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429;
}

/**
 * The `error` parameter of a WWW-Authenticate challenge (RFC 6750 §3, RFC 6749 §5.2: a token
 * endpoint answers a refused client authentication with 401 and a challenge); oauth4webapi
 * keeps the parsed challenges in `cause`.
 */
function challengeError(e: Thrown): string | undefined {
  if (!Array.isArray(e.cause)) return undefined;
  for (const challenge of e.cause as unknown[]) {
    const error = (challenge as { parameters?: { error?: unknown } } | null)?.parameters?.error;
    if (typeof error === 'string') return sanitizeParam(error, 64);
  }
  return undefined;
}

/** For the logs: the stage, the library's code and its message (and its cause's), capped. */
function detailOf(e: Thrown, stage: UpstreamStage): string {
  const code = codeOf(e);
  const challenge = challengeError(e);
  const message = String(e.message ?? e.name ?? 'unknown');
  const cause = typeof e.cause === 'object' && e.cause !== null && e.cause !== e ? (e.cause as Thrown).message : undefined;
  const text = typeof cause === 'string' ? `${message}: ${cause}` : challenge !== undefined ? `${message} (error=${challenge})` : message;
  return `${stage}: ${code !== undefined ? `${code} ` : ''}${text}`.slice(0, 300);
}
