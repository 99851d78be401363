import { FedgateError, type ErrorCode } from '../../lib/errors.js';
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

const idTokenCodes = new Set(['OAUTH_JWT_CLAIM_COMPARISON_FAILED', 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED', 'OAUTH_KEY_SELECTION_FAILED']);

/**
 * Translates openid-client / oauth4webapi / network failures into fedgate's coded errors.
 * Messages stay generic; the library's message goes to `detail` (it never holds token values).
 */
export function translateUpstreamError(err: unknown, stage: 'discovery' | 'token' | 'userinfo' | 'refresh'): FedgateError {
  if (err instanceof FedgateError) return err;
  const e = err instanceof Error ? err : new Error(String(err));
  const code = (e as { code?: unknown }).code;
  // openid-client wraps oauth4webapi's specific error in a generic one ("invalid response
  // encountered"); the specific message lives on `cause`, so match against both.
  const challenge = challengeError(e);
  const text = e.cause instanceof Error && e.cause !== e ? `${e.message}: ${e.cause.message}`
    : challenge !== undefined ? `${e.message} (${challenge})` : e.message;
  const detail = `${stage}: ${typeof code === 'string' ? `${code} ` : ''}${text}`.slice(0, 300);
  const make = (c: ErrorCode, message: string) => new FedgateError(c, message, { detail, cause: err });
  if (e instanceof ResponseTooLargeError || e.cause instanceof ResponseTooLargeError) return make('UPSTREAM_RESPONSE_INVALID', 'The identity provider sent a response that is too large.');
  if (isNetworkError(e)) return make('UPSTREAM_UNAVAILABLE', 'The identity provider is not reachable right now.');
  if (stage === 'discovery') return make('UPSTREAM_UNAVAILABLE', 'The identity provider\'s configuration could not be loaded.');
  if (stage === 'refresh' && refusedStatus(e)) {
    // A refresh token refused in any shape (400 with or without a JSON body, invalid_grant, reuse
    // detection, 401 invalid_client) cannot succeed on retry: the session ends and the user signs
    // in again, instead of every later request answering 503 (RFC 6749 §5.2).
    return make('REFRESH_REJECTED', 'The identity provider ended the session.');
  }
  if (code === 'OAUTH_WWW_AUTHENTICATE_CHALLENGE' && challenge !== undefined) {
    return make('UPSTREAM_RESPONSE_INVALID', `The identity provider refused the request (${challenge.replace(/^error=/, '')}).`);
  }
  if (code === 'OAUTH_RESPONSE_BODY_ERROR') {
    const oauthError = (e as { error?: unknown }).error;
    if (stage === 'refresh' && oauthError === 'invalid_grant') return make('REFRESH_REJECTED', 'The identity provider ended the session.');
    return make('UPSTREAM_RESPONSE_INVALID', `The identity provider refused the request${typeof oauthError === 'string' ? ` (${sanitizeParam(oauthError, 64)})` : ''}.`);
  }
  if (/"iss" \(issuer\) response parameter/i.test(text)) return make('CALLBACK_PARAMS_INVALID', 'The sign-in response names another issuer.');
  if (stage === 'userinfo' && /sub/i.test(text)) return make('USERINFO_SUBJECT_MISMATCH', 'The identity provider\'s userinfo does not match the signed-in user.');
  // A signed userinfo (Entrust) fails on JWT/signature wording: it is not the ID token that was rejected.
  if (stage === 'userinfo') return make('UPSTREAM_RESPONSE_INVALID', 'The identity provider\'s userinfo response was rejected.');
  if ((typeof code === 'string' && idTokenCodes.has(code)) || /id_token|ID Token|JWS|JWT|nonce|signature|"alg"/i.test(text)) {
    return make('ID_TOKEN_INVALID', 'The identity provider\'s ID token was rejected.');
  }
  return make('UPSTREAM_RESPONSE_INVALID', 'The identity provider sent an invalid response.');
}

/**
 * Whether the token endpoint answered with a client error (4xx other than 408 and 429, which are
 * worth retrying). oauth4webapi puts the status on its ResponseBodyError and on a challenge error;
 * for a non-conforming response, openid-client's ClientError carries the Response as `cause`.
 */
function refusedStatus(e: Error): boolean {
  const own = (e as { status?: unknown }).status;
  const cause = e.cause as { status?: unknown } | undefined;
  const status = typeof own === 'number' ? own : cause !== null && typeof cause === 'object' && typeof cause.status === 'number' ? cause.status : undefined;
  return status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429;
}

/**
 * The `error` parameter of a WWW-Authenticate challenge (RFC 6750 §3, RFC 6749 §5.2: a token
 * endpoint answers a refused client authentication with 401 and a challenge); openid-client
 * keeps the parsed challenges in `cause`.
 */
function challengeError(e: Error): string | undefined {
  if (!Array.isArray(e.cause)) return undefined;
  for (const c of e.cause as unknown[]) {
    const error = (c as { parameters?: { error?: unknown } } | null)?.parameters?.error;
    if (typeof error === 'string') return `error=${sanitizeParam(error, 64)}`;
  }
  return undefined;
}

function isNetworkError(e: Error, depth = 0): boolean {
  if (e.name === 'AbortError' || e.name === 'TimeoutError') return true;
  // By name, not instanceof: fetch's TypeError may come from another realm (jest's vm contexts),
  // and openid-client then wraps it in a ClientError whose cause is that foreign error.
  if (e.name === 'TypeError' && /fetch failed|network/i.test(e.message)) return true;
  const cause = e.cause;
  if (depth < 5 && cause !== null && typeof cause === 'object' && cause !== e && typeof (cause as Error).message === 'string') return isNetworkError(cause as Error, depth + 1);
  return false;
}
