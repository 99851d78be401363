import { readFileSync } from 'node:fs';
import { errorCodes } from '../../lib/errors.js';
import { errorsFile, renderErrorTable } from '../../scripts/write-error-table.js';

test('docs/errors.md is the table rendered from the registry (run npm run docs:errors when this fails)', () => {
  expect(readFileSync(errorsFile, 'utf8')).toBe(renderErrorTable(errorCodes));
});

test('every documented code exists and every code is documented', () => {
  const page = readFileSync(errorsFile, 'utf8');
  const documented = [...page.matchAll(/^\| `([A-Z_]+)` \| (\d+) \|/gm)].map((m) => m[1]);
  expect(documented.sort()).toEqual(Object.keys(errorCodes).sort());
});
