import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { installDecision } from '../../scripts/ensure-deps.js';

// `npm start` / `npm test` on a fresh clone: prestart/pretest run scripts/ensure-deps.js, which
// runs `npm ci` when node_modules is missing or out of date. Each case is a small fixture
// checkout with a fake package; nothing is really installed (the last case stands in a recording
// fake npm for the real one, through npm_execpath, which npm sets for every script it runs).

const script = fileURLToPath(new URL('../../scripts/ensure-deps.js', import.meta.url));
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Fixture {
  root: string;
  write(file: string, value: unknown): void;
}

function checkout(): Fixture {
  const root = mkdtempSync(path.join(tmpdir(), 'fedgate-deps-'));
  dirs.push(root);
  const write = (file: string, value: unknown) => {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    writeFileSync(path.join(root, file), typeof value === 'string' ? value : JSON.stringify(value));
  };
  write('package.json', { name: 'app', version: '1.0.0', dependencies: { 'left-pad': '^1.3.0' } });
  write('package-lock.json', {
    lockfileVersion: 3,
    packages: {
      '': { name: 'app', dependencies: { 'left-pad': '^1.3.0' } },
      'node_modules/left-pad': { version: '1.3.0' },
      'node_modules/fsevents': { version: '2.3.3', optional: true, os: ['darwin'] },
    },
  });
  return { root, write };
}

function installed(f: Fixture, version = '1.3.0') {
  f.write('node_modules/left-pad/package.json', { name: 'left-pad', version });
  f.write('node_modules/.package-lock.json', { lockfileVersion: 3, packages: { 'node_modules/left-pad': { version } } });
}

test('a fresh clone (no node_modules) needs an install', () => {
  expect(installDecision(checkout().root)).toEqual({ install: true, reason: 'node_modules is missing' });
});

test('an install matching package-lock.json is left alone; an absent optional package for another platform is fine', () => {
  const f = checkout();
  installed(f);
  expect(installDecision(f.root)).toEqual({ install: false, reason: 'node_modules matches package-lock.json' });
});

test('a package at another version than package-lock.json wants is stale', () => {
  const f = checkout();
  installed(f, '1.1.0');
  expect(installDecision(f.root)).toEqual({ install: true, reason: 'left-pad is 1.1.0, package-lock.json wants 1.3.0' });
});

test('a package added to package-lock.json after the install (git pull) is stale', () => {
  const f = checkout();
  installed(f);
  const lock = JSON.parse(readFileSync(path.join(f.root, 'package-lock.json'), 'utf8')) as { packages: Record<string, unknown> };
  lock.packages['node_modules/zod'] = { version: '4.6.7' };
  f.write('package-lock.json', lock);
  expect(installDecision(f.root)).toEqual({ install: true, reason: 'zod is not installed' });
});

test('without a hidden lockfile the direct dependencies are checked', () => {
  const f = checkout();
  mkdirSync(path.join(f.root, 'node_modules'));
  expect(installDecision(f.root)).toEqual({ install: true, reason: 'left-pad is not installed' });
  f.write('node_modules/left-pad/package.json', { name: 'left-pad', version: '1.3.0' });
  expect(installDecision(f.root)).toEqual({ install: false, reason: 'every dependency is present' });
});

test('a symlinked node_modules (an install shared between checkouts) is never reinstalled', () => {
  const f = checkout();
  const shared = mkdtempSync(path.join(tmpdir(), 'fedgate-shared-'));
  dirs.push(shared);
  symlinkSync(shared, path.join(f.root, 'node_modules'));
  expect(installDecision(f.root)).toEqual({ install: false, reason: 'node_modules is a symbolic link, managed elsewhere' });
});

test('run as prestart/pretest: says what it does, runs `npm ci` through the npm that started it, and is quiet when up to date', () => {
  const f = checkout();
  mkdirSync(path.join(f.root, 'scripts'));
  copyFileSync(script, path.join(f.root, 'scripts', 'ensure-deps.js'));
  f.write('package.json', { name: 'app', version: '1.0.0', type: 'module', dependencies: { 'left-pad': '^1.3.0' } });
  // The fake npm records its arguments and "installs" the package the way npm ci would.
  f.write(
    'fake-npm.cjs',
    `
    const fs = require('node:fs'), path = require('node:path');
    fs.writeFileSync(path.join(process.cwd(), 'npm-args.json'), JSON.stringify(process.argv.slice(2)));
    fs.mkdirSync('node_modules/left-pad', { recursive: true });
    fs.writeFileSync('node_modules/left-pad/package.json', '{"name":"left-pad","version":"1.3.0"}');
    fs.writeFileSync('node_modules/.package-lock.json', '{"packages":{"node_modules/left-pad":{"version":"1.3.0"}}}');
  `,
  );
  const run = () =>
    spawnSync(process.execPath, ['scripts/ensure-deps.js'], {
      cwd: f.root,
      encoding: 'utf8',
      env: { ...process.env, npm_execpath: path.join(f.root, 'fake-npm.cjs') },
    });
  const first = run();
  expect(first.status).toBe(0);
  expect(first.stdout).toContain('fedgate: installing dependencies (npm ci): node_modules is missing');
  expect(first.stdout).toMatch(/fedgate: dependencies installed \(\d+ s\)/);
  expect(JSON.parse(readFileSync(path.join(f.root, 'npm-args.json'), 'utf8'))).toEqual(['ci', '--no-audit', '--no-fund']);

  rmSync(path.join(f.root, 'npm-args.json'));
  const second = run();
  expect(second.status).toBe(0);
  expect(second.stdout).toBe('');
  expect(existsSync(path.join(f.root, 'npm-args.json'))).toBe(false);
});

test('a failing npm ci fails the command with its exit code and a hint', () => {
  const f = checkout();
  mkdirSync(path.join(f.root, 'scripts'));
  copyFileSync(script, path.join(f.root, 'scripts', 'ensure-deps.js'));
  f.write('package.json', { name: 'app', version: '1.0.0', type: 'module' });
  f.write('fail-npm.cjs', 'process.exit(3)');
  const r = spawnSync(process.execPath, ['scripts/ensure-deps.js'], {
    cwd: f.root,
    encoding: 'utf8',
    env: { ...process.env, npm_execpath: path.join(f.root, 'fail-npm.cjs') },
  });
  expect(r.status).toBe(3);
  expect(r.stdout).toContain('fedgate: npm ci failed; fix the error above and run the command again.');
});

test('package.json runs it before start and test, and the builds say what they do', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> };
  expect(pkg.scripts.prestart).toBe('node scripts/ensure-deps.js');
  expect(pkg.scripts.pretest).toBe('node scripts/ensure-deps.js');
  for (const name of ['build', 'typecheck']) expect(pkg.scripts[name]).toMatch(/^node scripts\/step\.js "[^"]+" tsc /);
});

test('a build step says what it does before and after, and passes a failure on', () => {
  const step = fileURLToPath(new URL('../../scripts/step.js', import.meta.url));
  const ok = spawnSync(process.execPath, [step, 'building the thing', process.execPath, '-e', 'console.log("out")'], { encoding: 'utf8' });
  expect(ok.status).toBe(0);
  expect(ok.stdout).toMatch(/^fedgate: building the thing…\nout\nfedgate: building the thing: done \(\d+\.\d s\)\n$/);
  const bad = spawnSync(process.execPath, [step, 'type-checking', process.execPath, '-e', 'process.exit(2)'], { encoding: 'utf8' });
  expect(bad.status).toBe(2);
  expect(bad.stderr).toBe('fedgate: type-checking: failed\n');
});
