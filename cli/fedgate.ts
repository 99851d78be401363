#!/usr/bin/env node
/**
 * The `fedgate` command: check a config, manage signing keys, dry-run a claim mapping.
 * Exit codes: 0 success, 1 problems found or bad input file, 2 bad command line.
 */
import { readFileSync } from 'node:fs';
import { FedgateError } from '../lib/errors.js';
import { checkUsage, runCheck } from './check.js';
import { exitCodes, type Io } from './io.js';
import { keysUsage, runKeys } from './keys.js';
import { mapUsage, runMap } from './map.js';

const usage = `Usage: fedgate <command> [options]

Commands:
  check <config.json> [--probe]                      validate a config; --probe also asks each upstream
  keys generate [--alg ES256] [--out jwks.json]      create a private JWKS for tokens.keys
  keys rotate <jwks.json> [--promote|--retire <kid>] rotate signing keys in two steps
  map <config.json> --connector <id> <claims.json>   dry-run a connector's claim mapping offline

Run "fedgate <command> --help" for details.`;

function version(): string {
  try {
    const pkg: unknown = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    return typeof pkg === 'object' && pkg !== null && 'version' in pkg ? String(pkg.version) : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** `fedgate help [command]`: the usage of one command, or of all. */
function help(command: string | undefined, io: Io): number {
  const usages: Record<string, string> = { check: checkUsage, keys: keysUsage, map: mapUsage };
  io.out((command !== undefined ? usages[command] : undefined) ?? usage);
  return exitCodes.ok;
}

/** Runs one command line and returns the exit code; never throws. */
export async function main(argv: string[], io: Io): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'check':
        return await runCheck(rest, io);
      case 'keys':
        return await runKeys(rest, io);
      case 'map':
        return await runMap(rest, io);
      case '--version':
      case '-v':
        io.out(version());
        return exitCodes.ok;
      case 'help':
        return help(rest[0], io);
      case undefined:
      case '--help':
      case '-h':
        io.out(usage);
        return command === undefined ? exitCodes.usage : exitCodes.ok;
      default:
        throw new FedgateError('CLI_USAGE', `unknown command "${command}"`);
    }
  } catch (err) {
    if (err instanceof FedgateError) {
      io.err(`fedgate: ${err.message}`);
      if (err.code === 'CLI_USAGE') {
        const help = command === 'check' ? checkUsage : command === 'keys' ? keysUsage : command === 'map' ? mapUsage : usage;
        io.err('');
        io.err(help);
        return exitCodes.usage;
      }
      return exitCodes.problems;
    }
    // Unexpected: name the failure, not its data (a stack could quote a file's content).
    io.err(`fedgate: unexpected error${err instanceof Error ? ` (${err.name})` : ''}; this is a bug, please report it`);
    return exitCodes.problems;
  }
}

// `fedgate map … | head` closes the pipe early: that is the reader's choice, not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
});

const io: Io = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

main(process.argv.slice(2), io).then(
  (code) => {
    process.exitCode = code;
  },
  () => {
    process.exitCode = exitCodes.problems;
  },
);
