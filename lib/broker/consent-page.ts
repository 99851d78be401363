import { escapeHtml, page } from '../http/respond.js';
import type { ScopeClaims } from './claims-filter.js';

/** Plain-language descriptions of the standard scopes. */
const scopeDescriptions: Readonly<Record<string, string>> = {
  openid: 'Know who you are (a stable identifier)',
  profile: 'Your profile: name and picture',
  email: 'Your e-mail address',
  offline_access: 'Stay connected while you are away (refresh tokens)',
};

export interface ConsentView {
  clientName: string;
  /** OIDC scopes asked for (and not yet granted). */
  scopes: readonly string[];
  /** Resource scopes asked for, by resource (API) identifier. */
  resourceScopes: Readonly<Record<string, readonly string[]>>;
  /** Where the form posts: the interaction URL. */
  action: string;
  formToken: string;
  /** Who is signed in, shown so a user on a shared device notices the wrong account. */
  signedInAs?: string;
}

function scopeItem(scope: string, table: ScopeClaims): string {
  const description = scopeDescriptions[scope] ?? `Access to “${scope}”`;
  const claims = (table[scope] ?? []).filter((c) => c !== 'sub');
  const detail = claims.length ? ` <span class="claims">(${claims.map((c) => `<code>${escapeHtml(c)}</code>`).join(', ')})</span>` : '';
  return `<li>${escapeHtml(description)}${detail}</li>`;
}

/**
 * The consent page: which application asks, what it will receive, approve or deny. Every value
 * is escaped; the form carries the interaction's one-time token and posts to the interaction URL.
 */
export function renderConsentPage(view: ConsentView, table: ScopeClaims): string {
  const items = view.scopes.map((s) => scopeItem(s, table));
  for (const [resource, scopes] of Object.entries(view.resourceScopes)) {
    for (const s of scopes) items.push(`<li>Use the API <code>${escapeHtml(resource)}</code> with the permission <code>${escapeHtml(s)}</code></li>`);
  }
  const who = view.signedInAs ? `<p>Signed in as <strong>${escapeHtml(view.signedInAs)}</strong>.</p>` : '';
  return page(`Allow ${view.clientName}?`, `<h1 id="consent-title">Allow <strong>${escapeHtml(view.clientName)}</strong> to access your account?</h1>${who}`
    + `<section aria-labelledby="consent-list"><h2 id="consent-list">${escapeHtml(view.clientName)} is asking to:</h2><ul>${items.join('')}</ul></section>`
    + `<form method="post" action="${escapeHtml(view.action)}" aria-labelledby="consent-title">`
    + `<input type="hidden" name="form_token" value="${escapeHtml(view.formToken)}">`
    + '<button type="submit" name="decision" value="approve">Allow</button>'
    + '<button type="submit" name="decision" value="deny">Deny</button></form>'
    + '<p>You can withdraw this later on the page listing the applications you allowed.</p>');
}
