/**
 * A real glewlwyd (Debian package `glewlwyd`, a C SSO server with an OpenID Connect plugin) for the
 * interop suite: its own SQLite database and configuration in a temporary directory, bound to
 * 127.0.0.1 on a free port, configured through its admin REST API (the admin user of a fresh
 * database is admin/password), stopped by its PID.
 *
 * glewlwyd's API: https://github.com/babelouest/glewlwyd/blob/master/docs/API.md
 * Its OIDC plugin: https://github.com/babelouest/glewlwyd/blob/master/docs/OIDC.md
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createGunzip } from 'node:zlib';
import { getFreePort, waitFor } from '../fixtures/ports.js';

export const GLEWLWYD_BIN = '/usr/bin/glewlwyd';
/** The SQLite schema and initial data (admin/password): dbconfig's copy, or the documentation's (minimal images drop /usr/share/doc). */
const schemaPlain = '/usr/share/dbconfig-common/data/glewlwyd/install/sqlite3';
const schemaGz = '/usr/share/doc/glewlwyd/database/init.sqlite3.sql.gz';
const webapp = '/usr/share/glewlwyd/webapp';
const modules = '/usr/lib/glewlwyd';
/** Name of the OIDC plugin instance: its endpoints live under /api/<name>. */
const pluginName = 'oidc';

export interface GlewlwydOptions {
  /** Lifetime of access tokens, seconds (glewlwyd sends no ID token on refresh). */
  accessTokenTtl: number;
}

export interface GlewlwydUser {
  username: string;
  password: string;
  name: string;
  email: string;
}

export interface GlewlwydClient {
  clientId: string;
  secret: string;
  redirectUri: string;
  postLogoutRedirectUri: string;
  backchannelLogoutUri: string;
}

export interface ApiResponse {
  status: number;
  body: unknown;
}

export interface Glewlwyd {
  /** Origin, e.g. http://127.0.0.1:PORT. */
  url: string;
  /** The OIDC plugin's issuer. */
  issuer: string;
  pid: number;
  /** Calls the admin API with the admin session. */
  admin(method: string, apiPath: string, body?: unknown): Promise<ApiResponse>;
  addUser(user: GlewlwydUser): Promise<void>;
  addClient(client: GlewlwydClient): Promise<void>;
  /** The server's own log so far (for failure messages). */
  log(): Promise<string>;
  stop(): Promise<void>;
}

/** The webapp's config.json: a file in some package versions, a directory holding it in others. */
function webappConfigPath(): string {
  const direct = path.join(webapp, 'config.json');
  const file = existsSync(direct) && statSync(direct).isDirectory() ? path.join(direct, 'config.json') : direct;
  if (!existsSync(file)) throw new Error(`glewlwyd's webapp configuration ${direct} (a link to /etc/glewlwyd) is missing: reinstall the glewlwyd package`);
  return file;
}

