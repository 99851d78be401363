// Jest globalTeardown: fails the run when any secret or token used by any test appears in any
// log line written by a gateway under test (see test/fixtures/secret-scan.ts).
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';

export default async function secretScan() {
  const root = path.resolve(process.cwd(), 'test-artifacts');
  const read = (dir) => (existsSync(path.join(root, dir)) ? readdirSync(path.join(root, dir)).map((f) => readFileSync(path.join(root, dir, f), 'utf8')) : []);
  const secrets = new Set(
    read('secrets').flatMap((t) =>
      t
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l)),
    ),
  );
  const logs = read('logs').join('\n');
  const leaked = [...secrets].filter((s) => logs.includes(s));
  // Silent on success: jest's own summary must stay the last lines of the run's output (CI reads it).
  if (leaked.length) {
    const checked = `${secrets.size} secrets checked against ${logs.split('\n').filter(Boolean).length} log lines`;
    throw new Error(`secret scan: ${leaked.length} secret(s) or token(s) appeared in gateway logs (${checked}; first: ${leaked[0].slice(0, 6)}…)`);
  }
}
