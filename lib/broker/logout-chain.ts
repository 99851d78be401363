import type { Client } from 'oidc-provider';
import { toFedgateError } from '../errors.js';
import type { Req, Res } from '../http/respond.js';
import { readSessionAuth } from '../session/state.js';
import { destroySession, type SessionHandle } from '../session/lifecycle.js';
import { upstreamLogoutUrl } from '../flow/logout.js';
import { revokeGrantTokens } from './grants.js';
import type { BrokerRuntime } from './runtime.js';

/**
 * The logout chain of broker mode.
 *
 * - A fedgate session that ends — local logout, revocation, an upstream back-channel logout
 *   (all through `ctx.onSessionsDestroyed`), or expiry (found by the sweeper below) — ends the
 *   provider sessions it carried: every client that was signed in through it and registered a
 *   `backchannel_logout_uri` receives an OIDC Back-Channel Logout token (signed by oidc-provider
 *   with the gateway's key: `typ: logout+jwt`, `events`, `sub`, `sid`, no `nonce`), and the tokens
 *   issued in that session end (unless `offline_access` was granted). Consents stay.
 * - RP-initiated logout from a client (`end_session`) ends the fedgate session too, and continues
 *   at the upstream's logout when the connector says `logout: "upstream"`.
 */
export interface LogoutChain {
  /** Remembers that a fedgate session carries a provider session (after each authorization). */
  linked(sessionId: string): Promise<void>;
  /** fedgate sessions ended: runs the chain for each, in the background. */
  sessionsEnded(sessionIds: readonly string[]): void;
  /** Ends the fedgate session of an RP-initiated logout; returns the upstream logout URL, if any. */
  endFedgateSession(req: Req, res: Res): Promise<string | undefined>;
  /** One sweep for expired sessions (the timer calls it; tests may too). */
  sweep(): Promise<void>;
  start(): void;
  stop(): Promise<void>;
}

const scheduleScript = `
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1`;

type LogoutCapable = Client & { backchannelLogout(sub: string, sid: string | undefined): Promise<void> };

export function createLogoutChain(rt: BrokerRuntime): LogoutChain {
  const { ctx } = rt;
  const log = ctx.logger;
  const sweepKey = `${ctx.config.session.prefix}op:sweep`;
  const sessionKey = (id: string) => `${ctx.config.session.prefix}sess:${id}`;
  const memoryDue = new Map<string, number>();
  const pending = new Set<Promise<void>>();
  let timer: NodeJS.Timeout | undefined;
  let sweeping = false;

  const track = (p: Promise<void>) => {
    pending.add(p);
    void p.finally(() => pending.delete(p));
  };

  async function endProviderSession(uid: string, sessionId: string): Promise<void> {
    // A provider session that moved on to a newer fedgate session (same browser, new login) stays.
    const owner = await rt.records.linkedSession(uid);
    if (owner !== undefined && owner !== sessionId) return;
    const provider = await rt.provider();
    const session = await provider.Session.findByUid(uid);
    if (!session) return;
    const accountId = session.accountId;
    const authorizations = { ...(session.authorizations ?? {}) };
    await session.destroy();
    await Promise.all(Object.entries(authorizations).map(async ([clientId, state]) => {
      const client = await provider.Client.find(clientId);
      if (!client) return;
      if (state.grantId && !state.persistsLogout) await revokeGrantTokens(provider, state.grantId);
      if (!client.backchannelLogoutUri || !accountId) return;
      try {
        await (client as LogoutCapable).backchannelLogout(accountId, state.sid);
        log.info({ event: 'broker.backchannel_sent', client: clientId }, 'Back-channel logout sent to client');
      } catch (err) {
        log.warn({ event: 'broker.backchannel_failed', client: clientId, err: err instanceof Error ? err.message.slice(0, 200) : 'unknown' }, 'Back-channel logout to client failed');
      }
    }));
  }

  async function runChain(sessionId: string): Promise<void> {
    try {
      const uids = await rt.records.takeLinks(sessionId);
      for (const uid of uids) await endProviderSession(uid, sessionId);
    } catch (err) {
      const e = toFedgateError(err);
      log.warn({ event: 'broker.logout_chain_failed', code: e.code, detail: e.detail }, 'Broker logout chain failed');
    }
  }

  /** Epoch ms at which a session would expire if nobody touched it; undefined when it is gone. */
  async function expiryOf(sessionId: string): Promise<number | undefined> {
    const now = ctx.now();
    if (rt.redis) {
      const pttl = await rt.redis.pttl(sessionKey(sessionId));
      if (pttl === -2) return undefined;
      return now + (pttl > 0 ? pttl : ctx.config.session.idleTimeout * 1000);
    }
    const exists = await new Promise<boolean>((resolve) => {
      ctx.store.get(sessionId, (err: unknown, value?: unknown) => resolve(!err && value !== undefined && value !== null));
    });
    return exists ? now + Math.min(ctx.config.session.idleTimeout * 1000, rt.settings.sessionCheckInterval * 1000) : undefined;
  }

  async function schedule(sessionId: string, due: number): Promise<void> {
    // The schedule is one key with a TTL past the longest session (every key fedgate writes expires).
    if (rt.redis) await rt.redis.eval(scheduleScript, 1, sweepKey, String(due), sessionId, String(ctx.config.session.absoluteTimeout + 60));
    else memoryDue.set(sessionId, due);
  }

  async function dueSessions(now: number): Promise<string[]> {
    if (rt.redis) {
      const ids = await rt.redis.zrangebyscore(sweepKey, '-inf', String(now), 'LIMIT', 0, 200);
      const claimed: string[] = [];
      // ZREM decides which instance handles a session: only one gets 1 back.
      for (const id of ids) if ((await rt.redis.zrem(sweepKey, id)) === 1) claimed.push(id);
      return claimed;
    }
    const ids = [...memoryDue].filter(([, due]) => due <= now).map(([id]) => id);
    for (const id of ids) memoryDue.delete(id);
    return ids;
  }

  async function sweep(): Promise<void> {
    if (sweeping) return;
    sweeping = true;
    try {
      for (const id of await dueSessions(ctx.now())) {
        const expiry = await expiryOf(id);
        if (expiry === undefined) await runChain(id);
        else await schedule(id, expiry + 1000);
      }
    } catch (err) {
      const e = toFedgateError(err);
      log.warn({ event: 'broker.sweep_failed', code: e.code, detail: e.detail }, 'Broker session sweep failed');
    } finally {
      sweeping = false;
    }
  }

  return {
    async linked(sessionId) {
      const expiry = await expiryOf(sessionId);
      if (expiry !== undefined) await schedule(sessionId, expiry + 1000);
    },
    sessionsEnded(sessionIds) {
      for (const id of sessionIds) {
        if (rt.redis) track(rt.redis.zrem(sweepKey, id).then(() => undefined, () => undefined));
        else memoryDue.delete(id);
        track(runChain(id));
      }
    },
    async endFedgateSession(req, _res) {
      const sess = req.session as SessionHandle | undefined;
      const auth = readSessionAuth(sess?.fedgate);
      if (!sess || !auth) return undefined;
      await destroySession(ctx, req);
      log.info({ event: 'broker.rp_logout', connector: auth.connector }, 'Signed out by a client application');
      return upstreamLogoutUrl(ctx, auth);
    },
    sweep,
    start() {
      if (timer) return;
      timer = setInterval(() => void sweep(), rt.settings.sessionCheckInterval * 1000);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await Promise.allSettled([...pending]);
    },
  };
}
