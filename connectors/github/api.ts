import { FedgateError } from '../../lib/errors.js';
import { sanitizeParam, translateUpstreamError } from '../common/errors.js';

/** At most this many pages of `/user/emails` or `/user/teams` are read (100 items each). */
export const maxApiPages = 10;

export type FetchLike = (url: string, options: RequestInit) => Promise<Response>;

export interface GithubHttp {
  fetch: FetchLike;
  timeoutMs: number;
  userAgent: string;
}

/** A token endpoint answer: access token and, for GitHub Apps with expiring tokens, a refresh token. */
export interface GithubTokens {
  accessToken: string;
  refreshToken?: string;
  expiresIn?: number;
  scope?: string;
}

/**
 * Parses a token endpoint body. GitHub answers form-encoded unless asked for JSON, and some
 * responses carry a wrong Content-Type (https://github.com/googleworkspace/apps-script-oauth2/issues/6, https://github.com/orgs/community/discussions/101123),
 * so the body decides: a JSON object, else form encoding.
 */
export function parseTokenBody(text: string): Record<string, unknown> {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    try {
      const parsed: unknown = JSON.parse(trimmed);
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
    } catch {
      // fall through to the form-encoded reading
    }
  }
  return Object.fromEntries(new URLSearchParams(trimmed));
}

/**
 * POSTs to the token endpoint with `Accept: application/json`. Errors such as
 * `bad_verification_code` come back with HTTP 200 (https://github.com/octokit/auth-oauth-app.js/issues/13): a body with an `error` member fails.
 */
export async function tokenRequest(
  http: GithubHttp,
  url: string,
  body: URLSearchParams,
  headers: Record<string, string>,
  stage: 'token' | 'refresh',
): Promise<GithubTokens> {
  let res: Response;
  let text: string;
  try {
    res = await http.fetch(url, {
      method: 'POST',
      body: body.toString(),
      headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded', 'user-agent': http.userAgent, ...headers },
      redirect: 'manual',
      signal: AbortSignal.timeout(http.timeoutMs),
    });
    text = await res.text();
  } catch (err) {
    throw translateUpstreamError(err, stage);
  }
  if (res.status >= 500 || res.status === 429)
    throw new FedgateError('UPSTREAM_UNAVAILABLE', 'The identity provider is not reachable right now.', { detail: `${stage}: HTTP ${res.status}` });
  const parsed = parseTokenBody(text);
  if (typeof parsed.error === 'string') {
    const error = sanitizeParam(parsed.error, 64);
    if (stage === 'refresh' && (error === 'bad_refresh_token' || error === 'invalid_grant')) {
      throw new FedgateError('REFRESH_REJECTED', 'The identity provider ended the session.', { detail: `refresh: ${error}` });
    }
    throw new FedgateError('UPSTREAM_RESPONSE_INVALID', `The identity provider refused the request (${error}).`, {
      detail: `${stage}: ${error} (HTTP ${res.status})`,
    });
  }
  if (res.status !== 200)
    throw new FedgateError('UPSTREAM_RESPONSE_INVALID', 'The identity provider sent an invalid response.', { detail: `${stage}: HTTP ${res.status}` });
  const accessToken = parsed.access_token;
  const tokenType = parsed.token_type;
  if (typeof accessToken !== 'string' || accessToken.length === 0 || accessToken.length > 4096) {
    throw new FedgateError('UPSTREAM_RESPONSE_INVALID', 'The identity provider sent an invalid response.', { detail: `${stage}: no access_token` });
  }
  if (tokenType !== undefined && (typeof tokenType !== 'string' || tokenType.toLowerCase() !== 'bearer')) {
    throw new FedgateError('UPSTREAM_RESPONSE_INVALID', 'The identity provider sent an invalid response.', { detail: `${stage}: token_type is not bearer` });
  }
  const tokens: GithubTokens = { accessToken };
  if (typeof parsed.refresh_token === 'string' && parsed.refresh_token) tokens.refreshToken = parsed.refresh_token;
  const expiresIn = Number(parsed.expires_in);
  if (parsed.expires_in !== undefined && Number.isFinite(expiresIn) && expiresIn > 0) tokens.expiresIn = Math.floor(expiresIn);
  if (typeof parsed.scope === 'string') tokens.scope = parsed.scope.replace(/,/g, ' ');
  return tokens;
}

/** One REST API answer: status, parsed JSON body (200 only) and the `Link: rel="next"` URL. */
export interface ApiPage {
  status: number;
  body: unknown;
  next: string | undefined;
}

/**
 * GET on the REST API with the headers GitHub requires: `User-Agent` (403 without it), `Bearer`
 * auth and the versioned media type (https://docs.github.com/en/rest/using-the-rest-api/getting-started-with-the-rest-api). A `next` link must stay under `apiBase`, so
 * the token never leaves the API host.
 */
export async function apiGet(http: GithubHttp, apiBase: string, url: string, accessToken: string): Promise<ApiPage> {
  let res: Response;
  let body: unknown;
  try {
    res = await http.fetch(url, {
      headers: {
        authorization: `Bearer ${accessToken}`,
        accept: 'application/vnd.github+json',
        'user-agent': http.userAgent,
        'x-github-api-version': '2022-11-28',
      },
      redirect: 'manual',
      signal: AbortSignal.timeout(http.timeoutMs),
    });
    if (res.status === 200) body = await res.json();
    else await res.body?.cancel();
  } catch (err) {
    throw translateUpstreamError(err, 'userinfo');
  }
  if (res.status >= 500 || res.status === 429)
    throw new FedgateError('UPSTREAM_UNAVAILABLE', 'The identity provider is not reachable right now.', { detail: `api: HTTP ${res.status}` });
  return { status: res.status, body, next: nextLink(res.headers.get('link'), apiBase) };
}

function nextLink(header: string | null, apiBase: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(',')) {
    const m = /^\s*<([^>]+)>\s*;(.*)$/.exec(part);
    if (!m || !/\brel="?next"?/.test(m[2] ?? '')) continue;
    const url = new URL(m[1] ?? '', apiBase);
    const base = new URL(apiBase.endsWith('/') ? apiBase : `${apiBase}/`);
    if (url.origin !== base.origin || !url.pathname.startsWith(base.pathname)) {
      throw new FedgateError('UPSTREAM_RESPONSE_INVALID', 'The identity provider sent an invalid response.', { detail: 'api: Link next leaves the API base' });
    }
    return url.href;
  }
  return undefined;
}

/**
 * Reads every page of a list endpoint (following `Link: rel="next"`, at most {@link maxApiPages}).
 * Returns undefined when the endpoint answers 403/404 (scope not granted).
 */
export async function apiList(http: GithubHttp, apiBase: string, path: string, accessToken: string): Promise<unknown[] | undefined> {
  const items: unknown[] = [];
  let url: string | undefined = `${apiBase}${path}${path.includes('?') ? '&' : '?'}per_page=100`;
  for (let page = 0; url !== undefined; page += 1) {
    if (page >= maxApiPages)
      throw new FedgateError('UPSTREAM_RESPONSE_INVALID', 'The identity provider sent too many pages.', {
        detail: `api: more than ${maxApiPages} pages of ${path}`,
      });
    const res = await apiGet(http, apiBase, url, accessToken);
    if (res.status === 403 || res.status === 404) return undefined;
    if (res.status !== 200 || !Array.isArray(res.body))
      throw new FedgateError('UPSTREAM_RESPONSE_INVALID', 'The identity provider sent an invalid response.', { detail: `api: ${path} HTTP ${res.status}` });
    items.push(...res.body);
    url = res.next;
  }
  return items;
}
