/**
 * `npm run bench`: every scenario of issue 7 in one run, on 127.0.0.1, bounded in time.
 *
 * Processes: this one (load generator: autocannon and the login loop), the upstream OP, one child
 * per server under test, and three private redis-servers (main; 1 000 sessions; 1 000 000
 * sessions). Rounds are interleaved across scenarios (1,2,3,4,5, 1,2,3,4,5, …) so that drift from
 * other work on the machine hits every scenario alike; the median of the rounds is reported.
 *
 * FEDGATE_BENCH_SMOKE=1: 1 × 1 s and 1 000 vs 10 000 sessions (the harness test in `npm test`).
 * FEDGATE_BENCH_OUT / FEDGATE_BENCH_JSON: where to write the Markdown / JSON results (the full
 * run writes bench/RESULTS.md by default; a smoke run writes nothing unless asked).
 * FEDGATE_BENCH_DURATION / FEDGATE_BENCH_ROUNDS: override seconds per round / rounds.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRedis, type RedisServer } from '../test/fixtures/redis.js';
import { Child, type ChildInit } from './ipc.js';
import { loginCookie, measureHttp, measureLogins, medianSample, type Sample } from './load.js';
import { fillSessions, footprint, sessionBlob, usedMemory, type Footprint } from './store.js';
import { describeMachine, RATIO_NOTES, renderMarkdown, renderTable, type Report, type Row } from './report.js';

const smoke = process.env.FEDGATE_BENCH_SMOKE === '1';
const envNumber = (name: string): number | undefined => {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : undefined;
};
const settings = {
  connections: 10,
  duration: envNumber('FEDGATE_BENCH_DURATION') ?? (smoke ? 1 : 8),
  rounds: envNumber('FEDGATE_BENCH_ROUNDS') ?? (smoke ? 1 : 3),
  warmup: smoke ? 0.5 : 2,
  loginDuration: envNumber('FEDGATE_BENCH_DURATION') ?? (smoke ? 1 : 8),
  fillSmall: 1_000,
  fillLarge: smoke ? 10_000 : 1_000_000,
};
/** Hard limit: whatever happens, the run ends (children killed) after this. */
const DEADLINE_S = smoke ? 300 : 14 * 60;

const started = Date.now();
const log = (msg: string): void => {
  process.stderr.write(`[bench ${Math.round((Date.now() - started) / 1000)}s] ${msg}\n`);
};

const children: Child[] = [];
const redises: RedisServer[] = [];
let cleaning: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    await Promise.all(children.map((c) => c.stop().catch(() => c.kill())));
    await Promise.all(redises.map((r) => r.stop().catch(() => undefined)));
  })();
  return cleaning;
}
const hardStop = setTimeout(() => {
  process.stderr.write(`bench: time limit of ${DEADLINE_S} s reached, stopping\n`);
  for (const c of children) c.kill();
  void Promise.all(redises.map((r) => r.stop())).finally(() => process.exit(2));
}, DEADLINE_S * 1000);
hardStop.unref();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void cleanup().finally(() => process.exit(130)));
}

const secretOf = (clientId: string): string => `bench-${clientId}-client-secret-0123456789abcdef`;

/** `key` is unique; `id` is the scenario number shown (variants share it). */
interface HttpScenario {
  key: string;
  id: string;
  label: string;
  child: Child;
  url: string;
  headers: () => Record<string, string>;
}

/** Target check: `value` against `limit`; `by` says by how much it was met or missed. */
function target(text: string, value: number, limit: number, higherIsBetter: boolean, unit = '×'): NonNullable<Row['target']> {
  const met = higherIsBetter ? value >= limit : value <= limit;
  const gap = Math.abs(value - limit);
  const pct = (gap / limit) * 100;
  const fmt = (v: number) => (unit === '×' ? `${v.toFixed(2)}×` : `${Math.round(v)} ${unit}`);
  return {
    text,
    met,
    by: met ? `${fmt(value)}, margin ${fmt(gap).replace('×', '')}` : `${fmt(value)}: ${pct.toFixed(0)} % ${higherIsBetter ? 'short' : 'over'}`,
  };
}

