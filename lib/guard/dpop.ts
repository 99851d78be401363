import type { JWTPayload } from 'jose';
import type { Auth } from '../auth.js';
import type { GatewayContext } from '../context.js';
import { FedgateError } from '../errors.js';
import { errorBody, sendJson, type Req, type Res } from '../http/respond.js';
import { boundKeyOf, checkDpopBinding, dpopChallenge, verifyDpopProof, type DpopProof } from '../tokens/dpop.js';

/**
 * DPoP (RFC 9449) for requests to the app and to `{basePath}/userinfo`: which scheme a request
 * uses, whether its token may be used with that scheme, and the 401 answers with their
 * `WWW-Authenticate: DPoP` challenge.
 */

/** `Authorization: Bearer <token>` or `Authorization: DPoP <token>`; scheme names are case-insensitive (RFC 9110 §11.1). */
const authorizationPattern = /^(Bearer|DPoP)[ ]+([^\s]+)[ ]*$/i;

/** A token credential from the Authorization header, with the scheme it came in. */
export interface TokenCredential {
  token: string;
  dpop: boolean;
}

/** Parses the Authorization header; undefined for any other scheme or shape. */
export function tokenCredential(header: string | undefined): TokenCredential | undefined {
  const m = header === undefined ? null : authorizationPattern.exec(header);
  return m ? { token: m[2]!, dpop: m[1]!.toLowerCase() === 'dpop' } : undefined;
}

// One proof check per request, even when both the guard and the broker's userinfo look at it:
// the second look must not see its own jti as a replay.
const proofs = new WeakMap<Req, Promise<DpopProof>>();

/** The request URL as the client addressed it: `baseUrl` plus the path, without query (RFC 9449 §4.3). */
function externalUrl(ctx: GatewayContext, req: Req): string {
  const raw = req.originalUrl ?? req.url ?? '/';
  const q = raw.search(/[?#]/);
  return `${ctx.config.baseUrl}${q === -1 ? raw : raw.slice(0, q)}`;
}

function proofOf(ctx: GatewayContext, req: Req): Promise<DpopProof> {
  let p = proofs.get(req);
  if (!p) {
    p = verifyDpopProof({
      header: req.headers.dpop,
      method: req.method ?? 'GET',
      url: externalUrl(ctx, req),
      now: ctx.now,
      remember: (key, ttl) => ctx.kv.setIfAbsent(key, '1', ttl),
    });
    proofs.set(req, p);
  }
  return p;
}

/**
 * Checks that a verified access token is presented the way its binding demands (RFC 9449 §7.1,
 * §7.2): a DPoP-bound token (`cnf.jkt`) only with the DPoP scheme and a valid proof of its key;
 * the DPoP scheme only with a bound token. Throws `DPOP_PROOF_INVALID` or `DPOP_BINDING_INVALID`.
 */
export async function checkPresentation(ctx: GatewayContext, req: Req, credential: TokenCredential, claims: JWTPayload): Promise<void> {
  if (!credential.dpop) {
    // Accepting it as a bearer token would silently defeat the binding (RFC 9449 §7.2).
    if (boundKeyOf(claims) !== undefined)
      throw new FedgateError('DPOP_BINDING_INVALID', 'DPoP-bound access token presented as a bearer token', { detail: 'bearer downgrade' });
    return;
  }
  checkDpopBinding(await proofOf(ctx, req), credential.token, claims);
}

/** True for a token verified earlier that must never be served as a plain bearer token. */
export function isDpopBound(claims: JWTPayload): boolean {
  return boundKeyOf(claims) !== undefined;
}

// Marks an unauthenticated Auth whose 401 needs the DPoP challenge instead of the Bearer one.
const dpopFailure = Symbol.for('fedgate.dpopFailure');

/** Records that the failure of `auth` concerns the DPoP scheme (the request used it, or the token is bound). */
export function markDpopFailure(auth: Auth): Auth {
  Object.defineProperty(auth, dpopFailure, { value: true, enumerable: false });
  return auth;
}

/**
 * Answers a failed token request with the DPoP challenge when the failure concerns DPoP; returns
 * false (nothing sent) otherwise, so the caller sends its usual Bearer answer.
 */
export function sendDpopFailure(res: Res, auth: Auth): boolean {
  const code = auth.error?.code;
  const marked = (auth as unknown as Record<symbol, unknown>)[dpopFailure] === true;
  if (code === 'DPOP_PROOF_INVALID' || code === 'DPOP_BINDING_INVALID' || (code === 'TOKEN_INVALID' && marked)) {
    sendDpopError(res, code);
    return true;
  }
  return false;
}

const dpopMessages = {
  DPOP_PROOF_INVALID: 'The DPoP proof is not valid.',
  DPOP_BINDING_INVALID: 'The access token is not bound to the key of this DPoP proof.',
  TOKEN_INVALID: 'The access token is not valid.',
} as const;

/** 401 with `WWW-Authenticate: DPoP algs=..., error=...` (RFC 9449 §7.1). */
export function sendDpopError(res: Res, code: 'DPOP_PROOF_INVALID' | 'DPOP_BINDING_INVALID' | 'TOKEN_INVALID', description?: string): void {
  const error = code === 'DPOP_PROOF_INVALID' ? 'invalid_dpop_proof' : 'invalid_token';
  sendJson(res, 401, errorBody(code, dpopMessages[code], { error, ...(description !== undefined ? { error_description: description } : {}) }), {
    'WWW-Authenticate': dpopChallenge(error),
    'Cache-Control': 'no-store',
  });
}
