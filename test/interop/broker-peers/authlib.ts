import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The Authlib relying party (authlib_rp.py, Debian `python3-authlib` + `python3-requests`) as a
 * child process on a free port, stopped by its PID.
 */

const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'authlib_rp.py');
/** Debian's interpreter, where python3-authlib is installed (not a pyenv or venv one on PATH). */
const python = '/usr/bin/python3';

export interface AuthlibRp {
  url: string;
  callback: string;
  /** GET a JSON route of the RP. */
  call<T = Record<string, unknown>>(route: string): Promise<{ status: number; body: T }>;
  stop(): Promise<void>;
}

export async function startAuthlibRp(env: { port: number; issuer: string; clientId: string; clientSecret: string; scope: string }): Promise<AuthlibRp> {
  const child: ChildProcess = spawn(python, [script], {
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      ISSUER: env.issuer,
      CLIENT_ID: env.clientId,
      CLIENT_SECRET: env.clientSecret,
      SCOPE: env.scope,
      PORT: String(env.port),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`authlib RP did not start in 15 s: ${stderr}`));
    }, 15_000);
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`authlib RP exited (${code}): ${stderr}`));
    });
  });
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    callback: `${url}/cb`,
    async call<T>(route: string) {
      const res = await fetch(`${url}${route}`, { redirect: 'manual', signal: AbortSignal.timeout(15_000) });
      return { status: res.status, body: (await res.json()) as T };
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}
