import { z } from 'zod';
import { connectorBaseShape, httpUrl } from '../../lib/config/connector-base.js';

/** Keys of the `github` connector (GitHub and GitHub Enterprise Server OAuth apps; OAuth 2.0, not OIDC). */
export const githubSchema = z.strictObject({
  type: z.literal('github'),
  ...connectorBaseShape,
  enterpriseUrl: httpUrl
    .optional()
    .describe('GitHub Enterprise Server origin, e.g. https://github.example.com: endpoints {url}/login/oauth/..., API {url}/api/v3.'),
  authorizeUrl: httpUrl.optional().describe('Overrides the authorization endpoint (default https://github.com/login/oauth/authorize).'),
  tokenUrl: httpUrl.optional().describe('Overrides the token endpoint (default https://github.com/login/oauth/access_token).'),
  apiBaseUrl: httpUrl.optional().describe('Overrides the REST API base URL (default https://api.github.com).'),
  teams: z.boolean().optional().describe('Map the user\'s teams into `groups` as "org:team" (adds the read:org scope).'),
});

export type GithubConfig = z.infer<typeof githubSchema>;