async function main(): Promise<void> {
  const machine = describeMachine();
  const logDir = await mkdtemp(join(tmpdir(), 'fedgate-bench-'));
  log(`${smoke ? 'SMOKE' : 'full'} run; ${machine.cores} cores, load ${loadavg()[0]!.toFixed(2)}; child logs in ${logDir}`);

  const [redisMain, redisSmall, redisLarge] = await Promise.all([startRedis(), startRedis(), startRedis()]);
  redises.push(redisMain, redisSmall, redisLarge);
  const spawn = async (name: string, init: ChildInit): Promise<Child> => {
    const child = await Child.start(name, init, logDir);
    children.push(child);
    return child;
  };
  const op = await spawn('op', { role: 'op' });
  const issuer = op.url;
  const oidcInit = (clientId: string, redisUrl?: string, sessionCacheTtl?: number): ChildInit => ({
    role: 'fedgate',
    issuer,
    clientId,
    clientSecret: secretOf(clientId),
    ...(redisUrl ? { redisUrl } : {}),
    ...(sessionCacheTtl !== undefined ? { sessionCacheTtl } : {}),
  });
  const settled = await Promise.allSettled([
    spawn('bare', { role: 'bare' }),
    spawn('bare-layers', { role: 'bare-layers' }),
    spawn('express-session', { role: 'express-session', redisUrl: redisMain.url }),
    spawn('eoc', { ...oidcInit('eoc'), role: 'eoc' }),
    spawn('fedgate', oidcInit('fedgate', redisMain.url)),
    spawn('raw-oidc', { ...oidcInit('raw', redisMain.url), role: 'raw-oidc' }),
    spawn('fedgate-1k', oidcInit('fedgate-1k', redisSmall.url)),
    spawn('fedgate-1m', oidcInit('fedgate-1m', redisLarge.url)),
    // The same with the in-process session cache off: every request reads Redis.
    spawn('fedgate-nocache', oidcInit('fedgate-nocache', redisMain.url, 0)),
    spawn('fedgate-nocache-1k', oidcInit('fedgate-nocache-1k', redisSmall.url, 0)),
    spawn('fedgate-nocache-1m', oidcInit('fedgate-nocache-1m', redisLarge.url, 0)),
  ]);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  const [bare, layers, es, eoc, fg, raw, fgSmall, fgLarge, nc, ncSmall, ncLarge] = settled.map((s) => (s as PromiseFulfilledResult<Child>).value) as [
    Child,
    Child,
    Child,
    Child,
    Child,
    Child,
    Child,
    Child,
    Child,
    Child,
    Child,
  ];
  const redirects: Array<[string, string]> = [
    ['eoc', `${eoc.url}/callback`],
    ['raw', `${raw.url}/callback`],
  ];
  for (const child of [fg, fgSmall, fgLarge, nc, ncSmall, ncLarge]) redirects.push([child.name, `${child.url}/auth/callback/corp`]);
  for (const [clientId, redirectUri] of redirects) await op.call('client', { clientId, clientSecret: secretOf(clientId), redirectUri });
  log('servers up; signing in (real logins through the OP)');

  const esCookie = await loginCookie(`${es.url}/login`, 'connect.sid');
  const eocCookie = await loginCookie(`${eoc.url}/hello`, 'appSession');
  const fgCookie = await loginCookie(`${fg.url}/hello`, 'fedgate.sid');
  const smallCookie = await loginCookie(`${fgSmall.url}/hello`, 'fedgate.sid');
  const largeCookie = await loginCookie(`${fgLarge.url}/hello`, 'fedgate.sid');
  // Scenario 7 on the store that has seen exactly one login.
  const large = redisLarge.client();
  const small = redisSmall.client();
  let fp: Footprint;
  try {
    fp = await footprint(large);
  } finally {
    large.disconnect();
  }
  const ncCookie = await loginCookie(`${nc.url}/hello`, 'fedgate.sid');
  const ncSmallCookie = await loginCookie(`${ncSmall.url}/hello`, 'fedgate.sid');
  const ncLargeCookie = await loginCookie(`${ncLarge.url}/hello`, 'fedgate.sid');
  let bearer = '';
  const refreshBearer = async (): Promise<void> => {
    const res = await fetch(`${fg.url}/token`, { headers: { cookie: fgCookie } });
    const body = (await res.json()) as { accessToken?: string };
    if (res.status !== 200 || !body.accessToken) throw new Error(`/token answered ${res.status}`);
    bearer = body.accessToken;
  };
  await refreshBearer();

  // Scenarios 1-5 (4 also with the session cache off, to show what the cache buys).
  const http: HttpScenario[] = [
    { key: '1', id: '1', label: 'bare Express 5 `GET /hello`', child: bare, url: `${bare.url}/hello`, headers: () => ({}) },
    { key: '1L', id: '1', label: 'bare Express 5 + two no-op layers (control)', child: layers, url: `${layers.url}/hello`, headers: () => ({}) },
    { key: '2', id: '2', label: 'express-session + connect-redis 8 + ioredis', child: es, url: `${es.url}/hello`, headers: () => ({ cookie: esCookie }) },
    { key: '3', id: '3', label: 'express-openid-connect `requiresAuth()`', child: eoc, url: `${eoc.url}/hello`, headers: () => ({ cookie: eocCookie }) },
    { key: '4', id: '4', label: 'fedgate `requireAuth()`, session cookie', child: fg, url: `${fg.url}/hello`, headers: () => ({ cookie: fgCookie }) },
    { key: '4nc', id: '4', label: 'fedgate `requireAuth()`, session, `cacheTtl: 0`', child: nc, url: `${nc.url}/hello`, headers: () => ({ cookie: ncCookie }) },
    {
      key: '5',
      id: '5',
      label: 'fedgate `requireAuth({ scope })`, bearer',
      child: fg,
      url: `${fg.url}/api/hello`,
      headers: () => ({ authorization: `Bearer ${bearer}` }),
    },
  ];
  const runHttp = async (list: HttpScenario[], what: string): Promise<Map<string, Sample[]>> => {
    const out = new Map<string, Sample[]>(list.map((s) => [s.key, []]));
    for (const s of list) await measureHttp(s.child, { url: s.url, headers: s.headers(), connections: settings.connections, duration: settings.warmup });
    for (let round = 1; round <= settings.rounds; round++) {
      await refreshBearer(); // local access tokens live 300 s by default
      for (const s of list) {
        log(`${what}: round ${round}/${settings.rounds}, ${s.id} ${s.label}`);
        out.get(s.key)!.push(await measureHttp(s.child, { url: s.url, headers: s.headers(), connections: settings.connections, duration: settings.duration }));
      }
    }
    return out;
  };
  const httpSamples = await runHttp(http, 'requests');

  // Scenario 6: whole logins, fedgate vs raw openid-client, interleaved.
  const loginVariants = [
    { who: 'fedgate', child: fg },
    { who: 'raw openid-client', child: raw },
  ] as const;
  const loginSamples = new Map<string, Sample[]>();
  for (const v of loginVariants) await measureLogins(v.child, { startUrl: `${v.child.url}/hello`, concurrency: 2, duration: settings.warmup });
  for (let round = 1; round <= settings.rounds; round++) {
    for (const concurrency of [1, 8]) {
      for (const v of loginVariants) {
        log(`logins: round ${round}/${settings.rounds}, ${v.who}, concurrency ${concurrency}`);
        const key = `${v.who}@${concurrency}`;
        const list = loginSamples.get(key) ?? [];
        list.push(await measureLogins(v.child, { startUrl: `${v.child.url}/hello`, concurrency, duration: settings.loginDuration }));
        loginSamples.set(key, list);
      }
    }
  }

  // Scenario 8: the session path (cache on, and off) against 1 000 and 1 000 000 stored sessions, interleaved.
  log(`filling stores: ${settings.fillSmall} and ${settings.fillLarge} sessions`);
  const fillClient = redisLarge.client();
  let fillSeconds: number;
  let usedLarge: number;
  try {
    const { blob, ttl } = await sessionBlob(fillClient);
    await fillSessions(small, settings.fillSmall, blob, ttl);
    fillSeconds = await fillSessions(fillClient, settings.fillLarge, blob, ttl);
    usedLarge = await usedMemory(fillClient);
  } finally {
    fillClient.disconnect();
    small.disconnect();
  }
  log(`filled in ${fillSeconds.toFixed(1)} s`);
  const n = (v: number) => v.toLocaleString('en-US');
  const store: HttpScenario[] = [
    {
      key: 'small',
      id: '8',
      label: `fedgate session, ${n(settings.fillSmall)} stored`,
      child: fgSmall,
      url: `${fgSmall.url}/hello`,
      headers: () => ({ cookie: smallCookie }),
    },
    {
      key: 'large',
      id: '8',
      label: `fedgate session, ${n(settings.fillLarge)} stored`,
      child: fgLarge,
      url: `${fgLarge.url}/hello`,
      headers: () => ({ cookie: largeCookie }),
    },
    {
      key: 'ncSmall',
      id: '8',
      label: `fedgate session, \`cacheTtl: 0\`, ${n(settings.fillSmall)} stored`,
      child: ncSmall,
      url: `${ncSmall.url}/hello`,
      headers: () => ({ cookie: ncSmallCookie }),
    },
    {
      key: 'ncLarge',
      id: '8',
      label: `fedgate session, \`cacheTtl: 0\`, ${n(settings.fillLarge)} stored`,
      child: ncLarge,
      url: `${ncLarge.url}/hello`,
      headers: () => ({ cookie: ncLargeCookie }),
    },
  ];
  const storeSamples = await runHttp(store, 'store size');

  // Rows.
  const med = (m: Map<string, Sample[]>, k: string) => medianSample(m.get(k)!);
  const base = med(httpSamples, '1');
  const rows: Row[] = http.map((s) => {
    const sample = med(httpSamples, s.key);
    const row: Row = {
      id: s.id,
      label: s.label,
      unit: 'req',
      sample,
      samples: httpSamples.get(s.key)!,
      ratio: sample.rps / base.rps,
      cpuRatio: base.cpuUs / sample.cpuUs,
    };
    if (s.key === '4') row.target = target('≥ 0.80× bare', row.ratio!, 0.8, true);
    if (s.key === '5') row.target = target('≥ 0.90× bare', row.ratio!, 0.9, true);
    return row;
  });
  for (const concurrency of [1, 8]) {
    const rawSample = med(loginSamples, `raw openid-client@${concurrency}`);
    for (const v of loginVariants) {
      const sample = med(loginSamples, `${v.who}@${concurrency}`);
      const row: Row = {
        id: '6',
        label: `login round trip, ${v.who}, concurrency ${concurrency}`,
        unit: 'login',
        sample,
        samples: loginSamples.get(`${v.who}@${concurrency}`)!,
        ratio: sample.p50 / rawSample.p50,
      };
      if (v.who === 'fedgate') row.target = target('p50 ≤ 1.10× raw', row.ratio!, 1.1, false);
      rows.push(row);
    }
  }
  rows.push({
    id: '7',
    label: 'Redis memory per session (all keys of one login)',
    unit: 'bytes',
    bytes: fp.totalBytes,
    target: target('≤ 4 096 B', fp.totalBytes, 4096, false, 'B'),
  });
  for (const [smallKey, largeKey] of [
    ['small', 'large'],
    ['ncSmall', 'ncLarge'],
  ] as const) {
    const smallSample = med(storeSamples, smallKey);
    const largeSample = med(storeSamples, largeKey);
    const label = (key: string) => store.find((s) => s.key === key)!.label;
    rows.push({ id: '8', label: label(smallKey), unit: 'req', sample: smallSample, samples: storeSamples.get(smallKey)!, ratio: 1, cpuRatio: 1 });
    const ratio = largeSample.rps / smallSample.rps;
    rows.push({
      id: '8',
      label: label(largeKey),
      unit: 'req',
      sample: largeSample,
      samples: storeSamples.get(largeKey)!,
      ratio,
      cpuRatio: smallSample.cpuUs / largeSample.cpuUs,
      target: target(`≥ 0.95× the ${n(settings.fillSmall)} row`, ratio, 0.95, true),
    });
  }

  machine.loadAtEnd = loadavg();
  const report: Report = {
    date: new Date().toISOString(),
    smoke,
    machine,
    settings,
    rows,
    footprint: fp,
    fill: { seconds: fillSeconds, usedMemoryLarge: usedLarge },
    totalSeconds: (Date.now() - started) / 1000,
    ...(process.env.FEDGATE_BENCH_NOTE ? { note: process.env.FEDGATE_BENCH_NOTE } : {}),
  };
  process.stdout.write(`\n${renderTable(rows)}\n\n${RATIO_NOTES.map((n) => `- ${n}`).join('\n')}\n\n`);
  const mdPath = process.env.FEDGATE_BENCH_OUT ?? (smoke ? undefined : fileURLToPath(new URL('./RESULTS.md', import.meta.url)));
  if (mdPath) {
    await writeFile(mdPath, renderMarkdown(report));
    log(`wrote ${mdPath}`);
  }
  if (process.env.FEDGATE_BENCH_JSON) await writeFile(process.env.FEDGATE_BENCH_JSON, JSON.stringify(report, null, 2));
  log(`done in ${Math.round(report.totalSeconds)} s`);
  await rm(logDir, { recursive: true, force: true });
}

try {
  await main();
  await cleanup();
  process.exit(0);
} catch (err) {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  for (const child of children) process.stderr.write(`${await child.logTail(1500)}\n`);
  await cleanup();
  process.exit(1);
}
