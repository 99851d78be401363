import session from 'express-session';
import { RedisStore } from 'connect-redis';
import type { RedisClient } from '../redis/client.js';
import { guardRedis } from '../redis/kv.js';
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
 * The session stores fedgate builds (Redis, memory): express-session stores whose sessions expire
 * at the earlier of the idle and absolute timeouts ({@link sessionTtlSeconds}), which only a save
 * extends (`touch` does nothing), and which can tell when a session will expire.
 */
export interface FedgateSessionStore extends session.Store {
  /** Epoch ms at which the session expires unless saved again; undefined when there is none. */
  expiresAt(sid: string): Promise<number | undefined>;
}

function ttlOf(sess: session.SessionData, timeouts: Timeouts, now: number): number {
  return sessionTtlSeconds(readSessionAuth((sess as { fedgate?: unknown }).fedgate), timeouts, now);
}

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

/** The `rev` a stored session carries, read as the guarded-set script reads it. */
function storedRev(text: string): number | undefined {
  try {
    const rev: unknown = (JSON.parse(text) as { fedgate?: { rev?: unknown } } | null)?.fedgate?.rev;
    const n = typeof rev === 'number' ? rev : typeof rev === 'string' && rev.trim() !== '' ? Number(rev) : Number.NaN;
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

export class FedgateRedisStore extends RedisStore implements FedgateSessionStore {
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
      const ttl = ttlOf(sess, this.#timeouts, this.#now());
      const fresh = freshSessions.has(sess);
      await (this.#redis as unknown as GuardedSetClient).fedgateGuardedSet(
        this.prefix + sid,
        tolerantSerializer.stringify(sess),
        String(ttl),
        fresh ? '1' : '0',
        String(revOf(sess)),
      );
      if (fresh) freshSessions.delete(sess);
      cb?.();
    } catch (err) {
      cb?.(err);
    }
  }

  async expiresAt(sid: string): Promise<number | undefined> {
    const pttl = await guardRedis(() => this.#redis.pttl(this.prefix + sid), 'pttl');
    if (pttl === -2) return undefined;
    // -1 (no TTL) is never written by fedgate; count it as a session idle from now.
    return this.#now() + (pttl >= 0 ? pttl : this.#timeouts.idleTimeout * 1000);
  }
}

/**
 * Development only: the same behaviour as {@link FedgateRedisStore} (TTL, no resurrection,
 * tolerant reads) in process memory, on the injected clock.
 */
export class FedgateMemoryStore extends session.Store implements FedgateSessionStore {
  readonly #sessions = new Map<string, { text: string; expires: number }>();
  readonly #timeouts: Timeouts;
  readonly #now: () => number;

  constructor(timeouts: Timeouts, now: () => number) {
    super();
    this.#timeouts = timeouts;
    this.#now = now;
  }

  #live(sid: string): { text: string; expires: number } | undefined {
    const e = this.#sessions.get(sid);
    if (e && e.expires <= this.#now()) {
      this.#sessions.delete(sid);
      return undefined;
    }
    return e;
  }

  override get(sid: string, cb: (err: unknown, data?: session.SessionData | null) => void): void {
    const e = this.#live(sid);
    const data = e ? tolerantSerializer.parse(e.text) : null;
    queueMicrotask(() => cb(null, data));
  }

  override set(sid: string, sess: session.SessionData, cb?: (err?: unknown) => void): void {
    const current = this.#live(sid);
    const fresh = freshSessions.has(sess);
    const rev = current ? storedRev(current.text) : undefined;
    if ((current || fresh) && !(rev !== undefined && rev > revOf(sess))) {
      this.#sessions.set(sid, { text: tolerantSerializer.stringify(sess), expires: this.#now() + ttlOf(sess, this.#timeouts, this.#now()) * 1000 });
    }
    if (fresh) freshSessions.delete(sess);
    if (cb) queueMicrotask(() => cb());
  }

  override destroy(sid: string, cb?: (err?: unknown) => void): void {
    this.#sessions.delete(sid);
    if (cb) queueMicrotask(() => cb());
  }

  /** As on Redis (`disableTouch`): only a save extends a session. */
  override touch(_sid: string, _sess: session.SessionData, cb?: () => void): void {
    if (cb) queueMicrotask(() => cb());
  }

  async expiresAt(sid: string): Promise<number | undefined> {
    return this.#live(sid)?.expires;
  }
}
