import type { Auth } from 'fedgate';
import { escapeHtml, prettyJson } from './html.js';

/** What every page needs to know about the app around it. */
export interface PageContext {
  auth: Auth;
  /** `'redis'` or the loud in-memory development mode. */
  store: 'redis' | 'memory';
  basePath: string;
}

/** Served at /assets/app.css, so the CSP needs no 'unsafe-inline'. */
export const stylesheet = `
*{box-sizing:border-box}body{margin:0;font:16px/1.55 system-ui,sans-serif;color:#1b2230;background:#f6f7fb}
header{display:flex;flex-wrap:wrap;gap:1rem;align-items:center;padding:.8rem 1.5rem;background:#14213d;color:#fff}
header a{color:#fff;text-decoration:none}header .brand{font-weight:700;margin-right:1rem}header nav{display:flex;gap:1rem;flex:1}
header .who{display:flex;gap:.8rem;align-items:center;font-size:.9rem}header code{background:rgba(255,255,255,.16);color:#fff}
header form{margin:0}header button,.button{font:inherit;padding:.35rem .9rem;border-radius:.4rem;border:1px solid #9fb0d0;background:#fff;color:#14213d;cursor:pointer;text-decoration:none;display:inline-block}
.warn{background:#fff4ce;border-bottom:1px solid #e0c35c;padding:.5rem 1.5rem;font-size:.9rem}
main{max-width:60rem;margin:1.5rem auto;padding:0 1.5rem}
section{background:#fff;border:1px solid #e2e6ef;border-radius:.6rem;padding:1rem 1.4rem;margin:1rem 0}
h1{font-size:1.6rem}h2{font-size:1.15rem;margin-top:0}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3rem .6rem;border-top:1px solid #edf0f5;vertical-align:top}th{width:12rem;font-weight:600}
pre{background:#0f172a;color:#e2e8f0;padding:.8rem 1rem;border-radius:.4rem;overflow:auto;font-size:.85rem}
code{background:#eef1f7;padding:0 .25rem;border-radius:.2rem}.grid{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:1rem}
@media (max-width:50rem){.grid{grid-template-columns:1fr}}.muted{color:#5a6475}
`;

/** Served at /assets/profile.js: calls the API with the session cookie and shows the answer. */
export const profileScript = `
const button = document.getElementById('call-api');
const out = document.getElementById('api-result');
button.addEventListener('click', async () => {
  out.textContent = 'calling GET /api/reports ...';
  try {
    const res = await fetch('/api/reports', { headers: { Accept: 'application/json' }, credentials: 'same-origin' });
    const text = await res.text();
    let body = text;
    try { body = JSON.stringify(JSON.parse(text), null, 2); } catch {}
    out.textContent = res.status + ' ' + res.statusText + '\\n' + body;
    out.dataset.status = String(res.status);
  } catch (err) {
    out.textContent = 'request failed: ' + err;
  }
});
`;

function layout(ctx: PageContext, title: string, body: string, scripts: string[] = []): string {
  const { auth } = ctx;
  const name = typeof auth.claims.name === 'string' ? auth.claims.name : auth.sub;
  const who = auth.isAuthenticated
    ? `<span>Signed in as <strong>${escapeHtml(name)}</strong> via <code>${escapeHtml(auth.connector)}</code></span>`
      + `<form method="post" action="${escapeHtml(ctx.basePath)}/logout"><input type="hidden" name="returnTo" value="/"><button type="submit">Sign out</button></form>`
    : `<a class="button" href="${escapeHtml(ctx.basePath)}/login?returnTo=%2Fprofile">Sign in</a>`;
  const warn =
    ctx.store === 'memory'
      ? '<div class="warn" role="status"><strong>Development mode:</strong> sessions are kept in process memory (no Redis found). They vanish on restart. Set <code>REDIS_URL</code> or start a local Redis to use the real store.</div>'
      : '';
  return (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">'
    + `<title>${escapeHtml(title)} · fedgate example</title><link rel="stylesheet" href="/assets/app.css"></head><body>`
    + '<header><a class="brand" href="/">fedgate example</a><nav><a href="/">Home</a><a href="/profile">Profile</a><a href="/admin">Admin</a>'
    + `<a href="/api/reports">API</a></nav><div class="who">${who}</div></header>${warn}<main>${body}</main>`
    + scripts.map((s) => `<script src="${escapeHtml(s)}" defer></script>`).join('')
    + '</body></html>'
  );
}

