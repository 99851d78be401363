import path from 'node:path';
import type { ResolvedConfig } from '../lib/config/load.js';
import { ConfigError, type ConfigProblem } from '../lib/errors.js';
import { loadKeySet } from '../lib/tokens/keys.js';
import { collectingLogger, createConnector, describeRedis, loadConfigFile, offlineContext, printConfigError } from './config.js';
import { displayPath, exitCodes, parseCommand, positionals, usageError, type Io } from './io.js';
import { probeConnector } from './probe.js';
import { probeRedis } from './probe-redis.js';

export const checkUsage = `Usage: fedgate check <config.json> [--probe] [--timeout <seconds>]

Validates a gateway config with the same loader fedgate() uses and prints every problem
as "path: message". \${env:NAME} is read from the environment. Also loads tokens.keys.
  --probe            also PING the session Redis, fetch each connector's discovery document
                     and JWKS and report issuer match, endpoints and ID token algorithms
  --timeout <s>      per-request timeout of --probe (default: the config's httpTimeout)
Exit code: 0 valid, 1 problems found, 2 bad command line.`;

/** `fedgate check`: validates a config file completely, optionally probing every upstream. */
export async function runCheck(args: string[], io: Io): Promise<number> {
  const options = parseCheckArgs(args);
  if (options === 'help') {
    io.out(checkUsage);
    return exitCodes.ok;
  }
  const shown = displayPath(path.resolve(options.file));
  let config: ResolvedConfig;
  try {
    config = loadConfigFile(options.file, process.env);
  } catch (err) {
    io.out(`${shown}: invalid`);
    printConfigError(err, io);
    return exitCodes.problems;
  }

  const problems: ConfigProblem[] = [];
  const keyInfo = await checkConfig(config, problems);
  if (problems.length) {
    io.out(`${shown}: invalid`);
    for (const p of problems) io.out(`${p.path}: ${p.message}`);
    return exitCodes.problems;
  }
  io.out(`${shown}: valid`);
  printSummary(config, keyInfo, io);
  if (!options.probe) return exitCodes.ok;
  const failed = await probeUpstreams(config, options.timeout ?? config.httpTimeout, io);
  return failed ? exitCodes.problems : exitCodes.ok;
}

interface CheckOptions {
  file: string;
  probe: boolean;
  timeout?: number;
}

/** The command line, or `'help'`; a bad one throws the usage error (exit code 2). */
function parseCheckArgs(args: string[]): CheckOptions | 'help' {
  const { values, positionals: rest } = parseCommand(args, {
    probe: { type: 'boolean' },
    timeout: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return 'help';
  const [file] = positionals(rest, ['config.json']) as [string];
  if (values.timeout === undefined) return { file, probe: values.probe === true };
  const timeout = Number(values.timeout);
  if (!Number.isFinite(timeout) || timeout <= 0 || timeout > 120) throw usageError('--timeout must be a number of seconds between 0 and 120');
  return { file, probe: values.probe === true, timeout };
}

/** What the loader cannot see: the token keys load and every connector can be created. Returns the key summary. */
async function checkConfig(config: ResolvedConfig, problems: ConfigProblem[]): Promise<string> {
  const logger = collectingLogger();
  const keyInfo = await checkKeys(config, logger, problems);
  const ctx = offlineContext(config, logger);
  config.connectors.forEach((_c, i) => {
    try {
      createConnector(config, i, ctx);
    } catch (err) {
      problems.push({ path: `connectors[${i}]`, message: err instanceof Error ? err.message : 'cannot be created' });
    }
  });
  return keyInfo;
}

/** The summary of a valid config: where it serves, its stores, tokens, connectors, and insecure switches. */
function printSummary(config: ResolvedConfig, keyInfo: string, io: Io): void {
  io.out(`  baseUrl     ${config.baseUrl} (auth routes under ${config.basePath})`);
  io.out(`  sessions    ${describeRedis(config)}; idle ${config.session.idleTimeout} s, absolute ${config.session.absoluteTimeout} s`);
  io.out(`  tokens      issuer ${config.tokens.issuer}, audience ${config.tokens.audience}; ${keyInfo}`);
  const scopes = Object.keys(config.tokens.scopes);
  io.out(`  scopes      ${scopes.length ? scopes.join(', ') : '(none)'}`);
  for (const c of config.connectors) {
    const saml =
      typeof c['metadataUrl'] === 'string' ? ` metadata ${c['metadataUrl']}` : typeof c['entryPoint'] === 'string' ? ` entryPoint ${c['entryPoint']}` : '';
    const issuer = typeof c['issuer'] === 'string' ? ` ${c['issuer']}` : saml;
    io.out(`  connector   ${c.id} (${c.type}${c.name ? `, "${c.name}"` : ''})${issuer}${c.domains?.length ? ` domains ${c.domains.join(', ')}` : ''}`);
  }
  for (const w of insecureWarnings(config)) io.out(`warning: ${w}`);
}

/** `--probe`: the session Redis, then every connector's upstream. True when any problem was found. */
async function probeUpstreams(config: ResolvedConfig, timeout: number, io: Io): Promise<boolean> {
  const store = await probeRedis(config, timeout);
  io.out('');
  io.out('probe session store:');
  for (const line of store.lines) io.out(`  ${line}`);
  for (const p of store.problems) io.out(`session.redis: ${p}`);
  let failed = store.problems.length > 0;
  for (const [i, c] of config.connectors.entries()) {
    const report = await probeConnector(config, i, timeout);
    io.out('');
    io.out(`probe ${c.id} (${c.type}):`);
    for (const line of report.lines) io.out(`  ${line}`);
    for (const p of report.problems) io.out(`connectors[${i}] (${c.id}): ${p}`);
    if (report.problems.length) failed = true;
  }
  return failed;
}

async function checkKeys(config: ResolvedConfig, logger: ReturnType<typeof collectingLogger>, problems: ConfigProblem[]): Promise<string> {
  if (config.tokens.insecureEphemeralKeys && config.tokens.keys === undefined) return 'a key generated at every start (insecureEphemeralKeys)';
  try {
    const ks = await loadKeySet({
      keys: config.tokens.keys as string | { keys: object[] },
      baseDir: config.baseDir,
      ...(process.env.NODE_ENV !== undefined ? { nodeEnv: process.env.NODE_ENV } : {}),
      logger,
    });
    const count = ks.publicJwks.keys.length;
    return `${count} key${count === 1 ? '' : 's'}, signing with ${ks.signing.alg} kid ${ks.signing.kid}`;
  } catch (err) {
    if (err instanceof ConfigError) problems.push(...err.problems);
    else problems.push({ path: 'tokens.keys', message: 'cannot be loaded' });
    return 'keys not loaded';
  }
}

function insecureWarnings(config: ResolvedConfig): string[] {
  const out: string[] = [];
  if (config.allowInsecureRequests) out.push('allowInsecureRequests is on: http upstreams allowed (development only)');
  if (config.session.store.kind === 'memory') out.push('session.insecureMemoryStore is on: sessions vanish on restart and are not shared (development only)');
  if (config.tokens.insecureEphemeralKeys)
    out.push('tokens.insecureEphemeralKeys is on: tokens die on restart and differ between instances (development only)');
  return out;
}
