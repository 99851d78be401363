// Runs one long build step with a line before and after it, so `npm start` and `npm test` are
// never silent for the ~20 s a TypeScript build takes:
//   node scripts/step.js "building the package" tsc -p tsconfig.build.json
// npm puts node_modules/.bin on PATH for scripts, so `tsc` resolves to the installed compiler.
import { spawnSync } from 'node:child_process';

const [label, command, ...args] = process.argv.slice(2);
if (!label || !command) {
  console.error('usage: node scripts/step.js "<what>" <command> [args...]');
  process.exit(2);
}
console.log(`fedgate: ${label}…`);
const started = Date.now();
const result = spawnSync(command, args, { stdio: 'inherit', shell: process.platform === 'win32' });
const seconds = ((Date.now() - started) / 1000).toFixed(1);
if (result.status === 0) {
  console.log(`fedgate: ${label}: done (${seconds} s)`);
} else {
  console.error(`fedgate: ${label}: failed${result.error ? ` (${result.error.message})` : ''}`);
}
process.exit(result.status ?? 1);
