import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import ts from 'typescript';
import { loadConfig } from '../../lib/config/load.js';
import { builtinConnectors } from '../../connectors/registry.js';
import { allCodeBlocks, asWholeConfig, codeBlocks, jsonKind, jsonValues, root, snippetEnv, snippetCwd, removeSnippetCwd, type CodeBlock } from './markdown.js';
import { startOp, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, type TestOp } from '../fixtures/op.js';
import { createBrowser } from '../fixtures/browser.js';
import { getFreePort, waitFor } from '../fixtures/ports.js';

afterAll(removeSnippetCwd);

// Every example in the README and docs/ is checked, so none can rot: JSON configs load, TypeScript
// and JavaScript type-check against the package, shell commands name scripts and CLI commands that
// exist, and the README's quick start runs against a real OpenID Provider and reaches its
// protected route. A block may opt out with `<!-- snippet: not-runnable (reason) -->`.

const blocks = allCodeBlocks();
const runnable = blocks.filter((b) => !b.notRunnable);
const scratch = path.join(root, 'test-artifacts', `snippets-${process.pid}`);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

test('the pages have examples, and opting out stays rare', () => {
  expect(blocks.filter((b) => b.lang === 'json').length).toBeGreaterThan(10);
  expect(blocks.filter((b) => b.lang === 'ts').length).toBeGreaterThan(1);
  expect(blocks.filter((b) => b.notRunnable).length).toBeLessThanOrEqual(3);
});

describe('JSON', () => {
  const values = runnable.filter((b) => b.lang === 'json').flatMap((b) => jsonValues(b).map((v, i) => [`${b.where}#${i + 1}`, v] as const));

  const configs = values.filter(([, v]) => !['log-line', 'other'].includes(jsonKind(v)));
  test('most JSON examples are configs', () => expect(configs.length).toBeGreaterThan(values.length / 2));

  test.each(configs)('%s loads as a config', (_where, value) => {
    expect(() => loadConfig(asWholeConfig(value), { registry: builtinConnectors, env: snippetEnv, cwd: snippetCwd() })).not.toThrow();
  });

  test.each(values.filter(([, v]) => jsonKind(v) === 'log-line'))("%s has the shape of fedgate's log lines", (_where, value) => {
    expect(value).toEqual(expect.objectContaining({ level: expect.any(String), time: expect.any(String), name: 'fedgate', msg: expect.any(String) }));
  });
});

// Names fragments use without declaring them, and what they stand for.
const freeNames: Record<string, string> = {
  app: "declare const app: import('express').Express;",
  gateway: "declare const gateway: import('fedgate').Gateway;",
  state: 'declare const state: string;',
  nonce: 'declare const nonce: string;',
  currentUrl: 'declare const currentUrl: URL;',
};

