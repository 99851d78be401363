import type { ResolvedConfig } from '../lib/config/load.js';
import { createRedisClient, type RedisClient } from '../lib/redis/client.js';
import { collectingLogger, describeRedis } from './config.js';
import { networkCause, type ProbeReport } from './probe.js';

/**
 * Connects to the configured session Redis and sends one PING, bounded by the probe timeout: a
 * dead, paused or password-refusing Redis is a problem, as it would be for every login. The
 * report names the host, never the URL (it may carry a password).
 */
export async function probeRedis(config: ResolvedConfig, timeoutSeconds: number): Promise<ProbeReport> {
  const { store } = config.session;
  const target = describeRedis(config);
  if (store.kind !== 'redis') return { lines: [`${target}: nothing to probe`], problems: [] };
  const timeoutMs = timeoutSeconds * 1000;
  const client = createRedisClient({ ...store.redis, connectTimeout: timeoutMs, commandTimeout: timeoutMs }, collectingLogger());
  try {
    const answer = await pingOnce(client, timeoutMs);
    return { lines: [`PING ${target} -> ${answer}`], problems: [] };
  } catch (err) {
    const reply = err instanceof Error && /^(WRONGPASS|NOAUTH|NOPERM|ERR)\b/.test(err.message) ? err.message.split('\n')[0]!.slice(0, 120) : undefined;
    const problem = reply !== undefined ? `${target} refused the connection: ${reply}` : `${target} is not reachable (${networkCause(err, timeoutSeconds)})`;
    return { lines: [`PING ${target} -> failed`], problems: [problem] };
  } finally {
    client.disconnect();
  }
}

/** The first of: PONG, the first connection error, or the deadline (a paused Redis accepts and never answers). */
function pingOnce(client: RedisClient, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(Object.assign(new Error('timeout'), { name: 'TimeoutError' })), timeoutMs);
    const onError = (err: unknown) => finish(err);
    function finish(err: unknown, answer?: string) {
      clearTimeout(timer);
      client.off('error', onError);
      if (answer !== undefined) resolve(answer);
      else reject(err instanceof Error ? err : new Error('redis error'));
    }
    client.on('error', onError);
    client.ping().then((answer) => finish(undefined, answer), onError);
  });
}
