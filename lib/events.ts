import { randomBytes } from 'node:crypto';
import type { ErrorCode } from './errors.js';
import type { Logger } from './logger.js';
import type { Req } from './http/respond.js';

/**
 * Audit events, delivered to `options.onEvent`, the gateway's EventEmitter (`gateway.on(type, fn)`)
 * and the log. Payloads carry connector ids, local subjects and error codes — never tokens,
 * codes, secrets, cookies or session ids. A field named `code` is always an `ErrorCode`
 * (docs/errors.md); words for people go to `detail`.
 */
export interface GatewayEvents {
  'login.started': { connector: string };
  'login.succeeded': { connector: string; sub: string };
  'login.failed': { connector?: string; code: ErrorCode };
  logout: { connector: string; sub: string; upstream: boolean };
  'session.expired': { connector: string; sub: string; reason: 'idle' | 'absolute' };
  'session.revoked': { sub: string; sessions: number };
  'refresh.succeeded': { connector: string; sub: string };
  'refresh.failed': { connector: string; sub: string; code: ErrorCode; ended: boolean; detail?: string };
  'backchannel.logout': { connector: string; sessions: number };
  'connector.unavailable': { connector: string; code: ErrorCode };
  'connector.recovered': { connector: string };
}

export type GatewayEventType = keyof GatewayEvents;

/** What `options.onEvent` receives. */
export type GatewayEvent = {
  [K in GatewayEventType]: { type: K; time: string; requestId?: string } & GatewayEvents[K];
}[GatewayEventType];

const levels: Record<GatewayEventType, 'info' | 'warn'> = {
  'login.started': 'info',
  'login.succeeded': 'info',
  'login.failed': 'warn',
  logout: 'info',
  'session.expired': 'info',
  'session.revoked': 'info',
  'refresh.succeeded': 'info',
  'refresh.failed': 'warn',
  'backchannel.logout': 'info',
  'connector.unavailable': 'warn',
  'connector.recovered': 'info',
};

const requestIds = new WeakMap<object, string>();
const safeRequestId = /^[A-Za-z0-9._:-]{1,64}$/;

/** The request's id: a well-formed incoming `X-Request-Id`, else a random one. */
export function requestIdOf(req: Req): string {
  let id = requestIds.get(req);
  if (!id) {
    const header = req.headers['x-request-id'];
    id = typeof header === 'string' && safeRequestId.test(header) ? header : randomBytes(9).toString('base64url');
    requestIds.set(req, id);
  }
  return id;
}

export type Emit = <K extends GatewayEventType>(type: K, data: GatewayEvents[K], req?: Req) => void;

/** Builds the one emit function; listeners that throw are logged and never break a request. */
export function createEmitter(logger: Logger, sinks: Array<(event: GatewayEvent) => void>): Emit {
  return (type, data, req) => {
    const event = { type, time: new Date().toISOString(), ...(req ? { requestId: requestIdOf(req) } : {}), ...data } as GatewayEvent;
    const { type: _t, time: _time, ...fields } = event;
    logger[levels[type]]({ event: type, ...fields }, type);
    for (const sink of sinks) {
      try {
        sink(event);
      } catch (err) {
        logger.error({ event: 'listener.error', type, err: err instanceof Error ? err.message.slice(0, 200) : 'unknown' }, 'Event listener threw');
      }
    }
  };
}
