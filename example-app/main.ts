/**
 * `npm start`: the development IdP, the example app and a client app of fedgate's broker mode,
 * side by side. The only place that reads the environment: PORT (3000), IDP_PORT (4000),
 * CLIENT_PORT (3001), REDIS_URL, GATEWAY_CONFIG, FEDGATE_SESSION_SECRET.
 */
import { connect } from 'node:net';
import path from 'node:path';
import { exampleDir, startApp } from './app.js';
import { startClientApp } from './client-app.js';
import { devVendors } from './idp-accounts.js';
import { startIdp } from './idp.js';

const localRedis = 'redis://127.0.0.1:6379';

/** True when something on 127.0.0.1:6379 answers PING within `timeoutMs`. */
function redisAnswers(timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port: 6379 });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (chunk: Buffer) => done(chunk.toString('latin1').startsWith('+PONG')));
  });
}

function portFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`${name} must be a port number`);
  return port;
}

async function main(): Promise<void> {
  const redisUrl = process.env.REDIS_URL || ((await redisAnswers(300)) ? localRedis : undefined);
  const configFile = process.env.GATEWAY_CONFIG ? path.resolve(process.env.GATEWAY_CONFIG) : path.join(exampleDir, 'gateway.json');
  const idp = await startIdp({ port: portFromEnv('IDP_PORT', 4000) });
  let fedgateIssuer = '';
  const client = await startClientApp({ port: portFromEnv('CLIENT_PORT', 3001), fedgateIssuer: () => fedgateIssuer });
  const app = await startApp({ port: portFromEnv('PORT', 3000), idpUrl: idp.url, redisUrl, config: configFile, clientUrl: client.url }).catch(
    async (err: unknown) => {
      await Promise.all([idp.close(), client.close()]);
      throw err;
    },
  );
  fedgateIssuer = app.gateway.config.tokens.issuer;
  const broker = app.gateway.config.op?.enabled === true;
  const line = '-'.repeat(72);
  const users = devVendors.flatMap((v) => v.users.map((u) => `    ${u.label.padEnd(14)} ${v.id.padEnd(5)} ${u.summary}`));
  process.stdout.write(
    [
      line,
      `  fedgate example app     ${app.url}   <- open this`,
      broker ? `  client app (broker)     ${client.url}   <- signs in THROUGH fedgate, with its consent page` : '',
      `  development IdP         ${idp.url}   (no passwords: pick a user on its login page)`,
      `  config                  ${path.relative(process.cwd(), configFile) || configFile}`,
      `  sessions                ${app.store === 'redis' ? `Redis ${redisUrl?.replace(/\/\/[^@]*@/, '//***@')}` : 'IN MEMORY (development only: no Redis found; set REDIS_URL)'}`,
      '  demo users (name, IdP tenant, what is special):',
      ...users,
      '    (acme users need the multi-provider config: GATEWAY_CONFIG=example-app/gateway.multi.json)',
      '  Ctrl+C to stop',
      line,
    ]
      .filter((l) => l !== '')
      .map((l) => `${l}\n`)
      .join(''),
  );

  const stop = () => {
    Promise.all([app.close(), idp.close(), client.close()]).finally(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`Could not start the example: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
