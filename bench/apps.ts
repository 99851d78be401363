/**
 * The servers under test, one per child process. Every app answers `GET /hello` with the same
 * body, so the scenarios differ only in what runs before the handler.
 */
import { createServer, type Server } from 'node:http';
import express, { type Request, type Response, type NextFunction } from 'express';
import session from 'express-session';
import { RedisStore } from 'connect-redis';
import { Redis } from 'ioredis';
import * as oidc from 'openid-client';
// CommonJS without detectable named exports: the default import is module.exports.
import eoc from 'express-openid-connect';
import { fedgate, requireAuth } from '../index.js';
import { generatePrivateJwk } from '../lib/tokens/keys.js';
import { closeServer, listenEphemeral } from '../test/fixtures/ports.js';
import type { ChildInit } from './ipc.js';

/** A started server; `commands` are extra IPC commands it answers. */
export interface Started {
  url: string;
  close(): Promise<void>;
  commands?: Record<string, (arg: unknown) => Promise<unknown>>;
}

export const SESSION_SECRET = 'bench-session-secret-0123456789-abcdefghijklmnop';
const EOC_SECRET = 'bench-eoc-cookie-secret-0123456789-abcdefghijklmnop';
export const SCOPES = ['openid', 'profile', 'email', 'roles'];
/** The local scope the bearer scenario requires (granted to accounts with role `analyst`). */
const BENCH_SCOPE = 'reports:read';

const hello = (_req: Request, res: Response): void => {
  res.send('hello');
};

/**
 * Listens first (port 0 on 127.0.0.1), then builds the app: the apps that log in need their own
 * origin for `baseUrl` / redirect URIs.
 */
async function serve(build: (url: string) => Promise<{ app: express.Express; close?: () => Promise<void> }>): Promise<Started> {
  const server: Server = createServer();
  // Keep-alive longer than any measured window, so connections are never recycled mid-run.
  server.keepAliveTimeout = 60_000;
  const port = await listenEphemeral(server);
  const url = `http://127.0.0.1:${port}`;
  const built = await build(url);
  server.on('request', built.app);
  return {
    url,
    async close() {
      await closeServer(server);
      await built.close?.();
    },
  };
}

function need(value: string | undefined, what: string): string {
  if (!value) throw new Error(`bench child: ${what} missing`);
  return value;
}

/** Scenario 1: the ceiling. */
export function startBare(): Promise<Started> {
  return serve(async () => {
    const app = express();
    app.get('/hello', hello);
    return { app };
  });
}

/**
 * Control for scenarios 4-5: bare Express with the two layers fedgate's public API implies
 * (`app.use(gateway)` and a `requireAuth()` route guard), both no-ops. The floor of any
 * middleware-based design; what fedgate adds is measured against this too.
 */
export function startBareLayers(): Promise<Started> {
  return serve(async () => {
    const app = express();
    app.use((_req: express.Request, _res: express.Response, next: express.NextFunction) => next());
    app.get('/hello', (_req: express.Request, _res: express.Response, next: express.NextFunction) => next(), hello);
    return { app };
  });
}

interface BenchSession {
  user?: Record<string, unknown>;
}

/** Scenario 2: express-session + connect-redis 8 + ioredis, all defaults, reading a signed-in session. */
export function startExpressSession(init: ChildInit): Promise<Started> {
  return serve(async () => {
    const redis = new Redis(need(init.redisUrl, 'redisUrl'));
    const app = express();
    app.use(
      session({
        store: new RedisStore({ client: redis, prefix: 'bench:es:' }),
        secret: SESSION_SECRET,
        resave: false,
        saveUninitialized: false,
      }),
    );
    // Signs the caller in with a profile of the size fedgate keeps (claims of the test account).
    app.get('/login', (req: Request, res: Response, next: NextFunction) => {
      req.session.regenerate((err) => {
        if (err) return next(err);
        (req.session as unknown as BenchSession).user = {
          sub: 'corp|alice',
          email: 'alice@example.com',
          email_verified: true,
          name: 'Alice Example',
          given_name: 'Alice',
          family_name: 'Example',
          preferred_username: 'alice',
          roles: ['analyst'],
        };
        req.session.save((saveErr) => (saveErr ? next(saveErr) : res.send('signed in')));
      });
    });
    app.get('/hello', (req: Request, res: Response) => {
      if (!(req.session as unknown as BenchSession).user) {
        res.status(401).send('unauthenticated');
        return;
      }
      res.send('hello');
    });
    return { app, close: async () => void redis.disconnect() };
  });
}

/** Scenario 3: express-openid-connect with its default encrypted (rolling) cookie session. */
export function startEoc(init: ChildInit): Promise<Started> {
  return serve(async (url) => {
    const app = express();
    app.use(
      eoc.auth({
        authRequired: false,
        auth0Logout: false,
        idpLogout: false,
        issuerBaseURL: need(init.issuer, 'issuer'),
        baseURL: url,
        clientID: need(init.clientId, 'clientId'),
        clientSecret: need(init.clientSecret, 'clientSecret'),
        secret: EOC_SECRET,
        authorizationParams: { response_type: 'code', scope: SCOPES.join(' ') },
      }),
    );
    app.get('/hello', eoc.requiresAuth(), hello);
    return { app };
  });
}

