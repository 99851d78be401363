import { createHmac, timingSafeEqual } from 'node:crypto';
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
  get(sessionId: string, now: number): CachedSession | undefined;
  /** Stores an entry usable until `until` (epoch ms), capped at now + ttl. */
  set(sessionId: string, entry: Omit<CachedSession, 'until'>, now: number, until: number): void;
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
  auth: SessionAuth;
  /** The frozen `req.auth` served on hits. */
  reqAuth: Auth;
  /** Epoch ms after which the entry must not be used. */
  until: number;
}

const maxEntries = 50_000;

export function createSessionCache(opts: { ttlMs: number; redis?: RedisClient; channel: string; logger: Logger }): SessionCache {
  const entries = new Map<string, CachedSession>();
  let subscribed = !opts.redis;
  let suspended = false;
  let sub: RedisClient | undefined;

  if (opts.redis) {
    const base = opts.redis;
    const s: RedisClient = base instanceof Cluster ? base.duplicate() : base.duplicate();
    sub = s;
    s.on('error', () => undefined);
    const drop = () => {
      subscribed = false;
      entries.clear();
    };
    s.on('close', drop);
    s.on('end', drop);
    s.on('ready', () => {
      s.subscribe(opts.channel).then(() => {
        subscribed = true;
      }, () => drop());
    });
    s.on('message', (channel: string, message: string) => {
      if (channel !== opts.channel) return;
      for (const id of message.split(' ')) entries.delete(id);
    });
  }

  return {
    get(sessionId, now) {
      const e = entries.get(sessionId);
      if (!e) return undefined;
      if (e.until <= now) {
        entries.delete(sessionId);
        return undefined;
      }
      return e;
    },
    set(sessionId, entry, now, until) {
      if (!this.usable()) return;
      if (entries.size >= maxEntries) entries.delete(entries.keys().next().value as string);
      entries.set(sessionId, { ...entry, until: Math.min(now + opts.ttlMs, until) });
    },
    invalidate(sessionIds) {
      if (sessionIds.length === 0) return;
      for (const id of sessionIds) entries.delete(id);
      if (opts.redis) {
        opts.redis.publish(opts.channel, sessionIds.join(' ')).catch((err: unknown) => {
          opts.logger.warn({ event: 'cache.publish_failed', err: err instanceof Error ? err.message.slice(0, 200) : 'unknown' }, 'Session invalidation not published; other instances catch up within the cache TTL');
        });
      }
    },
    usable() {
      return subscribed && !suspended && (!opts.redis || opts.redis.status === 'ready');
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
      if (sub) {
        subscribed = false;
        sub.disconnect();
      }
    },
  };
}

/**
 * Reads the express-session id from its signed cookie (`s:<id>.<sig>`, HMAC-SHA256 with any of the
 * secrets), exactly as express-session does, without loading the session.
 */
export function sessionIdFromCookie(req: Req, cookieName: string, secrets: readonly string[]): string | undefined {
  const raw = readCookie(req, cookieName);
  if (!raw) return undefined;
  let value: string;
  try {
    value = decodeURIComponent(raw);
  } catch {
    return undefined;
  }
  if (!value.startsWith('s:')) return undefined;
  const signed = value.slice(2);
  const dot = signed.lastIndexOf('.');
  if (dot <= 0) return undefined;
  const id = signed.slice(0, dot);
  const sig = Buffer.from(signed.slice(dot + 1));
  for (const secret of secrets) {
    const expected = Buffer.from(createHmac('sha256', secret).update(id).digest('base64').replace(/=+$/, ''));
    if (expected.length === sig.length && timingSafeEqual(expected, sig)) return id;
  }
  return undefined;
}
