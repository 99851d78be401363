/**
 * A development upstream identity provider for the example app: a real oidc-provider (the
 * OpenID Certified library) per simulated vendor, with a server-rendered login form listing test
 * users. Development only: no passwords, in-memory storage, loopback redirect URIs on any port.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import Provider, { type Configuration, type JWK, type KoaContextWithOIDC } from 'oidc-provider';
import { devVendors, type DevVendor } from './idp-accounts.js';
import { devClientId, devClientSecret } from './dev-defaults.js';
import { cspNonce } from './html.js';
import { createMemoryAdapter } from './idp-store.js';
import { errorPage, idpCsp, indexPage, loggedOutPage, loginPage, logoutPage } from './idp-views.js';
import { close, listen } from './ports.js';

export interface StartIdpOptions {
  /** Default 4000; 0 picks a free port. */
  port?: number;
  /** Bind address and issuer host. Default 127.0.0.1. */
  host?: string;
  /** Take a free port when `port` is busy. Default true. */
  fallback?: boolean;
}

/** A running development IdP. */
export interface DevIdp {
  /** Origin, e.g. `http://127.0.0.1:4000`. */
  url: string;
  /** Issuer of a vendor: `${url}/${vendorId}`. */
  issuer(vendor: DevVendor['id']): string;
  close(): Promise<void>;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isLoopbackUrl(value: string): boolean {
  try {
    const u = new URL(value);
    return (u.protocol === 'http:' || u.protocol === 'https:') && ['localhost', '127.0.0.1', '[::1]'].includes(u.hostname) && !u.hash;
  } catch {
    return false;
  }
}

function generateSigningJwk(): JWK {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = `dev-${randomBytes(4).toString('hex')}`;
  return { ...(privateKey.export({ format: 'jwk' }) as JWK), kid, alg: 'RS256', use: 'sig' };
}

function createProvider(vendor: DevVendor, issuer: string, signingKey: JWK): Provider {
  const prefix = `/${vendor.id}`;
  const config: Configuration = {
    adapter: createMemoryAdapter(),
    clients: [
      {
        client_id: devClientId,
        client_secret: devClientSecret,
        // Placeholders: any loopback URI is accepted below, whatever port the app ends up on.
        redirect_uris: [`http://localhost:3000/auth/callback/${vendor.id}`],
        post_logout_redirect_uris: ['http://localhost:3000/'],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    jwks: { keys: [signingKey] },
    cookies: {
      keys: [randomBytes(32).toString('base64url')],
      // Both vendors live on one host; distinct names keep their browser sessions apart.
      names: { session: `_${vendor.id}_session`, interaction: `_${vendor.id}_interaction`, resume: `_${vendor.id}_resume` },
    },
    claims: vendor.claimsByScope,
    // Release scope claims in the ID token too, as Auth0 and most vendors do.
    conformIdTokenClaims: false,
    findAccount: (_ctx, sub) => {
      const user = vendor.users.find((u) => u.sub === sub);
      if (!user) return undefined;
      return { accountId: sub, claims: () => ({ sub, ...structuredClone(user.claims) }) };
    },
    features: {
      devInteractions: { enabled: false },
      userinfo: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: (ctx: KoaContextWithOIDC, form: string) => {
          const nonce = cspNonce();
          ctx.set('Content-Security-Policy', idpCsp(nonce));
          ctx.type = 'html';
          ctx.body = logoutPage(vendor, form, nonce);
        },
        postLogoutSuccessSource: (ctx: KoaContextWithOIDC) => {
          ctx.set('Content-Security-Policy', idpCsp());
          ctx.type = 'html';
          ctx.body = loggedOutPage(vendor);
        },
      },
    },
    interactions: { url: (_ctx, interaction) => `${prefix}/interaction/${interaction.uid}` },
    pkce: { required: () => true },
    renderError: (ctx, out) => {
      ctx.set('Content-Security-Policy', idpCsp());
      ctx.type = 'html';
      ctx.body = errorPage({ ...out });
    },
    ttl: { AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 900, Session: 8 * 3600, Grant: 8 * 3600, RefreshToken: 8 * 3600 },
  };
  const provider = new Provider(issuer, config);
  provider.proxy = false;
  // Development only, after oidc-provider's "redirect_uri wildcards" recipe and the loopback
  // rule of RFC 8252 §7.3: any port on a loopback host is accepted, so the example app can run
  // on whichever port is free. A real IdP compares redirect URIs exactly.
  provider.Client.prototype.redirectUriAllowed = isLoopbackUrl;
  provider.Client.prototype.postLogoutRedirectUriAllowed = isLoopbackUrl;
  return provider;
}

function sendPage(res: Response, status: number, html: string): void {
  res.status(status).set({ 'Content-Security-Policy': idpCsp(), 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' }).type('html').send(html);
}

/** Login form, consent (granted without asking: the example app is first-party) and the login POST. */
function mountInteractions(app: express.Express, vendor: DevVendor, provider: Provider): void {
  const prefix = `/${vendor.id}`;
  app.get(`${prefix}/interaction/:uid`, async (req: Request, res: Response) => {
    const details = await provider.interactionDetails(req, res);
    const { prompt, params, uid } = details;
    if (prompt.name === 'login') {
      const hint = typeof params.login_hint === 'string' ? params.login_hint : undefined;
      sendPage(res, 200, loginPage(vendor, `${prefix}/interaction/${uid}/login`, String(params.client_id), hint));
      return;
    }
    if (prompt.name === 'consent') {
      // The pattern of oidc-provider's example/routes/express.js: grant exactly what is missing.
      const grant = details.grantId
        ? await provider.Grant.find(details.grantId)
        : new provider.Grant({ accountId: details.session?.accountId ?? '', clientId: String(params.client_id) });
      if (!grant) throw new Error('grant not found');
      const missing = isRecord(prompt.details) ? prompt.details : {};
      const list = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
      if (list(missing.missingOIDCScope).length) grant.addOIDCScope(list(missing.missingOIDCScope).join(' '));
      if (list(missing.missingOIDCClaims).length) grant.addOIDCClaims(list(missing.missingOIDCClaims));
      const grantId = await grant.save();
      await provider.interactionFinished(req, res, { consent: details.grantId ? {} : { grantId } }, { mergeWithLastSubmission: true });
      return;
    }
    sendPage(res, 501, errorPage({ error: 'unsupported_prompt', error_description: prompt.name }));
  });

  app.post(`${prefix}/interaction/:uid/login`, express.urlencoded({ extended: false, limit: '4kb' }), async (req: Request, res: Response) => {
    const details = await provider.interactionDetails(req, res);
    const body: unknown = req.body;
    const form = isRecord(body) ? body : {};
    if (details.prompt.name !== 'login') {
      sendPage(res, 400, errorPage({ error: 'invalid_request', error_description: 'This sign-in step is over; start again from the app.' }));
      return;
    }
    if (form.cancel !== undefined) {
      await provider.interactionFinished(
        req,
        res,
        { error: 'access_denied', error_description: 'The user cancelled the sign-in.' },
        { mergeWithLastSubmission: false },
      );
      return;
    }
    const user = vendor.users.find((u) => u.sub === form.user);
    if (!user) {
      sendPage(res, 400, errorPage({ error: 'invalid_request', error_description: 'Unknown test user.' }));
      return;
    }
    await provider.interactionFinished(req, res, { login: { accountId: user.sub } }, { mergeWithLastSubmission: false });
  });
}

/**
 * Starts the development IdP: one issuer per vendor of `idp-accounts.ts` at `${url}/${id}`.
 * Refuses to run with NODE_ENV=production.
 */
export async function startIdp(opts: StartIdpOptions = {}): Promise<DevIdp> {
  if (process.env.NODE_ENV === 'production') throw new Error('The development IdP refuses to run with NODE_ENV=production.');
  const host = opts.host ?? '127.0.0.1';
  const server = createServer();
  const port = await listen(server, opts.port ?? 4000, host, opts.fallback ?? true);
  const url = `http://${host}:${port}`;
  const signingKey = generateSigningJwk();
  const mounted = devVendors.map((vendor) => {
    const issuer = `${url}/${vendor.id}`;
    return { vendor, issuer, provider: createProvider(vendor, issuer, signingKey) };
  });

  const app = express();
  app.disable('x-powered-by');
  app.get('/', (_req, res) => sendPage(res, 200, indexPage(mounted)));
  for (const { vendor, provider } of mounted) {
    mountInteractions(app, vendor, provider);
    app.use(`/${vendor.id}`, provider.callback());
  }
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const name = err instanceof Error ? err.name : 'Error';
    const message = err instanceof Error && 'error_description' in err ? String(err.error_description) : 'Something went wrong; start again from the app.';
    if (!res.headersSent) sendPage(res, 400, errorPage({ error: name, error_description: message }));
  });
  server.on('request', app);

  return {
    url,
    issuer: (vendor) => `${url}/${vendor}`,
    close: () => close(server),
  };
}
