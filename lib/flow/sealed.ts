import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/**
 * Authenticated encryption of small values that travel through the browser (AES-256-GCM,
 * NIST SP 800-38D), with keys derived from the session secrets by HKDF-SHA256 (RFC 5869), one
 * key per purpose. The first secret's key seals, every listed secret's key opens, so secrets
 * rotate like the session cookie's.
 */
export interface Sealer {
  /** base64url(iv ‖ ciphertext ‖ tag); `context` is authenticated, not stored. */
  seal(plaintext: string, context: string): string;
  /** The plaintext, or undefined when no key opens it (tampered, foreign, or a dropped secret). */
  open(sealed: string, context: string): string | undefined;
}

const ivBytes = 12;
const tagBytes = 16;

/** Derives one 256-bit key per secret for `purpose`; the purpose keeps keys of different uses apart. */
export function createSealer(secrets: readonly string[], purpose: string): Sealer {
  const keys = secrets.map((s) => Buffer.from(hkdfSync('sha256', s, Buffer.alloc(0), `fedgate ${purpose}`, 32)));
  return {
    seal(plaintext, context) {
      const iv = randomBytes(ivBytes);
      const cipher = createCipheriv('aes-256-gcm', keys[0]!, iv);
      cipher.setAAD(Buffer.from(context, 'utf8'));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url');
    },
    open(sealed, context) {
      if (!/^[A-Za-z0-9_-]+$/.test(sealed)) return undefined;
      const raw = Buffer.from(sealed, 'base64url');
      if (raw.length < ivBytes + tagBytes) return undefined;
      const iv = raw.subarray(0, ivBytes);
      const tag = raw.subarray(raw.length - tagBytes);
      const body = raw.subarray(ivBytes, raw.length - tagBytes);
      for (const key of keys) {
        try {
          const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: tagBytes });
          decipher.setAAD(Buffer.from(context, 'utf8'));
          decipher.setAuthTag(tag);
          return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
        } catch {
          // Not this key: try the next (older) secret.
        }
      }
      return undefined;
    },
  };
}
