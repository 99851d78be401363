/** Config validation of one connector entry, for vendor tests (no gateway is built). */
import { readFileSync } from 'node:fs';
import { loadConfig } from '../../lib/config/load.js';
import { ConfigError, type ConfigProblem } from '../../lib/errors.js';
import { builtinConnectors } from '../../connectors/registry.js';
import { SESSION_SECRET } from '../fixtures/stack.js';

/** The problems `fedgate()` would report for a config holding just `connector` (connectors[0]). `${env:X}` references resolve. */
export function connectorProblems(connector: Record<string, unknown>, opts: { allowInsecureRequests?: boolean } = {}): ConfigProblem[] {
  const env = Object.fromEntries([...JSON.stringify(connector).matchAll(/\$\{env:([A-Z0-9_]+)\}/g)].map((m) => [m[1], 'from-env-0123456789']));
  try {
    loadConfig(
      {
        baseUrl: 'https://app.example.com',
        ...(opts.allowInsecureRequests ? { allowInsecureRequests: true } : {}),
        session: { secret: SESSION_SECRET, insecureMemoryStore: true },
        tokens: { insecureEphemeralKeys: true },
        connectors: [connector],
      },
      { registry: builtinConnectors, nodeEnv: 'test', env },
    );
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
}

/** Every ```json block of the `## {type}` section of docs/connectors.md. */
export function docExamples(type: string): Record<string, unknown>[] {
  const doc = readFileSync(new URL('../../docs/connectors.md', import.meta.url), 'utf8');
  const start = doc.indexOf(`\n## ${type}\n`);
  if (start < 0) throw new Error(`docs/connectors.md has no "## ${type}" section`);
  const rest = doc.slice(start + 1);
  const end = rest.indexOf('\n## ');
  const section = end < 0 ? rest : rest.slice(0, end);
  return [...section.matchAll(/```json\n([\s\S]*?)\n```/g)].map((m) => JSON.parse(m[1] ?? '') as Record<string, unknown>);
}
