import * as jose from 'jose';
import { FedgateError } from '../../lib/errors.js';
import type { LogoutTokenClaims } from '../../lib/connector.js';

const backchannelEvent = 'http://schemas.openid.net/event/backchannel-logout';
const maxLogoutTokenBytes = 8192;
/** `typ` values of a logout token: `logout+jwt` (RFC 8725 §3.11 explicit typing) or plain `JWT` (RFC 7519 §5.1). */
const acceptedTyp = /^(application\/)?(logout\+jwt|jwt)$/i;

export interface LogoutTokenCheck {
  jwks: jose.JWTVerifyGetKey;
  issuer: string;
  clientId: string;
  algorithm: string;
  /** Current time, epoch ms. */
  now: number;
}

/**
 * Validates an OIDC Back-Channel Logout 1.0 `logout_token` (§2.6): signature with the upstream's
 * JWKS and pinned algorithm, `iss`, `aud`, `iat` (recent), `jti`, the back-channel `events`
 * member, `sid` and/or `sub`, and no `nonce`; `typ` `logout+jwt`, `JWT` or absent. Replay of
 * `jti` is checked by the gateway. https://openid.net/specs/openid-connect-backchannel-1_0.html#LogoutToken
 */
export async function verifyLogoutToken(token: string, check: LogoutTokenCheck): Promise<LogoutTokenClaims> {
  const invalid = (detail: string) => new FedgateError('LOGOUT_TOKEN_INVALID', 'The logout token is invalid.', { detail });
  if (typeof token !== 'string' || token.length === 0 || token.length > maxLogoutTokenBytes) throw invalid('missing or too large');
  if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token)) throw invalid('not a signed compact JWT');
  let header: jose.ProtectedHeaderParameters;
  try {
    header = jose.decodeProtectedHeader(token);
  } catch {
    throw invalid('unreadable header');
  }
  // §2.4 recommends `logout+jwt`, but the typ is optional and real upstreams (glewlwyd) send
  // `JWT`: both are accepted when everything else holds (the `events` member tells a logout token
  // apart from an ID token). Any other explicit type (`at+jwt`...) is another kind of token.
  if (header.typ !== undefined && !acceptedTyp.test(header.typ)) throw invalid('typ is not logout+jwt or JWT');
  if (header.jku !== undefined || header.jwk !== undefined || header.x5u !== undefined) throw invalid('key-carrying header');
  let payload: jose.JWTPayload;
  try {
    ({ payload } = await jose.jwtVerify(token, check.jwks, {
      issuer: check.issuer,
      audience: check.clientId,
      algorithms: [check.algorithm],
      requiredClaims: ['iat', 'jti'],
      maxTokenAge: '5m',
      clockTolerance: 30,
      currentDate: new Date(check.now),
    }));
  } catch (err) {
    throw invalid(err instanceof Error ? `${(err as { code?: string }).code ?? ''} ${err.message}`.slice(0, 200) : 'verification failed');
  }
  const events = payload.events;
  if (!events || typeof events !== 'object' || Array.isArray(events)) throw invalid('events missing');
  const member = (events as Record<string, unknown>)[backchannelEvent];
  if (!member || typeof member !== 'object' || Array.isArray(member)) throw invalid('back-channel logout event missing');
  if ('nonce' in payload) throw invalid('nonce present');
  const sid = typeof payload.sid === 'string' ? payload.sid : undefined;
  const sub = typeof payload.sub === 'string' ? payload.sub : undefined;
  if (!sid && !sub) throw invalid('neither sid nor sub');
  return {
    iss: check.issuer,
    jti: String(payload.jti),
    iat: Number(payload.iat),
    ...(sid ? { sid } : {}),
    ...(sub ? { sub } : {}),
  };
}
