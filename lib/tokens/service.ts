import type { ResolvedConfig } from '../config/load.js';
import { FedgateError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { SessionAuth } from '../session/state.js';
import { loadKeySet, type KeySet } from './keys.js';
import { createTokenMinter, type TokenMinter } from './mint.js';
import { createAccessTokenVerifier, type AccessTokenVerifier, type VerifiedAccessToken } from './verify.js';
import { computeScopes } from './scopes.js';
import { buildDiscoveryDocument, publicJwks } from './metadata.js';
import type { JWK } from 'jose';

export interface LocalTokens {
  idToken: string;
  accessToken: string;
  /** Epoch seconds: the earlier of both expiries. */
  expiresAt: number;
}

/** Keys, minting, verification and metadata of the local issuer, behind one lazy handle. */
export interface TokenService {
  ready(): Promise<void>;
  scopesFor(claims: Record<string, unknown>): string[];
  /** Local tokens of a session, cached in-process per session and claim revision until near expiry. */
  tokensFor(auth: SessionAuth): Promise<LocalTokens>;
  verifyAccessToken(token: string): Promise<VerifiedAccessToken>;
  /** Synchronous cache lookup of a previously verified, unexpired access token. */
  peekAccessToken(token: string): VerifiedAccessToken | undefined;
  jwks(): Promise<object>;
  discovery(): Promise<object>;
  /** Drops cached tokens of a session (logout). */
  forget(sid: string): void;
  /** The loaded key set (broker mode verifies its clients' access tokens with it). */
  keySet(): Promise<KeySet>;
  /** A copy of the private JWKS, signing key first (broker mode configures oidc-provider with it). */
  privateJwks(): Promise<{ keys: JWK[] }>;
}

/** Re-mint this long before expiry so a token handed out is never about to die. */
const refreshMarginSeconds = 30;
const maxCachedSessions = 10_000;

export function createTokenService(config: ResolvedConfig, deps: { logger: Logger; now: () => number; nodeEnv?: string }): TokenService {
  let keySetPromise: Promise<KeySet> | undefined;
  let minter: TokenMinter | undefined;
  let verifier: AccessTokenVerifier | undefined;
  const cache = new Map<string, LocalTokens & { key: string }>();
  const t = config.tokens;

  const keys = (): Promise<KeySet> => {
    keySetPromise ??= loadKeySet({
      ...(t.keys !== undefined ? { keys: t.keys as string | { keys: object[] } } : {}),
      insecureEphemeralKeys: t.insecureEphemeralKeys,
      baseDir: config.baseDir,
      ...(deps.nodeEnv !== undefined ? { nodeEnv: deps.nodeEnv } : {}),
      logger: deps.logger,
    }).then((ks) => {
      minter = createTokenMinter({ keySet: ks, issuer: t.issuer, audience: t.audience, accessTokenTtl: t.accessTokenTtl, idTokenTtl: t.idTokenTtl, now: deps.now });
      verifier = createAccessTokenVerifier({ keySet: ks, issuer: t.issuer, audience: t.audience, now: deps.now });
      return ks;
    });
    return keySetPromise.catch((err: unknown) => {
      keySetPromise = undefined;
      if (err instanceof FedgateError) throw err;
      throw new FedgateError('KEYS_UNAVAILABLE', 'Signing keys are not available.', { cause: err });
    });
  };

  return {
    async ready() {
      await keys();
    },
    scopesFor(claims) {
      return computeScopes(t.scopes as Record<string, never>, claims);
    },
    async tokensFor(auth) {
      const key = `${auth.sid}:${auth.rev}`;
      const nowS = Math.floor(deps.now() / 1000);
      const hit = cache.get(auth.sid);
      if (hit && hit.key === key && hit.expiresAt - refreshMarginSeconds > nowS) return hit;
      await keys();
      const m = minter!;
      const [id, at] = await Promise.all([
        m.mintIdToken({ sub: auth.sub, authTime: auth.authTime, sid: auth.sid, claims: auth.claims }),
        m.mintAccessToken({ sub: auth.sub, authTime: auth.authTime, sid: auth.sid, scope: auth.scope, claims: auth.claims }),
      ]);
      const entry = { key, idToken: id.token, accessToken: at.token, expiresAt: Math.floor(Math.min(id.expiresAt, at.expiresAt) / 1000) };
      cache.delete(auth.sid);
      if (cache.size >= maxCachedSessions) cache.delete(cache.keys().next().value as string);
      cache.set(auth.sid, entry);
      return entry;
    },
    async verifyAccessToken(token) {
      await keys();
      return verifier!(token);
    },
    peekAccessToken(token) {
      return verifier?.peek(token);
    },
    async jwks() {
      return publicJwks(await keys());
    },
    async discovery() {
      const ks = await keys();
      const base = `${config.baseUrl}${config.basePath}`;
      return buildDiscoveryDocument({
        issuer: t.issuer,
        jwksUri: `${base}/jwks.json`,
        userinfoEndpoint: `${base}/userinfo`,
        keySet: ks,
        scopes: Object.keys(t.scopes),
        claims: ['email', 'email_verified', 'name', 'given_name', 'family_name', 'picture', 'username', 'groups', 'roles'],
      });
    },
    forget(sid) {
      cache.delete(sid);
    },
    keySet() {
      return keys();
    },
    async privateJwks() {
      const ks = await keys();
      return { keys: (ks.privateJwks?.keys ?? []).map((k) => structuredClone(k) as JWK) };
    },
  };
}
