/**
 * Parent/child plumbing: every server under test runs in its own process (so the load generator,
 * the upstream OP and the server never share an event loop), started with `fork` and driven over
 * the IPC channel with small request/reply messages.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What a child is told at start (JSON in FEDGATE_BENCH_CHILD). */
export interface ChildInit {
  role: Role;
  redisUrl?: string;
  issuer?: string;
  clientId?: string;
  clientSecret?: string;
  /** fedgate `session.cacheTtl` (seconds); unset = the library default. */
  sessionCacheTtl?: number;
}

export type Role = 'op' | 'bare' | 'bare-layers' | 'express-session' | 'eoc' | 'fedgate' | 'raw-oidc';

export interface Request {
  id: number;
  cmd: string;
  arg?: unknown;
}
export type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string };
export interface Ready {
  ready: true;
  url: string;
}

const benchDir = fileURLToPath(new URL('.', import.meta.url));
const registerHook = join(benchDir, 'register.mjs');
const childEntry = join(benchDir, 'child.ts');
const START_TIMEOUT_MS = 60_000;
const CALL_TIMEOUT_MS = 120_000;

/** The parent's handle on one server process. */
export class Child {
  readonly name: string;
  url = '';
  readonly #proc: ChildProcess;
  readonly #log: string;
  #next = 1;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  #exited: Promise<number | null>;

  private constructor(name: string, proc: ChildProcess, log: string) {
    this.name = name;
    this.#proc = proc;
    this.#log = log;
    this.#exited = new Promise((resolve) => proc.once('exit', (code) => resolve(code)));
    proc.on('message', (msg: Reply | Ready) => {
      if ('ready' in msg) return;
      const pending = this.#pending.get(msg.id);
      if (!pending) return;
      this.#pending.delete(msg.id);
      clearTimeout(pending.timer);
      if (msg.ok) pending.resolve(msg.value);
      else pending.reject(new Error(`${this.name}: ${msg.error}`));
    });
    void this.#exited.then((code) => {
      for (const [id, pending] of this.#pending) {
        clearTimeout(pending.timer);
        pending.reject(new Error(`${this.name} exited (code ${String(code)}) during call ${id}`));
      }
      this.#pending.clear();
    });
  }

  get pid(): number | undefined {
    return this.#proc.pid;
  }

  /**
   * Forks `bench/child.ts` with the TypeScript hook, waits for its `ready` message (its URL).
   * Output goes to `<logDir>/<name>.log`, shown by `logTail()` when something fails.
   */
  static async start(name: string, init: ChildInit, logDir: string, execArgv: string[] = []): Promise<Child> {
    const log = join(logDir, `${name}.log`);
    const out = createWriteStream(log);
    const env: NodeJS.ProcessEnv = { ...process.env, FEDGATE_BENCH_CHILD: JSON.stringify(init) };
    delete env.NODE_OPTIONS; // jest's --experimental-vm-modules must not leak into the servers
    const proc = fork(childEntry, [name], {
      // No --enable-source-maps: it makes every `error.stack` costly and would bias the servers.
      execArgv: ['--import', registerHook, ...execArgv],
      env,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    proc.stdout?.pipe(out);
    proc.stderr?.pipe(out);
    const child = new Child(name, proc, log);
    const ready = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name} did not start within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
      proc.on('message', (msg: Reply | Ready) => {
        if ('ready' in msg) {
          clearTimeout(timer);
          resolve(msg.url);
        }
      });
      void child.#exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited during startup (code ${String(code)})`));
      });
    });
    try {
      child.url = await ready;
    } catch (err) {
      child.kill();
      throw new Error(`${(err as Error).message}\n${await child.logTail()}`);
    }
    return child;
  }

  call<T>(cmd: string, arg?: unknown): Promise<T> {
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`${this.name}: '${cmd}' timed out`));
      }, CALL_TIMEOUT_MS);
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.#proc.send({ id, cmd, arg } satisfies Request);
    });
  }

  /** Starts the CPU window of this process. */
  async cpuStart(): Promise<void> {
    await this.call('cpu-start');
  }

  /** µs of user + system CPU this process used since `cpuStart()` (all its threads). */
  cpuStop(): Promise<number> {
    return this.call<number>('cpu-stop');
  }

  /** Asks the child to close its servers and exit (so `--cpu-prof` gets written); SIGKILL after 15 s. */
  async stop(): Promise<void> {
    if (this.#proc.exitCode !== null || this.#proc.signalCode !== null) return;
    const timer = setTimeout(() => this.kill(), 15_000);
    this.#proc.send({ id: 0, cmd: 'exit' } satisfies Request, () => undefined);
    await this.#exited;
    clearTimeout(timer);
  }

  kill(): void {
    if (this.#proc.exitCode === null && this.#proc.signalCode === null) this.#proc.kill('SIGKILL');
  }

  async logTail(chars = 4000): Promise<string> {
    const text = await readFile(this.#log, 'utf8').catch(() => '');
    return text ? `--- ${this.name} log (tail) ---\n${text.slice(-chars)}` : `(${this.name} wrote no output)`;
  }
}
