import { defineConnectorType } from '../../lib/connector.js';
import type { ConfigProblem } from '../../lib/errors.js';
import { SamlConnector } from './connector.js';
import { samlClaims } from './preset.js';
import { samlSchema, type SamlConfig } from './schema.js';

function validateSaml(cfg: SamlConfig, at: string, ctx: { allowInsecureRequests: boolean }): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const sources = [cfg.metadataUrl, cfg.metadata, cfg.entryPoint].filter((v) => v !== undefined).length;
  if (sources === 0)
    problems.push({ path: `${at}.metadataUrl`, message: 'required: the IdP comes from metadataUrl, metadata, or entryPoint with idpCert and idpIssuer' });
  if (cfg.metadataUrl && cfg.metadata) problems.push({ path: `${at}.metadata`, message: 'cannot be combined with metadataUrl' });
  if (cfg.entryPoint && !cfg.metadataUrl && !cfg.metadata) {
    if (!cfg.idpCert) problems.push({ path: `${at}.idpCert`, message: 'required with entryPoint (no metadata to take the certificate from)' });
    if (!cfg.idpIssuer) problems.push({ path: `${at}.idpIssuer`, message: 'required with entryPoint (the issuer every response must name)' });
  }
  for (const key of ['metadataUrl', 'entryPoint', 'logoutUrl'] as const) {
    if (cfg[key]?.startsWith('http:') && !ctx.allowInsecureRequests)
      problems.push({ path: `${at}.${key}`, message: 'must be https (http needs allowInsecureRequests, development only)' });
  }
  if (Boolean(cfg.spKeyFile) !== Boolean(cfg.spCertFile))
    problems.push({ path: `${at}.${cfg.spKeyFile ? 'spCertFile' : 'spKeyFile'}`, message: 'spKeyFile and spCertFile go together' });
  if (cfg.signRequests && !cfg.spKeyFile) problems.push({ path: `${at}.signRequests`, message: 'needs spKeyFile and spCertFile' });
  if (cfg.requireEncryptedAssertions && !cfg.spKeyFile)
    problems.push({ path: `${at}.requireEncryptedAssertions`, message: 'needs spKeyFile (the key that decrypts)' });
  if (cfg.wantAssertionsSigned === false && cfg.wantResponseSigned !== true)
    problems.push({ path: `${at}.wantAssertionsSigned`, message: 'false needs wantResponseSigned: true (something must be signed)' });
  return problems;
}

/** The `saml` connector type (SAML 2.0 SP: HTTP-Redirect AuthnRequest, HTTP-POST Response). */
export const samlConnector = defineConnectorType({
  type: 'saml',
  schema: samlSchema,
  claims: () => samlClaims,
  validate: validateSaml,
  create: (cfg, ctx) => new SamlConnector(cfg, ctx),
});

export { SamlConnector } from './connector.js';
export { samlSessionKey } from './session-key.js';
export { samlClaims } from './preset.js';
export { parseIdpMetadata } from './idp.js';
