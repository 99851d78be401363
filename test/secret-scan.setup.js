// Jest globalSetup: starts the secret scan from a clean slate.
import { rmSync } from 'node:fs';
import path from 'node:path';

export default async function clean() {
  for (const dir of ['logs', 'secrets']) rmSync(path.resolve(process.cwd(), 'test-artifacts', dir), { recursive: true, force: true });
}
