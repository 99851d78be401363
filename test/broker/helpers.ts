import express from 'express';
import { createServer, type Server } from 'node:http';
import * as oidc from 'openid-client';
import { startStack, type Stack, type StackOptions } from '../fixtures/stack.js';
import type { Browser, FollowResult } from '../fixtures/browser.js';
import { closeServer, listenEphemeral } from '../fixtures/ports.js';

/**
 * A downstream client app of fedgate in broker mode, written the way any app would with
 * openid-client 6: discovery at `${url}/auth`, authorization code + PKCE S256, tokens, userinfo,
 * refresh, RP-initiated logout. Its redirect URI is never requested: the test browser stops there.
 */

export const CONFIDENTIAL_SECRET = 'broker-client-secret-0123456789-abcdefghijklmnop';

/** The relying party's own tiny server: records back-channel logout tokens. */
export interface RelyingParty {
  url: string;
  callback: string;
  logoutTokens: string[];
  close(): Promise<void>;
}

export async function startRelyingParty(): Promise<RelyingParty> {
  const app = express();
  const logoutTokens: string[] = [];
  app.post('/backchannel', express.urlencoded({ extended: false }), (req, res) => {
    const token = (req.body as Record<string, unknown>).logout_token;
    if (typeof token === 'string') logoutTokens.push(token);
    res.status(200).end();
  });
  // A page of this (other) site linking to, or posting a form to, a fedgate URL: the cross-site
  // starting point of real-browser tests.
  app.get('/link', (req, res) => {
    const to = String(req.query.to ?? '');
    const method = req.query.post === '1' ? 'post' : 'get';
    const escaped = to.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
    res
      .type('html')
      .send(
        `<!doctype html><title>elsewhere</title><a id="go" href="${escaped}">go</a>`
          + `<form method="${method}" action="${escaped}"><button id="submit" type="submit">submit</button></form>`,
      );
  });
  const server: Server = createServer(app);
  const port = await listenEphemeral(server);
  const url = `http://127.0.0.1:${port}`;
  return { url, callback: `${url}/cb`, logoutTokens, close: () => closeServer(server) };
}

export interface BrokerClientSpec {
  client_id: string;
  client_secret?: string;
  trusted?: boolean;
  scopes?: string[];
  backchannel?: boolean;
  token_endpoint_auth_method?: 'client_secret_basic' | 'client_secret_post' | 'none';
}

export interface BrokerStack extends Stack {
  rp: RelyingParty;
}

/** Starts Redis, the upstream OP and the app with fedgate in broker mode for the given clients. */
export async function startBrokerStack(
  clients: BrokerClientSpec[],
  extra: StackOptions & { op?: StackOptions['op']; opBlock?: Record<string, unknown> } = {},
): Promise<BrokerStack> {
  const rp = await startRelyingParty();
  const { opBlock, config: editConfig, ...rest } = extra;
  const stack = await startStack({
    ...rest,
    config: (config, op) => {
      config.op = {
        enabled: true,
        clients: clients.map((c) => ({
          client_id: c.client_id,
          ...(c.client_secret ? { client_secret: c.client_secret } : {}),
          ...(c.token_endpoint_auth_method ? { token_endpoint_auth_method: c.token_endpoint_auth_method } : {}),
          client_name: `App ${c.client_id}`,
          redirect_uris: [rp.callback],
          post_logout_redirect_uris: [`${rp.url}/bye`],
          trusted: c.trusted ?? false,
          ...(c.scopes ? { scopes: c.scopes } : {}),
          ...(c.backchannel ? { backchannel_logout_uri: `${rp.url}/backchannel` } : {}),
        })),
        scopes: { team: ['roles'] },
        sessionCheckInterval: 1,
        ...opBlock,
      };
      editConfig?.(config, op);
    },
  });
  const closeStack = stack.close.bind(stack);
  return Object.assign(stack, {
    rp,
    close: async () => {
      await closeStack();
      await rp.close();
    },
  });
}

