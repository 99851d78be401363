import { createHash } from 'node:crypto';
import { FedgateError } from '../errors.js';
import type { KvStore } from '../redis/kv.js';
import { readCookie, setCookie, type Req, type Res } from '../http/respond.js';
import type { Sealer } from './sealed.js';
import { randomToken } from '../random.js';

/**
 * A pending login: what the callback needs to finish it. Any connector can use it: `data` is the
 * connector's opaque per-login data (OIDC nonce and PKCE verifier, a SAML AuthnRequest ID).
 */
export interface PendingLogin {
  connector: string;
  data: Record<string, string>;
  returnTo: string;
}

export interface TransactionSettings {
  kv: KvStore;
  /** Lifetime of a pending login, seconds. */
  ttl: number;
  /** The browser-binding cookie (random, HttpOnly; `__Host-` on https). */
  cookieName: string;
  cookiePath: string;
  /** Name prefix of the pending-login cookies, one per login (`__Secure-` on https). */
  pendingPrefix: string;
  /** Path of the pending-login cookies: the auth routes only, so app requests never carry them. */
  pendingPath: string;
  secure: boolean;
  /** Seals and opens pending-login cookies (keys from the session secrets). */
  sealer: Sealer;
  now: () => number;
}

/**
 * Per browser at most this many pending logins and this many bytes of their cookies: the newest
 * are kept. Well under the 16 KiB a Node server accepts as request headers.
 */
const maxPending = 4;
const maxPendingBytes = 8192;
const maxCookieValue = 4096;

interface Sealed extends PendingLogin {
  v: 1;
  /** The key (`state`) this login was created under. */
  k: string;
  /** SHA-256 of the browser-binding cookie. */
  b: string;
  /** Created at, epoch ms. */
  t: number;
}

const hash = (v: string) => createHash('sha256').update(v).digest('base64url');

// Defined below the session core, which needs it too; re-exported for the flow modules.
export { randomToken };

const cookieNameOf = (s: TransactionSettings, key: string) => `${s.pendingPrefix}${hash(key).slice(0, 22)}`;

/**
 * Records a pending login under `key` (the `state`) in the browser, not in Redis: an encrypted,
 * integrity-protected cookie bound to this browser's binding cookie, so that a login start writes
 * nothing server-side however many are sent (the design of express-openid-connect's transaction
 * cookie). Older pending logins beyond the per-browser bound are dropped, oldest first.
 */
export function createPendingLogin(s: TransactionSettings, req: Req, res: Res, pending: PendingLogin, key: string): void {
  let binding = readCookie(req, s.cookieName);
  if (!binding || !/^[A-Za-z0-9_-]{43}$/.test(binding)) binding = randomToken();
  setCookie(res, s.cookieName, binding, { path: s.cookiePath, secure: s.secure, maxAge: s.ttl });
  const name = cookieNameOf(s, key);
  const sealed: Sealed = { v: 1, k: key, connector: pending.connector, data: pending.data, returnTo: pending.returnTo, b: hash(binding), t: s.now() };
  const value = s.sealer.seal(JSON.stringify(sealed), name);
  let budget = maxPendingBytes - name.length - value.length;
  let kept = 1;
  for (const old of existingPending(s, req)) {
    const size = old.name.length + old.value.length;
    if (old.createdAt !== undefined && kept < maxPending && size <= budget) {
      kept += 1;
      budget -= size;
    } else {
      setCookie(res, old.name, '', { path: s.pendingPath, secure: s.secure, maxAge: 0 });
    }
  }
  setCookie(res, name, value, { path: s.pendingPath, secure: s.secure, maxAge: s.ttl });
}

/** A pending login taken from its cookie; `commit()` makes it single use. */
export interface ConsumedLogin extends PendingLogin {
  /**
   * Remembers the key as used (SET NX, the login's remaining lifetime as TTL). Call it once the
   * upstream answer proved valid (the code exchange succeeded), before the session is made;
   * throws CALLBACK_STATE_INVALID when a concurrent callback committed it first.
   */
  commit(): Promise<void>;
}

