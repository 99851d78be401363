/**
 * `npm start`: the development IdP and the example app, side by side. The only place that reads
 * the environment: PORT (3000), IDP_PORT (4000), REDIS_URL, GATEWAY_CONFIG, FEDGATE_SESSION_SECRET.
 */
import { connect } from 'node:net';
import path from 'node:path';
import { exampleDir, startApp } from './app.js';
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
  const app = await startApp({ port: portFromEnv('PORT', 3000), idpUrl: idp.url, redisUrl, config: configFile }).catch(async (err: unknown) => {
    await idp.close();
    throw err;
  });
  const line = '-'.repeat(64);
  process.stdout.write([
    line,
    `  fedgate example app     ${app.url}   <- open this`,
    `  development IdP         ${idp.url}   (test users: alice, bob, carol)`,
    `  config                  ${path.relative(process.cwd(), configFile) || configFile}`,
    `  sessions                ${app.store === 'redis' ? `Redis ${redisUrl?.replace(/\/\/[^@]*@/, '//***@')}` : 'IN MEMORY (development only: no Redis found; set REDIS_URL)'}`,
    '  Ctrl+C to stop',
    line,
    '',
  ].join('\n'));

  const stop = () => {
    Promise.all([app.close(), idp.close()]).finally(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`Could not start the example: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
