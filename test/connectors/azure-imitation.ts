/**
 * Helpers for the Microsoft imitations (reference 11.3 Entra ID, 11.4 Azure AD B2C): several
 * oidc-provider instances behind one host, as Microsoft serves every tenant and policy from one
 * origin. Each extra instance runs on its own port; the main instance's Express app forwards its
 * paths there with the original `Host`, so oidc-provider builds every endpoint on the main host.
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { Request, RequestHandler, Response } from 'express';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { DEFAULT_CLIENT_ID, type Claims, type OpOptions } from '../fixtures/op.js';

/** A response header rewrite applied by {@link forwardTo} (e.g. dropping `iss` from redirects). */
export type LocationRewrite = (location: URL) => void;

/** Express handler forwarding the request as is to 127.0.0.1:`port` (path, method, headers, body). */
export function forwardTo(port: number, rewriteLocation?: () => LocationRewrite | undefined): RequestHandler {
  return (req: Request, res: Response) => {
    const upstream = httpRequest({ host: '127.0.0.1', port, method: req.method, path: req.originalUrl, headers: req.headers }, (answer) => {
      const headers: IncomingHttpHeaders = { ...answer.headers };
      const rewrite = rewriteLocation?.();
      if (rewrite && typeof headers.location === 'string') {
        const base = `http://${req.headers.host ?? '127.0.0.1'}`;
        const location = new URL(headers.location, base);
        rewrite(location);
        headers.location = location.href;
      }
      res.writeHead(answer.statusCode ?? 502, headers);
      answer.pipe(res);
    });
    upstream.on('error', () => {
      if (!res.headersSent) res.status(502).end();
      else res.destroy();
    });
    req.pipe(upstream);
  };
}

/** GETs JSON from this test host with a chosen `Host` header (undici's fetch cannot set one). */
export function getJson(port: number, path: string, host: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, headers: { host, accept: 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>);
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Serves `build(doc)` of the discovery document at `source` (same host) under another path. */
export function discoveryAlias(port: number, source: string, build: (doc: Record<string, unknown>) => Record<string, unknown>): RequestHandler {
  return (req: Request, res: Response) => {
    getJson(port, source, req.headers.host ?? `127.0.0.1:${port}`).then(
      (doc) => res.json(build(doc)),
      () => res.status(502).end(),
    );
  };
}

// ---------------------------------------------------------------------------------------------
// Entra ID tenants (reference 11.3)

/** Microsoft's endpoint layout under `/{tenant}` (the gateway reads it from discovery anyway). */
export const entraRoutes = {
  authorization: '/oauth2/v2.0/authorize',
  token: '/oauth2/v2.0/token',
  end_session: '/oauth2/v2.0/logout',
  jwks: '/discovery/v2.0/keys',
} as const;

/** Entra ID token claims of the fixture users in tenant `tid` (no `email_verified`, `email` only for the guest). */
export function entraAccounts(tid: string): Record<string, Claims> {
  return {
    alice: {
      oid: '0a11ce00-0000-4000-8000-000000000001',
      tid,
      ver: '2.0',
      name: 'Alice Example',
      given_name: 'Alice',
      family_name: 'Example',
      preferred_username: 'alice@contoso.example',
      roles: ['Reports.Read'],
      groups: ['9d1e6f00-0000-4000-8000-000000000101', '9d1e6f00-0000-4000-8000-000000000102'],
    },
    guest: {
      oid: '9e570000-0000-4000-8000-000000000002',
      tid,
      ver: '2.0',
      name: 'Gus Guest',
      preferred_username: 'gus@partner.example',
      // A guest's mailbox claim: "not guaranteed to be correct"; the claim even says verified.
      email: 'gus@partner.example',
      email_verified: true,
    },
    overage: {
      oid: '0fe40000-0000-4000-8000-000000000003',
      tid,
      ver: '2.0',
      name: 'Olive Overage',
      preferred_username: 'olive@contoso.example',
      _claim_names: { groups: 'src1' },
      // Upstream-controlled endpoint: the gateway must never call it.
      _claim_sources: { src1: { endpoint: 'http://127.0.0.1:9/never-called/getMemberObjects' } },
    },
  };
}

/**
 * `startOp` options for one Entra tenant: provider mounted at `/{tid}` with Microsoft's routes,
 * issuer `{origin}/{tid}/v2.0`, discovery also at `/{tid}/v2.0/.well-known/openid-configuration`,
 * and Microsoft's logout that takes `post_logout_redirect_uri` without `client_id`.
 * `issuerOrigin` makes a tenant on another port claim the shared host.
 */
export function entraOpOptions(tid: string, more: { issuerOrigin?: () => string; setup?: OpOptions['setup'] } = {}): OpOptions {
  return {
    mountPath: `/${tid}`,
    issuer: (origin) => `${more.issuerOrigin?.() ?? origin}/${tid}/v2.0`,
    routes: entraRoutes,
    claims: { profile: ['oid', 'tid', 'ver', 'roles', 'groups'] },
    accounts: entraAccounts(tid),
    offlineAccessForcesConsent: true,
    async setup(ctx) {
      const { op, provider, app } = ctx;
      app.get(
        `/${tid}/v2.0/.well-known/openid-configuration`,
        discoveryAlias(op.port, `/${tid}/.well-known/openid-configuration`, (d) => d),
      );
      const endSession = provider.pathFor('end_session', { mountPath: '' });
      provider.use(async (koa: KoaContextWithOIDC, next: () => Promise<void>) => {
        if (koa.method === 'GET' && koa.path === endSession && koa.query.post_logout_redirect_uri && !koa.query.client_id && !koa.query.id_token_hint) {
          // Microsoft matches post_logout_redirect_uri on its own; oidc-provider needs the client for it.
          koa.query = { ...koa.query, client_id: DEFAULT_CLIENT_ID };
        }
        await next();
      });
      return more.setup?.(ctx);
    },
  };
}
