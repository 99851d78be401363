import { decodeJwt } from 'jose';
import { FedgateError, toFedgateError } from '../errors.js';
import { noStore, sendJson, type Req, type Res, sendInvalidToken, sendUnavailable } from '../http/respond.js';
import { createAccessTokenVerifier, type AccessTokenVerifier } from '../tokens/verify.js';
import { checkPresentation, sendDpopError, tokenCredential, type TokenCredential } from '../guard/dpop.js';
import { filterClaims } from './claims-filter.js';
import { audienceOf, type BrokerRuntime } from './runtime.js';

/**
 * `{basePath}/userinfo` for the access tokens of broker clients.
 *
 * Precedence: a request whose `Authorization: Bearer` (or `DPoP`) token is a JWT naming a configured broker
 * client (`client_id`) is answered here; everything else — the session cookie, fedgate's own
 * local access tokens — goes on to the local userinfo route, unchanged.
 *
 * oidc-provider's own userinfo endpoint only accepts opaque tokens without an audience, while
 * broker access tokens are RFC 9068 JWTs for the client's API; so fedgate verifies them like any
 * local token (key, `alg`, `typ`, `iss`, `aud`, expiry), then checks that their grant still exists
 * (a withdrawn consent ends them at once) and releases the claims of the granted OIDC scopes.
 */

const compactJwt = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export interface BrokerUserinfo {
  /** Answers and returns true when the request carries a broker client's token. */
  handle(req: Req, res: Res): Promise<boolean>;
  /** CORS preflight for a client's browser code; true when answered. */
  preflight(req: Req, res: Res): boolean;
}

export function createBrokerUserinfo(rt: BrokerRuntime): BrokerUserinfo {
  const verifierFor = createVerifierCache(rt);
  return {
    preflight(req, res) {
      const origin = allowedOrigin(rt, req, rt.clients.keys());
      if (!origin) return false;
      res.statusCode = 204;
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Methods', 'GET, POST');
      res.setHeader('Access-Control-Allow-Headers', 'Authorization');
      res.setHeader('Access-Control-Max-Age', '600');
      res.setHeader('Vary', 'Origin');
      res.end();
      return true;
    },

    async handle(req, res) {
      const credential = tokenCredential(req.headers.authorization);
      if (!credential || !compactJwt.test(credential.token)) return false;
      let clientId: unknown;
      try {
        clientId = decodeJwt(credential.token).client_id;
      } catch {
        return false;
      }
      if (typeof clientId !== 'string' || !rt.clients.has(clientId)) return false;

      noStore(res);
      const origin = allowedOrigin(rt, req, [clientId]);
      if (origin) {
        res.setHeader('Access-Control-Allow-Origin', origin);
        res.setHeader('Vary', 'Origin');
      }
      try {
        await answer(rt, req, res, credential, clientId, await verifierFor(audienceOf(rt, clientId)));
      } catch (err) {
        sendFailure(rt, res, credential.dpop, err);
      }
      return true;
    },
  };
}

/** One access-token verifier per audience, built once the keys are loaded; a failed build is retried. */
function createVerifierCache(rt: BrokerRuntime): (audience: string) => Promise<AccessTokenVerifier> {
  const verifiers = new Map<string, Promise<AccessTokenVerifier>>();
  return (audience) => {
    let v = verifiers.get(audience);
    if (!v) {
      v = rt.ctx.tokens.keySet().then((keySet) => createAccessTokenVerifier({ keySet, issuer: rt.ctx.config.tokens.issuer, audience, now: rt.ctx.now }));
      v.catch(() => verifiers.delete(audience));
      verifiers.set(audience, v);
    }
    return v;
  };
}

/** The request's `Origin` when it is the origin of a redirect URI of one of these clients. */
function allowedOrigin(rt: BrokerRuntime, req: Req, clientIds: Iterable<string>): string | undefined {
  const origin = req.headers.origin;
  if (typeof origin !== 'string' || origin === 'null') return undefined;
  for (const id of clientIds) {
    if ((rt.clients.get(id)?.redirect_uris ?? []).some((u) => URL.parse(u)?.origin === origin)) return origin;
  }
  return undefined;
}

const invalidToken = (res: Res, description: string, dpop: boolean) =>
  dpop ? sendDpopError(res, 'TOKEN_INVALID', description) : sendInvalidToken(res, description);

/** Verifies a broker client's token and releases the claims of its granted OIDC scopes. */
async function answer(rt: BrokerRuntime, req: Req, res: Res, credential: TokenCredential, clientId: string, verify: AccessTokenVerifier): Promise<void> {
  const verified = await verify(credential.token);
  if (verified.claims.client_id !== clientId) throw new FedgateError('TOKEN_INVALID', 'Access token invalid', { detail: 'client_id changed' });
  // A DPoP-bound token only with the DPoP scheme and a proof of its key (RFC 9449 §7.1).
  await checkPresentation(rt.ctx, req, credential, verified.claims);
  const grantId = await rt.records.grantIdOfAccessToken(verified.jti);
  const provider = await rt.provider();
  const grant = grantId ? await provider.Grant.find(grantId) : undefined;
  if (!grant || grant.accountId !== verified.sub || grant.clientId !== clientId) {
    invalidToken(res, 'The access token was revoked.', credential.dpop);
    return;
  }
  const scopes = grant.getOIDCScopeFiltered(new Set(verified.scope)).split(' ').filter(Boolean);
  if (!scopes.includes('openid')) {
    sendJson(
      res,
      403,
      { error: 'insufficient_scope', code: 'INSUFFICIENT_SCOPE', scope: 'openid' },
      { 'WWW-Authenticate': 'Bearer realm="fedgate", error="insufficient_scope", scope="openid"' },
    );
    return;
  }
  const claims = await rt.records.account(verified.sub);
  if (!claims) {
    invalidToken(res, 'The account is no longer available.', credential.dpop);
    return;
  }
  sendJson(res, 200, filterClaims(claims, verified.sub, scopes, rt.table));
}

function sendFailure(rt: BrokerRuntime, res: Res, dpop: boolean, err: unknown): void {
  const e = toFedgateError(err);
  if (e.code === 'DPOP_PROOF_INVALID' || e.code === 'DPOP_BINDING_INVALID' || (e.code === 'TOKEN_INVALID' && dpop)) {
    sendDpopError(res, e.code);
  } else if (e.code === 'TOKEN_INVALID') {
    invalidToken(res, 'The access token is invalid.', false);
  } else {
    rt.ctx.logger.warn({ event: 'broker.userinfo_failed', code: e.code, detail: e.detail }, 'Broker userinfo failed');
    sendUnavailable(res, e.code === 'INTERNAL_ERROR' ? 'SESSION_STORE_UNAVAILABLE' : e.code);
  }
}
