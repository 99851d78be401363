import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { waitFor } from '../../fixtures/ports.js';

/**
 * A real Apache httpd (Debian `apache2`) with mod_auth_openidc (Debian
 * `libapache2-mod-auth-openidc`) as a client of fedgate in broker mode: its own ServerRoot, config,
 * PidFile and port in a temp dir, stopped by its PID. Directives:
 * https://github.com/OpenIDC/mod_auth_openidc/blob/master/auth_openidc.conf
 */

export const apacheBinary = '/usr/sbin/apache2';
const modules = '/usr/lib/apache2/modules';

export interface ApacheOptions {
  port: number;
  /** fedgate's issuer (`${app}/auth`). */
  issuer: string;
  clientId: string;
  clientSecret: string;
  scope: string;
  /** Path of OIDCRedirectURI; default `/protected/redirect_uri`. */
  redirectPath?: string;
}

export interface ApacheRp {
  url: string;
  /** OIDCRedirectURI: also the logout, refresh, info and back-channel endpoints of the module. */
  redirectUri: string;
  /** The protected page. */
  protectedUrl: string;
  loggedOutUrl: string;
  /** `OIDCProviderBackChannelLogout` target to register at fedgate. */
  backchannelUri: string;
  /** The error log (mod_auth_openidc logs its decisions there). */
  errorLog(): Promise<string>;
  stop(): Promise<void>;
}

/** The httpd.conf of the instance (docs/interop.md shows its mod_auth_openidc part). */
export function apacheConfig(dir: string, o: ApacheOptions, url: string): string {
  const asRoot = process.getuid?.() === 0;
  return [
    `ServerRoot "${dir}"`,
    `PidFile "${dir}/httpd.pid"`,
    `Listen 127.0.0.1:${o.port}`,
    'ServerName 127.0.0.1',
    ...(asRoot ? ['User www-data', 'Group www-data'] : []),
    `ErrorLog "${dir}/error.log"`,
    'LogLevel warn auth_openidc:info',
    ...['mpm_event', 'authz_core', 'authz_user', 'authn_core', 'mime', 'auth_openidc'].map((m) => `LoadModule ${m}_module ${modules}/mod_${m}.so`),
    `TypesConfig /etc/mime.types`,
    `DocumentRoot "${dir}/htdocs"`,
    `OIDCProviderMetadataURL ${o.issuer}/.well-known/openid-configuration`,
    `OIDCClientID ${o.clientId}`,
    `OIDCClientSecret ${o.clientSecret}`,
    `OIDCRedirectURI ${url}${o.redirectPath ?? '/protected/redirect_uri'}`,
    `OIDCCryptoPassphrase ${o.clientSecret}-passphrase`,
    `OIDCScope "${o.scope}"`,
    'OIDCPKCEMethod S256',
    'OIDCSessionType server-cache',
    'OIDCCacheType shm',
    'OIDCHTTPTimeoutShort 5',
    'OIDCHTTPTimeoutLong 5',
    'OIDCInfoHook iat access_token access_token_expires id_token userinfo refresh_token session',
    `OIDCDefaultLoggedOutURL ${url}/loggedout.html`,
    '<Location /protected>',
    '  AuthType openid-connect',
    '  Require valid-user',
    '</Location>',
    '',
  ].join('\n');
}

/** Starts Apache and waits (bounded) until it answers. */
export async function startApache(o: ApacheOptions): Promise<ApacheRp> {
  if (!existsSync(apacheBinary) || !existsSync(`${modules}/mod_auth_openidc.so`)) {
    throw new Error('apache2 with mod_auth_openidc not found: apt-get install -y apache2 libapache2-mod-auth-openidc');
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'fedgate-apache-'));
  const url = `http://127.0.0.1:${o.port}`;
  await mkdir(path.join(dir, 'htdocs', 'protected'), { recursive: true });
  await writeFile(path.join(dir, 'htdocs', 'protected', 'hello.txt'), 'protected hello\n');
  await writeFile(path.join(dir, 'htdocs', 'loggedout.html'), '<!doctype html><title>Logged out</title><h1>Logged out of Apache</h1>\n');
  await writeFile(path.join(dir, 'httpd.conf'), apacheConfig(dir, o, url));
  // Apache drops to www-data when started as root: its documents must stay readable.
  for (const d of [dir, path.join(dir, 'htdocs'), path.join(dir, 'htdocs', 'protected')]) await chmod(d, 0o755);
  const child: ChildProcess = spawn(apacheBinary, ['-f', path.join(dir, 'httpd.conf'), '-DFOREGROUND'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const errorLog = () => readFile(path.join(dir, 'error.log'), 'utf8').catch(() => '');
  try {
    await waitFor(
      'Apache to answer',
      async () => {
        if (child.exitCode !== null) throw new Error(`apache2 exited (${child.exitCode}): ${output}${await errorLog()}`);
        const res = await fetch(`${url}/loggedout.html`, { signal: AbortSignal.timeout(1000) });
        return res.status === 200;
      },
      { timeoutMs: 15_000, intervalMs: 100 },
    );
  } catch (err) {
    child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    url,
    redirectUri: `${url}${o.redirectPath ?? '/protected/redirect_uri'}`,
    protectedUrl: `${url}/protected/hello.txt`,
    loggedOutUrl: `${url}/loggedout.html`,
    backchannelUri: `${url}/protected/redirect_uri?logout=backchannel`,
    errorLog,
    async stop() {
      if (child.exitCode === null) {
        // SIGTERM to the parent stops its children too (httpd's graceless stop).
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
