import { pageBase, renderView, type ConsentPermission, type PageKit } from '../http/page.js';
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

function permissionsOf(view: ConsentView, table: ScopeClaims): ConsentPermission[] {
  const out: ConsentPermission[] = view.scopes.map((scope) => ({
    scope,
    description: scopeDescriptions[scope] ?? `Access to “${scope}”`,
    claims: (table[scope] ?? []).filter((c) => c !== 'sub'),
  }));
  for (const [resource, scopes] of Object.entries(view.resourceScopes)) {
    for (const scope of scopes) out.push({ scope, resource, description: `Use the API ${resource} with the permission ${scope}`, claims: [] });
  }
  return out;
}

/**
 * The consent page: which application asks, what it will receive, approve or deny (the app's
 * `views.consent` when set). Every value is escaped; the form carries the interaction's
 * one-time token and posts to the interaction URL.
 */
export function renderConsentPage(view: ConsentView, table: ScopeClaims, kit?: PageKit): string {
  return renderView(kit, 'consent', {
    ...pageBase(kit),
    clientName: view.clientName,
    permissions: permissionsOf(view, table),
    ...(view.signedInAs !== undefined ? { signedInAs: view.signedInAs } : {}),
    form: { method: 'post', action: view.action, fields: { form_token: view.formToken } },
    decision: { name: 'decision', approve: 'approve', deny: 'deny' },
  });
}
