import { z } from 'zod';
import { connectorBaseShape, httpDocumentUrl, httpUrl } from '../../lib/config/connector-base.js';

const pemOrBase64 = z.string().min(32).max(16_384);
const filePath = z.string().min(1).max(1024);

/** Keys of the `saml` connector (SAML 2.0 Web Browser SSO, SP side). */
export const samlSchema = z.strictObject({
  type: z.literal('saml'),
  id: connectorBaseShape.id,
  name: connectorBaseShape.name,
  claims: connectorBaseShape.claims,
  logout: connectorBaseShape.logout,
  domains: connectorBaseShape.domains,
  metadataUrl: httpDocumentUrl.optional().describe("URL of the IdP's SAML metadata (fetched with size cap and timeout, cached, refreshed)."),
  metadata: z.string().min(1).max(1_048_576).optional().describe("The IdP's SAML metadata: inline XML, or a file path (relative to the config file)."),
  metadataRefresh: z.number().int().min(60).max(604_800).optional().describe('Seconds between metadata refreshes of `metadataUrl`. Default 3600.'),
  entryPoint: httpUrl.optional().describe("The IdP's SingleSignOnService URL (HTTP-Redirect), when no metadata is used."),
  logoutUrl: httpUrl.optional().describe("The IdP's SingleLogoutService URL (HTTP-Redirect), when no metadata is used."),
  idpCert: z
    .union([pemOrBase64, z.array(pemOrBase64).min(1).max(8)])
    .optional()
    .describe("The IdP's signing certificate (PEM or base64 body); an array during rotation. Overrides the metadata's."),
  idpIssuer: z.string().min(1).max(1024).optional().describe("The IdP's entity id; required with `entryPoint`, picks the entity from multi-entity metadata."),
  spEntityId: z.string().min(1).max(1024).optional().describe("This SP's entity id. Default {baseUrl}{basePath}/saml/{id}."),
  nameIdFormat: z
    .string()
    .min(1)
    .max(256)
    .optional()
    .describe('NameID format requested and declared first. Default urn:oasis:names:tc:SAML:2.0:nameid-format:persistent.'),
  subjectAttribute: z.string().min(1).max(256).optional().describe('Attribute (by Name) used as the subject instead of the NameID.'),
  spKeyFile: filePath.optional().describe('PEM private key of this SP: signs AuthnRequests and LogoutRequests, decrypts encrypted assertions.'),
  spCertFile: filePath.optional().describe('PEM certificate of `spKeyFile`, published in the SP metadata.'),
  signRequests: z.boolean().optional().describe('Sign AuthnRequests and LogoutRequests (needs spKeyFile and spCertFile). Default true when both are set.'),
  requireEncryptedAssertions: z.boolean().optional().describe('Refuse assertions that are not encrypted (needs spKeyFile). Default false.'),
  wantAssertionsSigned: z.boolean().optional().describe('Require a signature on the assertion itself. Default true; false needs wantResponseSigned.'),
  wantResponseSigned: z.boolean().optional().describe('Require a signature on the whole Response. Default false.'),
  allowSha1: z.boolean().optional().describe('Accept SHA-1 signatures and digests (legacy IdPs only). Default false.'),
  allowUnsolicited: z.boolean().optional().describe('Accept IdP-initiated (unsolicited) responses. Default false.'),
  clockSkew: z.number().int().min(0).max(300).optional().describe('Seconds of clock difference tolerated on NotBefore/NotOnOrAfter. Default 60.'),
  forceAuthn: z.boolean().optional().describe('Ask the IdP to authenticate the user again (ForceAuthn).'),
  emailVerified: z.boolean().optional().describe("Whether the IdP's e-mail addresses count as verified (`email_verified`). Default false."),
  postLogoutRedirectUri: httpUrl.optional().describe('Where the browser goes after the IdP answered a logout. Default {baseUrl}/.'),
});

/** A validated `saml` connector entry. */
export type SamlConfig = z.infer<typeof samlSchema>;
