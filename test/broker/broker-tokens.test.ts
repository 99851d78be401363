import { createHash } from 'node:crypto';
import * as oidc from 'openid-client';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { waitFor } from '../fixtures/ports.js';
import { CONFIDENTIAL_SECRET, discover, signIn, startBrokerStack, type BrokerClientSpec, type BrokerStack } from './helpers.js';

// Lifetimes and hashes of the tokens broker mode issues to its clients.

const client: BrokerClientSpec = { client_id: 'rotating-app', client_secret: CONFIDENTIAL_SECRET, trusted: true };
const REFRESH_TTL = 3;

let stack: BrokerStack;
let config: oidc.Configuration;
beforeAll(async () => {
  stack = await startBrokerStack([client], { opBlock: { ttl: { refreshToken: REFRESH_TTL, accessToken: 60 } } });
  config = await discover(stack, client);
});
afterAll(async () => {
  await stack?.close();
});

/** OIDC Core §3.1.3.6: the left half of SHA-256 of the access token, base64url (for ES256/RS256/PS256). */
function leftHalfHash(token: string): string {
  const digest = createHash('sha256').update(token).digest();
  return digest.subarray(0, digest.length / 2).toString('base64url');
}

describe('ID tokens', () => {
  test('an ID token issued together with an access token carries at_hash, at the code exchange and at refresh', async () => {
    const tokens = await signIn(stack, config, stack.browser());
    expect(decodeProtectedHeader(tokens.id_token!).alg).toBe('ES256');
    expect(decodeJwt(tokens.id_token!).at_hash).toBe(leftHalfHash(tokens.access_token));
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.id_token).toBeDefined();
    expect(decodeJwt(refreshed.id_token!).at_hash).toBe(leftHalfHash(refreshed.access_token));
  });
});

describe('refresh-token family lifetime', () => {
  test(`op.ttl.refreshToken counts from the first issue, not from the last rotation (${REFRESH_TTL} s here)`, async () => {
    const tokens = await signIn(stack, config, stack.browser());
    const firstIssued = Date.now();
    let refreshToken = tokens.refresh_token!;
    let rotations = 0;
    // Rotate well within the TTL each time (every poll); a sliding lifetime would keep the family
    // alive for ever, the absolute one ends it REFRESH_TTL seconds after the first issue. This
    // waits on the wall clock: broker mode's token lifetimes run on oidc-provider's own clock
    // (Date.now, also lib/broker/provider.ts refreshTokenTtl), which FedgateOptions.now does not reach.
    const refusal = await waitFor(
      'the refresh-token family to end',
      async () => {
        try {
          const next = await oidc.refreshTokenGrant(config, refreshToken);
          expect(next.refresh_token).toBeDefined();
          expect(next.refresh_token).not.toBe(refreshToken);
          refreshToken = next.refresh_token!;
          rotations++;
          return undefined;
        } catch (err) {
          if (err instanceof oidc.ResponseBodyError) return err;
          throw err;
        }
      },
      { timeoutMs: (REFRESH_TTL + 4) * 1000, intervalMs: 250 },
    );
    const endedAfter = Date.now() - firstIssued;
    expect(rotations).toBeGreaterThan(3);
    expect(refusal.error).toBe('invalid_grant');
    // Not before the family's lifetime is up (expiry is second-granular and counts from the first
    // token's issue, a moment before firstIssued), and soon after.
    expect(endedAfter).toBeGreaterThanOrEqual((REFRESH_TTL - 1.5) * 1000);
    expect(endedAfter).toBeLessThan((REFRESH_TTL + 2) * 1000);
  }, 20_000);

  test('a refresh token used once stays usable until the absolute lifetime, and the access token it gave works meanwhile', async () => {
    const tokens = await signIn(stack, config, stack.browser());
    const next = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    const res = await fetch(`${stack.url}/dashboard`, { headers: { authorization: `Bearer ${next.access_token}`, accept: 'application/json' } });
    expect(res.status).toBe(200);
  });
});
