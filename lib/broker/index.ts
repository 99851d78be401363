import type Provider from 'oidc-provider';
import type { GatewayContext } from '../context.js';
import type { RedisClient } from '../redis/client.js';
import { sendJson, type Req, type Res } from '../http/respond.js';
import { resolveBrokerSettings } from './config.js';
import { buildScopeClaims } from './claims-filter.js';
import { createBrokerRecords } from './records.js';
import { buildProvider, providerRoutes } from './provider.js';
import { attachLogoutChain } from './provider-hooks.js';
import { createLogoutChain, type LogoutChain } from './logout-chain.js';
import { createBrokerUserinfo } from './userinfo.js';
import { showInteraction, submitInteraction } from './interactions.js';
import { showConsents, withdrawFromConsents } from './consents-page.js';
import type { BrokerRuntime } from './runtime.js';

/**
 * Broker mode: fedgate as an OpenID Provider for other client apps (client app → fedgate →
 * upstream IdP). `createBroker` is called once by the gateway; the router hands every request
 * under basePath to {@link dispatchBroker} first.
 */
export interface Broker {
  /** Handles broker routes; false for anything else (the local routes then run). */
  dispatch(req: Req, res: Res, rest: string): Promise<boolean>;
  /** Builds the provider (keys, clients) so configuration problems surface at startup. */
  ready(): Promise<void>;
  close(): Promise<void>;
  /** The logout chain (exposed for tests and operations). */
  readonly logoutChain: LogoutChain;
}

const brokers = new WeakMap<GatewayContext, Broker>();

/** Paths (under basePath) served by oidc-provider itself. */
const providerPaths = [
  '/.well-known/openid-configuration',
  providerRoutes.authorization,
  providerRoutes.token,
  providerRoutes.end_session,
  providerRoutes.revocation,
  providerRoutes.pushed_authorization_request,
];

/**
 * Creates the broker when `op.enabled`, and hooks it into the gateway context: session ends
 * (`onSessionsDestroyed`) feed the logout chain. Returns undefined when broker mode is off.
 */
export function createBroker(ctx: GatewayContext, redis?: RedisClient): Broker | undefined {
  const op = ctx.config.op;
  if (!op?.enabled) return undefined;
  const c = ctx.config;
  const settings = resolveBrokerSettings(op, {
    accessTokenTtl: c.tokens.accessTokenTtl,
    idTokenTtl: c.tokens.idTokenTtl,
    transactionTtl: c.session.transactionTtl,
    absoluteTimeout: c.session.absoluteTimeout,
  });
  let providerPromise: Promise<Provider> | undefined;
  const rt: BrokerRuntime = {
    ctx,
    settings,
    table: buildScopeClaims(settings.customScopes),
    records: createBrokerRecords(ctx.kv, {
      account: Math.max(settings.ttl.refreshToken, c.session.absoluteTimeout),
      grant: settings.ttl.grant,
      session: c.session.absoluteTimeout,
      interaction: settings.ttl.interaction,
    }),
    clients: new Map(settings.clients.map((client) => [client.client_id, client])),
    ...(redis ? { redis } : {}),
    provider() {
      providerPromise ??= buildProvider(rt).catch((err: unknown) => {
        providerPromise = undefined;
        throw err;
      });
      return providerPromise;
    },
  };
  const chain = createLogoutChain(rt);
  attachLogoutChain(rt, chain);
  const userinfo = createBrokerUserinfo(rt);
  let handler: ((req: Req, res: Res) => Promise<void>) | undefined;

  const previous = ctx.onSessionsDestroyed;
  ctx.onSessionsDestroyed = (ids) => {
    previous?.(ids);
    chain.sessionsEnded(ids);
  };
  chain.start();

  const secure = c.secure;
  const host = new URL(c.baseUrl).host;
  async function callProvider(req: Req, res: Res, rest: string): Promise<void> {
    const provider = await rt.provider();
    handler ??= provider.callback() as unknown as (req: Req, res: Res) => Promise<void>;
    const raw = req.originalUrl ?? req.url ?? '/';
    const q = raw.indexOf('?');
    req.originalUrl = raw;
    req.url = `${rest}${q === -1 ? '' : raw.slice(q)}`;
    // URLs the provider prints (discovery, redirects, cookie paths) come from baseUrl, never
    // from what the request claims: these headers are overwritten, not trusted.
    req.headers['x-forwarded-proto'] = secure ? 'https' : 'http';
    req.headers['x-forwarded-host'] = host;
    await handler(req, res);
  }

  const broker: Broker = {
    logoutChain: chain,
    async dispatch(req, res, rest) {
      const method = req.method ?? 'GET';
      const segments = rest.split('/').filter(Boolean);
      if (rest === '/userinfo') {
        if (method === 'OPTIONS') return userinfo.preflight(req, res);
        if (method === 'GET' || method === 'POST') return userinfo.handle(req, res);
        return false;
      }
      if (rest === '/consents') {
        if (method === 'GET' || method === 'HEAD') await showConsents(rt, req, res);
        else if (method === 'POST') await withdrawFromConsents(rt, req, res);
        else {
          res.setHeader('Allow', 'GET, HEAD, POST');
          sendJson(res, 405, { error: 'method_not_allowed' });
        }
        return true;
      }
      if (segments[0] === 'interaction' && segments.length === 2) {
        let uid: string;
        try {
          uid = decodeURIComponent(segments[1]!);
        } catch {
          uid = '';
        }
        // GET only (not HEAD): showing a login step may finish it.
        if (method === 'GET') await showInteraction(rt, req, res, uid);
        else if (method === 'POST') await submitInteraction(rt, req, res, uid);
        else {
          res.setHeader('Allow', 'GET, POST');
          sendJson(res, 405, { error: 'method_not_allowed' });
        }
        return true;
      }
      if (providerPaths.some((p) => rest === p || rest.startsWith(`${p}/`))) {
        await callProvider(req, res, rest);
        return true;
      }
      return false;
    },
    async ready() {
      await rt.provider();
    },
    async close() {
      await chain.stop();
    },
  };
  brokers.set(ctx, broker);
  return broker;
}

/** The router's hook: lets the broker answer first; false when broker mode is off or the path is not its. */
export async function dispatchBroker(ctx: GatewayContext, req: Req, res: Res, rest: string): Promise<boolean> {
  const broker = brokers.get(ctx);
  return broker ? broker.dispatch(req, res, rest) : false;
}
