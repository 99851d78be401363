// translateUpstreamError, one row per oauth4webapi / openid-client failure. Where openid-client can
// be made to fail for real (a canned answer from its customFetch), the row runs it; the few
// failures that need a signature check or a timer are built with the library's own classes and
// arguments and wrapped the way openid-client's errorHandler wraps them.
import { createServer, type AddressInfo } from 'node:net';
import { runInNewContext } from 'node:vm';
import * as oauth from 'oauth4webapi';
import * as oidc from 'openid-client';
import { FedgateError, errorCodes, type ErrorCode } from '../../lib/errors.js';
import { oauthErrorCodes, translateUpstreamError, type UpstreamStage } from '../../connectors/common/errors.js';
import { ResponseTooLargeError } from '../../connectors/common/limited-fetch.js';

const issuer = 'https://op.example';
const server: oidc.ServerMetadata = {
  issuer,
  authorization_endpoint: `${issuer}/auth`,
  token_endpoint: `${issuer}/token`,
  userinfo_endpoint: `${issuer}/me`,
  jwks_uri: `${issuer}/jwks`,
  authorization_response_iss_parameter_supported: true,
};
/** A local port nothing listens on: fetch fails there with ECONNREFUSED. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  await new Promise((resolve) => srv.close(resolve));
  return port;
}
const nowS = () => Math.floor(Date.now() / 1000);
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
/** An ID token as the token endpoint sends it; openid-client checks its claims, not its signature, here. */
const idToken = (claims: Record<string, unknown> = {}, header: Record<string, unknown> = { alg: 'RS256' }) =>
  `${b64(header)}.${b64({ iss: issuer, aud: 'app', sub: 'alice', iat: nowS(), exp: nowS() + 300, nonce: 'n', ...claims })}.c2ln`;
const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
const tokens = (extra: Record<string, unknown> = {}) => json({ access_token: 'at', token_type: 'Bearer', expires_in: 300, ...extra });

function configAnswering(answer: () => Response | Promise<Response>, metadata: Partial<oidc.ClientMetadata> = {}): oidc.Configuration {
  const config = new oidc.Configuration(server, 'app', { client_secret: 'secret', ...metadata });
  config[oidc.customFetch] = async () => answer();
  return config;
}

/** What openid-client throws when the code grant's token endpoint (or the callback) gives `answer`. */
async function codeGrant(
  answer: () => Response | Promise<Response>,
  callback = `https://app.example/cb?code=c&state=s&iss=${encodeURIComponent(issuer)}`,
): Promise<unknown> {
  return oidc
    .authorizationCodeGrant(configAnswering(answer), new URL(callback), {
      pkceCodeVerifier: 'v'.repeat(43),
      expectedState: 's',
      expectedNonce: 'n',
      idTokenExpected: true,
    })
    .then(
      () => undefined,
      (err: unknown) => err,
    );
}
const refresh = (answer: () => Response | Promise<Response>) =>
  oidc.refreshTokenGrant(configAnswering(answer), 'rt').then(
    () => undefined,
    (err: unknown) => err,
  );
const userinfo = (answer: () => Response, metadata: Partial<oidc.ClientMetadata> = {}) =>
  oidc.fetchUserInfo(configAnswering(answer, metadata), 'at', 'alice').then(
    () => undefined,
    (err: unknown) => err,
  );

/** openid-client's errorHandler for an oauth4webapi OperationProcessingError (build/index.js). */
const asOpenidClientThrows = (err: oauth.OperationProcessingError) => new oidc.ClientError(err.message, { cause: err, code: err.code } as ErrorOptions);

type Row = [name: string, stage: UpstreamStage, fail: () => Promise<unknown>, code: ErrorCode, message: string];

const idTokenRejected = "The identity provider's ID token was rejected.";
const invalidResponse = 'The identity provider sent an invalid response.';
const unreachable = 'The identity provider is not reachable right now.';
const ended = 'The identity provider ended the session.';
const userinfoRejected = "The identity provider's userinfo response was rejected.";

