import type { ResolvedConfig } from '../config/load.js';
import { FedgateError } from '../errors.js';
import type { Logger } from '../logger.js';
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

/** What local tokens are minted from: the session's state (a `SessionAuth` fits). */
export interface TokenSubject {
  /** Local session id, the `sid` of the tokens. */
  sid: string;
  /** Claim revision: a new one re-mints. */
  rev: number;
  sub: string;
  authTime: number;
  claims: Record<string, unknown>;
  scope: string[];
}

/** Keys, minting, verification and metadata of the local issuer, behind one lazy handle. */
export interface TokenService {
  ready(): Promise<void>;
  scopesFor(claims: Record<string, unknown>): string[];
  /** Local tokens of a session, cached in-process per session and claim revision until near expiry. */
  tokensFor(auth: TokenSubject): Promise<LocalTokens>;
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
  const t = config.tokens;
  const issuer = createKeyedIssuer(config, deps);
  const keys = issuer.keys;
  return {
    async ready() {
      await keys();
    },
    scopesFor(claims) {
      return computeScopes(t.scopes as Record<string, never>, claims);
    },
    tokensFor: createSessionTokens(issuer, deps.now),
    async verifyAccessToken(token) {
      await keys();
      return issuer.verifier()!(token);
    },
    peekAccessToken(token) {
      return issuer.verifier()?.peek(token);
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
      issuer.cache.delete(sid);
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

/** The key set, loaded on first use (a failed load is retried), with the minter and verifier built on it. */
interface KeyedIssuer {
  keys(): Promise<KeySet>;
  /** Set once the keys are loaded. */
  minter(): TokenMinter | undefined;
  verifier(): AccessTokenVerifier | undefined;
  /** Local tokens per session id, tagged with the claim revision they were minted for. */
  readonly cache: Map<string, LocalTokens & { key: string }>;
}

function createKeyedIssuer(config: ResolvedConfig, deps: { logger: Logger; now: () => number; nodeEnv?: string }): KeyedIssuer {
  let keySetPromise: Promise<KeySet> | undefined;
  let minter: TokenMinter | undefined;
  let verifier: AccessTokenVerifier | undefined;
  const t = config.tokens;
  const keys = (): Promise<KeySet> => {
    keySetPromise ??= loadKeySet({
      ...(t.keys !== undefined ? { keys: t.keys as string | { keys: object[] } } : {}),
      insecureEphemeralKeys: t.insecureEphemeralKeys,
      baseDir: config.baseDir,
      ...(deps.nodeEnv !== undefined ? { nodeEnv: deps.nodeEnv } : {}),
      logger: deps.logger,
    }).then((ks) => {
      minter = createTokenMinter({
        keySet: ks,
        issuer: t.issuer,
        audience: t.audience,
        accessTokenTtl: t.accessTokenTtl,
        idTokenTtl: t.idTokenTtl,
        now: deps.now,
      });
      verifier = createAccessTokenVerifier({ keySet: ks, issuer: t.issuer, audience: t.audience, now: deps.now });
      return ks;
    });
    return keySetPromise.catch((err: unknown) => {
      keySetPromise = undefined;
      if (err instanceof FedgateError) throw err;
      throw new FedgateError('KEYS_UNAVAILABLE', 'Signing keys are not available.', { cause: err });
    });
  };
  return { keys, minter: () => minter, verifier: () => verifier, cache: new Map() };
}

/** `tokensFor`: mints a session's local tokens, reused until near expiry or a claim change. */
function createSessionTokens(issuer: KeyedIssuer, now: () => number): TokenService['tokensFor'] {
  const { cache } = issuer;
  return async (auth) => {
    const key = `${auth.sid}:${auth.rev}`;
    const nowS = Math.floor(now() / 1000);
    const hit = cache.get(auth.sid);
    if (hit && hit.key === key && hit.expiresAt - refreshMarginSeconds > nowS) return hit;
    await issuer.keys();
    const m = issuer.minter()!;
    const [id, at] = await Promise.all([
      m.mintIdToken({ sub: auth.sub, authTime: auth.authTime, sid: auth.sid, claims: auth.claims }),
      m.mintAccessToken({ sub: auth.sub, authTime: auth.authTime, sid: auth.sid, scope: auth.scope, claims: auth.claims }),
    ]);
    const entry = { key, idToken: id.token, accessToken: at.token, expiresAt: Math.floor(Math.min(id.expiresAt, at.expiresAt) / 1000) };
    cache.delete(auth.sid);
    if (cache.size >= maxCachedSessions) cache.delete(cache.keys().next().value as string);
    cache.set(auth.sid, entry);
    return entry;
  };
}