/** Scenarios 4, 5, 6 and 8: fedgate as documented, with a `tokens.scopes` rule for the bearer route. */
export function startFedgate(init: ChildInit): Promise<Started> {
  return serve(async (url) => {
    const keys = { keys: [await generatePrivateJwk('ES256')] as unknown as Record<string, unknown>[] };
    const gateway = fedgate({
      baseUrl: url,
      allowInsecureRequests: true,
      session: {
        secret: SESSION_SECRET,
        redis: { url: need(init.redisUrl, 'redisUrl') },
        ...(init.sessionCacheTtl !== undefined ? { cacheTtl: init.sessionCacheTtl } : {}),
      },
      tokens: { keys, scopes: { [BENCH_SCOPE]: { claim: 'roles', includes: 'analyst' } } },
      connectors: [
        {
          id: 'corp',
          type: 'oidc',
          name: 'Corporate SSO',
          issuer: need(init.issuer, 'issuer'),
          clientId: need(init.clientId, 'clientId'),
          clientSecret: need(init.clientSecret, 'clientSecret'),
          scopes: SCOPES,
        },
      ],
    });
    const app = express();
    app.use(gateway);
    app.get('/hello', requireAuth(), hello);
    app.get('/api/hello', requireAuth({ scope: BENCH_SCOPE }), hello);
    // How the bench gets a local access token for the bearer scenario.
    app.get('/token', requireAuth(), (req: Request, res: Response) => {
      res.json({ accessToken: req.auth.accessToken });
    });
    return { app, close: () => gateway.close() };
  });
}

interface RawSession {
  tx?: { verifier: string; state: string; nonce: string };
  user?: { claims: Record<string, unknown>; idToken?: string | undefined; accessToken: string; refreshToken?: string | undefined; expiresAt?: number };
}

/**
 * Scenario 6 baseline: the same login done by hand with openid-client (PKCE, state, nonce, ID token
 * signature checked against the JWKS as fedgate does) and express-session + connect-redis storing
 * the transaction and then the claims and upstream tokens.
 */
export function startRawOidc(init: ChildInit): Promise<Started> {
  return serve(async (url) => {
    const clientSecret = need(init.clientSecret, 'clientSecret');
    const config = await oidc.discovery(
      new URL(need(init.issuer, 'issuer')),
      need(init.clientId, 'clientId'),
      undefined,
      oidc.ClientSecretBasic(clientSecret),
      { execute: [oidc.allowInsecureRequests, oidc.enableNonRepudiationChecks] },
    );
    const redirectUri = `${url}/callback`;
    const redis = new Redis(need(init.redisUrl, 'redisUrl'));
    const app = express();
    app.use(
      session({
        store: new RedisStore({ client: redis, prefix: 'bench:raw:' }),
        secret: SESSION_SECRET,
        resave: false,
        saveUninitialized: false,
      }),
    );
    app.get('/login', async (req: Request, res: Response, next: NextFunction) => {
      try {
        const verifier = oidc.randomPKCECodeVerifier();
        const tx = { verifier, state: oidc.randomState(), nonce: oidc.randomNonce() };
        (req.session as unknown as RawSession).tx = tx;
        const target = oidc.buildAuthorizationUrl(config, {
          redirect_uri: redirectUri,
          scope: SCOPES.join(' '),
          state: tx.state,
          nonce: tx.nonce,
          code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
          code_challenge_method: 'S256',
        });
        req.session.save((err) => (err ? next(err) : res.redirect(target.href)));
      } catch (err) {
        next(err);
      }
    });
    app.get('/callback', async (req: Request, res: Response, next: NextFunction) => {
      try {
        const tx = (req.session as unknown as RawSession).tx;
        if (!tx) {
          res.status(400).send('no transaction');
          return;
        }
        const tokens = await oidc.authorizationCodeGrant(config, new URL(req.originalUrl, url), {
          pkceCodeVerifier: tx.verifier,
          expectedState: tx.state,
          expectedNonce: tx.nonce,
          idTokenExpected: true,
        });
        const claims = { ...tokens.claims() };
        const expiresIn = tokens.expiresIn();
        req.session.regenerate((err) => {
          if (err) return next(err);
          (req.session as unknown as RawSession).user = {
            claims,
            idToken: tokens.id_token,
            accessToken: tokens.access_token,
            refreshToken: tokens.refresh_token,
            ...(expiresIn !== undefined ? { expiresAt: Math.floor(Date.now() / 1000) + expiresIn } : {}),
          };
          req.session.save((saveErr) => (saveErr ? next(saveErr) : res.redirect('/hello')));
        });
      } catch (err) {
        next(err);
      }
    });
    app.get('/hello', (req: Request, res: Response) => {
      if ((req.session as unknown as RawSession).user) res.send('hello');
      else res.redirect('/login');
    });
    return { app, close: async () => void redis.disconnect() };
  });
}
