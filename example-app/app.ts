/**
 * The example app: an Express 5 app protected by fedgate, importing the package exactly as a
 * user would. `startApp()` is what `main.ts` (npm start) and the browser test run.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { fedgate, requireAuth, type ConfigInput, type Gateway, type Logger } from 'fedgate';
import { configuredClientUrl } from './client-app.js';
import { ensureSigningKeys } from './dev-keys.js';
import { devClientSecret, devSessionSecret } from './dev-defaults.js';
import { close, listen } from './ports.js';
import { adminPage, homePage, notFoundPage, profilePage, profileScript, stylesheet, type PageContext } from './views.js';

/** Folder of the example's JSON configs (the source folder, also when running from dist/). */
const here = path.dirname(fileURLToPath(import.meta.url));
export const exampleDir = path.basename(path.dirname(here)) === 'dist' ? path.resolve(here, '../../example-app') : here;

/** IdP origin written in the example configs; replaced by the real one (the port may differ). */
const configuredIdpUrl = 'http://127.0.0.1:4000';

export interface StartAppOptions {
  /** Default 3000; 0 picks a free port. */
  port?: number;
  /** Take a free port when `port` is busy. Default true. */
  fallback?: boolean;
  /** Origin of the development IdP (`startIdp().url`). */
  idpUrl: string;
  /** Redis for sessions; undefined: the in-memory development store, with its warning. */
  redisUrl?: string | undefined;
  /** Config file. Default `example-app/gateway.json`. */
  config?: string;
  /** Origin of the broker-mode client app (`startClientApp().url`), written into `op.clients`. */
  clientUrl?: string;
  /** Environment for `${env:NAME}`. Default process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  logger?: Logger;
}

export interface ExampleApp {
  /** Public origin, e.g. `http://localhost:3000`. */
  url: string;
  gateway: Gateway;
  store: 'redis' | 'memory';
  close(): Promise<void>;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** One readable line per event on stderr, instead of fedgate's default JSON lines. */
export function consoleLogger(): Logger {
  const write = (level: string) => (obj: object, msg?: string) => {
    const fields = Object.entries(obj)
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' ');
    process.stderr.write(`[fedgate] ${level} ${msg ?? ''} ${fields}\n`);
  };
  return { debug: () => {}, info: write('info'), warn: write('warn'), error: write('error') };
}

/**
 * Reads the example config and adapts what only the running process knows: the real ports,
 * the session store that is available, and key paths relative to the file (a config object
 * would resolve them against the working directory).
 */
async function prepareConfig(file: string, appUrl: string, idpUrl: string, redisUrl: string | undefined, clientUrl?: string): Promise<ConfigInput> {
  const raw: unknown = JSON.parse(readFileSync(file, 'utf8'));
  if (!isRecord(raw)) throw new Error(`${file} must hold a JSON object`);
  const config: Record<string, unknown> = { ...raw, baseUrl: appUrl };
  if (Array.isArray(raw.connectors)) {
    config.connectors = raw.connectors.map((c: unknown) =>
      isRecord(c) && typeof c.issuer === 'string' && c.issuer.startsWith(configuredIdpUrl)
        ? { ...c, issuer: idpUrl + c.issuer.slice(configuredIdpUrl.length) }
        : c,
    );
  }
  if (clientUrl && isRecord(raw.op) && Array.isArray(raw.op.clients))
    config.op = { ...raw.op, clients: raw.op.clients.map((c: unknown) => withClientUrl(c, clientUrl)) };
  const session = isRecord(raw.session) ? { ...raw.session } : {};
  if (redisUrl) {
    session.redis = { ...(isRecord(session.redis) ? session.redis : {}), url: redisUrl };
    delete session.insecureMemoryStore;
  } else {
    delete session.redis;
    session.insecureMemoryStore = true;
  }
  config.session = session;
  if (isRecord(raw.tokens) && typeof raw.tokens.keys === 'string') {
    const keysFile = path.resolve(path.dirname(file), raw.tokens.keys);
    await ensureSigningKeys(keysFile);
    config.tokens = { ...raw.tokens, keys: keysFile };
  }
  // fedgate() validates the whole object and reports every problem with its path.
  return config as ConfigInput;
}