/** The public home page. */
export function homePage(ctx: PageContext, connectors: Array<{ id: string; name: string }>): string {
  const list = connectors.map((c) => `<li><strong>${escapeHtml(c.name)}</strong> (<code>${escapeHtml(c.id)}</code>)</li>`).join('');
  const greeting = ctx.auth.isAuthenticated
    ? `<p>Hello ${escapeHtml(ctx.auth.claims.name ?? ctx.auth.sub)}. See your <a href="/profile">profile and tokens</a>.</p>`
    : `<p><a class="button" href="${escapeHtml(ctx.basePath)}/login?returnTo=%2Fprofile">Sign in</a></p>`;
  return layout(
    ctx,
    'Home',
    '<h1>fedgate example app</h1>'
      + '<p>This Express app signs users in through an upstream identity provider with fedgate, keeps the session server-side, '
      + 'and hands its routes one set of mapped claims and its own tokens.</p>'
      + `${greeting}<section><h2>Pages</h2><table>`
      + '<tr><th><a href="/">/</a></th><td>public</td></tr>'
      + '<tr><th><a href="/profile">/profile</a></th><td><code>requireAuth()</code>: any signed-in user</td></tr>'
      + '<tr><th><a href="/admin">/admin</a></th><td><code>requireAuth({ claims: { roles: \'admin\' } })</code></td></tr>'
      + '<tr><th><a href="/api/reports">/api/reports</a></th><td><code>requireAuth({ scope: \'reports:read\' })</code>: scope granted to role analyst</td></tr>'
      + '</table></section>'
      + `<section><h2>Upstream providers</h2><ul>${list}</ul>`
      + '<p class="muted">The bundled development IdP lists its test users on its login page: alice (analyst), bob (admin, analyst), '
      + 'carol (no roles); with the multi-provider config also dana and erik at the Auth0-style tenant (<code>@acme.test</code>).</p></section>',
  );
}

function decodeJwt(token: string | undefined): { header: unknown; payload: unknown } | undefined {
  if (!token) return undefined;
  const [h, p] = token.split('.');
  try {
    return { header: JSON.parse(Buffer.from(h ?? '', 'base64url').toString('utf8')), payload: JSON.parse(Buffer.from(p ?? '', 'base64url').toString('utf8')) };
  } catch {
    return undefined;
  }
}

function tokenSection(title: string, id: string, token: string | undefined, note: string): string {
  const decoded = decodeJwt(token);
  if (!decoded) return `<section><h2>${escapeHtml(title)}</h2><p>none</p></section>`;
  return (
    `<section id="${id}"><h2>${escapeHtml(title)}</h2><p class="muted">${note}</p><div class="grid">`
    + `<div><h3>header</h3><pre class="jwt-header">${prettyJson(decoded.header)}</pre></div>`
    + `<div><h3>payload</h3><pre class="jwt-payload">${prettyJson(decoded.payload)}</pre></div></div></section>`
  );
}

/** The protected page: mapped claims, scopes, the decoded local tokens, and the API call. */
export function profilePage(ctx: PageContext, appUrl: string): string {
  const { auth } = ctx;
  const rows = Object.entries(auth.claims)
    .map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td><code>${escapeHtml(JSON.stringify(v))}</code></td></tr>`)
    .join('');
  const curl = `curl -H "Authorization: Bearer ${auth.accessToken ?? ''}" ${appUrl}/api/reports`;
  return layout(
    ctx,
    'Profile',
    '<h1>Your profile</h1>'
      + `<section id="claims"><h2>Mapped claims (<code>req.auth.claims</code>)</h2><table>${rows}</table>`
      + `<p>Local subject <code id="sub">${escapeHtml(auth.sub)}</code> · connector <code>${escapeHtml(auth.connector)}</code>`
      + ` · scopes <code id="scopes">${escapeHtml(auth.scope.join(' ') || '(none)')}</code> · via <code>${escapeHtml(auth.via)}</code></p></section>`
      + `<section id="api"><h2>Call the API</h2><p><code>GET /api/reports</code> needs scope <code>reports:read</code>. `
      + 'The button calls it with your session cookie; from a terminal, use the local access token as a Bearer token.</p>'
      + '<p><button type="button" id="call-api" class="button">Call GET /api/reports</button></p><pre id="api-result">(not called yet)</pre>'
      + `<details><summary>curl with the access token (valid a few minutes)</summary><pre>${escapeHtml(curl)}</pre></details></section>`
      + tokenSection(
        'Local ID token',
        'id-token',
        auth.idToken,
        'Signed by fedgate, <code>typ: JWT</code>, audience <code>fedgate</code>: identity only, never accepted by APIs.',
      )
      + tokenSection(
        'Local access token',
        'access-token',
        auth.accessToken,
        'RFC 9068 <code>typ: at+jwt</code>: <code>sub</code>, scopes, roles and groups; what APIs accept. Verify it with <code>/auth/jwks.json</code>.',
      ),
    ['/assets/profile.js'],
  );
}

/** The admin page (role admin): the gateway's readiness report. */
export function adminPage(ctx: PageContext, health: unknown): string {
  return layout(
    ctx,
    'Admin',
    '<h1>Admin area</h1><p>Only users whose mapped <code>roles</code> include <code>admin</code> get here.</p>'
      + `<section><h2>Gateway health (<code>gateway.health()</code>)</h2><pre>${prettyJson(health)}</pre></section>`,
  );
}

/** 404. */
export function notFoundPage(ctx: PageContext): string {
  return layout(ctx, 'Not found', '<h1>Not found</h1><p><a href="/">Home</a></p>');
}
