import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// The package as an app installs it: a node_modules/fedgate symlink to this repository, whose
// built entry (dist/, made by `npm run build`, which `npm test` runs first) is loaded by Node.
const repo = fileURLToPath(new URL('../../', import.meta.url));
let app: string;
beforeAll(() => {
  if (!existsSync(path.join(repo, 'dist', 'index.js'))) throw new Error('dist/index.js is missing: run `npm run build` first (npm test does)');
  app = mkdtempSync(path.join(tmpdir(), 'fedgate-cjs-'));
  mkdirSync(path.join(app, 'node_modules'));
  symlinkSync(repo, path.join(app, 'node_modules', 'fedgate'), 'dir');
});
afterAll(() => {
  if (app) rmSync(app, { recursive: true, force: true });
});

function run(file: string, source: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  writeFileSync(path.join(app, file), source);
  return new Promise((resolve, reject) => {
    // NODE_OPTIONS of the test runner (vm modules) must not leak into the app's process.
    const env = { ...process.env, NODE_OPTIONS: '' };
    const child = spawn(process.execPath, [file], { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const probe = `
  const report = {
    fedgate: typeof fg.fedgate,
    requireAuth: typeof fg.requireAuth,
    codes: Object.keys(fg.errorCodes).length,
    sanitized: fg.sanitizeReturnTo('//evil.com'),
  };
  try { fg.fedgate({ baseUrl: 'nope' }, { env: {} }); } catch (err) {
    report.error = { code: err.code, isConfigError: err instanceof fg.ConfigError, isFedgateError: err instanceof fg.FedgateError, paths: err.problems.map((p) => p.path) };
  }
`;

describe('packaging', () => {
  test('require("fedgate") works from a CommonJS app', async () => {
    const res = await run(
      'probe.cjs',
      `
      'use strict';
      const fg = require('fedgate');
      ${probe}
      report.pkg = require('fedgate/package.json').name;
      report.schema = require.resolve('fedgate/schema/config.schema.json');
      console.log(JSON.stringify(report));
    `,
    );
    expect(res.stderr).not.toMatch(/ERR_REQUIRE_ESM|ERR_REQUIRE_ASYNC_MODULE|Error:/);
    expect(res.code).toBe(0);
    const report = JSON.parse(res.stdout) as Record<string, unknown>;
    expect(report).toMatchObject({
      fedgate: 'function',
      requireAuth: 'function',
      sanitized: '/',
      pkg: 'fedgate',
      error: { code: 'CONFIG_INVALID', isConfigError: true, isFedgateError: true },
    });
    expect(report.codes).toBeGreaterThan(10);
    expect(existsSync(String(report.schema))).toBe(true);
    expect(String(report.schema).endsWith(path.join('schema', 'config.schema.json'))).toBe(true);
    expect((report.error as { paths: string[] }).paths).toEqual(expect.arrayContaining(['baseUrl', 'session', 'connectors']));
  });

  test('import("fedgate") works from an ES module app', async () => {
    const res = await run(
      'probe.mjs',
      `
      import * as fg from 'fedgate';
      ${probe}
      console.log(JSON.stringify(report));
    `,
    );
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toMatchObject({
      fedgate: 'function',
      requireAuth: 'function',
      sanitized: '/',
      error: { code: 'CONFIG_INVALID', isConfigError: true },
    });
  });

  test('a CommonJS Express app serves the gateway routes', async () => {
    const res = await run(
      'server.cjs',
      `
      'use strict';
      const { fedgate, requireAuth } = require('fedgate');
      const express = require(require.resolve('express', { paths: [${JSON.stringify(repo)}] }));
      const app = express();
      const server = app.listen(0, '127.0.0.1', async () => {
        const base = 'http://127.0.0.1:' + server.address().port;
        const gateway = fedgate({
          baseUrl: base,
          allowInsecureRequests: true,
          session: { secret: 'cjs-test-session-secret-0123456789-abcdef', insecureMemoryStore: true },
          tokens: { insecureEphemeralKeys: true },
          connectors: [{ id: 'corp', type: 'oidc', issuer: 'http://127.0.0.1:9', clientId: 'app' }],
        }, { nodeEnv: 'development', env: {}, logger: { debug() {}, info() {}, warn() {}, error() {} } });
        app.use(gateway);
        app.get('/private', requireAuth(), (req, res) => res.send('secret'));
        const out = {};
        for (const p of ['/auth/jwks.json', '/private']) {
          const r = await fetch(base + p, { headers: { accept: 'application/json' }, redirect: 'manual' });
          out[p] = r.status;
        }
        console.log(JSON.stringify(out));
        await gateway.close();
        server.close();
      });
    `,
    );
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toEqual({ '/auth/jwks.json': 200, '/private': 401 });
  });
});
