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
 * Whether a state-changing request comes from another origin, by the headers a page cannot forge:
 * `Origin` (https://fetch.spec.whatwg.org/#origin-header) and `Sec-Fetch-Site`
 * (https://www.w3.org/TR/fetch-metadata/).
 * - an `Origin` naming another origin is foreign;
 * - with fetch metadata, only `same-origin` (or `none`, a user-initiated request) passes:
 *   `same-site` is foreign too, since a sibling subdomain is another origin that `SameSite=Lax`
 *   cookies do not keep out;
 * - without it, `Origin: null` (a sandboxed frame, a `data:` page) is foreign.
 * `Origin: null` alone proves nothing: a browser serializes the origin of a POST as `null` when the
 * page's referrer policy is `no-referrer` (https://fetch.spec.whatwg.org/#serializing-a-request-origin),
 * and then sends `Sec-Fetch-Site: same-origin` for a same-origin form. A request with neither
 * header (not a browser) passes: a cross-site browser request carries at least one.
 */
export function isCrossSiteWrite(req: Req, origin: string): boolean {
  if (!stateChanging.has(req.method ?? 'GET')) return false;
  const from = req.headers.origin;
  if (from !== undefined && from !== 'null' && from !== origin) return true;
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined) return site !== 'same-origin' && site !== 'none';
  return from === 'null';
}
