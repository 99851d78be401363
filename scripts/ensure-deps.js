// Installs the dependencies when they are missing or out of date, so that `npm start` and
// `npm test` work on a fresh clone with nothing else typed. Runs as `prestart` / `pretest`;
// uses nothing but Node's own modules (it runs before anything is installed).
//
// "Out of date" compares package-lock.json with the hidden lockfile npm writes into
// node_modules/.package-lock.json after every install
// (https://docs.npmjs.com/cli/configuring-npm/package-lock-json#hidden-lockfiles): a package the
// lockfile wants that is absent, or installed at another version, means `npm ci` is due.
import { lstatSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * Decides whether `root` needs `npm ci`. Returns `{ install: true, reason }` when it does,
 * `{ install: false, reason }` when it does not (the reason then says why nothing is done).
 */
export function installDecision(root) {
  const modules = path.join(root, 'node_modules');
  let stat;
  try {
    stat = lstatSync(modules);
  } catch {
    return { install: true, reason: 'node_modules is missing' };
  }
  // `npm ci` starts by deleting node_modules: through a symlink that would wipe an install
  // shared with other checkouts. A linked node_modules is managed where it lives.
  if (stat.isSymbolicLink()) return { install: false, reason: 'node_modules is a symbolic link, managed elsewhere' };
  const lock = readJson(path.join(root, 'package-lock.json'));
  const hidden = readJson(path.join(modules, '.package-lock.json'));
  if (lock?.packages && hidden?.packages) return compareLocks(lock.packages, hidden.packages);
  return compareManifest(root);
}

function compareLocks(wanted, installed) {
  for (const [key, entry] of Object.entries(wanted)) {
    if (key === '' || !key.startsWith('node_modules/')) continue;
    const have = installed[key];
    // Optional packages for other platforms (e.g. native watchers) are legitimately absent.
    if (!have) {
      if (entry.optional) continue;
      return { install: true, reason: `${key.slice('node_modules/'.length)} is not installed` };
    }
    if (entry.version && have.version !== entry.version) {
      return { install: true, reason: `${key.slice('node_modules/'.length)} is ${have.version}, package-lock.json wants ${entry.version}` };
    }
  }
  return { install: false, reason: 'node_modules matches package-lock.json' };
}

// Without a hidden lockfile (another package manager, an old npm) check the direct dependencies.
function compareManifest(root) {
  const manifest = readJson(path.join(root, 'package.json')) ?? {};
  const names = [...Object.keys(manifest.dependencies ?? {}), ...Object.keys(manifest.devDependencies ?? {})];
  const absent = names.find((name) => !existsSync(path.join(root, 'node_modules', name, 'package.json')));
  if (absent) return { install: true, reason: `${absent} is not installed` };
  return { install: false, reason: 'every dependency is present' };
}

function readJson(file) {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Runs `npm ci` in `root` when needed; returns the exit code. */
export function ensureDeps(root, log = console.log) {
  const decision = installDecision(root);
  if (!decision.install) return 0;
  log(`fedgate: installing dependencies (npm ci): ${decision.reason}. This takes a minute…`);
  // The npm that runs this script (npm sets npm_execpath), else the one on PATH.
  const npmCli = process.env.npm_execpath;
  const [command, args] =
    npmCli && /\.[cm]?js$/.test(npmCli) ? [process.execPath, [npmCli, 'ci', '--no-audit', '--no-fund']] : ['npm', ['ci', '--no-audit', '--no-fund']];
  const started = Date.now();
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', shell: command === 'npm' && process.platform === 'win32' });
  if (result.status !== 0) {
    log(`fedgate: npm ci failed${result.error ? ` (${result.error.message})` : ''}; fix the error above and run the command again.`);
    return result.status ?? 1;
  }
  log(`fedgate: dependencies installed (${((Date.now() - started) / 1000).toFixed(0)} s).`);
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  process.exitCode = ensureDeps(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..'));
}
