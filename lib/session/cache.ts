import type { Auth } from '../auth.js';
import type { Logger } from '../logger.js';
import { Cluster } from 'ioredis';
import type { RedisClient } from '../redis/client.js';
import { readCookie, type Req } from '../http/respond.js';
import type { SessionAuth } from './state.js';

/**
 * An in-process cache of verified session state, so that most session requests cost no Redis
 * round trip and no express-session work. It stays correct because:
 * - entries live at most `ttlMs` (the documented worst-case delay for a change made elsewhere);
 * - every instance publishes the ids of sessions it destroys or refreshes on a Redis channel, and
 *   every instance drops them on receipt (so in practice changes apply everywhere at once);
 * - while the subscription or the command connection is down, the cache is empty and unused, so
 *   a Redis outage still yields 503 — cached state never outlives the ability to check it;
 * - idle and absolute timeouts are checked on every hit, and a hit whose `lastSeen` must be
 *   written back (or whose tokens need refreshing) falls through to the full path.
 */
export interface SessionCache {
  /**
   * Looks up by the exact signed cookie value. Only values express-session verified are stored, and
   * an identical string carries the identical valid signature, so a hit needs no HMAC.
   */
  get(signedCookie: string, now: number): CachedSession | undefined;
  /** Stores an entry usable until `until` (epoch ms), capped at now + ttl. */
  set(signedCookie: string, sessionId: string, entry: Omit<CachedSession, 'until' | 'sessionId'>, now: number, until: number): void;
  /** Drops ids here and tells the other instances. */
  invalidate(sessionIds: readonly string[]): void;
  /** Whether hits may be served right now. */
  usable(): boolean;
  /** A Redis failure was seen: drop everything and serve nothing until a read succeeds again. */
  suspend(): void;
  /** A read succeeded again. */
  resume(): void;
  close(): Promise<void>;
}

export interface CachedSession {
  sessionId: string;
  auth: SessionAuth;
  /** The frozen `req.auth` served on hits. */
  reqAuth: Auth;
  /** Epoch ms after which the entry must not be used. */
  until: number;
}

const maxEntries = 50_000;

export function createSessionCache(opts: { ttlMs: number; redis?: RedisClient; channel: string; logger: Logger }): SessionCache {
  const entries = createEntries();
  let suspended = false;
  const subscription = opts.redis ? subscribeToInvalidations(opts.redis, opts.channel, entries) : undefined;

  return {
    get(signedCookie, now) {
      const e = entries.bySignedCookie.get(signedCookie);
      if (!e) return undefined;
      if (e.until <= now) {
        entries.remove(e.sessionId);
        return undefined;
      }
      return e;
    },
    set(signedCookie, sessionId, entry, now, until) {
      if (!this.usable()) return;
      entries.add(signedCookie, { ...entry, sessionId, until: Math.min(now + opts.ttlMs, until) });
    },
    invalidate(sessionIds) {
      if (sessionIds.length === 0) return;
      for (const id of sessionIds) entries.remove(id);
      if (opts.redis) {
        opts.redis.publish(opts.channel, sessionIds.join(' ')).catch((err: unknown) => {
          opts.logger.warn(
            { event: 'cache.publish_failed', err: err instanceof Error ? err.message.slice(0, 200) : 'unknown' },
            'Session invalidation not published; other instances catch up within the cache TTL',
          );
        });
      }
    },
    usable() {
      return (subscription?.subscribed() ?? true) && !suspended && (!opts.redis || opts.redis.status === 'ready');
    },
    suspend() {
      suspended = true;
      entries.clear();
    },
    resume() {
      suspended = false;
    },
    async close() {
      entries.clear();
      subscription?.close();
    },
  };
}

/** The entries by signed cookie, indexed by session id too (invalidation comes by id); bounded, oldest out first. */
function createEntries() {
  const bySignedCookie = new Map<string, CachedSession>();
  // session id → signed cookie value, for invalidation by id.
  const cookieOf = new Map<string, string>();
  const remove = (id: string) => {
    const signed = cookieOf.get(id);
    if (signed !== undefined) {
      bySignedCookie.delete(signed);
      cookieOf.delete(id);
    }
  };
  return {
    bySignedCookie: bySignedCookie as ReadonlyMap<string, CachedSession>,
    remove,
    add(signedCookie: string, entry: CachedSession) {
      remove(entry.sessionId);
      if (bySignedCookie.size >= maxEntries) {
        const oldest = bySignedCookie.values().next().value as CachedSession;
        remove(oldest.sessionId);
      }
      bySignedCookie.set(signedCookie, entry);
      cookieOf.set(entry.sessionId, signedCookie);
    },
    clear() {
      bySignedCookie.clear();
      cookieOf.clear();
    },
  };
}

/**
 * Listens on the invalidation channel on a connection of its own. While it is not subscribed
 * the cache is emptied and unused: a missed message must never leave a stale entry behind.
 */
function subscribeToInvalidations(base: RedisClient, channel: string, entries: ReturnType<typeof createEntries>): { subscribed(): boolean; close(): void } {
  let subscribed = false;
  const s: RedisClient = base instanceof Cluster ? base.duplicate() : base.duplicate();
  s.on('error', () => undefined);
  const drop = () => {
    subscribed = false;
    entries.clear();
  };
  s.on('close', drop);
  s.on('end', drop);
  s.on('ready', () => {
    s.subscribe(channel).then(
      () => {
        subscribed = true;
      },
      () => drop(),
    );
  });
  s.on('message', (from: string, message: string) => {
    if (from !== channel) return;
    for (const id of message.split(' ')) entries.remove(id);
  });
  return {
    subscribed: () => subscribed,
    close() {
      subscribed = false;
      s.disconnect();
    },
  };
}

/**
 * The raw signed session cookie (`s:<id>.<sig>`, percent-decoded) when it belongs to `sessionId`;
 * used to key cache entries by exactly what express-session verified.
 */
export function signedCookieFor(req: Req, cookieName: string, sessionId: string): string | undefined {
  const raw = readCookie(req, cookieName);
  if (!raw) return undefined;
  let value: string;
  try {
    value = decodeURIComponent(raw);
  } catch {
    return undefined;
  }
  return value.startsWith(`s:${sessionId}.`) ? value : undefined;
}

/** The raw session cookie value as sent (percent-decoded), for cache lookups. */
export function signedCookieOf(req: Req, cookieName: string): string | undefined {
  const raw = readCookie(req, cookieName);
  if (!raw) return undefined;
  if (!raw.includes('%')) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}
