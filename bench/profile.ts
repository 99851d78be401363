/**
 * `npm run bench:profile`: a `node --cpu-prof` profile of fedgate's hot path, summarised.
 *
 * Starts a private Redis, the upstream OP and one fedgate server with `--cpu-prof`, signs in once
 * through the OP, drives `GET /hello` with the session cookie (or, with FEDGATE_PROFILE_PATH=bearer,
 * `GET /api/hello` with a local bearer token; =bare: bare Express, the reference;
 * =login: whole logins through the OP) for
 * FEDGATE_PROFILE_SECONDS (default 10), stops the server so V8 writes the profile, and prints the
 * top functions by self time, and fedgate's functions by total time, over the measured window
 * only (start-up and the login are cut out). Writes bench/PROFILE-<path>.md (or
 * FEDGATE_PROFILE_OUT); FEDGATE_PROFILE_KEEP=1 keeps the .cpuprofile (open it in Chrome DevTools).
 */
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRedis } from '../test/fixtures/redis.js';
import { Child } from './ipc.js';
import { loginCookie, measureHttp, measureLogins, type Sample } from './load.js';
import { describeMachine } from './report.js';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

const root = fileURLToPath(new URL('..', import.meta.url));

/** Where a frame comes from: a project file, `pkg: file` for dependencies, or the Node/V8 name. */
function place(url: string): { where: string; group: string } {
  if (!url) return { where: '(native)', group: 'V8 / native' };
  if (url.startsWith('node:')) return { where: url, group: 'Node.js internals' };
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  const rel = relative(root, path);
  const nm = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\/(.*)$/.exec(rel);
  if (nm) return { where: `${nm[1]}: ${nm[2]}`, group: nm[1]! };
  if (/^(lib|connectors)\//.test(rel) || rel === 'index.ts') return { where: rel, group: 'fedgate (lib/, connectors/)' };
  if (rel.startsWith('bench/') || rel.startsWith('test/')) return { where: rel, group: 'bench harness' };
  return { where: rel, group: 'other' };
}

interface ProfileSummary {
  windowMs: number;
  busyMs: number;
  /** µs per request, when the request count is known. */
  requests: number;
  top: Array<{ selfMs: number; pct: number; fn: string; where: string }>;
  groups: Array<{ group: string; selfMs: number; pct: number }>;
  /** fedgate functions by total (inclusive) time: what each costs with everything it calls. */
  fedgateTotal: Array<{ totalMs: number; pct: number; fn: string; where: string }>;
}

/** Self time per function over samples taken in [fromUs, toUs] (µs, the profile's clock). */
function summarize(profile: CpuProfile, fromUs: number, toUs: number, requests: number, topN = 25): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const inclusive = new Map<string, { ms: number; fn: string; where: string }>();
  const self = new Map<string, { ms: number; fn: string; where: string; group: string }>();
  const groups = new Map<string, number>();
  let t = profile.startTime;
  let windowUs = 0;
  let idleUs = 0;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    t += delta;
    if (t < fromUs || t > toUs) return;
    windowUs += delta;
    const frame = byId.get(id)?.callFrame;
    if (!frame) return;
    const fn = frame.functionName || '(anonymous)';
    if (fn === '(idle)') {
      idleUs += delta;
      return;
    }
    const { where, group } = frame.functionName.startsWith('(') ? { where: '', group: 'V8 / native' } : place(frame.url);
    const key = `${fn}\0${where}\0${frame.lineNumber}`;
    const entry = self.get(key) ?? { ms: 0, fn, where: where && frame.lineNumber >= 0 ? `${where}:${frame.lineNumber + 1}` : where, group };
    entry.ms += delta / 1000;
    self.set(key, entry);
    groups.set(group, (groups.get(group) ?? 0) + delta / 1000);
    // Every fedgate function on this sample's stack, once each (recursion must not double-count),
    // up to the first router/express frame: above it, fedgate only called `next()`, and what runs
    // there (the route handler, sending the response) is not fedgate's cost.
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const f = byId.get(at)?.callFrame;
      if (!f) continue;
      const g = place(f.url).group;
      if (g === 'router' || g === 'express') break;
      if (g !== 'fedgate (lib/, connectors/)') continue;
      const name = f.functionName || '(anonymous)';
      const k = `${name}\0${f.url}\0${f.lineNumber}`;
      if (seen.has(k)) continue;
      seen.add(k);
      const e = inclusive.get(k) ?? { ms: 0, fn: name, where: `${place(f.url).where}:${f.lineNumber + 1}` };
      e.ms += delta / 1000;
      inclusive.set(k, e);
    }
  });
  const busyMs = (windowUs - idleUs) / 1000;
  const pct = (ms: number) => (busyMs > 0 ? (ms / busyMs) * 100 : 0);
  return {
    windowMs: windowUs / 1000,
    busyMs,
    top: [...self.values()]
      .sort((a, b) => b.ms - a.ms)
      .slice(0, topN)
      .map((e) => ({ selfMs: e.ms, pct: pct(e.ms), fn: e.fn, where: e.where })),
    groups: [...groups.entries()].sort((a, b) => b[1] - a[1]).map(([group, ms]) => ({ group, selfMs: ms, pct: pct(ms) })),
    requests,
    fedgateTotal: [...inclusive.values()]
      .sort((a, b) => b.ms - a.ms)
      .slice(0, 12)
      .map((e) => ({ totalMs: e.ms, pct: pct(e.ms), fn: e.fn, where: e.where })),
  };
}

