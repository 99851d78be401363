import session from 'express-session';
import { RedisStore } from 'connect-redis';
import type { RedisClient } from '../redis/client.js';
import { readSessionAuth, sessionTtlSeconds, type SessionTimeouts } from './state.js';

/**
 * Sessions created by a login in this process, which may be written with a plain SET. Every
 * other save is `SET ... XX`: a request still in flight when the session was destroyed (logout,
 * revocation) cannot bring it back.
 */
const freshSessions = new WeakSet<object>();

export function markFresh(sess: object): void {
  freshSessions.add(sess);
}

/**
 * express-session rebuilds its Cookie by copying every stored member onto it: a mistyped one
 * (`originalMaxAge: "x"`) throws later inside its response hooks, where nothing catches it and the
 * request hangs. So the stored cookie must hold only the members Cookie#toJSON writes, well typed.
 */
const cookieMembers: Record<string, (v: unknown) => boolean> = {
  originalMaxAge: (v) => v === null || (typeof v === 'number' && Number.isFinite(v)),
  expires: (v) => v === null || (typeof v === 'string' && !Number.isNaN(Date.parse(v))),
  secure: (v) => typeof v === 'boolean' || v === 'auto',
  httpOnly: (v) => typeof v === 'boolean',
  partitioned: (v) => typeof v === 'boolean',
  domain: (v) => typeof v === 'string',
  path: (v) => typeof v === 'string',
  priority: (v) => typeof v === 'string',
  sameSite: (v) => typeof v === 'string' || typeof v === 'boolean',
};

function isStoredCookie(cookie: unknown): boolean {
  if (cookie === null || typeof cookie !== 'object' || Array.isArray(cookie)) return false;
  return Object.entries(cookie).every(([k, v]) => Object.hasOwn(cookieMembers, k) && (v === undefined || cookieMembers[k]!(v)));
}

/** Corrupted or foreign data counts as no session rather than an error. */
const tolerantSerializer = {
  parse(text: string): session.SessionData | undefined {
    try {
      const value: unknown = JSON.parse(text);
      if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
      if (!isStoredCookie((value as { cookie?: unknown }).cookie)) return undefined;
      return value as session.SessionData;
    } catch {
      return undefined;
    }
  },
  stringify(sess: session.SessionData): string {
    return JSON.stringify(sess);
  },
};

type Timeouts = SessionTimeouts & { transactionTtl: number };

/**
 * One atomic write (single key, so Cluster-safe): a destroyed session is never resurrected and a
 * newer revision (written by an upstream refresh on any instance) is never overwritten by a
 * request that loaded an older one. `cjson` is built into Redis.
 */
const guardedSetScript = `
local cur = redis.call('GET', KEYS[1])
if not cur then
  if ARGV[3] == '1' then return redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) end
  return 0
end
local ok, obj = pcall(cjson.decode, cur)
if ok and type(obj) == 'table' and type(obj.fedgate) == 'table' then
  local stored = tonumber(obj.fedgate.rev)
  if stored and stored > tonumber(ARGV[4]) then return 0 end
end
return redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])`;

interface GuardedSetClient {
  fedgateGuardedSet(key: string, value: string, ttl: string, fresh: string, rev: string): Promise<unknown>;
}

function revOf(sess: session.SessionData): number {
  return readSessionAuth((sess as { fedgate?: unknown }).fedgate)?.rev ?? -1;
}

export class FedgateRedisStore extends RedisStore {
  readonly #redis: RedisClient;
  readonly #timeouts: Timeouts;
  readonly #now: () => number;

  constructor(client: RedisClient, prefix: string, timeouts: Timeouts, now: () => number) {
    super({
      client,
      prefix,
      // connect-redis passes an undefined parse result on as "no session".
      serializer: tolerantSerializer as { parse(s: string): session.SessionData; stringify(s: session.SessionData): string },
      disableTouch: true,
      ttl: (sess: session.SessionData) => sessionTtlSeconds(readSessionAuth((sess as { fedgate?: unknown }).fedgate), timeouts, now()),
    });
    this.#redis = client;
    // EVALSHA with a transparent fallback: the script text is not sent on every save.
    if (!('fedgateGuardedSet' in client)) client.defineCommand('fedgateGuardedSet', { numberOfKeys: 1, lua: guardedSetScript });
    this.#timeouts = timeouts;
    this.#now = now;
  }

  /** A key of another Redis type under a session id is foreign data: no session, not an outage. */
  override async get(sid: string, cb?: (err: unknown, data?: session.SessionData | null) => void): Promise<void> {
    let data: session.SessionData | null | undefined;
    try {
      const text = await this.#redis.get(this.prefix + sid);
      data = text ? tolerantSerializer.parse(text) : null;
    } catch (err) {
      if (!(err instanceof Error && err.message.startsWith('WRONGTYPE'))) {
        cb?.(err);
        return;
      }
      data = null;
    }
    try {
      cb?.(null, data);
    } catch (err) {
      // As connect-redis does: never an unhandled rejection out of a store callback.
      cb?.(err);
    }
  }

  override async set(sid: string, sess: session.SessionData, cb?: (err?: unknown) => void): Promise<void> {
    try {
      const ttl = sessionTtlSeconds(readSessionAuth((sess as { fedgate?: unknown }).fedgate), this.#timeouts, this.#now());
      const fresh = freshSessions.has(sess);
      await (this.#redis as unknown as GuardedSetClient).fedgateGuardedSet(this.prefix + sid, tolerantSerializer.stringify(sess), String(ttl), fresh ? '1' : '0', String(revOf(sess)));
      if (fresh) freshSessions.delete(sess);
      cb?.();
    } catch (err) {
      cb?.(err);
    }
  }
}

/** Development only: express-session's MemoryStore with the same no-resurrection rule. */
export class FedgateMemoryStore extends session.MemoryStore {
  override set(sid: string, sess: session.SessionData, cb?: (err?: unknown) => void): void {
    const sessions = (this as unknown as { sessions: Record<string, string> }).sessions;
    const current = sessions[sid];
    if (!freshSessions.has(sess) && current === undefined) {
      cb?.();
      return;
    }
    if (current !== undefined && revOf(tolerantSerializer.parse(current) ?? ({} as session.SessionData)) > revOf(sess)) {
      cb?.();
      return;
    }
    freshSessions.delete(sess);
    super.set(sid, sess, cb);
  }
}
