// Writes docs/errors.md, the error-code table, from the registry in lib/errors.ts (one source of
// truth). Run after a build:
//   npm run docs:errors
// test/docs/errors.test.ts renders the same page from the sources and fails when the committed
// file is stale.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Where the published table lives. */
export const errorsFile = new URL('../docs/errors.md', import.meta.url);

const intro = `# Error codes

Every error fedgate throws or renders has a stable \`code\` (a \`FedgateError\`), an HTTP status and a safe message;
details go to the logs only. Browsers get an escaped HTML page, API clients JSON \`{ "error", "code", "message" }\`.

This page is generated from \`lib/errors.ts\` by \`npm run docs:errors\`; do not edit the table by hand.
`;

/** Renders docs/errors.md for an error registry (code → { status, doc }). */
export function renderErrorTable(errorCodes) {
  const rows = Object.entries(errorCodes).map(([code, { status, doc }]) => `| \`${code}\` | ${status} | ${doc} |`);
  return `${intro}\n| code | status | meaning |\n|---|---|---|\n${rows.join('\n')}\n`;
}

async function main() {
  const { errorCodes } = await import('../dist/lib/errors.js');
  writeFileSync(errorsFile, renderErrorTable(errorCodes));
  console.log(`wrote ${fileURLToPath(errorsFile)}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await main();
}
