import { certBody } from './idp.js';

const esc = (v: string) => v.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** What the SP metadata publishes. */
export interface SpMetadataInput {
  entityId: string;
  acsUrl: string;
  sloUrl: string;
  nameIdFormat: string;
  wantAssertionsSigned: boolean;
  /** PEM; published for signing when requests are signed, for encryption when a key is set. */
  signingCert?: string;
  encryptionCert?: string;
}

const formats = [
  'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
  'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
  'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified',
];

/**
 * SP metadata (SAML 2.0 metadata §2.4.4): the ACS (HTTP-POST), the SLO endpoint (HTTP-Redirect and
 * HTTP-POST), the requested NameID format first, and the certificates in use.
 */
export function spMetadataXml(m: SpMetadataInput): string {
  const key = (use: string, pem: string) =>
    `<md:KeyDescriptor use="${use}"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${esc(certBody(pem))}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`;
  const nameIds = [m.nameIdFormat, ...formats.filter((f) => f !== m.nameIdFormat)].map((f) => `<md:NameIDFormat>${esc(f)}</md:NameIDFormat>`).join('');
  return (
    '<?xml version="1.0" encoding="UTF-8"?>'
    + `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="${esc(m.entityId)}">`
    + `<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" AuthnRequestsSigned="${m.signingCert ? 'true' : 'false'}" WantAssertionsSigned="${m.wantAssertionsSigned ? 'true' : 'false'}">`
    + (m.signingCert ? key('signing', m.signingCert) : '')
    + (m.encryptionCert ? key('encryption', m.encryptionCert) : '')
    + `<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="${esc(m.sloUrl)}"/>`
    + `<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="${esc(m.sloUrl)}"/>`
    + nameIds
    + `<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="${esc(m.acsUrl)}" index="0" isDefault="true"/>`
    + '</md:SPSSODescriptor></md:EntityDescriptor>'
  );
}
