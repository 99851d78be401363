/**
 * Shared helpers of the session-lifecycle tests: raw HTTP with a copied session cookie (so a
 * second instance, or a cookie the browser already dropped, can be used), and direct reads of
 * what fedgate stored in Redis.
 */
import type { Redis, Cluster } from 'ioredis';
import type { Browser } from '../fixtures/browser.js';
import type { TestClock } from '../fixtures/clock.js';
import type { SessionAuth } from '../../lib/session/state.js';

/** Session cookie name on http (the test stacks' baseUrl). */
export const COOKIE_NAME = 'fedgate.sid';
/** Default Redis key prefix. */
export const PREFIX = 'fedgate:';

/** `fedgate.sid=<value>` of a signed-in browser at `origin`. */
export function sessionCookie(browser: Browser, origin: string): string {
  const value = browser.cookies.get(origin, COOKIE_NAME);
  if (!value) throw new Error(`no ${COOKIE_NAME} cookie for ${origin}`);
  return `${COOKIE_NAME}=${value}`;
}

/** The express-session id inside a signed cookie (`s:<id>.<signature>`). */
export function sessionIdOf(cookie: string): string {
  const raw = decodeURIComponent(cookie.slice(cookie.indexOf('=') + 1));
  if (!raw.startsWith('s:')) throw new Error('unsigned session cookie');
  return raw.slice(2, raw.lastIndexOf('.'));
}

/** Redis key of the session a cookie names. */
export const sessionKey = (cookie: string): string => `${PREFIX}sess:${sessionIdOf(cookie)}`;

/** A response read as JSON (or `{ text }`), with how long it took. */
export interface JsonResponse {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
  ms: number;
}

/** GET with a cookie (or bearer token) as an API client: JSON, no redirects, bounded. */
export async function getJson(url: string, auth: { cookie?: string; bearer?: string } = {}, timeoutMs = 10_000): Promise<JsonResponse> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (auth.cookie) headers.cookie = auth.cookie;
  if (auth.bearer) headers.authorization = `Bearer ${auth.bearer}`;
  const started = Date.now();
  const res = await fetch(url, { headers, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { text };
  }
  return { status: res.status, headers: res.headers, body, ms: Date.now() - started };
}

/** The stored session (`fedgate` part), or undefined when the key is gone. */
export async function storedAuth(client: Redis | Cluster, cookie: string): Promise<SessionAuth | undefined> {
  const raw = await client.get(sessionKey(cookie));
  if (raw === null) return undefined;
  return (JSON.parse(raw) as { fedgate?: SessionAuth }).fedgate;
}

/**
 * Moves the gateway clock by the upstream access token's lifetime (the `expires_in` the test OP
 * was configured with), so the next request must refresh it. Returns the stored session as it is
 * before that request.
 */
export async function upstreamTokenDue(clock: TestClock, lifetimeSeconds: number, client: Redis | Cluster, cookie: string): Promise<SessionAuth> {
  clock.advance(lifetimeSeconds * 1000);
  const auth = await storedAuth(client, cookie);
  if (!auth) throw new Error('session not found in Redis');
  return auth;
}

/** A promise to release by hand: holds a request in flight. */
export function deferred(): { promise: Promise<void>; release: () => void } {
  let release!: () => void;
  const promise = new Promise<void>((resolve) => {
    release = resolve;
  });
  return { promise, release };
}

/** grant_type values of the OP's token requests so far. */
export const grantTypes = (requests: URLSearchParams[]): string[] => requests.map((r) => r.get('grant_type') ?? '');
/** How many of the OP's token requests were refresh_token grants. */
export const refreshCount = (requests: URLSearchParams[]): number => grantTypes(requests).filter((g) => g === 'refresh_token').length;
