import type { Req, Res } from './respond.js';
import { crossSitePost } from './same-origin.js';

/** Methods that change state; the others are safe (RFC 9110 §9.2.1) and never refused as cross-site. */
const stateChanging = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** HSTS settings as resolved from the configuration (`hsts`). */
export interface HstsSettings {
  maxAge: number;
  includeSubDomains: boolean;
}

/**
 * The `Strict-Transport-Security` value for fedgate's own responses, or undefined: only on an
 * https origin (RFC 6797 §7.2: a host must not send it over plain http) and when not turned off.
 */
export function hstsHeader(secure: boolean, hsts: HstsSettings | false): string | undefined {
  if (!secure || hsts === false) return undefined;
  return `max-age=${hsts.maxAge}${hsts.includeSubDomains ? '; includeSubDomains' : ''}`;
}

/**
 * `Cache-Control: no-store` unless a header is already set. Called before the app's handler runs,
 * so a handler that sets its own Cache-Control afterwards simply replaces it.
 */
export function defaultNoStore(res: Res): void {
  if (!res.hasHeader('Cache-Control')) res.setHeader('Cache-Control', 'no-store');
}

/** Whether a state-changing request comes from another site: the rule of {@link crossSitePost}. */
export function isCrossSiteWrite(req: Req, origin: string): boolean {
  return stateChanging.has(req.method ?? 'GET') && crossSitePost(req, origin) !== undefined;
}
