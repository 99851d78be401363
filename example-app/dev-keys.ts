import { randomBytes } from 'node:crypto';
import { access, link, mkdir, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';

/**
 * Creates the example's private JWKS (`tokens.keys`) on first start, the way
 * `fedgate keys generate --out <file>` does: one ES256 key, kid = RFC 7638 thumbprint, mode 0600.
 * `link` publishes the finished file atomically, so two processes starting at once never read
 * half a file and never overwrite each other.
 */
export async function ensureSigningKeys(file: string): Promise<'created' | 'exists'> {
  if (
    await access(file).then(
      () => true,
      () => false,
    )
  )
    return 'exists';
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(jwk, 'sha256');
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(tmp, `${JSON.stringify({ keys: [{ ...jwk, kid, alg: 'ES256', use: 'sig' }] }, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  try {
    await link(tmp, file);
    return 'created';
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return 'exists';
    throw err;
  } finally {
    await unlink(tmp);
  }
}
