import { randomBytes } from 'node:crypto';

/** A ≥128-bit CSPRNG token (here 256 bits), base64url: states, session ids, one-time handles. */
export function randomToken(): string {
  return randomBytes(32).toString('base64url');
}
