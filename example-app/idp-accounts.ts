/**
 * Test users of the bundled development identity provider. Two "vendors" are served by the
 * same process, each under its own issuer path and with its own claim shape, so the example
 * can show how one fedgate mapping per connector yields one local profile.
 */

/** A test user: its upstream subject and the claims the IdP releases about it. */
export interface DevUser {
  /** Upstream `sub` (the IdP account id). */
  sub: string;
  /** Short label on the login form. */
  label: string;
  /** What is special about this user, shown on the login form. */
  summary: string;
  claims: Record<string, unknown>;
}

/** One simulated identity provider product. */
export interface DevVendor {
  /** Path segment of the issuer: `http://127.0.0.1:4000/<id>`. */
  id: 'corp' | 'acme';
  title: string;
  /** Which real product's claim shape this imitates. */
  imitates: string;
  /** oidc-provider `claims`: which claims each scope releases. */
  claimsByScope: Record<string, string[]>;
  users: DevUser[];
}

const standardProfile = ['name', 'given_name', 'family_name', 'nickname', 'preferred_username', 'picture', 'updated_at'];

/** Generic OpenID Connect shape: `preferred_username`, plain `roles` and `groups` claims behind their own scopes. */
const corp: DevVendor = {
  id: 'corp',
  title: 'Example Corp SSO',
  imitates: 'a generic OpenID Connect provider (roles and groups as plain claims, Keycloak/Okta style)',
  claimsByScope: {
    openid: ['sub'],
    profile: standardProfile,
    email: ['email', 'email_verified'],
    roles: ['roles'],
    groups: ['groups'],
  },
  users: [
    {
      sub: 'alice',
      label: 'Alice Liddell',
      summary: 'role analyst · group engineering',
      claims: {
        name: 'Alice Liddell',
        given_name: 'Alice',
        family_name: 'Liddell',
        preferred_username: 'alice',
        email: 'alice@example.com',
        email_verified: true,
        roles: ['analyst'],
        groups: ['engineering'],
      },
    },
    {
      sub: 'bob',
      label: 'Bob Marley',
      summary: 'roles admin, analyst · groups engineering, operations',
      claims: {
        name: 'Bob Marley',
        given_name: 'Bob',
        family_name: 'Marley',
        preferred_username: 'bob',
        email: 'bob@example.com',
        email_verified: true,
        roles: ['admin', 'analyst'],
        groups: ['engineering', 'operations'],
      },
    },
    {
      sub: 'carol',
      label: 'Carol Shaw',
      summary: 'no roles · group sales · e-mail not verified',
      claims: {
        name: 'Carol Shaw',
        given_name: 'Carol',
        family_name: 'Shaw',
        preferred_username: 'carol',
        email: 'carol@example.com',
        email_verified: false,
        groups: ['sales'],
      },
    },
  ],
};

/**
 * Auth0 shape: `auth0|…` subjects, `nickname` instead of `preferred_username`, and roles and
 * groups as namespaced custom claims added to every ID token (the way an Auth0 Action does).
 */
const acme: DevVendor = {
  id: 'acme',
  title: 'Acme Inc. (Auth0-style tenant)',
  imitates: 'Auth0 (namespaced custom claims https://acme.test/roles, capitalised role names)',
  claimsByScope: {
    openid: ['sub', 'https://acme.test/roles', 'https://acme.test/groups'],
    profile: standardProfile,
    email: ['email', 'email_verified'],
  },
  users: [
    {
      sub: 'auth0|65f0c0ffee0000000000d0a1',
      label: 'Dana Reyes',
      summary: 'role Analyst · group Research',
      claims: {
        name: 'Dana Reyes',
        given_name: 'Dana',
        family_name: 'Reyes',
        nickname: 'dana',
        email: 'dana@acme.test',
        email_verified: true,
        'https://acme.test/roles': ['Analyst'],
        'https://acme.test/groups': ['Research'],
      },
    },
    {
      sub: 'auth0|65f0c0ffee0000000000e21c',
      label: 'Erik Olsen',
      summary: 'roles Admin, Analyst · group Platform',
      claims: {
        name: 'Erik Olsen',
        given_name: 'Erik',
        family_name: 'Olsen',
        nickname: 'erik',
        email: 'erik@acme.test',
        email_verified: true,
        'https://acme.test/roles': ['Admin', 'Analyst'],
        'https://acme.test/groups': ['Platform'],
      },
    },
  ],
};

/** Every vendor the development IdP serves. */
export const devVendors: readonly DevVendor[] = [corp, acme];