/** A broker client's redirect URIs on the client app's real origin (the port may differ from gateway.json's). */
function withClientUrl(client: unknown, clientUrl: string): unknown {
  if (!isRecord(client)) return client;
  const move = (list: unknown) =>
    Array.isArray(list)
      ? list.map((u: unknown) => (typeof u === 'string' && u.startsWith(configuredClientUrl) ? clientUrl + u.slice(configuredClientUrl.length) : u))
      : list;
  return { ...client, redirect_uris: move(client.redirect_uris), post_logout_redirect_uris: move(client.post_logout_redirect_uris) };
}

/** Starts the example app; resolves once it listens and the gateway is built. */
export async function startApp(opts: StartAppOptions): Promise<ExampleApp> {
  const env = opts.env ?? process.env;
  if (env.NODE_ENV === 'production' && (!env.FEDGATE_SESSION_SECRET || !env.EXAMPLE_IDP_CLIENT_SECRET)) {
    throw new Error('NODE_ENV=production: set FEDGATE_SESSION_SECRET and EXAMPLE_IDP_CLIENT_SECRET; the development defaults are refused.');
  }
  const server = createServer();
  const port = await listen(server, opts.port ?? 3000, '127.0.0.1', opts.fallback ?? true);
  // The public origin says localhost (the printed URL); the IdP runs on 127.0.0.1, another site.
  const url = `http://localhost:${port}`;
  const configFile = path.resolve(opts.config ?? path.join(exampleDir, 'gateway.json'));
  const logger = opts.logger ?? consoleLogger();
  let gateway: Gateway;
  try {
    const config = await prepareConfig(configFile, url, opts.idpUrl, opts.redisUrl, opts.clientUrl);
    gateway = fedgate(config, {
      logger,
      env: {
        ...env,
        FEDGATE_SESSION_SECRET: env.FEDGATE_SESSION_SECRET ?? devSessionSecret,
        EXAMPLE_IDP_CLIENT_SECRET: env.EXAMPLE_IDP_CLIENT_SECRET ?? devClientSecret,
      },
    });
  } catch (err) {
    await close(server);
    throw err;
  }
  const store = opts.redisUrl ? 'redis' : 'memory';
  const basePath = gateway.config.basePath;
  const connectors = gateway.config.connectors.map((c) => ({ id: c.id, name: c.name ?? c.id }));

  const app = express();
  app.disable('x-powered-by');
  app.use((_req, res, next) => {
    res.set({
      'Content-Security-Policy': "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'same-origin',
    });
    next();
  });
  app.get('/assets/app.css', (_req, res) => res.type('css').send(stylesheet));
  app.get('/assets/profile.js', (_req, res) => res.type('js').send(profileScript));

  // The gateway: session, req.auth, and the routes under /auth (login, callback, logout, jwks...).
  app.use(gateway);
  const page = (req: express.Request): PageContext => ({ auth: req.auth, store, basePath });

  app.get('/', (req, res) => {
    res.type('html').send(homePage(page(req), connectors));
  });
  app.get('/profile', requireAuth(), (req, res) => {
    res
      .set('Cache-Control', 'no-store')
      .type('html')
      .send(profilePage(page(req), url));
  });
  app.get('/admin', requireAuth({ claims: { roles: 'admin' } }), async (req, res) => {
    res
      .set('Cache-Control', 'no-store')
      .type('html')
      .send(adminPage(page(req), await gateway.health()));
  });
  app.get('/api/reports', requireAuth({ scope: 'reports:read' }), (req, res) => {
    res.set('Cache-Control', 'no-store').json({
      reports: [
        { id: 'q3-revenue', title: 'Q3 revenue' },
        { id: 'churn', title: 'Customer churn' },
      ],
      sub: req.auth.sub,
      via: req.auth.via,
      scope: req.auth.scope,
    });
  });
  app.use((req, res) => {
    res
      .status(404)
      .type('html')
      .send(notFoundPage(page(req)));
  });
  server.on('request', app);

  // Fail fast on keys, Redis and discovery, but keep serving: an unreachable upstream is reported per request.
  await gateway.ready().catch((err: unknown) => {
    const code = isRecord(err) && typeof err.code === 'string' ? err.code : 'ERROR';
    // fedgate's ready() messages name the connector or the Redis host, never a secret.
    const reason = err instanceof Error ? err.message : 'unknown';
    logger.warn({ event: 'example.not_ready', code, reason }, 'The gateway is not fully ready (is the IdP or Redis up?); continuing.');
  });

  return {
    url,
    gateway,
    store,
    async close() {
      await gateway.close();
      await close(server);
    },
  };
}
