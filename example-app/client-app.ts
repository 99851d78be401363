/**
 * A second, separate application that signs its users in THROUGH fedgate (broker mode): plain
 * Express and openid-client 6, as any OpenID Connect relying party would, on its own port. It is
 * an untrusted client (`trusted: false` in gateway.json), so fedgate asks for consent once.
 *
 * Flow: this app → fedgate (/auth/auth) → the development IdP's login form → fedgate's consent
 * page → back here with a code → tokens from fedgate's token endpoint → userinfo.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import express from 'express';
import * as oidc from 'openid-client';
import { escapeHtml, prettyJson } from './html.js';
import { close, listen } from './ports.js';

/** The client id registered in example-app/gateway.json (`op.clients`). */
export const demoClientId = 'reports-demo';
/** The client's origin written in gateway.json; replaced by the real one (the port may differ). */
export const configuredClientUrl = 'http://localhost:3001';

export interface ClientApp {
  /** Public origin, e.g. `http://localhost:3001`. */
  url: string;
  close(): Promise<void>;
}

interface Pending {
  verifier: string;
  state: string;
  nonce: string;
}

interface SignedIn {
  idToken: string;
  claims: Record<string, unknown>;
  accessToken: string;
  userinfo: Record<string, unknown>;
}

const cookieName = 'reports_demo';
const maxSessions = 1000;

const styles =
  '*{box-sizing:border-box}body{margin:0;font:16px/1.55 system-ui,sans-serif;color:#1f2328;background:#fdf6ec}'
  + 'header{padding:.8rem 1.5rem;background:#7c2d12;color:#fff;font-weight:700}main{max-width:48rem;margin:1.5rem auto;padding:0 1rem}'
  + 'section{background:#fff;border:1px solid #e7d8c4;border-radius:.6rem;padding:1rem 1.4rem;margin:1rem 0}'
  + '.button{display:inline-block;font:inherit;font-weight:600;padding:.55rem 1rem;border-radius:.45rem;background:#9a3412;color:#fff;text-decoration:none}'
  + 'a:focus-visible{outline:3px solid #1d4ed8;outline-offset:2px}pre{background:#1f2328;color:#f6f8fa;padding:.8rem;border-radius:.4rem;overflow:auto}'
  + 'code{background:#f3ece2;padding:0 .25rem}';