/** openid-client configuration of a downstream client, from fedgate's discovery. */
export async function discover(stack: BrokerStack, client: BrokerClientSpec): Promise<oidc.Configuration> {
  const auth = client.client_secret ? oidc.ClientSecretBasic(client.client_secret) : oidc.None();
  return oidc.discovery(new URL(`${stack.url}/auth`), client.client_id, client.client_secret, auth, { execute: [oidc.allowInsecureRequests] });
}

export interface AuthorizationAttempt {
  verifier: string;
  state: string;
  nonce: string;
  /** Where the browser ended: a consent page, an error page, or the redirect back (stopped). */
  result: FollowResult;
}

/** Starts an authorization request in `browser` and follows it until fedgate sends it back to the client or shows a page. */
export async function authorize(
  stack: BrokerStack,
  config: oidc.Configuration,
  browser: Browser,
  params: Record<string, string> = {},
): Promise<AuthorizationAttempt> {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: stack.rp.callback,
    scope: 'openid profile email',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...params,
  });
  const result = await browser.follow(url.href, { maxRedirects: 20, stopAt: (u) => u.origin === stack.rp.url });
  return { verifier, state, nonce, result };
}

/** Approves (or denies) on the consent page the attempt stopped at, following on to the client. */
export async function decide(stack: BrokerStack, browser: Browser, attempt: AuthorizationAttempt, decision: 'approve' | 'deny'): Promise<AuthorizationAttempt> {
  const result = await browser.submitForm(attempt.result, { decision }, { maxRedirects: 20, stopAt: (u) => u.origin === stack.rp.url });
  return { ...attempt, result };
}

/** Exchanges the code the attempt came back with. */
type Tokens = oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers;

export async function exchange(config: oidc.Configuration, attempt: AuthorizationAttempt): Promise<Tokens> {
  if (!attempt.result.stoppedAt)
    throw new Error(`no redirect back to the client: ${attempt.result.status} at ${attempt.result.url}: ${attempt.result.body.slice(0, 300)}`);
  return oidc.authorizationCodeGrant(config, new URL(attempt.result.stoppedAt), {
    pkceCodeVerifier: attempt.verifier,
    expectedState: attempt.state,
    expectedNonce: attempt.nonce,
    idTokenExpected: true,
  });
}

/** Full round trip for a client that needs no consent page (trusted, or already granted). */
export async function signIn(stack: BrokerStack, config: oidc.Configuration, browser: Browser, params: Record<string, string> = {}): Promise<Tokens> {
  const attempt = await authorize(stack, config, browser, params);
  return exchange(config, attempt);
}

/** True when the browser holds a live fedgate session at the app. */
export async function signedIn(stack: Stack, browser: Browser): Promise<boolean> {
  const res = await browser.get(`${stack.url}/dashboard`, { headers: { accept: 'application/json' } });
  return res.status === 200;
}

/**
 * RP-initiated logout the way Apache's mod_auth_openidc does it: the client first revokes its
 * refresh token and access token (RFC 7009; the access token is a JWT, refused with
 * `unsupported_token_type`, which the client ignores), then sends the browser to
 * `end_session_endpoint`, where the user confirms. Returns where the browser came back to.
 */
export async function revokeAndLogOut(stack: BrokerStack, config: oidc.Configuration, browser: Browser, tokens: Tokens): Promise<string | undefined> {
  if (tokens.refresh_token) await oidc.tokenRevocation(config, tokens.refresh_token, { token_type_hint: 'refresh_token' });
  await oidc.tokenRevocation(config, tokens.access_token, { token_type_hint: 'access_token' }).catch(() => undefined);
  const url = oidc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: `${stack.rp.url}/bye` });
  const confirm = await browser.follow(url.href, { stopAt: (u) => u.origin === stack.rp.url });
  const done = await browser.submitForm(confirm, { logout: 'yes' }, { stopAt: (u) => u.origin === stack.rp.url });
  return done.stoppedAt;
}
