import { z } from 'zod';

/**
 * A vendor host as its console shows it (`dev-abc.eu.auth0.com`, `acme.okta.com:8443`), or a full
 * origin (`https://login.example.com`, `http://127.0.0.1:4000`). The origin form exists so that a
 * custom domain with a scheme, or a local imitation in tests, needs no separate setting; a path,
 * query, fragment or credentials are refused because presets append their own paths.
 */
export const vendorHost = z
  .string()
  .min(1)
  .max(253)
  .regex(
    /^(?:https?:\/\/)?[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::\d{1,5})?\/?$/,
    'must be a host name (e.g. "tenant.example.com") or an origin (e.g. "https://tenant.example.com")',
  );

/** The origin of a {@link vendorHost} value, without a trailing slash: a bare host means https. */
export function originOf(hostOrOrigin: string): string {
  const withScheme = /^https?:\/\//i.test(hostOrOrigin) ? hostOrOrigin : `https://${hostOrOrigin}`;
  return new URL(withScheme).origin;
}

/** `base` without trailing slashes (for `{url}/realms/{realm}` style joins). */
export function trimSlash(base: string): string {
  return base.replace(/\/+$/, '');
}

/**
 * Adds query parameters to a vendor endpoint, keeping the query it already has (RP-Initiated
 * Logout 1.0 §2: the end-session endpoint URL may carry its own query). Undefined values are skipped.
 */
export function withParams(endpoint: string | URL, params: Record<string, string | undefined>): URL {
  const url = new URL(endpoint);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, v);
  return url;
}
