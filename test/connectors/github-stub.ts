/**
 * An Express imitation of GitHub's OAuth endpoints and REST API (reference 11.6): auto-approving
 * authorize, a token endpoint that answers form-encoded unless asked for JSON and reports errors
 * with HTTP 200, and an API that refuses requests without `User-Agent` and pages with `Link`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import express, { type Request, type Response } from 'express';
import { closeServer, listenEphemeral } from '../fixtures/ports.js';

export const GITHUB_CLIENT_ID = 'Iv1.0123456789abcdef';
export const GITHUB_CLIENT_SECRET = 'gh-secret-0123456789-abcdefghijklmnopqrstuv';

export interface GithubEmail {
  email: string;
  primary: boolean;
  verified: boolean;
  visibility: string | null;
}
export interface GithubTeam {
  slug: string;
  organization: { login: string };
}

export interface GithubUser {
  id: number;
  login: string;
  name: string | null;
  email: string | null;
  avatar_url: string;
  emails: GithubEmail[];
  teams: GithubTeam[];
}

export const OCTOCAT: GithubUser = {
  id: 12345,
  login: 'octocat',
  name: null,
  email: null,
  avatar_url: 'https://avatars.githubusercontent.com/u/12345?v=4',
  emails: [
    { email: 'octo.old@example.com', primary: false, verified: true, visibility: null },
    { email: 'octo.unverified@example.com', primary: false, verified: false, visibility: null },
    { email: 'octocat@example.com', primary: true, verified: true, visibility: 'private' },
  ],
  teams: [
    { slug: 'devs', organization: { login: 'acme' } },
    { slug: 'ops', organization: { login: 'acme' } },
    { slug: 'maintainers', organization: { login: 'octo-org' } },
  ],
};

interface Grant {
  user: string;
  challenge: string | undefined;
  redirectUri: string;
}
interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body?: Record<string, string>;
}

export class GithubStub {
  url = '';
  port = 0;
  server!: Server;
  readonly users = new Map<string, GithubUser>([['octocat', structuredClone(OCTOCAT)]]);
  /** Account the next authorization approves. */
  nextUser = 'octocat';
  /** One-shot: authorize answers with this `error` instead. */
  nextAuthorizeError: string | undefined;
  /** One-shot: the token endpoint answers this error (HTTP 200, as GitHub does). */
  nextTokenError: string | undefined;
  /** Answer the token endpoint form-encoded even when JSON was asked for. */
  forceForm = false;
  /** Send a JSON token body labelled `text/plain` (wrong Content-Type). */
  wrongContentType = false;
  /** GitHub App mode: expiring tokens with rotating refresh tokens. */
  appMode = false;
  /** Items per API page (GitHub's `per_page`, forced small so paging happens). */
  pageSize = 2;
  /** One-shot: the next API request answers this HTTP status (an outage right after a token request). */
  nextApiStatus: number | undefined;
  /** Bytes of padding added to `/user` (size-cap tests). */
  userPadding = 0;
  readonly authorizeRequests: URLSearchParams[] = [];
  readonly tokenRequests: RecordedRequest[] = [];
  readonly apiRequests: RecordedRequest[] = [];
  readonly #grants = new Map<string, Grant>();
  /** access token -> user login */
  readonly #tokens = new Map<string, string>();
  /** refresh token -> user login */
  readonly #refreshTokens = new Map<string, string>();

  reset(): void {
    for (const list of [this.authorizeRequests, this.tokenRequests, this.apiRequests]) list.length = 0;
    this.nextUser = 'octocat';
    this.nextAuthorizeError = this.nextTokenError = undefined;
    this.forceForm = this.wrongContentType = this.appMode = false;
    this.pageSize = 2;
    this.userPadding = 0;
    this.users.set('octocat', structuredClone(OCTOCAT));
  }

  async close(): Promise<void> {
    await closeServer(this.server);
  }

  /** Issues tokens for `login` directly (for refresh tests). */
  issue(login: string): { accessToken: string; refreshToken: string } {
    const accessToken = `gho_${randomBytes(18).toString('base64url')}`;
    const refreshToken = `ghr_${randomBytes(30).toString('base64url')}`;
    this.#tokens.set(accessToken, login);
    this.#refreshTokens.set(refreshToken, login);
    return { accessToken, refreshToken };
  }

  authorize(req: Request, res: Response): void {
    const q = new URLSearchParams(req.originalUrl.split('?')[1] ?? '');
    this.authorizeRequests.push(q);
    const redirect = new URL(q.get('redirect_uri') ?? 'http://127.0.0.1:9/');
    const state = q.get('state');
    if (state !== null) redirect.searchParams.set('state', state);
    if (this.nextAuthorizeError) {
      redirect.searchParams.set('error', this.nextAuthorizeError);
      redirect.searchParams.set('error_description', 'The user has denied your application access.');
      this.nextAuthorizeError = undefined;
    } else {
      const code = randomBytes(10).toString('hex');
      this.#grants.set(code, { user: this.nextUser, challenge: q.get('code_challenge') ?? undefined, redirectUri: q.get('redirect_uri') ?? '' });
      redirect.searchParams.set('code', code);
    }
    res.redirect(302, redirect.href);
  }

  token(req: Request, res: Response): void {
    const body = (req.body ?? {}) as Record<string, string>;
    this.tokenRequests.push({ method: req.method, path: req.originalUrl, headers: { ...req.headers }, body: { ...body } });
    const json = !this.forceForm && String(req.headers.accept ?? '').includes('application/json');
    const send = (payload: Record<string, string | number>) => {
      if (json) {
        res
          .status(200)
          .type(this.wrongContentType ? 'text/plain' : 'application/json')
          .send(JSON.stringify(payload));
      } else {
        res
          .status(200)
          .type('application/x-www-form-urlencoded')
          .send(new URLSearchParams(Object.entries(payload).map(([k, v]): [string, string] => [k, String(v)])).toString());
      }
    };
    const fail = (error: string, description: string) =>
      send({ error, error_description: description, error_uri: `https://docs.github.com/apps/troubleshooting#${error}` });
    if (this.nextTokenError) {
      const error = this.nextTokenError;
      this.nextTokenError = undefined;
      fail(error, 'The code passed is incorrect or expired.');
      return;
    }
    if (body.client_id !== GITHUB_CLIENT_ID || body.client_secret !== GITHUB_CLIENT_SECRET) {
      fail('incorrect_client_credentials', 'The client_id and/or client_secret passed are incorrect.');
      return;
    }
    let login: string | undefined;
    if (body.grant_type === 'refresh_token') {
      login = this.#refreshTokens.get(body.refresh_token ?? '');
      if (!login) {
        fail('bad_refresh_token', 'The refresh token passed is incorrect or expired.');
        return;
      }
      this.#refreshTokens.delete(body.refresh_token ?? ''); // rotation
    } else {
      const grant = this.#grants.get(body.code ?? '');
      this.#grants.delete(body.code ?? '');
      const verifierOk =
        grant?.challenge === undefined
        || createHash('sha256')
          .update(body.code_verifier ?? '')
          .digest('base64url') === grant.challenge;
      if (!grant || !verifierOk || (body.redirect_uri !== undefined && body.redirect_uri !== grant.redirectUri)) {
        fail('bad_verification_code', 'The code passed is incorrect or expired.');
        return;
      }
      login = grant.user;
    }
    const issued = this.issue(login);
    send({
      access_token: issued.accessToken,
      token_type: 'bearer',
      scope: 'read:user,user:email',
      ...(this.appMode ? { expires_in: 28800, refresh_token: issued.refreshToken, refresh_token_expires_in: 15811200 } : {}),
    });
  }

  api(req: Request, res: Response, what: 'user' | 'emails' | 'teams'): void {
    this.apiRequests.push({ method: req.method, path: req.originalUrl, headers: { ...req.headers } });
    if (this.nextApiStatus !== undefined) {
      res.status(this.nextApiStatus).json({ message: 'Server Error' });
      this.nextApiStatus = undefined;
      return;
    }
    if (!req.headers['user-agent']) {
      res.status(403).type('text/plain').send('Request forbidden by administrative rules. Please make sure your request has a User-Agent header.');
      return;
    }
    const auth = req.headers.authorization ?? '';
    const login = auth.startsWith('Bearer ') ? this.#tokens.get(auth.slice(7)) : undefined;
    const user = login ? this.users.get(login) : undefined;
    if (!user) {
      res.status(401).json({ message: 'Requires authentication', documentation_url: 'https://docs.github.com/rest' });
      return;
    }
    if (what === 'user') {
      res.json({
        id: user.id,
        login: user.login,
        name: user.name,
        email: user.email,
        avatar_url: user.avatar_url,
        ...(this.userPadding ? { bio: 'x'.repeat(this.userPadding) } : {}),
      });
      return;
    }
    const list: unknown[] = what === 'emails' ? user.emails : user.teams;
    const page = Math.max(1, Number(req.query.page ?? '1'));
    const size = this.pageSize;
    const last = Math.max(1, Math.ceil(list.length / size));
    const link = (p: number) => `<${this.url}/api/user/${what}?per_page=${size}&page=${p}>`;
    const links = [...(page < last ? [`${link(page + 1)}; rel="next"`, `${link(last)}; rel="last"`] : []), ...(page > 1 ? [`${link(1)}; rel="first"`] : [])];
    if (links.length) res.set('Link', links.join(', '));
    res.json(list.slice((page - 1) * size, page * size));
  }
}

