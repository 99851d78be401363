import type { GatewayContext } from '../context.js';
import { storeUnavailable } from '../redis/kv.js';
import type { SessionAuth } from './state.js';

/**
 * Indexes from identities to express-session ids, so that a back-channel logout (upstream `sid`
 * or `sub`) or `revokeSessions({ sub })` can find every session. Each index is one Redis set
 * with a TTL and every operation touches one key, so it works on Redis Cluster as is.
 */
export const indexKeys = {
  localSub: (sub: string) => `idx:sub:${sub}`,
  upstreamSub: (connector: string, sub: string) => `idx:usub:${connector}:${sub}`,
  upstreamSid: (connector: string, sid: string) => `idx:usid:${connector}:${sid}`,
};

function keysOf(auth: SessionAuth): string[] {
  const keys = [indexKeys.localSub(auth.sub), indexKeys.upstreamSub(auth.connector, auth.upstream.sub)];
  if (auth.upstream.sid) keys.push(indexKeys.upstreamSid(auth.connector, auth.upstream.sid));
  return keys;
}

export async function indexSession(ctx: GatewayContext, sessionId: string, auth: SessionAuth): Promise<void> {
  await Promise.all(keysOf(auth).map((k) => ctx.kv.addToSet(k, sessionId, ctx.config.session.absoluteTimeout)));
}

export async function unindexSession(ctx: GatewayContext, sessionId: string, auth: SessionAuth): Promise<void> {
  await Promise.all(keysOf(auth).map((k) => ctx.kv.removeFromSet(k, sessionId)));
}

/**
 * Destroys every session listed under an index key; returns how many ids were listed. A store
 * failure is SESSION_STORE_UNAVAILABLE (503, so an OP retries its back-channel logout).
 */
export async function destroyIndexed(ctx: GatewayContext, indexKey: string): Promise<number> {
  const ids = await ctx.kv.members(indexKey);
  await Promise.all(
    ids.map(
      (id) =>
        new Promise<void>((resolve, reject) => {
          ctx.store.destroy(id, (err?: unknown) => (err ? reject(storeUnavailable(err)) : resolve()));
        }),
    ),
  );
  await ctx.kv.del(indexKey);
  ctx.onSessionsDestroyed?.(ids);
  return ids.length;
}
