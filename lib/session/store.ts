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

/** Corrupted or foreign data counts as no session rather than an error. */
const tolerantSerializer = {
  parse(text: string): session.SessionData | undefined {
    try {
      const value: unknown = JSON.parse(text);
      if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
      const cookie = (value as { cookie?: unknown }).cookie;
      if (cookie === null || typeof cookie !== 'object') return undefined;
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
    this.#timeouts = timeouts;
    this.#now = now;
  }

  override async set(sid: string, sess: session.SessionData, cb?: (err?: unknown) => void): Promise<void> {
    try {
      const ttl = sessionTtlSeconds(readSessionAuth((sess as { fedgate?: unknown }).fedgate), this.#timeouts, this.#now());
      const key = this.prefix + sid;
      const value = tolerantSerializer.stringify(sess);
      if (freshSessions.has(sess)) {
        await this.#redis.set(key, value, 'EX', ttl);
        freshSessions.delete(sess);
      } else {
        await this.#redis.set(key, value, 'EX', ttl, 'XX');
      }
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
    if (!freshSessions.has(sess) && !(sid in sessions)) {
      cb?.();
      return;
    }
    freshSessions.delete(sess);
    super.set(sid, sess, cb);
  }
}
