import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ErrorCode, FedgateError } from '../errors.js';
import { errorNextOf, escapeHtml, layout, pageBase, pagesOf, renderView } from './page.js';
export { escapeHtml };

/** Minimal request/response types so the core runs under Express 4 and 5 alike. */
export type Req = IncomingMessage & { originalUrl?: string; auth?: unknown; session?: unknown; sessionID?: string };
export type Res = ServerResponse;
export type Next = (err?: unknown) => void;

/** A browser navigation: GET/HEAD that accepts HTML. */
export function wantsHtml(req: Req): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const accept = req.headers.accept ?? '';
  return accept.includes('text/html');
}

/**
 * A page the browser shows as a document, whatever the method: a form POST navigates too, so its
 * error must be a page, not JSON. Fetch Metadata says so when sent (`Sec-Fetch-Mode: navigate`,
 * https://www.w3.org/TR/fetch-metadata/); without it, an `Accept` naming HTML does.
 */
export function navigates(req: Req): boolean {
  const mode = req.headers['sec-fetch-mode'];
  if (mode !== undefined) return mode === 'navigate';
  return (req.headers.accept ?? '').includes('text/html');
}

/** Parses the query of the original URL; repeated keys are kept so callers can reject them. */
export function queryOf(req: Req): URLSearchParams {
  const raw = req.originalUrl ?? req.url ?? '/';
  const i = raw.indexOf('?');
  return new URLSearchParams(i === -1 ? '' : raw.slice(i + 1));
}

/** The one value of a query parameter; undefined when absent, null when repeated. */
export function single(params: URLSearchParams, name: string): string | undefined | null {
  const all = params.getAll(name);
  if (all.length === 0) return undefined;
  if (all.length > 1) return null;
  return all[0];
}

export function noStore(res: Res): void {
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Pragma', 'no-cache');
}

/**
 * fedgate's one JSON error body (docs/errors.md): `error`, `code` (an `ErrorCode`), `message` (safe
 * to show), then any named extras. `error` is the code in lower case, or the error value the
 * answer's RFC defines where it is a protocol answer (RFC 6750 §3.1 `invalid_token`,
 * `insufficient_scope`; RFC 9449 §7.1 `invalid_dpop_proof`).
 */
export function errorBody(code: ErrorCode, message: string, extra: { error?: string } & Record<string, unknown> = {}): Record<string, unknown> {
  const { error = code.toLowerCase(), ...rest } = extra;
  return { error, code, message, ...rest };
}

export function sendJson(res: Res, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.end(JSON.stringify(body));
}

export function sendHtml(res: Res, status: number, html: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  // No form-action: browsers apply it to the redirects that follow a submission, and both forms
  // fedgate renders (chooser e-mail, logout confirmation) end at the upstream's origin.
  res.setHeader('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'");
  res.end(html);
}

export function redirect(res: Res, location: string, status = 302): void {
  res.statusCode = status;
  res.setHeader('Location', location);
  res.setHeader('Content-Length', '0');
  res.end();
}

/** A whole page in fedgate's shared layout (lib/http/page.ts); `body` is trusted, escaped markup. */
export function page(title: string, body: string, homeUrl?: string): string {
  return layout(title, body, homeUrl);
}

/**
 * Renders an error as an escaped HTML page (browsers) or JSON (APIs). Only the code and the
 * safe message leave the process; `detail` and `cause` stay in the logs. With the gateway's
 * `errorHandler: 'next'` the coded error goes to Express's error handler instead. The page is
 * the app's `views.error` when it has one; `retry` adds a "Try again" link (failed logins).
 */
export function sendError(req: Req, res: Res, err: FedgateError, retry?: { retryUrl: string }): void {
  noStore(res);
  res.setHeader('Referrer-Policy', 'no-referrer');
  if (err.status === 503) res.setHeader('Retry-After', '5');
  const next = errorNextOf(req);
  if (next) {
    next(err);
    return;
  }
  if (wantsHtml(req) || navigates(req)) {
    const kit = pagesOf(req);
    sendHtml(res, err.status, renderView(kit, 'error', { ...pageBase(kit), status: err.status, code: err.code, message: err.message, ...(retry ?? {}) }));
    return;
  }
  sendJson(res, err.status, errorBody(err.code, err.message));
}

/** Reads one cookie from the request header without any decoding surprises. */
export function readCookie(req: Req, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    if (part.slice(0, eq).trim() === name) {
      const v = part.slice(eq + 1).trim();
      return v.length <= 256 ? v : undefined;
    }
  }
  return undefined;
}

export interface CookieOptions {
  maxAge?: number;
  path: string;
  secure: boolean;
}

export function setCookie(res: Res, name: string, value: string, opts: CookieOptions): void {
  const parts = [`${name}=${value}`, `Path=${opts.path}`, 'HttpOnly', 'SameSite=Lax'];
  if (opts.maxAge !== undefined) parts.push(`Max-Age=${opts.maxAge}`);
  if (opts.maxAge === 0) parts.push('Expires=Thu, 01 Jan 1970 00:00:00 GMT');
  if (opts.secure) parts.push('Secure');
  const prev = res.getHeader('Set-Cookie');
  const list = Array.isArray(prev) ? prev : typeof prev === 'string' ? [prev] : [];
  res.setHeader('Set-Cookie', [...list, parts.join('; ')]);
}

/** Reads a small urlencoded or JSON body (logout forms, back-channel logout); capped. */
export async function readForm(req: Req, maxBytes = 16 * 1024): Promise<URLSearchParams> {
  const existing = (req as { body?: unknown }).body;
  if (existing && typeof existing === 'object' && !Buffer.isBuffer(existing)) {
    const out = new URLSearchParams();
    for (const [k, v] of Object.entries(existing)) if (typeof v === 'string') out.append(k, v);
    return out;
  }
  const type = req.headers['content-type'] ?? '';
  if (!type.startsWith('application/x-www-form-urlencoded')) return new URLSearchParams();
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    total += buf.length;
    if (total > maxBytes) throw new Error('body too large');
    chunks.push(buf);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/** 401 for a request with no valid session or token (RFC 6750 §3). */
export function sendUnauthorized(res: Res): void {
  sendJson(res, 401, errorBody('UNAUTHORIZED', 'Sign in to continue.'), { 'WWW-Authenticate': 'Bearer realm="fedgate"', 'Cache-Control': 'no-store' });
}

/** 401 for a bearer token that failed verification (RFC 6750 §3.1 `invalid_token`). */
export function sendInvalidToken(res: Res, description?: string): void {
  sendJson(
    res,
    401,
    errorBody('TOKEN_INVALID', 'The access token is not valid.', {
      error: 'invalid_token',
      ...(description !== undefined ? { error_description: description } : {}),
    }),
    { 'WWW-Authenticate': 'Bearer realm="fedgate", error="invalid_token"', 'Cache-Control': 'no-store' },
  );
}

/** 503 with Retry-After: the answer to every internal failure; never access. */
export function sendUnavailable(res: Res, code: ErrorCode): void {
  sendJson(res, 503, errorBody(code, 'The service is temporarily unavailable; try again shortly.', { error: 'temporarily_unavailable' }), {
    'Retry-After': '5',
    'Cache-Control': 'no-store',
  });
}
