import { createHash, randomBytes } from 'node:crypto';
import { FedgateError } from '../errors.js';
import type { KvStore } from '../redis/kv.js';
import { readCookie, setCookie, type Req, type Res } from '../http/respond.js';

/** A pending login, stored server-side under its `state`; single use, short TTL. */
export interface LoginTransaction {
  connector: string;
  /** The connector's opaque per-login data (nonce, PKCE verifier). */
  data: Record<string, string>;
  returnTo: string;
  /** SHA-256 of the browser-binding cookie. */
  binding: string;
  createdAt: number;
}

export interface TransactionSettings {
  kv: KvStore;
  ttl: number;
  cookieName: string;
  cookiePath: string;
  secure: boolean;
  now: () => number;
}

/** At most this many pending logins per browser binding; past it the browser gets a new binding. */
const maxPendingPerBrowser = 10;

const hash = (v: string) => createHash('sha256').update(v).digest('base64url');

/** A ≥128-bit CSPRNG token (here 256 bits), base64url. */
export function randomToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * Stores a new transaction and binds it to this browser through an HttpOnly cookie holding a
 * random value (only its hash is stored), so a `state` stolen from one browser is useless in
 * another. Returns the `state`.
 */
export async function saveTransaction(s: TransactionSettings, req: Req, res: Res, tx: Omit<LoginTransaction, 'binding' | 'createdAt'>, state: string): Promise<void> {
  let binding = readCookie(req, s.cookieName);
  if (!binding || !/^[A-Za-z0-9_-]{43}$/.test(binding)) binding = randomToken();
  const pending = await countPending(s, hash(binding));
  if (pending > maxPendingPerBrowser) {
    // Rotate the binding: the older pending logins of this browser become unusable.
    binding = randomToken();
  }
  const record: LoginTransaction = { ...tx, binding: hash(binding), createdAt: s.now() };
  await s.kv.set(`tx:${hash(state)}`, JSON.stringify(record), s.ttl);
  setCookie(res, s.cookieName, binding, { path: s.cookiePath, secure: s.secure, maxAge: s.ttl });
}

function countPending(s: TransactionSettings, bindingHash: string): Promise<number> {
  return s.kv.incr(`txc:${bindingHash}`, s.ttl);
}

/**
 * Consumes the transaction of `state` atomically (GETDEL), so a replayed callback finds nothing.
 * Throws CALLBACK_STATE_INVALID when it is unknown, expired, used, or bound to another browser.
 */
export async function takeTransaction(s: TransactionSettings, req: Req, state: string): Promise<LoginTransaction> {
  const raw = await s.kv.take(`tx:${hash(state)}`);
  const invalid = (detail: string) => new FedgateError('CALLBACK_STATE_INVALID', 'This sign-in link is no longer valid. Please start the sign-in again.', { detail });
  if (!raw) throw invalid('unknown, expired or already used state');
  let tx: LoginTransaction;
  try {
    tx = JSON.parse(raw) as LoginTransaction;
  } catch {
    throw invalid('corrupted transaction');
  }
  const binding = readCookie(req, s.cookieName);
  if (!binding || hash(binding) !== tx.binding) throw invalid('transaction bound to another browser');
  if (s.now() > tx.createdAt + s.ttl * 1000) throw invalid('transaction expired');
  return tx;
}
