import type { Req, Res } from './respond.js';

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

/**
 * Whether a state-changing request comes from another origin, by the headers a browser cannot be
 * made to forge: `Sec-Fetch-Site` (https://www.w3.org/TR/fetch-metadata/) and `Origin`
 * (https://fetch.spec.whatwg.org/#origin-header). `same-site` counts as foreign: a sibling
 * subdomain is another origin that `SameSite=Lax` cookies do not keep out.
 * `Origin: null` is what a sandboxed frame sends, but also what a browser sends for a same-origin
 * form post under `Referrer-Policy: no-referrer`; only `Sec-Fetch-Site: same-origin` tells them apart.
 * A request with neither header (not a browser) passes: a cross-site browser request carries one.
 */
export function isCrossSiteWrite(req: Req, origin: string): boolean {
  if (!stateChanging.has(req.method ?? 'GET')) return false;
  const site = req.headers['sec-fetch-site'];
  if (site === 'cross-site' || site === 'same-site') return true;
  const from = req.headers.origin;
  if (from === undefined) return false;
  if (from === 'null') return site !== 'same-origin';
  return from !== origin;
}
