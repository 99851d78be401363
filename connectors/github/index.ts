import { defineConnectorType } from '../../lib/connector.js';
import { gatewayOwnedParams } from '../../lib/config/connector-base.js';
import type { ConfigProblem } from '../../lib/errors.js';
import { GithubConnector, githubClaims, githubUrls } from './connector.js';
import { githubSchema, type GithubConfig } from './schema.js';

function validateGithub(cfg: GithubConfig, at: string, ctx: { allowInsecureRequests: boolean }): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  if (!cfg.clientSecret) problems.push({ path: `${at}.clientSecret`, message: 'required: GitHub OAuth apps authenticate with a client secret' });
  if (cfg.clientAuthMethod === 'none')
    problems.push({ path: `${at}.clientAuthMethod`, message: 'GitHub needs the client secret; use client_secret_post (default) or client_secret_basic' });
  if (cfg.userinfo) problems.push({ path: `${at}.userinfo`, message: 'GitHub has no userinfo endpoint; the profile always comes from its REST API' });
  if (cfg.idTokenSigningAlg) problems.push({ path: `${at}.idTokenSigningAlg`, message: 'GitHub issues no ID token' });
  const urls = githubUrls(cfg);
  for (const [key, value] of [
    ['enterpriseUrl', cfg.enterpriseUrl],
    ['authorizeUrl', urls.authorize],
    ['tokenUrl', urls.token],
    ['apiBaseUrl', urls.api],
  ] as const) {
    if (value?.startsWith('http:') && !ctx.allowInsecureRequests)
      problems.push({ path: `${at}.${key}`, message: 'must be https (http needs allowInsecureRequests, development only)' });
  }
  for (const k of Object.keys(cfg.authorizationParams ?? {})) {
    if ((gatewayOwnedParams as readonly string[]).includes(k))
      problems.push({ path: `${at}.authorizationParams.${k}`, message: 'is set by the gateway and cannot be overridden' });
  }
  return problems;
}

/** The `github` connector type (OAuth 2.0, github.com or GitHub Enterprise Server). */
export const githubConnector = defineConnectorType({
  type: 'github',
  schema: githubSchema,
  claims: () => githubClaims,
  validate: validateGithub,
  create: (cfg, ctx) => new GithubConnector(cfg, ctx),
});

export { GithubConnector, githubClaims } from './connector.js';
