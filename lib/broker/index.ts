import type Provider from 'oidc-provider';
import type { GatewayContext } from '../context.js';
import type { RedisClient } from '../redis/client.js';
import { errorBody, sendJson, type Req, type Res } from '../http/respond.js';
import { resolveBrokerSettings, type BrokerSettings } from './config.js';
import { buildScopeClaims } from './claims-filter.js';
import { createBrokerRecords } from './records.js';
import { buildProvider, providerRoutes } from './provider.js';
import { createLogoutChain, type LogoutChain } from './logout-chain.js';
import { createBrokerUserinfo, type BrokerUserinfo } from './userinfo.js';
import { showInteraction, submitInteraction } from './interactions.js';
import { showConsents, withdrawFromConsents } from './consents-page.js';
import type { BrokerRuntime } from './runtime.js';

/**
 * Broker mode: fedgate as an OpenID Provider for other client apps (client app → fedgate →
 * upstream IdP). `createBroker` is called once by the gateway, which hands the broker to the
 * router: every request under basePath goes to {@link Broker.dispatch} first.
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

/** What the gateway gives the broker besides its context. */
export interface BrokerDeps {
  /** The raw Redis client, when sessions live in Redis. */
  redis?: RedisClient;
  /** Registers a listener of session ends (`ctx.onSessionsDestroyed` calls it). */
  onSessionsEnded(listener: (sessionIds: readonly string[]) => void): void;
}

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
 * Creates the broker when `op.enabled`; session ends feed its logout chain. Returns undefined
 * when broker mode is off.
 */
export function createBroker(ctx: GatewayContext, deps: BrokerDeps): Broker | undefined {
  const op = ctx.config.op;
  if (!op?.enabled) return undefined;
  const c = ctx.config;
  const settings = resolveBrokerSettings(op, {
    accessTokenTtl: c.tokens.accessTokenTtl,
    idTokenTtl: c.tokens.idTokenTtl,
    transactionTtl: c.session.transactionTtl,
    absoluteTimeout: c.session.absoluteTimeout,
  });
  // The provider is built on first use (after createBroker returned), so `chain` exists by then.
  const rt = createBrokerRuntime(ctx, settings, deps.redis, (self) => buildProvider(self, chain));
  const chain = createLogoutChain(rt);
  deps.onSessionsEnded((ids) => chain.sessionsEnded(ids));
  chain.start();
  const dispatch = createDispatcher(rt, createBrokerUserinfo(rt), createProviderCaller(rt));
  return {
    logoutChain: chain,
    dispatch,
    async ready() {
      await rt.provider();
    },
    async close() {
      await chain.stop();
    },
  };
}

/** The runtime every broker module shares; `build` makes the provider, once, on first use. */
function createBrokerRuntime(
  ctx: GatewayContext,
  settings: BrokerSettings,
  redis: RedisClient | undefined,
  build: (rt: BrokerRuntime) => Promise<Provider>,
): BrokerRuntime {
  const c = ctx.config;
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
      providerPromise ??= build(rt).catch((err: unknown) => {
        providerPromise = undefined;
        throw err;
      });
      return providerPromise;
    },
  };
  return rt;
}

/** Hands a request to oidc-provider's own handler, with the path relative to basePath. */
function createProviderCaller(rt: BrokerRuntime): (req: Req, res: Res, rest: string) => Promise<void> {
  const secure = rt.ctx.config.secure;
  const host = new URL(rt.ctx.config.baseUrl).host;
  let handler: ((req: Req, res: Res) => Promise<void>) | undefined;
  return async (req, res, rest) => {
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
  };
}

/** Routes a request under basePath to the broker's pages, its userinfo or the provider. */
function createDispatcher(rt: BrokerRuntime, userinfo: BrokerUserinfo, callProvider: (req: Req, res: Res, rest: string) => Promise<void>): Broker['dispatch'] {
  return async (req, res, rest) => {
    const method = req.method ?? 'GET';
    const segments = rest.split('/').filter(Boolean);
    if (rest === '/userinfo') {
      if (method === 'OPTIONS') return userinfo.preflight(req, res);
      if (method === 'GET' || method === 'POST') return userinfo.handle(req, res);
      return false;
    }
    if (rest === '/consents') {
      await dispatchConsents(rt, req, res, method);
      return true;
    }
    if (segments[0] === 'interaction' && segments.length === 2) {
      await dispatchInteraction(rt, req, res, method, segments[1]!);
      return true;
    }
    if (providerPaths.some((p) => rest === p || rest.startsWith(`${p}/`))) {
      await callProvider(req, res, rest);
      return true;
    }
    return false;
  };
}

async function dispatchConsents(rt: BrokerRuntime, req: Req, res: Res, method: string): Promise<void> {
  if (method === 'GET' || method === 'HEAD') await showConsents(rt, req, res);
  else if (method === 'POST') await withdrawFromConsents(rt, req, res);
  else {
    res.setHeader('Allow', 'GET, HEAD, POST');
    sendJson(res, 405, errorBody('METHOD_NOT_ALLOWED', 'This method is not allowed here.'));
  }
}

async function dispatchInteraction(rt: BrokerRuntime, req: Req, res: Res, method: string, segment: string): Promise<void> {
  let uid: string;
  try {
    uid = decodeURIComponent(segment);
  } catch {
    uid = '';
  }
  // GET only (not HEAD): showing a login step may finish it.
  if (method === 'GET') await showInteraction(rt, req, res, uid);
  else if (method === 'POST') await submitInteraction(rt, req, res, uid);
  else {
    res.setHeader('Allow', 'GET, POST');
    sendJson(res, 405, errorBody('METHOD_NOT_ALLOWED', 'This method is not allowed here.'));
  }
}