function renderSummary(s: ProfileSummary, title: string, context: string, unit: 'req' | 'login' = 'req'): string {
  const f = (v: number) => v.toFixed(1);
  const perReq = (ms: number) => (s.requests > 0 ? ((ms * 1000) / s.requests).toFixed(1) : '');
  return `# ${title}

${context}

Measured window: ${f(s.windowMs)} ms of samples, ${f(s.busyMs)} ms busy (not idle), ${s.requests} ${unit === 'req' ? 'requests' : 'logins'}. Percentages are of
busy time; µs/${unit} = time ÷ ${unit === 'req' ? 'requests' : 'logins'} (inflated by the profiler's own overhead).
Line numbers are those of the transpiled module (close to, not always equal to, the .ts source).

## By origin (self time)

| origin | self ms | % | µs/${unit} |
|--------|--------:|--:|-------:|
${s.groups.map((g) => `| ${g.group} | ${f(g.selfMs)} | ${f(g.pct)} | ${perReq(g.selfMs)} |`).join('\n')}

## Top functions by self time

| self ms | % | µs/${unit} | function | where |
|--------:|--:|-------:|----------|-------|
${s.top.map((e) => `| ${f(e.selfMs)} | ${f(e.pct)} | ${perReq(e.selfMs)} | \`${e.fn}\` | ${e.where} |`).join('\n')}
${
  s.fedgateTotal.length === 0
    ? ''
    : `
## fedgate functions by total time

Self time plus callees, up to the next middleware: what runs after fedgate calls \`next()\` (the
route handler, sending the response) is not counted.

| total ms | % | µs/${unit} | function | where |
|---------:|--:|-------:|----------|-------|
${s.fedgateTotal.map((e) => `| ${f(e.totalMs)} | ${f(e.pct)} | ${perReq(e.totalMs)} | \`${e.fn}\` | ${e.where} |`).join('\n')}
`
}`;
}

