import type { ClaimMapping } from '../../lib/claims/schema.js';

const ms = 'http://schemas.microsoft.com/ws/2008/06/identity/claims';
const xs = 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims';
const entra = 'http://schemas.microsoft.com/identity/claims';

/**
 * SAML attribute names for the normalized profile, first present wins: ADFS / Entra ID claim URIs
 * (https://learn.microsoft.com/en-us/entra/identity-platform/reference-saml-tokens), eduPerson and
 * X.500 OIDs (https://wiki.refeds.org/display/STAN/eduPerson), then plain names (SimpleSAMLphp,
 * Shibboleth "basic" names). `sub` is the NameID (or `subjectAttribute`); `email_verified` comes only
 * from the connector's `emailVerified` setting, never from an attribute.
 */
export const samlClaims: ClaimMapping = {
  sub: 'sub',
  email: { from: [`${xs}/emailaddress`, 'urn:oid:0.9.2342.19200300.100.1.3', 'mail', 'email', 'emailaddress'] },
  email_verified: { from: 'email_verified', type: 'boolean', default: false },
  name: { from: [`${entra}/displayname`, `${xs}/name`, 'urn:oid:2.16.840.1.113730.3.1.241', 'displayName', 'cn', 'name'] },
  given_name: { from: [`${xs}/givenname`, 'urn:oid:2.5.4.42', 'givenName', 'given_name', 'firstName'] },
  family_name: { from: [`${xs}/surname`, 'urn:oid:2.5.4.4', 'sn', 'surname', 'family_name', 'lastName'] },
  username: { from: [`${xs}/upn`, 'urn:oid:1.3.6.1.4.1.5923.1.1.1.6', 'eduPersonPrincipalName', 'uid', 'urn:oid:0.9.2342.19200300.100.1.1', 'username'] },
  groups: {
    from: [`${ms}/groups`, 'http://schemas.xmlsoap.org/claims/Group', `${xs}/groups`, 'urn:oid:1.3.6.1.4.1.5923.1.5.1.1', 'isMemberOf', 'memberOf', 'groups'],
    type: 'string[]',
  },
  roles: { from: [`${ms}/role`, 'urn:oid:1.3.6.1.4.1.5923.1.1.1.7', 'eduPersonEntitlement', 'roles', 'role'], type: 'string[]' },
};
