import session from 'express-session';
import { randomBytes } from 'node:crypto';
import { FedgateError } from '../errors.js';
import type { GatewayContext } from '../context.js';
import type { ResolvedConfig } from '../config/load.js';
import type { Next, Req, Res } from '../http/respond.js';
import { markFresh } from './store.js';
import type { SessionAuth } from './state.js';
import { indexSession, unindexSession } from './session-index.js';

/** The parts of express-session's request session fedgate touches. */
export interface SessionHandle {
  fedgate?: unknown;
  regenerate(cb: (err?: unknown) => void): void;
  save(cb: (err?: unknown) => void): void;
  destroy(cb: (err?: unknown) => void): void;
}

const storeDown = (cause: unknown) =>
  new FedgateError('SESSION_STORE_UNAVAILABLE', 'The session store is unavailable; please try again shortly.', {
    cause,
    ...(cause instanceof Error ? { detail: cause.message.slice(0, 200) } : {}),
  });

/**
 * Builds the express-session middleware: HttpOnly, SameSite=Lax, Secure on https, opaque id.
 * The return type is spelled out so the shipped declarations name no type of express-session's
 * dependencies (a consumer need not install their typings).
 */
export function createSessionMiddleware(config: ResolvedConfig, store: session.Store): (req: Req, res: Res, next: Next) => void {
  const s = config.session;
  // express-session's handler is typed for Express's Request; fedgate's core passes the plain
  // node request it extends (what express-session reads at run time).
  const handler: unknown = session({
    name: s.cookieName,
    secret: [...s.secrets],
    store,
    resave: false,
    saveUninitialized: false,
    rolling: false,
    unset: 'destroy',
    // Behind a TLS-terminating proxy, X-Forwarded-Proto tells express-session the hop was https.
    ...(config.secure ? { proxy: true } : {}),
    genid: () => randomBytes(32).toString('base64url'),
    cookie: { httpOnly: true, secure: config.secure, sameSite: 'lax', path: '/', maxAge: s.absoluteTimeout * 1000 },
  });
  return handler as (req: Req, res: Res, next: Next) => void;
}

/** Runs express-session as a promise; a store failure rejects with SESSION_STORE_UNAVAILABLE. */
export function sessionLoader(middleware: (req: Req, res: Res, next: Next) => void, observe?: (op: string, seconds: number, ok: boolean) => void) {
  return (req: Req, res: Res) =>
    new Promise<void>((resolve, reject) => {
      const started = observe ? performance.now() : 0;
      middleware(req, res, (err?: unknown) => {
        observe?.('session_load', (performance.now() - started) / 1000, !err);
        if (err) {
          // After a failed read req.session stays empty, and express-session (`unset: 'destroy'`)
          // would then DEL the session at the end of the request: a slow or paused Redis would log
          // its users out. Forgetting the id here keeps the stored session untouched.
          delete req.sessionID;
          reject(storeDown(err));
        } else resolve();
      });
    });
}

function handleOf(req: Req): SessionHandle {
  const sess = req.session as SessionHandle | undefined;
  if (!sess) throw new FedgateError('INTERNAL_ERROR', 'Session middleware did not run.');
  return sess;
}

const call = (fn: (cb: (err?: unknown) => void) => void) => new Promise<void>((resolve, reject) => fn((err) => (err ? reject(storeDown(err)) : resolve())));

/**
 * Starts the signed-in session. The session id is always regenerated (fixation defence) and
 * nothing of a previous session survives; the new session is saved before the redirect.
 */
export async function establishSession(ctx: GatewayContext, req: Req, auth: SessionAuth): Promise<void> {
  const previous = readAuthOf(req);
  const previousId = req.sessionID;
  await call((cb) => handleOf(req).regenerate(cb));
  // A signed-in session replaced by this login has ended like any other (fixation, re-login):
  // it leaves every cache, its indexes, and its session-bound tokens die with it.
  if (previous && previousId) await afterSessionEnded(ctx, previousId, previous);
  const fresh = handleOf(req);
  fresh.fedgate = auth;
  markFresh(fresh);
  await call((cb) => fresh.save(cb));
  if (req.sessionID) await indexSession(ctx, req.sessionID, auth);
  if (ctx.config.tokens.sessionBound) await ctx.kv.set(`sid:${auth.sid}`, '1', ctx.config.session.absoluteTimeout);
}

/** Ends the session: the Redis key is deleted (so no in-flight request can re-save it). */
export async function destroySession(ctx: GatewayContext, req: Req): Promise<void> {
  const auth = readAuthOf(req);
  const sessionId = req.sessionID;
  const sess = req.session as SessionHandle | undefined;
  if (sess) await call((cb) => sess.destroy(cb));
  if (auth && sessionId) await afterSessionEnded(ctx, sessionId, auth);
}

/** Everything that follows the end of a signed-in session, whatever ended it. */
async function afterSessionEnded(ctx: GatewayContext, sessionId: string, auth: SessionAuth): Promise<void> {
  ctx.tokens.forget(auth.sid);
  if (ctx.config.tokens.sessionBound) await ctx.kv.del(`sid:${auth.sid}`);
  await unindexSession(ctx, sessionId, auth);
  ctx.onSessionsDestroyed?.([sessionId]);
}

function readAuthOf(req: Req): SessionAuth | undefined {
  const sess = req.session as SessionHandle | undefined;
  return sess?.fedgate as SessionAuth | undefined;
}