/**
 * Takes the pending login of `key` from this browser: its cookie is cleared at once, and the key
 * must not be marked used. The mark is written by `commit()`, after the upstream exchange
 * succeeded, so Redis holds one small key per completed login — never one per start, nor per
 * forged callback — while a replay, even with the cookie put back, finds the key taken.
 * Throws CALLBACK_STATE_INVALID when it is unknown, tampered, expired, used, or from another browser.
 */
export async function consumePendingLogin(s: TransactionSettings, req: Req, res: Res, key: string): Promise<ConsumedLogin> {
  const name = cookieNameOf(s, key);
  const raw = cookieValues(req, (n) => n === name)[0]?.value;
  if (raw === undefined) throw stateInvalid('no pending login for this state in this browser');
  setCookie(res, name, '', { path: s.pendingPath, secure: s.secure, maxAge: 0 });
  const tx = parseSealed(s.sealer.open(raw, name));
  if (!tx || tx.k !== key) throw stateInvalid('pending login cookie tampered, foreign or sealed with a dropped secret');
  const binding = readCookie(req, s.cookieName);
  if (!binding || hash(binding) !== tx.b) throw stateInvalid('pending login bound to another browser');
  const expiresAt = tx.t + s.ttl * 1000;
  if (expiresAt <= s.now()) throw stateInvalid('pending login expired');
  const usedKey = `txu:${hash(key)}`;
  if ((await s.kv.get(usedKey)) !== null) throw stateInvalid('state already used');
  return {
    connector: tx.connector,
    data: tx.data,
    returnTo: tx.returnTo,
    async commit() {
      const ttl = Math.max(1, Math.ceil((expiresAt - s.now()) / 1000));
      if (!(await s.kv.setIfAbsent(usedKey, '1', ttl))) throw stateInvalid('state already used');
    },
  };
}

function stateInvalid(detail: string): FedgateError {
  return new FedgateError('CALLBACK_STATE_INVALID', 'This sign-in link is no longer valid. Please start the sign-in again.', { detail });
}

/** This browser's pending-login cookies, newest first; undefined `createdAt` = unreadable. */
function existingPending(s: TransactionSettings, req: Req): Array<{ name: string; value: string; createdAt: number | undefined }> {
  const now = s.now();
  return cookieValues(req, (n) => n.startsWith(s.pendingPrefix))
    .map((c) => {
      const tx = parseSealed(s.sealer.open(c.value, c.name));
      const live = tx !== undefined && tx.t + s.ttl * 1000 > now;
      return { ...c, createdAt: live ? tx.t : undefined };
    })
    .sort((a, b) => (b.createdAt ?? -1) - (a.createdAt ?? -1));
}

function parseSealed(plain: string | undefined): Sealed | undefined {
  if (plain === undefined) return undefined;
  try {
    const v = JSON.parse(plain) as Partial<Sealed> | null;
    if (
      v?.v !== 1
      || typeof v.k !== 'string'
      || typeof v.connector !== 'string'
      || typeof v.returnTo !== 'string'
      || typeof v.b !== 'string'
      || typeof v.t !== 'number'
      || typeof v.data !== 'object'
      || v.data === null
    )
      return undefined;
    return v as Sealed;
  } catch {
    return undefined;
  }
}

/** Cookies whose name passes `match` (at most 32), values up to 4 KiB, as sent. */
function cookieValues(req: Req, match: (name: string) => boolean): Array<{ name: string; value: string }> {
  const header = req.headers.cookie;
  if (!header) return [];
  const out: Array<{ name: string; value: string }> = [];
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    const name = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (match(name) && value.length <= maxCookieValue && out.length < 32) out.push({ name, value });
  }
  return out;
}
