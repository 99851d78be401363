/**
 * Entry of every bench child process: starts one server (role from FEDGATE_BENCH_CHILD), reports
 * its URL, then answers the parent's commands: `cpu-start` / `cpu-stop` (process.cpuUsage over
 * the measured window), `clock`, `exit`, and the role's own commands.
 */
import { randomUUID } from 'node:crypto';
import type { ClientMetadata } from 'oidc-provider';
import { startOp, getSharedKey, signWithSharedKey } from '../test/fixtures/op.js';
import { startBare, startBareLayers, startEoc, startExpressSession, startFedgate, startRawOidc, SCOPES, type Started } from './apps.js';
import type { ChildInit, Reply, Request } from './ipc.js';

/**
 * The upstream OP (test fixture). Its token responses carry, as most enterprise IdPs do, a JWT
 * access token (RFC 9068 shape, RS256, ~1 KB) instead of oidc-provider's short opaque one, so the
 * stored sessions have a realistic size. Nobody downstream verifies it (userinfo is not called).
 */
async function startUpstream(): Promise<Started> {
  const op = await startOp({ issueRefreshToken: true });
  const now = Math.floor(Date.now() / 1000);
  const accessToken = await signWithSharedKey(
    {
      iss: op.issuer,
      sub: 'alice',
      aud: 'api://reports',
      client_id: 'fedgate',
      scope: SCOPES.join(' '),
      iat: now,
      nbf: now,
      exp: now + 3600,
      jti: randomUUID(),
      auth_time: now,
      acr: '1',
      amr: ['pwd'],
      sid: randomUUID(),
      email: 'alice@example.com',
      name: 'Alice Example',
      roles: ['analyst'],
      groups: ['reports-readers', 'staff'],
      tid: randomUUID(),
      oid: randomUUID(),
    },
    { typ: 'at+jwt', kid: getSharedKey().kid },
  );
  op.tamperTokenResponse = (body) => ({ ...body, access_token: accessToken });
  return {
    url: op.issuer,
    close: () => op.close(),
    commands: {
      // Registers (or replaces) a confidential web client.
      async client(arg: unknown) {
        const { clientId, clientSecret, redirectUri } = arg as { clientId: string; clientSecret: string; redirectUri: string };
        const metadata: ClientMetadata = {
          client_id: clientId,
          client_secret: clientSecret,
          redirect_uris: [redirectUri],
          post_logout_redirect_uris: [],
          grant_types: ['authorization_code', 'refresh_token'],
          response_types: ['code'],
          token_endpoint_auth_method: 'client_secret_basic',
          id_token_signed_response_alg: 'RS256',
        };
        await op.setClient(metadata);
        return true;
      },
    },
  };
}

function start(init: ChildInit): Promise<Started> {
  switch (init.role) {
    case 'op':
      return startUpstream();
    case 'bare':
      return startBare();
    case 'bare-layers':
      return startBareLayers();
    case 'express-session':
      return startExpressSession(init);
    case 'eoc':
      return startEoc(init);
    case 'fedgate':
      return startFedgate(init);
    case 'raw-oidc':
      return startRawOidc(init);
  }
}

const raw = process.env.FEDGATE_BENCH_CHILD;
if (!raw || !process.send) throw new Error('bench/child.ts is started by bench/run.ts (fork with IPC)');
const init = JSON.parse(raw) as ChildInit;
const started = await start(init);
let mark: NodeJS.CpuUsage | undefined;

async function handle(msg: Request): Promise<unknown> {
  switch (msg.cmd) {
    case 'cpu-start':
      mark = process.cpuUsage();
      return true;
    case 'cpu-stop': {
      const used = process.cpuUsage(mark);
      return used.user + used.system;
    }
    case 'clock':
      // µs on the monotonic clock V8's profiler stamps samples with (bench/profile.ts windows).
      return Number(process.hrtime.bigint() / 1000n);
    case 'exit':
      await started.close().catch(() => undefined);
      process.exit(0);
      return true;
    default: {
      const command = started.commands?.[msg.cmd];
      if (!command) throw new Error(`unknown command ${msg.cmd}`);
      return command(msg.arg);
    }
  }
}

process.on('message', (msg: Request) => {
  handle(msg).then(
    (value) => process.send?.({ id: msg.id, ok: true, value } satisfies Reply),
    (err: unknown) => process.send?.({ id: msg.id, ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) } satisfies Reply),
  );
});
// An orphan (the parent died) must not keep a port and a core busy.
process.on('disconnect', () => process.exit(0));
process.send({ ready: true, url: started.url });