/** Starts the stub on 127.0.0.1:<ephemeral>: OAuth at `/login/oauth/*`, the API at `/api`. */
export async function startGithubStub(): Promise<GithubStub> {
  const stub = new GithubStub();
  const app = express();
  app.get('/login/oauth/authorize', (req, res) => stub.authorize(req, res));
  app.post('/login/oauth/access_token', express.urlencoded({ extended: false }), (req, res) => stub.token(req, res));
  app.get('/api/user', (req, res) => stub.api(req, res, 'user'));
  app.get('/api/user/emails', (req, res) => stub.api(req, res, 'emails'));
  app.get('/api/user/teams', (req, res) => stub.api(req, res, 'teams'));
  stub.server = createServer(app);
  stub.port = await listenEphemeral(stub.server);
  stub.url = `http://127.0.0.1:${stub.port}`;
  return stub;
}

/** A `github` connector config pointing at the stub. */
export function githubConnectorConfig(stub: GithubStub, more: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: 'github',
    name: 'GitHub',
    clientId: GITHUB_CLIENT_ID,
    clientSecret: GITHUB_CLIENT_SECRET,
    authorizeUrl: `${stub.url}/login/oauth/authorize`,
    tokenUrl: `${stub.url}/login/oauth/access_token`,
    apiBaseUrl: `${stub.url}/api`,
    ...more,
  };
}
