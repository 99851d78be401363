// Module hooks (run on Node's loader thread): `.js` specifiers that point at a `.ts` source resolve
// to it, and project `.ts` files are transpiled with the project's own TypeScript (no type check:
// `npm run typecheck` does that). Output is cached on disk by content hash, so the half-dozen
// processes a bench starts do not each transpile the library again.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const cacheDir = join(root, 'node_modules', '.cache', 'fedgate-bench');
let ts;

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (err) {
    const relative = specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('file:');
    if (err?.code === 'ERR_MODULE_NOT_FOUND' && relative && specifier.endsWith('.js') && context.parentURL) {
      const url = new URL(`${specifier.slice(0, -3)}.ts`, context.parentURL);
      if (existsSync(fileURLToPath(url))) return { url: url.href, shortCircuit: true };
    }
    throw err;
  }
}

export async function load(url, context, nextLoad) {
  if (!url.startsWith('file:') || !url.endsWith('.ts') || url.includes('/node_modules/')) return nextLoad(url, context);
  const file = fileURLToPath(url);
  const source = await readFile(file, 'utf8');
  const hash = createHash('sha256').update(file).update('\0').update(source).digest('hex').slice(0, 32);
  const cached = join(cacheDir, `${hash}.js`);
  if (existsSync(cached)) return { format: 'module', source: readFileSync(cached, 'utf8'), shortCircuit: true };
  ts ??= (await import('typescript')).default;
  const out = ts.transpileModule(source, {
    fileName: file,
    compilerOptions: {
      module: ts.ModuleKind.ESNext,
      target: ts.ScriptTarget.ES2022,
      verbatimModuleSyntax: true,
      inlineSourceMap: true,
      inlineSources: false,
    },
  });
  mkdirSync(cacheDir, { recursive: true });
  // Write-then-rename: processes started together never read a half-written file.
  const partial = `${cached}.${process.pid}.tmp`;
  writeFileSync(partial, out.outputText);
  renameSync(partial, cached);
  return { format: 'module', source: out.outputText, shortCircuit: true };
}
