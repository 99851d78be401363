/**
 * A second app instance in its own process (started by test/lifecycle/instance.ts with fork and
 * bench/register.mjs, which runs the TypeScript sources): Express + fedgate from the config in
 * FEDGATE_INSTANCE_CONFIG. Reports its port over IPC, answers `revoke`, `health` and `clock` (the
 * gateway's clock is the wall clock plus an offset the test sets, as test/fixtures/clock.ts), and
 * exits when the parent goes away.
 */
import express from 'express';
import { fedgate, requireAuth, type ConfigInput } from '../../index.js';

const raw = process.env.FEDGATE_INSTANCE_CONFIG;
const send = process.send?.bind(process);
if (!raw || !send) throw new Error('instance-app.ts is started by test/lifecycle/instance.ts (fork with IPC)');

const write = (level: string) => (obj: object, msg?: string) => {
  if (level === 'warn' || level === 'error') process.stderr.write(`${JSON.stringify({ level, msg, ...obj })}\n`);
};
let clockOffsetMs = 0;
const gateway = fedgate(JSON.parse(raw) as ConfigInput, {
  logger: { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') },
  now: () => Date.now() + clockOffsetMs,
});
const app = express();
app.use(gateway);
app.get('/dashboard', requireAuth(), (req, res) => {
  res.json({ sub: req.auth.sub, via: req.auth.via, claims: req.auth.claims, pid: process.pid });
});
app.get('/tokens', requireAuth(), (req, res) => {
  res.json({ accessToken: req.auth.accessToken, idToken: req.auth.idToken });
});

await gateway.ready();
const server = app.listen(0, '127.0.0.1', () => {
  const address = server.address();
  send({ type: 'ready', port: typeof address === 'object' && address ? address.port : 0 });
});

interface Command {
  id: number;
  cmd: 'revoke' | 'health' | 'clock' | 'exit';
  sub?: string;
  offsetMs?: number;
}
process.on('message', (msg: Command) => {
  const reply = (result: unknown, error?: string) => send({ type: 'reply', id: msg.id, result, error });
  const run = async (): Promise<unknown> => {
    switch (msg.cmd) {
      case 'revoke':
        return gateway.revokeSessions({ sub: msg.sub ?? '' });
      case 'health':
        return gateway.health();
      case 'clock':
        clockOffsetMs = msg.offsetMs ?? 0;
        return true;
      case 'exit':
        server.closeAllConnections();
        server.close();
        await gateway.close();
        setImmediate(() => process.exit(0));
        return true;
    }
  };
  run().then(
    (r) => reply(r),
    (err: unknown) => reply(undefined, err instanceof Error ? err.message : String(err)),
  );
});
// The parent died or closed the channel: do not linger.
process.on('disconnect', () => process.exit(0));