function page(title: string, body: string): string {
  return (
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${escapeHtml(title)}</title>`
    + `<style>${styles}</style></head><body><header>Reports demo · a client app of fedgate</header><main>${body}</main></body></html>`
  );
}

function payloadOf(jwt: string): unknown {
  try {
    return JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8'));
  } catch {
    return '(not a JWT)';
  }
}

/**
 * Starts the client app. `fedgateIssuer` is fedgate's issuer (`http://localhost:3000/auth`);
 * discovery runs at the first sign-in, so the two can start in any order.
 */
export async function startClientApp(opts: { port?: number; fallback?: boolean; fedgateIssuer: () => string }): Promise<ClientApp> {
  const server = createServer();
  const port = await listen(server, opts.port ?? 3001, '127.0.0.1', opts.fallback ?? true);
  const url = `http://localhost:${port}`;
  const pending = new Map<string, Pending>();
  const sessions = new Map<string, SignedIn>();
  let config: Promise<oidc.Configuration> | undefined;
  // A public client (no secret): PKCE S256 protects the code. http is allowed for this local demo only.
  const discover = () =>
    (config ??= oidc
      .discovery(new URL(opts.fedgateIssuer()), demoClientId, undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] })
      .catch((err: unknown) => {
        config = undefined;
        throw err;
      }));

  const app = express();
  app.disable('x-powered-by');
  app.use((_req, res, next) => {
    res.set({
      'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'",
      'Referrer-Policy': 'no-referrer',
      'Cache-Control': 'no-store',
    });
    next();
  });
  const sessionId = (req: express.Request): string | undefined => /(?:^|;\s*)reports_demo=([\w-]{20,})/.exec(req.headers.cookie ?? '')?.[1];
  const setSession = (res: express.Response, id: string | undefined) =>
    res.setHeader('Set-Cookie', `${cookieName}=${id ?? ''}; Path=/; HttpOnly; SameSite=Lax${id ? '' : '; Max-Age=0'}`);

  app.get('/', (req, res) => {
    const id = sessionId(req);
    const signedIn = id ? sessions.get(id) : undefined;
    if (!signedIn) {
      res
        .type('html')
        .send(
          page(
            'Reports demo',
            '<h1>Reports demo</h1><p>A separate application. It has no user database and no upstream login of its own: '
              + 'it signs you in through fedgate with OpenID Connect (authorization code + PKCE). fedgate sends you to the upstream provider, '
              + 'then asks whether this app may see your profile (it is not a trusted first-party client).</p>'
              + '<p><a class="button" href="/login">Sign in with fedgate</a></p>',
          ),
        );
      return;
    }
    const name = typeof signedIn.userinfo.name === 'string' ? signedIn.userinfo.name : String(signedIn.claims.sub);
    res
      .type('html')
      .send(
        page(
          'Reports demo',
          `<h1>Hello ${escapeHtml(name)}</h1><p>Signed in through fedgate as <code id="client-sub">${escapeHtml(signedIn.claims.sub)}</code>.</p>`
            + `<section><h2>ID token claims (from fedgate)</h2><pre id="client-id-token">${prettyJson(signedIn.claims)}</pre></section>`
            + `<section><h2>Userinfo (fedgate's userinfo endpoint)</h2><pre id="client-userinfo">${prettyJson(signedIn.userinfo)}</pre></section>`
            + `<section><h2>Access token payload</h2><pre id="client-access-token">${prettyJson(payloadOf(signedIn.accessToken))}</pre></section>`
            + '<p><a class="button" href="/logout">Sign out</a></p>',
        ),
      );
  });

  app.get('/login', async (_req, res) => {
    try {
      const cfg = await discover();
      const flow: Pending = { verifier: oidc.randomPKCECodeVerifier(), state: oidc.randomState(), nonce: oidc.randomNonce() };
      const id = randomBytes(24).toString('base64url');
      if (pending.size >= maxSessions) pending.delete(pending.keys().next().value!);
      pending.set(id, flow);
      setSession(res, id);
      res.redirect(
        oidc.buildAuthorizationUrl(cfg, {
          redirect_uri: `${url}/callback`,
          scope: 'openid profile email',
          state: flow.state,
          nonce: flow.nonce,
          code_challenge: await oidc.calculatePKCECodeChallenge(flow.verifier),
          code_challenge_method: 'S256',
        }).href,
      );
    } catch {
      res
        .status(503)
        .type('html')
        .send(
          page(
            'Not available',
            '<h1>fedgate is not reachable</h1><p>Start the example with <code>npm start</code> and try again.</p><p><a href="/">Back</a></p>',
          ),
        );
    }
  });

  app.get('/callback', async (req, res) => {
    const id = sessionId(req);
    const flow = id ? pending.get(id) : undefined;
    if (id) pending.delete(id);
    const error = typeof req.query.error === 'string' ? req.query.error : undefined;
    if (!flow || error) {
      res
        .status(400)
        .type('html')
        .send(
          page(
            'Not signed in',
            `<h1>Not signed in</h1><p>${error === 'access_denied' ? 'You did not allow this app to see your profile.' : 'The sign-in did not complete.'}</p>`
              + `${error ? `<p>Error code: <code>${escapeHtml(error)}</code></p>` : ''}<p><a class="button" href="/login">Try again</a> <a href="/">Home</a></p>`,
          ),
        );
      return;
    }
    try {
      const cfg = await discover();
      const tokens = await oidc.authorizationCodeGrant(cfg, new URL(req.originalUrl, url), {
        pkceCodeVerifier: flow.verifier,
        expectedState: flow.state,
        expectedNonce: flow.nonce,
      });
      const claims = tokens.claims();
      if (!claims) throw new Error('no ID token');
      const userinfo = await oidc.fetchUserInfo(cfg, tokens.access_token, claims.sub);
      if (sessions.size >= maxSessions) sessions.delete(sessions.keys().next().value!);
      sessions.set(id!, { idToken: tokens.id_token ?? '', claims: { ...claims }, accessToken: tokens.access_token, userinfo: { ...userinfo } });
      res.redirect('/');
    } catch {
      res
        .status(502)
        .type('html')
        .send(
          page('Sign-in failed', '<h1>Sign-in failed</h1><p>fedgate did not accept the code exchange.</p><p><a class="button" href="/login">Try again</a></p>'),
        );
    }
  });

  app.get('/logout', async (req, res) => {
    const id = sessionId(req);
    const signedIn = id ? sessions.get(id) : undefined;
    if (id) sessions.delete(id);
    setSession(res, undefined);
    if (!signedIn) {
      res.redirect('/');
      return;
    }
    // RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): fedgate asks for confirmation.
    const cfg = await discover().catch(() => undefined);
    res.redirect(cfg ? oidc.buildEndSessionUrl(cfg, { id_token_hint: signedIn.idToken, post_logout_redirect_uri: `${url}/` }).href : '/');
  });

  server.on('request', app);
  return { url, close: () => close(server) };
}
