import type { KvStore } from '../redis/kv.js';

/**
 * fedgate's own broker-mode records, on the gateway's KvStore (Redis, or memory in development):
 * every record is one key with a TTL, so all of it is Cluster-safe.
 *
 * - `op:acct:<sub>` the local claims a client may receive (oidc-provider's `findAccount` reads
 *   them when no browser session is at hand, e.g. at the token endpoint);
 * - `op:ug:<sub>:<client>` → grantId and `op:ugs:<sub>` (set of client ids): the consents a user
 *   gave, across sessions, for the consent check and the consents page;
 * - `op:at:<jti>` → grantId of a JWT access token, so userinfo can refuse tokens of a withdrawn grant,
 *   and `op:gat:<grantId>` (set of jti) so a client's revocation can end its grant's access tokens;
 * - `op:link:<session id>` (set of provider session uids) and `op:plink:<uid>` → session id: which
 *   provider sessions a fedgate session carries, for the logout chain;
 * - `op:csrf:<interaction uid>`: the per-interaction form token of the consent page.
 */
export interface BrokerRecords {
  saveAccount(sub: string, claims: Readonly<Record<string, unknown>>): Promise<void>;
  account(sub: string): Promise<Record<string, unknown> | undefined>;
  grantIdFor(sub: string, clientId: string): Promise<string | undefined>;
  rememberGrant(sub: string, clientId: string, grantId: string): Promise<void>;
  forgetGrant(sub: string, clientId: string): Promise<void>;
  grantedClients(sub: string): Promise<string[]>;
  rememberAccessToken(jti: string, grantId: string, ttlSeconds: number): Promise<void>;
  grantIdOfAccessToken(jti: string): Promise<string | undefined>;
  /** Ends, at fedgate's userinfo, every JWT access token issued under a grant (RFC 7009 §2.1). */
  forgetAccessTokens(grantId: string): Promise<void>;
  link(sessionId: string, uid: string): Promise<void>;
  /** Takes (reads and deletes) the provider session uids of a fedgate session. */
  takeLinks(sessionId: string): Promise<string[]>;
  linkedSession(uid: string): Promise<string | undefined>;
  saveFormToken(uid: string, token: string): Promise<void>;
  takeFormToken(uid: string): Promise<string | undefined>;
}

export interface RecordTtls {
  /** Account claims: as long as a refresh token may still ask for them. */
  account: number;
  grant: number;
  session: number;
  interaction: number;
}

// length: one object of short record operations, each key beside its TTL; split, they would only scatter.
export function createBrokerRecords(kv: KvStore, ttl: RecordTtls): BrokerRecords {
  const grantKey = (sub: string, clientId: string) => `op:ug:${sub}:${clientId}`;
  return {
    async saveAccount(sub, claims) {
      await kv.set(`op:acct:${sub}`, JSON.stringify(claims), ttl.account);
    },
    async account(sub) {
      const raw = await kv.get(`op:acct:${sub}`);
      if (!raw) return undefined;
      try {
        const value: unknown = JSON.parse(raw);
        return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
      } catch {
        return undefined;
      }
    },
    async grantIdFor(sub, clientId) {
      return (await kv.get(grantKey(sub, clientId))) ?? undefined;
    },
    async rememberGrant(sub, clientId, grantId) {
      await kv.set(grantKey(sub, clientId), grantId, ttl.grant);
      await kv.addToSet(`op:ugs:${sub}`, clientId, ttl.grant);
    },
    async forgetGrant(sub, clientId) {
      await kv.del(grantKey(sub, clientId));
      await kv.removeFromSet(`op:ugs:${sub}`, clientId);
    },
    async grantedClients(sub) {
      return (await kv.members(`op:ugs:${sub}`)).sort();
    },
    async rememberAccessToken(jti, grantId, ttlSeconds) {
      await kv.set(`op:at:${jti}`, grantId, Math.max(1, ttlSeconds));
      await kv.addToSet(`op:gat:${grantId}`, jti, Math.max(1, ttlSeconds));
    },
    async forgetAccessTokens(grantId) {
      for (const jti of await kv.members(`op:gat:${grantId}`)) await kv.del(`op:at:${jti}`);
      await kv.del(`op:gat:${grantId}`);
    },
    async grantIdOfAccessToken(jti) {
      return (await kv.get(`op:at:${jti}`)) ?? undefined;
    },
    async link(sessionId, uid) {
      await kv.addToSet(`op:link:${sessionId}`, uid, ttl.session);
      await kv.set(`op:plink:${uid}`, sessionId, ttl.session);
    },
    async takeLinks(sessionId) {
      const uids = await kv.members(`op:link:${sessionId}`);
      await kv.del(`op:link:${sessionId}`);
      return uids;
    },
    async linkedSession(uid) {
      return (await kv.get(`op:plink:${uid}`)) ?? undefined;
    },
    async saveFormToken(uid, token) {
      await kv.set(`op:csrf:${uid}`, token, ttl.interaction);
    },
    async takeFormToken(uid) {
      return (await kv.take(`op:csrf:${uid}`)) ?? undefined;
    },
  };
}
