import type { Req } from './respond.js';

/**
 * Whether a state-changing POST (a fedgate form) may come from another site. Returns why it is
 * refused, or undefined when the request is same-origin as far as the browser says.
 *
 * The signals, strongest first:
 * - an `Origin` naming another origin is always refused;
 * - `Sec-Fetch-Site` (Fetch Metadata, https://www.w3.org/TR/fetch-metadata/) is set by the
 *   browser and cannot be forged by a page: only `same-origin` (or `none`, a user-initiated
 *   request such as a reload) passes, `same-site` and `cross-site` are refused;
 * - without fetch metadata, `Origin: null` is refused: it is what an opaque origin (a sandboxed
 *   frame, a `data:` page) sends.
 *
 * `Origin: null` alone is not proof of a cross-site post: the Fetch standard serializes the
 * origin of a POST as `null` whenever the page's referrer policy is `no-referrer`
 * (https://fetch.spec.whatwg.org/#serializing-a-request-origin), so a form on a page served
 * with that policy (fedgate's own, or any page of an app using helmet's defaults) sends it to
 * its own origin. `Sec-Fetch-Site: same-origin` then says where the form came from. A request
 * with neither header (curl, an old browser with a same-origin form) passes as before; the
 * forms that need it still carry their one-time token.
 */
export function crossSitePost(req: Req, baseUrl: string): string | undefined {
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== 'null' && origin !== baseUrl) return 'foreign Origin';
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined) return site === 'same-origin' || site === 'none' ? undefined : `Sec-Fetch-Site ${site}`;
  return origin === 'null' ? 'opaque Origin without fetch metadata' : undefined;
}
