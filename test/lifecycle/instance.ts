/**
 * Starts test/lifecycle/instance-app.ts as a separate Node process: a second fedgate instance
 * that shares nothing with the test process but Redis, the config, the keys and the secrets.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ConfigInput } from '../../index.js';

export interface Instance {
  /** http://127.0.0.1:<port> of the child's server. */
  readonly url: string;
  readonly pid: number;
  revokeSessions(sub: string): Promise<number>;
  health(): Promise<Record<string, unknown>>;
  /** Sets the child gateway's clock to the wall clock plus `offsetMs` (see test/fixtures/clock.ts). */
  setClockOffset(offsetMs: number): Promise<void>;
  /** Graceful exit, SIGKILL after 5 s. Idempotent. */
  stop(): Promise<void>;
}

type Message = { type: 'ready'; port: number } | { type: 'reply'; id: number; result: unknown; error?: string };

export async function startInstance(config: ConfigInput, startupTimeoutMs = 30_000): Promise<Instance> {
  const root = process.cwd();
  const env: NodeJS.ProcessEnv = { ...process.env, FEDGATE_INSTANCE_CONFIG: JSON.stringify(config) };
  delete env.NODE_OPTIONS; // jest's --experimental-vm-modules is not for the child
  const child: ChildProcess = fork(resolve(root, 'test/lifecycle/instance-app.ts'), [], {
    execArgv: ['--import', pathToFileURL(resolve(root, 'bench/register.mjs')).href],
    env,
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  child.on('error', () => undefined); // a send() racing the child's exit
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-8000);
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  child.on('message', (msg: Message) => {
    if (msg.type !== 'reply') return;
    const p = pending.get(msg.id);
    pending.delete(msg.id);
    if (msg.error !== undefined) p?.reject(new Error(msg.error));
    else p?.resolve(msg.result);
  });
  const port = await new Promise<number>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`instance did not start in ${startupTimeoutMs} ms:\n${stderr}`)), startupTimeoutMs);
    child.on('message', (msg: Message) => {
      if (msg.type === 'ready') {
        clearTimeout(timer);
        ok(msg.port);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`instance exited during startup (code ${code}):\n${stderr}`));
    });
  }).catch(async (err: unknown) => {
    child.kill('SIGKILL');
    await exited;
    throw err;
  });
  const call = (cmd: string, extra: object = {}): Promise<unknown> =>
    new Promise((ok, fail) => {
      const id = nextId++;
      pending.set(id, { resolve: ok, reject: fail });
      child.send({ id, cmd, ...extra });
    });
  let stopped = false;
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    revokeSessions: async (sub) => Number(await call('revoke', { sub })),
    health: async () => (await call('health')) as Record<string, unknown>,
    setClockOffset: async (offsetMs) => {
      await call('clock', { offsetMs });
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      if (child.exitCode === null && child.signalCode === null) {
        child.send({ id: 0, cmd: 'exit' });
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}