async function createDatabase(file: string): Promise<void> {
  const sqlite = spawn('sqlite3', [file], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  sqlite.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  if (existsSync(schemaPlain)) createReadStream(schemaPlain).pipe(sqlite.stdin);
  else createReadStream(schemaGz).pipe(createGunzip()).pipe(sqlite.stdin);
  const code = await new Promise<number | null>((resolve) => sqlite.once('close', resolve));
  if (code !== 0) throw new Error(`sqlite3 could not create the glewlwyd database: ${stderr.slice(0, 500)}`);
}

function configFile(dir: string, port: number): string {
  const mime = [
    ['.html', 'text/html'],
    ['.css', 'text/css'],
    ['.js', 'application/javascript'],
    ['.json', 'application/json'],
    ['.png', 'image/png'],
    ['.ico', 'image/x-icon'],
    ['.woff', 'font/woff'],
    ['.woff2', 'font/woff2'],
    ['.ttf', 'font/ttf'],
  ];
  // libconfig syntax. use_secure_connection must be 0: glewlwyd 2.7 reads `false` as "on" and exits.
  return `port=${port}
bind_address="127.0.0.1"
external_url="http://127.0.0.1:${port}"
login_url="login.html"
api_prefix="api"
static_files_path="${dir}/webapp/"
allow_origin="*"
log_mode="console"
log_level="INFO"
cookie_secure=0
cookie_same_site="empty"
session_expiration=3600
session_key="GLEWLWYD2_SESSION_ID"
admin_session_authentication="cookie"
profile_session_authentication="cookie"
allow_multiple_user_per_session=true
login_api_enabled=true
add_x_frame_option_header_deny=true
max_post_size=16778240
admin_scope="g_admin"
profile_scope="g_profile"
user_module_path="${modules}/user"
client_module_path="${modules}/client"
user_auth_scheme_module_path="${modules}/scheme"
plugin_module_path="${modules}/plugin"
use_secure_connection=0
hash_algorithm="SHA512"
database = { type = "sqlite3" path = "${dir}/glewlwyd.db" };
static_files_mime_types = (
${mime.map(([ext, type]) => `  { extension = "${ext}" mime_type = "${type}" }`).join(',\n')}
)
`;
}

/** OIDC plugin parameters (keys as glewlwyd's admin UI writes them). */
function oidcParameters(issuer: string, accessTokenTtl: number): Record<string, unknown> {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'glewlwyd-interop', alg: 'RS256', use: 'sig' };
  return {
    'jwt-type': 'rsa',
    'jwt-key-size': '256',
    'jwks-private': JSON.stringify({ keys: [jwk] }),
    'default-kid': 'glewlwyd-interop',
    'jwks-show': true,
    iss: issuer,
    'access-token-duration': accessTokenTtl,
    'refresh-token-duration': 3600,
    'code-duration': 600,
    // Rotation: every refresh returns a new refresh token and disables the old one (reuse ends the chain).
    'refresh-token-rolling': true,
    'refresh-token-one-use': 'always',
    'client-refresh-token-one-use-parameter': 'refresh-token-one-use',
    'allow-non-oidc': false,
    'auth-type-code-enabled': true,
    'auth-type-token-enabled': false,
    'auth-type-id-token-enabled': true,
    'auth-type-none-enabled': false,
    'auth-type-password-enabled': false,
    'auth-type-client-enabled': false,
    'auth-type-device-enabled': false,
    'auth-type-refresh-enabled': true,
    scope: [],
    'additional-parameters': [],
    claims: [],
    'name-claim': 'mandatory',
    'name-claim-scope': [],
    'email-claim': 'mandatory',
    'email-claim-scope': [],
    'scope-claim': 'no',
    'scope-claim-scope': [],
    'address-claim': { type: 'no', formatted: '', street_address: '', locality: '', region: '', postal_code: '', country: '', mandatory: false },
    'allowed-scope': ['openid'],
    'pkce-allowed': true,
    'pkce-method-plain-allowed': false,
    'session-management-allowed': true,
    'session-cookie-name': 'GLEWLWYD2_OIDC_SID',
    'session-cookie-expiration': 3600,
    // The end-session page lists the session's front-channel clients first and answers 400 when
    // front-channel logout is off, leaving its Logout button inert: on, with no client using it.
    'front-channel-logout-allowed': true,
    'back-channel-logout-allowed': true,
    'request-parameter-allow': false,
    'subject-type': 'public',
    'introspection-revocation-allowed': false,
    'register-client-allowed': false,
    'oauth-dpop-allowed': false,
    'resource-allowed': false,
    'oauth-rar-allowed': false,
    'oauth-par-allowed': false,
    'oauth-ciba-allowed': false,
    'encrypt-out-token-allow': false,
  };
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** Starts glewlwyd and creates its OIDC plugin instance; retries on another port if the chosen one was taken. */
export async function startGlewlwyd(opts: GlewlwydOptions): Promise<Glewlwyd> {
  if (!existsSync(GLEWLWYD_BIN)) throw new Error(`${GLEWLWYD_BIN} not found: install the Debian package glewlwyd`);
  const dir = await mkdtemp(path.join(tmpdir(), 'fedgate-glewlwyd-'));
  try {
    await createDatabase(path.join(dir, 'glewlwyd.db'));
    // A copy: glewlwyd does not follow symlinks, and the webapp's config.json must be a file.
    await cp(webapp, path.join(dir, 'webapp'), { recursive: true, dereference: true, filter: (src) => src !== path.join(webapp, 'config.json') });
    await writeFile(path.join(dir, 'webapp', 'config.json'), await readFile(webappConfigPath()));
    for (let attempt = 1; ; attempt++) {
      try {
        return await launch(dir, await getFreePort(), opts);
      } catch (err) {
        if (attempt >= 3) throw err;
      }
    }
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

async function launch(dir: string, port: number, opts: GlewlwydOptions): Promise<Glewlwyd> {
  const url = `http://127.0.0.1:${port}`;
  const issuer = `${url}/api/${pluginName}`;
  const conf = path.join(dir, 'glewlwyd.conf');
  await writeFile(conf, configFile(dir, port));
  const child = spawn(GLEWLWYD_BIN, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const collect = (d: Buffer) => {
    output = (output + d.toString()).slice(-20_000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const fail = async (what: string, err?: unknown): Promise<never> => {
    await stopProcess(child);
    throw new Error(`glewlwyd: ${what}${err instanceof Error ? `: ${err.message}` : ''}\n${output.slice(-2000)}`);
  };
  try {
    await waitFor(
      'glewlwyd to answer',
      async () => {
        if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}`);
        const res = await fetch(`${url}/config.json`, { signal: AbortSignal.timeout(1000) });
        return res.status === 200;
      },
      { timeoutMs: 15_000, intervalMs: 100 },
    );
  } catch (err) {
    return fail('did not start', err);
  }
  let cookie = '';
  const admin = async (method: string, apiPath: string, body?: unknown): Promise<ApiResponse> => {
    const res = await fetch(`${url}/api${apiPath}`, {
      method,
      headers: { ...(cookie ? { cookie } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: keep the text
    }
    const setCookie = res.headers.getSetCookie().find((c) => c.startsWith('GLEWLWYD2_SESSION_ID='));
    if (setCookie) cookie = setCookie.split(';')[0]!;
    return { status: res.status, body: parsed };
  };
  const expectOk = async (what: string, r: Promise<ApiResponse>): Promise<void> => {
    const { status, body } = await r;
    if (status !== 200) await fail(`${what} answered ${status} ${JSON.stringify(body)}`);
  };
  await expectOk('admin login', admin('POST', '/auth/', { username: 'admin', password: 'password' }));
  // end_session checks post_logout_redirect_uri against the client's `post_logout_redirect_uris`
  // (plural, a list), a property the stock client module does not store: add it to its data format.
  const clientModule = await admin('GET', '/mod/client/database');
  const mod = clientModule.body as { parameters: { 'data-format': Record<string, unknown> } };
  mod.parameters['data-format'].post_logout_redirect_uris = { multiple: true, read: true, write: true };
  await expectOk('extending the client module', admin('PUT', '/mod/client/database', mod));
  await expectOk('reloading the modules', admin('PUT', '/mod/reload/'));
  await expectOk(
    'creating the OIDC plugin',
    admin('POST', '/mod/plugin/', {
      module: 'oidc',
      name: pluginName,
      display_name: 'OpenID Connect',
      order_rank: 0,
      parameters: oidcParameters(issuer, opts.accessTokenTtl),
    }),
  );
  return {
    url,
    issuer,
    pid: child.pid!,
    admin,
    async addUser(user) {
      await expectOk(
        `adding user ${user.username}`,
        admin('POST', '/user/', {
          username: user.username,
          password: user.password,
          name: user.name,
          email: user.email,
          scope: ['openid'],
          enabled: true,
        }),
      );
    },
    async addClient(client) {
      // Client properties are strings or arrays of strings (glewlwyd's database client module).
      await expectOk(
        `adding client ${client.clientId}`,
        admin('POST', '/client/', {
          client_id: client.clientId,
          name: client.clientId,
          confidential: true,
          password: client.secret,
          enabled: true,
          redirect_uri: [client.redirectUri],
          authorization_type: ['code', 'refresh_token'],
          scope: ['openid'],
          token_endpoint_auth_method: ['client_secret_basic', 'client_secret_post'],
          post_logout_redirect_uri: client.postLogoutRedirectUri,
          post_logout_redirect_uris: [client.postLogoutRedirectUri],
          backchannel_logout_uri: client.backchannelLogoutUri,
          backchannel_logout_session_required: 'true',
        }),
      );
    },
    log: async () => output,
    async stop() {
      await stopProcess(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
