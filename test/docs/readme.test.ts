import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { connectorBaseShape } from '../../lib/config/connector-base.js';
import { buildConfigSchema } from '../../lib/config/schema.js';
import { builtinConnectors } from '../../connectors/registry.js';
import { asWholeConfig, codeBlocks, docFiles, root, snippetEnv, snippetCwd, removeSnippetCwd } from './markdown.js';

afterAll(removeSnippetCwd);

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const configuration = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');

test('docs/configuration.md documents every top-level, session, tokens and common connector key', () => {
  const shape = buildConfigSchema(builtinConnectors).shape;
  const keys: string[] = [];
  for (const k of Object.keys(shape)) if (!['$schema', 'connectors', 'session', 'tokens'].includes(k)) keys.push(k);
  const section = (name: 'session' | 'tokens') => {
    const inner = shape[name] as unknown as { unwrap?: () => { shape: Record<string, unknown> }; shape?: Record<string, unknown> };
    const obj = inner.shape ?? inner.unwrap?.().shape ?? {};
    return Object.keys(obj).map((k) => `${name}.${k}`);
  };
  keys.push(...section('session'), ...section('tokens'));
  const missing = keys.filter((k) => !configuration.includes(`\`${k}\``));
  expect(missing).toEqual([]);
  const connectorMissing = Object.keys(connectorBaseShape).filter((k) => !configuration.includes(`\`${k}\``));
  expect(connectorMissing).toEqual([]);
});

test('docs/connectors.md has a section with a valid example entry for every built-in connector type', async () => {
  const { loadConfig } = await import('../../lib/config/load.js');
  const blocks = codeBlocks('docs/connectors.md');
  const page = readFileSync(new URL('../../docs/connectors.md', import.meta.url), 'utf8').split('\n');
  for (const type of builtinConnectors.keys()) {
    const heading = page.indexOf(`## ${type}`) + 1;
    expect([type, heading > 0]).toEqual([type, true]);
    const example = blocks.find((b) => b.line > heading && b.lang === 'json');
    const entry = JSON.parse(example!.code) as { type: string };
    expect(entry.type).toBe(type);
    expect(() => loadConfig(asWholeConfig(entry), { registry: builtinConnectors, env: snippetEnv, cwd: snippetCwd() })).not.toThrow();
  }
});

test('the README is short and in the order a new user needs it', () => {
  const lines = readme.split('\n');
  expect(lines.length).toBeLessThanOrEqual(150);
  const headings = lines.filter((l) => l.startsWith('## '));
  expect(headings).toEqual(['## Install', '## Quick start (five minutes)', '## Production setup', '## Documentation', '## License']);
  expect(readme).toContain('npm install fedgate');
  for (const page of ['configuration', 'connectors', 'broker', 'operations', 'security', 'errors', 'performance', 'api']) {
    expect(readme).toContain(`(docs/${page}.md)`);
  }
});

test('every relative link in the README and docs/ points to a file (and heading) that exists', () => {
  const problems: string[] = [];
  const anchors = (file: string) =>
    readFileSync(path.join(root, file), 'utf8')
      .split('\n')
      .filter((l) => /^#+ /.test(l))
      .map((l) =>
        l
          .replace(/^#+ /, '')
          .toLowerCase()
          .replace(/[^\w\- ]/g, '')
          .replace(/ /g, '-'),
      );
  for (const file of docFiles) {
    const text = readFileSync(path.join(root, file), 'utf8').replace(/```[\s\S]*?```/g, '');
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^(https?:|mailto:)/.test(target!)) continue;
      const [rel, anchor] = target!.split('#');
      const linked = rel ? path.normalize(path.join(path.dirname(file), rel)) : file;
      if (!existsSync(path.join(root, linked))) problems.push(`${file}: ${target} (no such file)`);
      else if (anchor && linked.endsWith('.md') && !anchors(linked).includes(anchor)) problems.push(`${file}: ${target} (no such heading)`);
    }
  }
  expect(problems).toEqual([]);
});

test('the published package carries the pages the README links to, and the licence', () => {
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { license: string; repository: { url: string }; homepage: string };
  // What npm would publish (scripts skipped: the list is all that is needed).
  const packed = spawnSync('npm', ['pack', '--dry-run', '--ignore-scripts', '--json'], { cwd: root, encoding: 'utf8' });
  const files = (JSON.parse(packed.stdout) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path);
  const linked = [...readme.matchAll(/\]\(((?:docs\/)?[\w./-]+)\)/g)].map((m) => m[1]!).filter((l) => !l.startsWith('http'));
  expect(linked.length).toBeGreaterThan(8);
  expect(files).toEqual(expect.arrayContaining([...linked, 'README.md', 'LICENSE', 'schema/config.schema.json', 'dist/index.js']));
  expect(files.filter((f) => /tsbuildinfo|^dist\/example-app|^test\/|^scripts\//.test(f))).toEqual([]);
  expect(pkg.license).toBe('MIT');
  expect(readFileSync(path.join(root, 'LICENSE'), 'utf8')).toContain('Copyright (c) 2026 fedgate contributors');
  expect(pkg.repository.url).toBe('git+https://github.com/fedgate/fedgate.git');
  expect(pkg.homepage).toBe('https://github.com/fedgate/fedgate#readme');
});

test('no notes for developers among the user docs', () => {
  expect(existsSync(path.join(root, 'docs', 'HELPERS.md'))).toBe(false);
  for (const file of docFiles) {
    const text = readFileSync(path.join(root, file), 'utf8');
    expect([file, /for the (readme|lead)|sections the readme|not user docs|\bTODO\b|\bFIXME\b/i.test(text)]).toEqual([file, false]);
  }
});
