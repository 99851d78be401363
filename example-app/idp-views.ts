import type { DevUser, DevVendor } from './idp-accounts.js';
import { escapeHtml } from './html.js';

/** Content-Security-Policy of the IdP's own pages. No form-action: the login form's redirects end at the app. */
export function idpCsp(nonce?: string): string {
  return `default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; base-uri 'none'${nonce ? `; script-src 'nonce-${nonce}'` : ''}`;
}

const style = `
body{margin:0;font:16px/1.5 system-ui,sans-serif;color:#1d2433;background:#eef1f6}
.dev{background:#b42318;color:#fff;padding:.5rem 1rem;font-weight:600;text-align:center}
main{max-width:34rem;margin:2.5rem auto;background:#fff;border-radius:.6rem;box-shadow:0 2px 10px rgba(0,0,0,.08);padding:1.5rem 2rem}
h1{font-size:1.4rem;margin:.2rem 0 1rem}.muted{color:#5b6475;font-size:.9rem}
button.user{display:block;width:100%;text-align:left;margin:.5rem 0;padding:.7rem 1rem;border:1px solid #c8cfdb;border-radius:.5rem;background:#f8f9fc;font:inherit;cursor:pointer}
button.user:hover,button.user:focus{border-color:#2f5bd3;background:#eef3ff}
button.user.hint{border-color:#2f5bd3;box-shadow:0 0 0 2px #c9d7ff}
button.user small{display:block;color:#5b6475}
button.cancel{margin-top:1rem;background:none;border:0;color:#5b6475;text-decoration:underline;cursor:pointer;font:inherit}
code{background:#f1f3f8;padding:0 .25rem;border-radius:.2rem}table{border-collapse:collapse;width:100%}td{padding:.25rem .5rem;border-top:1px solid #e4e7ee;vertical-align:top}
`;

/** Wraps IdP content with the always-visible development banner. */
export function idpPage(title: string, body: string): string {
  return (
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">`
    + `<title>${escapeHtml(title)}</title><style>${style}</style></head><body>`
    + '<div class="dev" role="alert">DEVELOPMENT IDENTITY PROVIDER - test users, no passwords. Never use it for anything real.</div>'
    + `<main>${body}</main></body></html>`
  );
}

/** The login form: one button per test user of this vendor; `login_hint` highlights a match. */
export function loginPage(vendor: DevVendor, action: string, clientId: string, loginHint: string | undefined): string {
  const hint = loginHint?.toLowerCase();
  const buttons = vendor.users
    .map((u: DevUser) => {
      const email = String(u.claims.email ?? '');
      const suggested = hint !== undefined && hint === email.toLowerCase();
      return (
        `<button class="user${suggested ? ' hint' : ''}" type="submit" name="user" value="${escapeHtml(u.sub)}">`
        + `Sign in as <strong>${escapeHtml(u.label)}</strong>${suggested ? ' (login_hint)' : ''}<small>${escapeHtml(email)} · ${escapeHtml(u.summary)}</small></button>`
      );
    })
    .join('');
  return idpPage(
    `Sign in - ${vendor.title}`,
    `<p class="muted">${escapeHtml(vendor.title)} · imitates ${escapeHtml(vendor.imitates)}</p>`
      + `<h1>Sign in to ${escapeHtml(vendor.title)}</h1>`
      + `<p><code>${escapeHtml(clientId)}</code> asks you to sign in. Pick a test user:</p>`
      + `<form method="post" action="${escapeHtml(action)}">${buttons}`
      + '<button class="cancel" type="submit" name="cancel" value="1">Cancel (the app receives access_denied)</button></form>',
  );
}

/**
 * RP-initiated logout confirmation. A development IdP confirms by itself (one nonce-allowed
 * script submits the form) so the example's logout is one click; the button stays for no-JS.
 */
export function logoutPage(vendor: DevVendor, form: string, nonce: string): string {
  return idpPage(
    `Sign out - ${vendor.title}`,
    `<h1>Signing you out of ${escapeHtml(vendor.title)}…</h1>${form}`
      + '<input type="hidden" name="logout" value="yes" form="op.logoutForm">'
      + '<button class="user" type="submit" form="op.logoutForm">Sign out</button>'
      + `<script nonce="${nonce}">document.getElementById('op.logoutForm').submit();</script>`,
  );
}

/** Shown when a logout request came without a post_logout_redirect_uri. */
export function loggedOutPage(vendor: DevVendor): string {
  return idpPage('Signed out', `<h1>Signed out of ${escapeHtml(vendor.title)}</h1>`);
}

/** Error page: the error code and its description, escaped. */
export function errorPage(out: Record<string, unknown>): string {
  const rows = Object.entries(out)
    .map(([k, v]) => `<tr><td><code>${escapeHtml(k)}</code></td><td>${escapeHtml(v)}</td></tr>`)
    .join('');
  return idpPage('Identity provider error', `<h1>The identity provider refused the request</h1><table>${rows}</table>`);
}

/** `GET /` of the IdP: which issuers exist and who can sign in. */
export function indexPage(issuers: Array<{ vendor: DevVendor; issuer: string }>): string {
  const sections = issuers
    .map(
      ({ vendor, issuer }) =>
        `<h2>${escapeHtml(vendor.title)}</h2>`
        + `<p class="muted">Issuer <code>${escapeHtml(issuer)}</code>, imitates ${escapeHtml(vendor.imitates)}.</p><table>`
        + vendor.users
          .map((u) => `<tr><td>${escapeHtml(u.label)}</td><td><code>${escapeHtml(u.sub)}</code></td><td>${escapeHtml(u.summary)}</td></tr>`)
          .join('')
        + '</table>',
    )
    .join('');
  return idpPage('Development identity provider', `<h1>Development identity provider</h1>${sections}`);
}
