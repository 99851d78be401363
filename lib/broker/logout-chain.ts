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

type LogoutCapable = Client & { backchannelLogout(sub: string, sid: string | undefined): Promise<void> };
type Provider = Awaited<ReturnType<BrokerRuntime['provider']>>;
type Authorization = { sid?: string | undefined; grantId?: string | undefined; persistsLogout?: boolean | undefined };

/** The KvStore due queue of fedgate sessions that carry provider sessions, by expected expiry. */
const sweepQueue = 'op:sweep';
/** Sessions one sweep handles at most; the rest wait for the next tick. */
const sweepBatch = 200;

const errorText = (err: unknown) => (err instanceof Error ? err.message.slice(0, 200) : 'unknown');

/** Ends one client's part of a provider session: its tokens (unless offline), then its back-channel logout. */
async function endClientSession(rt: BrokerRuntime, provider: Provider, clientId: string, state: Authorization, accountId: string | undefined): Promise<void> {
  const client = await provider.Client.find(clientId);
  if (!client) return;
  if (state.grantId && !state.persistsLogout) await revokeGrantTokens(provider, state.grantId);
  if (!client.backchannelLogoutUri || !accountId) return;
  const log = rt.ctx.logger;
  try {
    await (client as LogoutCapable).backchannelLogout(accountId, state.sid);
    log.info({ event: 'broker.backchannel_sent', client: clientId }, 'Back-channel logout sent to client');
  } catch (err) {
    log.warn({ event: 'broker.backchannel_failed', client: clientId, err: errorText(err) }, 'Back-channel logout to client failed');
  }
}

async function endProviderSession(rt: BrokerRuntime, uid: string, sessionId: string): Promise<void> {
  // A provider session that moved on to a newer fedgate session (same browser, new login) stays.
  const owner = await rt.records.linkedSession(uid);
  if (owner !== undefined && owner !== sessionId) return;
  const provider = await rt.provider();
  const session = await provider.Session.findByUid(uid);
  if (!session) return;
  const accountId = session.accountId;
  const authorizations: Record<string, Authorization> = { ...(session.authorizations ?? {}) };
  await session.destroy();
  await Promise.all(Object.entries(authorizations).map(([clientId, state]) => endClientSession(rt, provider, clientId, state, accountId)));
}

/** Runs the chain for one ended fedgate session; failures are logged, never thrown. */
async function runChain(rt: BrokerRuntime, sessionId: string): Promise<void> {
  try {
    const uids = await rt.records.takeLinks(sessionId);
    for (const uid of uids) await endProviderSession(rt, uid, sessionId);
  } catch (err) {
    const e = toFedgateError(err);
    rt.ctx.logger.warn({ event: 'broker.logout_chain_failed', code: e.code, detail: e.detail }, 'Broker logout chain failed');
  }
}

/** Epoch ms at which a session would expire if nobody touched it; undefined when it is gone. */
async function expiryOf(rt: BrokerRuntime, sessionId: string): Promise<number | undefined> {
  return rt.ctx.store.expiresAt(sessionId);
}

/** (Re)schedules a session for the sweep just after its expected expiry. */
async function schedule(rt: BrokerRuntime, sessionId: string): Promise<void> {
  const expiry = await expiryOf(rt, sessionId);
  if (expiry === undefined) return;
  // The queue is one key with a TTL past the longest session (every key fedgate writes expires).
  await rt.ctx.kv.dueAdd(sweepQueue, sessionId, expiry + 1000, rt.ctx.config.session.absoluteTimeout + 60);
}

/** One sweep: every claimed session that is gone runs the chain; one still alive is rescheduled. */
async function sweepOnce(rt: BrokerRuntime): Promise<void> {
  const { ctx } = rt;
  try {
    // dueTake is atomic: of several instances sweeping at once, each session goes to one.
    for (const id of await ctx.kv.dueTake(sweepQueue, ctx.now(), sweepBatch)) {
      if ((await expiryOf(rt, id)) === undefined) await runChain(rt, id);
      else await schedule(rt, id);
    }
  } catch (err) {
    const e = toFedgateError(err);
    ctx.logger.warn({ event: 'broker.sweep_failed', code: e.code, detail: e.detail }, 'Broker session sweep failed');
  }
}

export function createLogoutChain(rt: BrokerRuntime): LogoutChain {
  const { ctx } = rt;
  const pending = new Set<Promise<void>>();
  let timer: NodeJS.Timeout | undefined;
  let sweeping = false;
  const track = (p: Promise<void>) => {
    pending.add(p);
    void p.finally(() => pending.delete(p));
  };

  async function sweep(): Promise<void> {
    if (sweeping) return;
    sweeping = true;
    await sweepOnce(rt).finally(() => {
      sweeping = false;
    });
  }

  return {
    linked: (sessionId) => schedule(rt, sessionId),
    sessionsEnded(sessionIds) {
      for (const id of sessionIds) {
        track(ctx.kv.dueRemove(sweepQueue, id).catch(() => undefined));
        track(runChain(rt, id));
      }
    },
    async endFedgateSession(req, _res) {
      const sess = req.session as SessionHandle | undefined;
      const auth = readSessionAuth(sess?.fedgate);
      if (!sess || !auth) return undefined;
      await destroySession(ctx, req);
      ctx.logger.info({ event: 'broker.rp_logout', connector: auth.connector }, 'Signed out by a client application');
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