function asModule(block: CodeBlock): string {
  const declared = (name: string) => new RegExp(`\\b(const|let|var|function|class)\\s+${name}\\b|import[^;]*\\b${name}\\b[^;]*from`).test(block.code);
  const prelude = Object.entries(freeNames)
    .filter(([name]) => new RegExp(`\\b${name}\\b`).test(block.code) && !declared(name))
    .map(([, d]) => d);
  const usesGateway = /\b(fedgate|requireAuth)\(/.test(block.code) && !/from 'fedgate'/.test(block.code);
  if (usesGateway) prelude.unshift("import { fedgate, requireAuth } from 'fedgate';");
  return `${prelude.join('\n')}\n${block.code}\nexport {};\n`;
}

test('every TypeScript and JavaScript example type-checks against the package', () => {
  const code = runnable.filter((b) => b.lang === 'ts' || b.lang === 'js');
  expect(code.length).toBeGreaterThan(3);
  mkdirSync(scratch, { recursive: true });
  const files = code.map((b, i) => {
    const file = path.join(scratch, `snippet-${i}.ts`);
    writeFileSync(file, asModule(b));
    return { file, block: b };
  });
  const program = ts.createProgram(
    files.map((f) => f.file),
    {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      strict: true,
      noUncheckedIndexedAccess: true,
      skipLibCheck: true,
      noEmit: true,
      types: ['node'],
      // As a user's project sees it: `fedgate` is this package (its sources, so no build is needed).
      paths: { fedgate: [path.join(root, 'index.ts')] },
    },
  );
  const problems = ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.file && files.some((f) => f.file === d.file!.fileName))
    .map((d) => {
      const block = files.find((f) => f.file === d.file!.fileName)!.block;
      return `${block.where}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
    });
  expect(problems).toEqual([]);
});

describe('shell', () => {
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
    name: string;
    scripts: Record<string, string>;
    peerDependencies: Record<string, string>;
  };
  const commands = runnable
    .filter((b) => b.lang === 'sh')
    .flatMap((b) =>
      b.code
        .split('\n')
        .map((l) =>
          l
            .replace(/^\$ /, '')
            .replace(/\s+#.*$/, '')
            .trim(),
        )
        .filter((l) => l !== '')
        .map((line) => [b.where, line] as const),
    );
  const cli = path.join(root, 'dist', 'cli', 'fedgate.js');

  test('every `npm run X` names a script of package.json; `npm install` names only the package and its peers', () => {
    const problems: string[] = [];
    for (const [where, line] of commands) {
      for (const m of line.matchAll(/\bnpm run(?: -s)? ([\w:-]+)/g)) if (!(m[1]! in pkg.scripts)) problems.push(`${where}: no script "${m[1]}"`);
      const install = /\bnpm install ((?:[\w@./-]+ ?)+)/.exec(line);
      for (const name of install?.[1]?.trim().split(/\s+/) ?? []) {
        if (name !== pkg.name && !(name in pkg.peerDependencies)) problems.push(`${where}: npm install ${name}`);
      }
    }
    expect(problems).toEqual([]);
    expect(commands.some(([, l]) => l.startsWith('npm install fedgate'))).toBe(true);
  });

  test('every `npx fedgate ...` names a command and flags the CLI has (from its own --help)', () => {
    expect(existsSync(cli)).toBe(true); // npm test builds first
    const invocations = commands.filter(([, l]) => l.startsWith('npx fedgate '));
    expect(invocations.length).toBeGreaterThan(1);
    const problems: string[] = [];
    for (const [where, line] of invocations) {
      const words = line.split(/\s+/).slice(2);
      const help = spawnSync(process.execPath, [cli, words[0]!, '--help'], { encoding: 'utf8' });
      const usage = `${help.stdout}${help.stderr}`;
      if (help.status !== 0) problems.push(`${where}: fedgate ${words[0]} --help exited ${help.status}`);
      if (words[0] === 'keys' && !usage.includes(`keys ${words[1]}`)) problems.push(`${where}: no command "keys ${words[1]}"`);
      for (const flag of words.filter((w) => w.startsWith('--')))
        if (!usage.includes(flag)) problems.push(`${where}: ${flag} is not an option of "${words[0]}"`);
    }
    expect(problems).toEqual([]);
  });

  test('the secret-generating command of the quick start prints a 43-character random secret', () => {
    const line = commands.find(([, l]) => l.startsWith('export FEDGATE_SESSION_SECRET='))?.[1];
    const inner = /\$\(node -e "(.+)"\)/.exec(line ?? '')?.[1];
    expect(inner).toBeDefined();
    const out = spawnSync(process.execPath, ['-e', inner!], { encoding: 'utf8' });
    expect(out.stdout.trim()).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});

describe('the README quick start, run as written', () => {
  const readme = codeBlocks('README.md');
  const start =
    readFileSync(path.join(root, 'README.md'), 'utf8')
      .split('\n')
      .findIndex((l) => l.startsWith('## Quick start')) + 1;
  const config = readme.find((b) => b.line > start && b.lang === 'json')!;
  const app = readme.find((b) => b.line > start && b.lang === 'js')!;
  let op: TestOp | undefined;
  let child: ChildProcess | undefined;

  afterAll(async () => {
    if (child?.pid !== undefined && child.exitCode === null) process.kill(child.pid);
    await op?.close();
  });

  test('is development mode, loudly marked', () => {
    const c = JSON.parse(config.code) as { session: { insecureMemoryStore?: boolean }; tokens: { insecureEphemeralKeys?: boolean } };
    expect(c.session.insecureMemoryStore).toBe(true);
    expect(c.tokens.insecureEphemeralKeys).toBe(true);
    const text = readFileSync(path.join(root, 'README.md'), 'utf8');
    expect(text).toContain('**⚠ Development mode.**');
    expect(text).toContain('refused with `NODE_ENV=production`');
  });

  test('signs a user in at a real OpenID Provider and reaches the protected route', async () => {
    const port = await getFreePort();
    const base = `http://localhost:${port}`;
    op = await startOp({ redirectUris: [`${base}/auth/callback/corp`] });
    // Changed for the test only: the port (3000 may be taken), and http upstreams allowed (the
    // provider here is a local http one; a real provider is https).
    expect(config.code).toContain('http://localhost:3000');
    const gatewayJson = { ...(JSON.parse(config.code.replaceAll('3000', String(port))) as object), allowInsecureRequests: true };
    expect(app.code).toContain('app.listen(3000');
    const dir = path.join(scratch, 'quickstart');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'gateway.json'), JSON.stringify(gatewayJson));
    // Inside this repository, `import ... from 'fedgate'` resolves to the package itself (its
    // built dist/), as it does from node_modules in a user's project.
    writeFileSync(path.join(dir, 'app.mjs'), app.code.replaceAll('3000', String(port)));
    const env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      FEDGATE_SESSION_SECRET: randomBytes(32).toString('base64url'),
      OIDC_ISSUER: op.issuer,
      OIDC_CLIENT_ID: DEFAULT_CLIENT_ID,
      OIDC_CLIENT_SECRET: DEFAULT_CLIENT_SECRET,
    };
    child = spawn(process.execPath, ['app.mjs'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr!.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    await waitFor(
      'the quick start app to listen',
      () =>
        stdout.includes(`open ${base}/profile`)
        || (child!.exitCode !== null ? Promise.reject(new Error(`app.mjs exited ${child!.exitCode}: ${stderr}`)) : false),
      { timeoutMs: 20_000 },
    );

    const browser = createBrowser();
    const res = await browser.follow(`${base}/profile`);
    expect(res.chain.some((u) => u.startsWith(op!.issuer))).toBe(true); // went through the provider
    expect(res.status).toBe(200);
    expect(res.url).toBe(`${base}/profile`);
    expect(JSON.parse(res.body)).toEqual({ sub: 'corp|alice', claims: expect.objectContaining({ sub: 'corp|alice' }) });
    // The development-mode warning is loud.
    expect(stderr).toMatch(/insecureMemoryStore/);
  });
});