const rows: Row[] = [
  // The authorization response (OAUTH_INVALID_RESPONSE with `parameters`, or none).
  [
    'callback iss of another issuer',
    'token',
    () => codeGrant(tokens, 'https://app.example/cb?code=c&state=s&iss=https%3A%2F%2Fevil.example'),
    'CALLBACK_PARAMS_INVALID',
    'The sign-in response names another issuer.',
  ],
  [
    'callback iss missing where the OP promises it',
    'token',
    () => codeGrant(tokens, 'https://app.example/cb?code=c&state=s'),
    'CALLBACK_PARAMS_INVALID',
    'The sign-in response is malformed.',
  ],
  [
    'callback parameter repeated',
    'token',
    () => codeGrant(tokens, `https://app.example/cb?code=c&code=d&state=s&iss=${encodeURIComponent(issuer)}`),
    'CALLBACK_PARAMS_INVALID',
    'The sign-in response is malformed.',
  ],
  [
    'OAUTH_AUTHORIZATION_RESPONSE_ERROR',
    'token',
    () => codeGrant(tokens, `https://app.example/cb?error=access_denied&state=s&iss=${encodeURIComponent(issuer)}`),
    'UPSTREAM_AUTHORIZATION_ERROR',
    'The identity provider did not complete the sign-in (access_denied).',
  ],
  // The token endpoint.
  [
    'OAUTH_RESPONSE_BODY_ERROR (code grant)',
    'token',
    () => codeGrant(() => json({ error: 'invalid_grant' }, 400)),
    'UPSTREAM_RESPONSE_INVALID',
    'The identity provider refused the request (invalid_grant).',
  ],
  ['OAUTH_RESPONSE_BODY_ERROR invalid_grant (refresh)', 'refresh', () => refresh(() => json({ error: 'invalid_grant' }, 400)), 'REFRESH_REJECTED', ended],
  ['OAUTH_RESPONSE_BODY_ERROR invalid_client 401 (refresh)', 'refresh', () => refresh(() => json({ error: 'invalid_client' }, 401)), 'REFRESH_REJECTED', ended],
  [
    'OAUTH_WWW_AUTHENTICATE_CHALLENGE (code grant)',
    'token',
    () => codeGrant(() => json({}, 401, { 'www-authenticate': 'Basic realm="op", error="invalid_client"' })),
    'UPSTREAM_RESPONSE_INVALID',
    'The identity provider refused the request (invalid_client).',
  ],
  [
    'OAUTH_WWW_AUTHENTICATE_CHALLENGE (refresh)',
    'refresh',
    () => refresh(() => json({}, 401, { 'www-authenticate': 'Basic realm="op", error="invalid_client"' })),
    'REFRESH_REJECTED',
    ended,
  ],
  [
    'OAUTH_RESPONSE_IS_NOT_CONFORM 500 (code grant)',
    'token',
    () => codeGrant(() => new Response('down', { status: 500 })),
    'UPSTREAM_RESPONSE_INVALID',
    invalidResponse,
  ],
  [
    'OAUTH_RESPONSE_IS_NOT_CONFORM 500 (refresh: worth retrying)',
    'refresh',
    () => refresh(() => new Response('down', { status: 500 })),
    'UPSTREAM_RESPONSE_INVALID',
    invalidResponse,
  ],
  [
    'OAUTH_RESPONSE_IS_NOT_CONFORM 400 without a JSON body (refresh)',
    'refresh',
    () => refresh(() => new Response('no', { status: 400 })),
    'REFRESH_REJECTED',
    ended,
  ],
  [
    'OAUTH_RESPONSE_IS_NOT_JSON',
    'token',
    () => codeGrant(() => new Response('<html>', { headers: { 'content-type': 'text/html' } })),
    'UPSTREAM_RESPONSE_INVALID',
    invalidResponse,
  ],
  [
    'OAUTH_PARSE_ERROR',
    'token',
    () => codeGrant(() => new Response('{', { headers: { 'content-type': 'application/json' } })),
    'UPSTREAM_RESPONSE_INVALID',
    invalidResponse,
  ],
  [
    'OAUTH_INVALID_RESPONSE, body: access_token missing',
    'token',
    () => codeGrant(() => json({ token_type: 'Bearer', id_token: idToken() })),
    'UPSTREAM_RESPONSE_INVALID',
    invalidResponse,
  ],
  ['OAUTH_INVALID_RESPONSE, body: id_token missing', 'token', () => codeGrant(() => tokens()), 'ID_TOKEN_INVALID', idTokenRejected],
  [
    'OAUTH_UNSUPPORTED_OPERATION (token_type)',
    'token',
    () => codeGrant(() => tokens({ token_type: 'mac', id_token: idToken() })),
    'UPSTREAM_RESPONSE_INVALID',
    invalidResponse,
  ],
  // The ID token.
  [
    'OAUTH_JWT_CLAIM_COMPARISON_FAILED (nonce)',
    'token',
    () => codeGrant(() => tokens({ id_token: idToken({ nonce: 'other' }) })),
    'ID_TOKEN_INVALID',
    idTokenRejected,
  ],
  [
    'OAUTH_JWT_CLAIM_COMPARISON_FAILED (iss)',
    'token',
    () => codeGrant(() => tokens({ id_token: idToken({ iss: 'https://evil.example' }) })),
    'ID_TOKEN_INVALID',
    idTokenRejected,
  ],
  [
    'OAUTH_JWT_CLAIM_COMPARISON_FAILED (aud)',
    'token',
    () => codeGrant(() => tokens({ id_token: idToken({ aud: 'another-app' }) })),
    'ID_TOKEN_INVALID',
    idTokenRejected,
  ],
  [
    'OAUTH_JWT_TIMESTAMP_CHECK_FAILED (exp)',
    'token',
    () => codeGrant(() => tokens({ id_token: idToken({ iat: nowS() - 7200, exp: nowS() - 3600 }) })),
    'ID_TOKEN_INVALID',
    idTokenRejected,
  ],
  [
    'OAUTH_INVALID_RESPONSE, claims: nonce missing',
    'token',
    () => codeGrant(() => tokens({ id_token: idToken({ nonce: undefined }) })),
    'ID_TOKEN_INVALID',
    idTokenRejected,
  ],
  [
    'OAUTH_INVALID_RESPONSE, header: alg none',
    'token',
    () => codeGrant(() => tokens({ id_token: idToken({}, { alg: 'none' }) })),
    'ID_TOKEN_INVALID',
    idTokenRejected,
  ],
  ['OAUTH_INVALID_RESPONSE, jws: not three parts', 'token', () => codeGrant(() => tokens({ id_token: 'a.b' })), 'ID_TOKEN_INVALID', idTokenRejected],
  [
    'OAUTH_KEY_SELECTION_FAILED',
    'token',
    async () =>
      asOpenidClientThrows(
        new oauth.OperationProcessingError('error when selecting a JWT verification key, no applicable keys found', {
          code: oauth.KEY_SELECTION,
          cause: { header: { alg: 'RS256', kid: 'x' }, candidates: [], jwks_uri: new URL(server.jwks_uri!) },
        }),
      ),
    'ID_TOKEN_INVALID',
    idTokenRejected,
  ],
  [
    'OAUTH_INVALID_RESPONSE, signature verification failed',
    'token',
    async () =>
      asOpenidClientThrows(
        new oauth.OperationProcessingError('JWT signature verification failed', {
          code: oauth.INVALID_RESPONSE,
          cause: { key: {}, data: new Uint8Array(), signature: new Uint8Array(), algorithm: { name: 'RSASSA-PKCS1-v1_5' } },
        }),
      ),
    'ID_TOKEN_INVALID',
    idTokenRejected,
  ],
  // The userinfo endpoint.
  [
    'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED (userinfo sub)',
    'userinfo',
    () => userinfo(() => json({ sub: 'mallory' })),
    'USERINFO_SUBJECT_MISMATCH',
    "The identity provider's userinfo does not match the signed-in user.",
  ],
  [
    'OAUTH_INVALID_RESPONSE, userinfo body without sub',
    'userinfo',
    () => userinfo(() => json({ name: 'Alice' })),
    'USERINFO_SUBJECT_MISMATCH',
    "The identity provider's userinfo does not match the signed-in user.",
  ],
  [
    'OAUTH_JWT_USERINFO_EXPECTED',
    'userinfo',
    () => userinfo(() => json({ sub: 'alice' }), { userinfo_signed_response_alg: 'RS256' }),
    'UPSTREAM_RESPONSE_INVALID',
    userinfoRejected,
  ],
  [
    'OAUTH_INVALID_RESPONSE, signed userinfo with another alg',
    'userinfo',
    () =>
      userinfo(() => new Response(idToken({}, { alg: 'HS256' }), { headers: { 'content-type': 'application/jwt' } }), {
        userinfo_signed_response_alg: 'RS256',
      }),
    'UPSTREAM_RESPONSE_INVALID',
    userinfoRejected,
  ],
  [
    'OAUTH_WWW_AUTHENTICATE_CHALLENGE (userinfo)',
    'userinfo',
    () => userinfo(() => json({}, 401, { 'www-authenticate': 'Bearer error="invalid_token"' })),
    'UPSTREAM_RESPONSE_INVALID',
    'The identity provider refused the request (invalid_token).',
  ],
  [
    'OAUTH_RESPONSE_IS_NOT_CONFORM (userinfo)',
    'userinfo',
    () => userinfo(() => json({ error: 'invalid_token' }, 401)),
    'UPSTREAM_RESPONSE_INVALID',
    userinfoRejected,
  ],
  // Discovery: whatever failed, the provider is unavailable for now.
  [
    'OAUTH_INVALID_SERVER_METADATA (discovery)',
    'discovery',
    () =>
      oidc.discovery(new URL(issuer), 'app', 'secret', undefined, { [oidc.customFetch]: async () => json({ issuer: 'https://evil.example' }) }).then(
        () => undefined,
        (err: unknown) => err,
      ),
    'UPSTREAM_UNAVAILABLE',
    "The identity provider's configuration could not be loaded.",
  ],
  // The network.
  [
    'fetch TypeError, ECONNREFUSED (a real one)',
    'token',
    async () =>
      fetch(`http://127.0.0.1:${await closedPort()}/`).then(
        () => undefined,
        (err: unknown) => err,
      ),
    'UPSTREAM_UNAVAILABLE',
    unreachable,
  ],
  [
    'fetch TypeError, ECONNREFUSED, through openid-client',
    'refresh',
    async () => {
      const config = new oidc.Configuration({ ...server, token_endpoint: `http://127.0.0.1:${await closedPort()}/token` }, 'app', 'secret');
      oidc.allowInsecureRequests(config);
      return oidc.refreshTokenGrant(config, 'rt').then(
        () => undefined,
        (err: unknown) => err,
      );
    },
    'UPSTREAM_UNAVAILABLE',
    unreachable,
  ],
  [
    'fetch TypeError of another realm, wrapped in a ClientError',
    'refresh',
    async () =>
      new oidc.ClientError('something went wrong', {
        cause: runInNewContext('new TypeError("fetch failed", { cause: new Error("other side closed") })') as Error,
      }),
    'UPSTREAM_UNAVAILABLE',
    unreachable,
  ],
  [
    'AbortSignal.timeout (openid-client OAUTH_TIMEOUT)',
    'token',
    async () =>
      new oidc.ClientError('operation timed out', {
        cause: new DOMException('The operation was aborted due to timeout', 'TimeoutError'),
        code: 'OAUTH_TIMEOUT',
      } as ErrorOptions),
    'UPSTREAM_UNAVAILABLE',
    unreachable,
  ],
  [
    'AbortSignal.timeout, raw (GitHub, Graph)',
    'userinfo',
    async () =>
      fetch(`http://127.0.0.1:${await closedPort()}/`, { signal: AbortSignal.abort(new DOMException('timeout', 'TimeoutError')) }).then(
        () => undefined,
        (err: unknown) => err,
      ),
    'UPSTREAM_UNAVAILABLE',
    unreachable,
  ],
  [
    'response over the size cap',
    'token',
    () =>
      codeGrant(() => {
        throw new ResponseTooLargeError();
      }),
    'UPSTREAM_RESPONSE_INVALID',
    'The identity provider sent a response that is too large.',
  ],
  // Anything else: a 502 that grants nothing.
  [
    'library misuse (ERR_INVALID_ARG_TYPE) is not a network error',
    'token',
    () =>
      oidc.refreshTokenGrant(configAnswering(tokens), 5 as unknown as string).then(
        () => undefined,
        (err: unknown) => err,
      ),
    'UPSTREAM_RESPONSE_INVALID',
    invalidResponse,
  ],
  ['an unknown Error', 'token', async () => new Error('boom'), 'UPSTREAM_RESPONSE_INVALID', invalidResponse],
  ['a thrown string', 'refresh', async () => 'boom', 'UPSTREAM_RESPONSE_INVALID', invalidResponse],
];

