/**
 * Keeps the benchmark harness from rotting: runs `bench/run.ts` end to end in smoke mode (1 × 1 s
 * per scenario, 1 000 vs 10 000 sessions) as `npm run bench:smoke` does, and checks that every
 * scenario produced numbers and the table rendered; then a 1 s `bench/profile.ts`. No performance
 * assertions: a smoke run on a shared machine says nothing about speed.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Report } from '../../bench/report.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const LIMIT_MS = 280_000;

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runScript(script: string, vars: Record<string, string>): Promise<Outcome> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...vars };
  delete env.NODE_OPTIONS; // jest's --experimental-vm-modules is not for the harness
  delete env.FEDGATE_BENCH_DURATION;
  delete env.FEDGATE_BENCH_ROUNDS;
  const child = spawn(process.execPath, ['--import', './bench/register.mjs', script], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => {
    // The harness has its own hard limit; this is the backstop should that ever fail.
    const timer = setTimeout(() => child.kill('SIGTERM'), LIMIT_MS);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('benchmark harness (smoke)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedgate-bench-smoke-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it(
    'runs every scenario, reports numbers > 0 and renders the table',
    async () => {
      const md = join(dir, 'RESULTS.md');
      const json = join(dir, 'results.json');
      const outcome = await runScript('bench/run.ts', { FEDGATE_BENCH_SMOKE: '1', FEDGATE_BENCH_OUT: md, FEDGATE_BENCH_JSON: json });
      if (outcome.code !== 0) throw new Error(`bench smoke run failed (exit ${String(outcome.code)}):\n${outcome.stderr.slice(-6000)}`);

      const report = JSON.parse(await readFile(json, 'utf8')) as Report;
      expect(report.smoke).toBe(true);
      expect(report.settings.fillLarge).toBe(10_000);
      expect(report.rows.map((r) => r.id)).toEqual(['1', '1', '2', '3', '4', '4', '5', '6', '6', '6', '6', '7', '8', '8', '8', '8']);
      for (const row of report.rows) {
        if (row.unit === 'bytes') {
          expect(row.bytes).toBeGreaterThan(0);
          continue;
        }
        const s = row.sample!;
        for (const value of [s.rps, s.p50, s.p99, s.cpuUs, s.count, row.ratio!]) {
          expect(Number.isFinite(value) && value > 0).toBe(true);
        }
        expect(s.errors).toBe(0);
        expect(row.samples).toHaveLength(1);
      }
      expect(report.footprint.sessionBytes).toBeGreaterThan(report.footprint.sessionValueBytes);
      expect(report.footprint.keys.some((k) => k.kind === 'fedgate:sess:…')).toBe(true);
      // Every scenario with a target says whether it was met.
      expect(report.rows.filter((r) => r.target).map((r) => typeof r.target!.met)).toEqual(Array(7).fill('boolean'));

      // The same table on stdout and in the Markdown file.
      const header = /^\| # +\| scenario +\| req\/s +\| p50 ms +\| p99 ms +\| CPU µs\/req +\| ratio +\| CPU ratio +\| target +\|$/m;
      expect(outcome.stdout).toMatch(header);
      const written = await readFile(md, 'utf8');
      expect(written).toMatch(header);
      expect(written).toContain(`Node: ${process.version}`);
      expect(written).toMatch(/Machine: \d+ × .+/);
      for (const id of ['1', '2', '3', '4', '5', '6', '7', '8']) expect(outcome.stdout).toMatch(new RegExp(`^\\| ${id} +\\| \\S`, 'm'));
    },
    LIMIT_MS + 20_000,
  );

  it(
    'profiles the session hot path with --cpu-prof and summarises it',
    async () => {
      const md = join(dir, 'PROFILE.md');
      const outcome = await runScript('bench/profile.ts', { FEDGATE_PROFILE_SECONDS: '1', FEDGATE_PROFILE_OUT: md });
      if (outcome.code !== 0) throw new Error(`bench profile run failed (exit ${String(outcome.code)}):\n${outcome.stderr.slice(-6000)}`);
      const written = await readFile(md, 'utf8');
      expect(outcome.stdout).toBe(written);
      expect(written).toMatch(/^# Profile: fedgate session hot path$/m);
      expect(written).toMatch(/^\| fedgate \(lib\/, connectors\/\) \| [\d.]+ \| [\d.]+ \| [\d.]+ \|$/m);
      expect(written).toMatch(/^\| [\d.]+ \| [\d.]+ \| [\d.]+ \| `fedgateMiddleware` \| lib\/gateway\/middleware\.ts:\d+ \|$/m);
      expect(written).toMatch(/During the window: \d+ req\/s, \d+ µs of server CPU per request/);
    },
    LIMIT_MS,
  );
});