async function main(): Promise<void> {
  const wanted = process.env.FEDGATE_PROFILE_PATH;
  const path = wanted === 'bearer' || wanted === 'bare' || wanted === 'login' ? wanted : 'session';
  const seconds = Number(process.env.FEDGATE_PROFILE_SECONDS) > 0 ? Number(process.env.FEDGATE_PROFILE_SECONDS) : 10;
  const dir = await mkdtemp(join(tmpdir(), 'fedgate-profile-'));
  const redis = await startRedis();
  const children: Child[] = [];
  try {
    const op = await Child.start('op', { role: 'op' }, dir);
    children.push(op);
    const secret = 'bench-profile-client-secret-0123456789abcdef';
    const profiled = ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--cpu-prof-interval=250'];
    const fg = await Child.start(
      'fedgate',
      { role: 'fedgate', redisUrl: redis.url, issuer: op.url, clientId: 'fedgate', clientSecret: secret },
      dir,
      path === 'bare' ? [] : profiled,
    );
    children.push(fg);
    await op.call('client', { clientId: 'fedgate', clientSecret: secret, redirectUri: `${fg.url}/auth/callback/corp` });
    const cookie = await loginCookie(`${fg.url}/hello`, 'fedgate.sid');
    let headers: Record<string, string> = { cookie };
    let url = `${fg.url}/hello`;
    let target = fg;
    if (path === 'bare') {
      // The reference: the same harness and profiler on bare Express.
      target = await Child.start('bare', { role: 'bare' }, dir, profiled);
      children.push(target);
      headers = {};
      url = `${target.url}/hello`;
    } else if (path === 'bearer') {
      const res = await fetch(`${fg.url}/token`, { headers: { cookie } });
      headers = { authorization: `Bearer ${((await res.json()) as { accessToken: string }).accessToken}` };
      url = `${fg.url}/api/hello`;
    }
    // Logins: 4 at a time, each a fresh cookie jar through the OP (as row 6 of the bench).
    const drive = (duration: number): Promise<Sample> =>
      path === 'login' ? measureLogins(target, { startUrl: url, concurrency: 4, duration }) : measureHttp(target, { url, headers, connections: 10, duration });
    await drive(2); // warm-up: JIT, caches
    const from = await target.call<number>('clock');
    const sample = await drive(seconds);
    const to = await target.call<number>('clock');
    await target.stop();
    // The loader-hook thread may write a profile of its own: the main thread's is the largest.
    const files = await Promise.all(
      (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile')).map(async (f) => ({ f, size: (await stat(join(dir, f))).size })),
    );
    const file = files.sort((a, b) => b.size - a.size)[0]?.f;
    if (!file) throw new Error(`no .cpuprofile written in ${dir}`);
    const profile = JSON.parse(await readFile(join(dir, file), 'utf8')) as CpuProfile;
    const summary = summarize(profile, from, to, sample.count);
    if (summary.busyMs <= 0) throw new Error('no samples in the measured window');
    const m = describeMachine();
    const what = {
      session: 'fedgate `requireAuth()` with a session cookie (`GET /hello`)',
      bearer: 'fedgate `requireAuth({ scope })` with a local bearer token (`GET /api/hello`)',
      bare: 'bare Express 5 `GET /hello` (the reference)',
      login: "fedgate's whole login round trip through the upstream OP (4 concurrent fresh browsers; the OP runs in its own, unprofiled process)",
    }[path];
    const context = `\`npm run bench:profile\`${path === 'session' ? '' : ` with FEDGATE_PROFILE_PATH=${path}`} on ${new Date().toISOString()}: ${what}, ${seconds} s of ${path === 'login' ? 'logins' : 'autocannon at 10 connections'} after a 2 s warm-up, \`node --cpu-prof --cpu-prof-interval=250\`. ${m.cores} × ${m.cpuModel}, Node ${m.node}, load average ${m.loadAtStart.map((v) => v.toFixed(2)).join(' / ')} at start. During the window: ${sample.rps.toFixed(path === 'login' ? 1 : 0)} ${path === 'login' ? 'logins' : 'req'}/s, ${Math.round(sample.cpuUs)} µs of server CPU per ${path === 'login' ? 'login' : 'request'} (the profiler adds its own overhead).`;
    const text = renderSummary(
      summary,
      path === 'bare' ? 'Profile: bare Express (reference)' : `Profile: fedgate ${path} hot path`,
      context,
      path === 'login' ? 'login' : 'req',
    );
    process.stdout.write(text);
    const out = process.env.FEDGATE_PROFILE_OUT ?? fileURLToPath(new URL(`./PROFILE-${path}.md`, import.meta.url));
    await writeFile(out, text);
    process.stderr.write(`wrote ${out}${process.env.FEDGATE_PROFILE_KEEP === '1' ? `; profile kept at ${join(dir, file)}` : ''}\n`);
  } catch (err) {
    for (const child of children) process.stderr.write(`${await child.logTail(1500)}\n`);
    throw err;
  } finally {
    await Promise.all(children.map((c) => c.stop().catch(() => c.kill())));
    await redis.stop();
    if (process.env.FEDGATE_PROFILE_KEEP !== '1') await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await main();
  process.exit(0);
}