describe('translateUpstreamError', () => {
  test.each(rows)('%s (%s)', async (_name, stage, fail, code, message) => {
    const err = await fail();
    expect(err).toBeDefined();
    const e = translateUpstreamError(err, stage);
    expect(e).toBeInstanceOf(FedgateError);
    expect({ code: e.code, status: e.status, message: e.message }).toEqual({ code, status: errorCodes[code].status, message });
    expect(e.cause).toBe(err);
    expect(e.detail?.startsWith(`${stage}: `)).toBe(true);
  });

  test("the codes it switches on are the installed oauth4webapi's", () => {
    const { CLIENT_TIMEOUT: _t, CLIENT_ABORT: _a, ...fromOauth } = oauthErrorCodes;
    for (const [name, code] of Object.entries(fromOauth)) expect([name, (oauth as Record<string, unknown>)[name]]).toEqual([name, code]);
  });

  test('a FedgateError passes through unchanged', () => {
    const own = new FedgateError('ID_TOKEN_INVALID', 'x');
    expect(translateUpstreamError(own, 'token')).toBe(own);
  });

  test("the library's message stays in detail, never in the client-facing message", async () => {
    const e = translateUpstreamError(await codeGrant(() => tokens({ id_token: idToken({ nonce: 'other' }) })), 'token');
    expect(e.message).toBe(idTokenRejected);
    expect(e.detail).toContain('OAUTH_JWT_CLAIM_COMPARISON_FAILED');
    expect(Object.keys(e)).not.toContain('cause');
  });
});
