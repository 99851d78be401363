/**
 * Redis-side measurements: what one signed-in session costs in memory (scenario 7) and filling a
 * store with many realistic sessions (scenario 8).
 */
import type { Redis } from 'ioredis';

export interface KeyCost {
  /** Key name with its id part elided, e.g. `fedgate:sess:…`. */
  kind: string;
  type: string;
  /** `MEMORY USAGE` (bytes, including Redis's per-key overhead). */
  bytes: number;
  /** Length of the stored value (strings only). */
  valueBytes?: number;
}

export interface Footprint {
  /** `MEMORY USAGE` of the session key. */
  sessionBytes: number;
  /** Length of the session JSON. */
  sessionValueBytes: number;
  /** Every key under the prefix after exactly one login: the whole cost of a session. */
  totalBytes: number;
  keys: KeyCost[];
}

async function scanAll(redis: Redis, match: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys;
}

function kindOf(key: string, prefix: string): string {
  const rest = key.slice(prefix.length);
  const colon = rest.indexOf(':');
  return colon < 0 ? `${prefix}…` : `${prefix}${rest.slice(0, colon)}:…`;
}

/**
 * Measures every key under `prefix` of a store that has seen exactly one login (plus possibly
 * expired-but-unswept transaction keys, which are listed and counted: they are part of the cost).
 */
export async function footprint(redis: Redis, prefix = 'fedgate:'): Promise<Footprint> {
  const keys = await scanAll(redis, `${prefix}*`);
  const costs: KeyCost[] = [];
  let session: KeyCost | undefined;
  for (const key of keys.sort()) {
    const type = await redis.type(key);
    const bytes = Number(await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0'));
    const cost: KeyCost = { kind: kindOf(key, prefix), type, bytes };
    if (type === 'string') cost.valueBytes = await redis.strlen(key);
    if (key.startsWith(`${prefix}sess:`)) {
      if (session) throw new Error('footprint: more than one session key; measure a store with exactly one login');
      session = cost;
    }
    costs.push(cost);
  }
  if (!session) throw new Error(`footprint: no ${prefix}sess: key found`);
  return {
    sessionBytes: session.bytes,
    sessionValueBytes: session.valueBytes ?? 0,
    totalBytes: costs.reduce((sum, c) => sum + c.bytes, 0),
    keys: costs,
  };
}

/** The session JSON of the single session under `prefix` (the blob the fill copies). */
export async function sessionBlob(redis: Redis, prefix = 'fedgate:'): Promise<{ blob: string; ttl: number }> {
  const [key] = await scanAll(redis, `${prefix}sess:*`);
  if (!key) throw new Error('sessionBlob: no session stored');
  const blob = await redis.get(key);
  if (blob === null) throw new Error('sessionBlob: session vanished');
  return { blob, ttl: Math.max(3600, await redis.ttl(key)) };
}

// Server-side loop: the 1 M fill then moves a few KB per 5 000 sessions instead of the whole
// multi-gigabyte store over the socket, and takes seconds. Ids have the length of real session
// ids (32 chars), so keys have their real size. Standalone bench Redis only (undeclared keys).
const FILL_SCRIPT = `
local prefix, blob, ttl, from, n = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
for i = from, from + n - 1 do
  redis.call('SET', prefix .. string.format('fill%028d', i), blob, 'EX', ttl)
end
return n`;

const BATCH = 5_000;
const IN_FLIGHT = 4;

/**
 * Adds copies of `blob` under `${prefix}sess:` until the store holds `total` sessions.
 * Returns the seconds it took.
 */
export async function fillSessions(redis: Redis, total: number, blob: string, ttl: number, prefix = 'fedgate:'): Promise<number> {
  const started = Date.now();
  const existing = (await scanAll(redis, `${prefix}sess:*`)).length;
  const sha = String(await redis.script('LOAD', FILL_SCRIPT));
  const batches: Array<[number, number]> = [];
  for (let from = existing; from < total; from += BATCH) batches.push([from, Math.min(BATCH, total - from)]);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < batches.length) {
      const [from, n] = batches[next++]!;
      await redis.evalsha(sha, 0, `${prefix}sess:`, blob, String(ttl), String(from), String(n));
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  const count = Number(await redis.dbsize());
  if (count < total) throw new Error(`fillSessions: store holds ${count} keys, wanted at least ${total}`);
  return (Date.now() - started) / 1000;
}

/** `used_memory` of the server, bytes. */
export async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  const m = /^used_memory:(\d+)/m.exec(info);
  return m ? Number(m[1]) : 0;
}
