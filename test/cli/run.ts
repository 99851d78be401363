import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** The built CLI, as `npx fedgate` runs it (npm test builds first). */
export const cliPath = path.resolve('dist/cli/fedgate.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Spawns `node dist/cli/fedgate.js ...args` asynchronously, so servers in this test process (a
 * real OP for --probe) keep answering while it runs.
 */
export function runCli(args: string[], opts: { cwd?: string; env?: Record<string, string | undefined>; timeoutMs?: number } = {}): Promise<CliResult> {
  if (!existsSync(cliPath)) throw new Error(`${cliPath} is missing: run "npm run build" first`);
  const env: Record<string, string | undefined> = { PATH: process.env.PATH, HOME: process.env.HOME, ...opts.env };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], { cwd: opts.cwd ?? process.cwd(), env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`fedgate ${args.join(' ')} did not finish within ${opts.timeoutMs ?? 20_000} ms\n${stdout}\n${stderr}`));
    }, opts.timeoutMs ?? 20_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A temporary folder for config, key and claims files; `cleanup()` removes it. */
export async function tempDir(): Promise<{ dir: string; write(name: string, content: unknown): Promise<string>; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'fedgate-cli-'));
  return {
    dir,
    async write(name, content) {
      const file = path.join(dir, name);
      await writeFile(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
      return file;
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

export const sessionSecret = 'cli-test-session-secret-0123456789-abcdefghijklmn';
export const clientSecret = 'cli-test-client-secret-9876543210-zyxwvutsrqponm';
