import type { Adapter } from 'oidc-provider';
import { FedgateError } from '../../lib/errors.js';
import type { RedisClient } from '../../lib/redis/client.js';
import { createRedisAdapter } from '../../lib/broker/redis-adapter.js';

// Every operation of oidc-provider's storage adapter turns a Redis failure into the coded 503 error
// the provider hooks answer as 503 + Retry-After (broker-redis-down.test.ts runs it on a real Redis).

/** A client whose every command fails the way ioredis does with Redis gone. */
const failing = new Proxy({}, { get: () => () => Promise.reject(new Error("Stream isn't writeable and enableOfflineQueue options is false")) }) as RedisClient;

test.each([
  ['upsert', (a: Adapter) => a.upsert('id', { grantId: 'g', uid: 'u' }, 60), 'op_upsert'],
  ['find', (a: Adapter) => a.find('id'), 'op_find'],
  ['findByUid', (a: Adapter) => a.findByUid!('uid'), 'op_find'],
  ['findByUserCode', (a: Adapter) => a.findByUserCode!('code'), 'op_find'],
  ['consume', (a: Adapter) => a.consume('id'), 'op_consume'],
  ['destroy', (a: Adapter) => a.destroy('id'), 'op_destroy'],
  ['revokeByGrantId', (a: Adapter) => a.revokeByGrantId('g'), 'op_revoke'],
])('%s rejects with SESSION_STORE_UNAVAILABLE (503) and is observed as failed', async (_name, run, op) => {
  const observed: Array<[string, boolean]> = [];
  const adapter = createRedisAdapter(failing, 'fedgate:op:', (name, _seconds, ok) => observed.push([name, ok]))('Session');
  const err = await run(adapter).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(FedgateError);
  expect(err).toMatchObject({ code: 'SESSION_STORE_UNAVAILABLE', status: 503, message: 'The session store is unavailable; please try again shortly.' });
  expect(observed).toEqual([[op, false]]);
});
