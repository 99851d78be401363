import { createHash } from 'node:crypto';
import { inflateRawSync } from 'node:zlib';
import type { Profile } from '@node-saml/node-saml';
import type { ConnectorStore, EndpointRequest, EndpointResponse } from '../../lib/connector.js';
import { FedgateError } from '../../lib/errors.js';
import { sanitizeParam } from '../common/errors.js';
import type { SamlConnector } from './connector.js';
import { samlSessionKey } from './session-key.js';
import { checkAlgorithms, maxSamlXmlBytes } from './response.js';
import type { SamlConfig } from './schema.js';
import { attr, child, parseXml } from './xml.js';

/** What the SLO endpoint needs from its connector. */
export interface SloDeps {
  cfg: SamlConfig;
  store?: ConnectorStore | undefined;
  now: () => number;
  postLogoutRedirectUri: string;
}

const sha1SigAlg = 'http://www.w3.org/2000/09/xmldsig#rsa-sha1';
const redirectSigAlgs = new Set(['http://www.w3.org/2001/04/xmldsig-more#rsa-sha256', 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512']);
/** A LogoutRequest older than this (by IssueInstant) is refused; IDs are remembered a little longer. */
const maxLogoutAgeMs = 10 * 60 * 1000;

const bad = (detail: string) => new FedgateError('SAML_LOGOUT_INVALID', 'The sign-out request was refused.', { detail });

/**
 * {basePath}/saml/:id/slo (SAML 2.0 profiles §4.4): an IdP's LogoutRequest (HTTP-Redirect or
 * HTTP-POST, signature required) ends the sessions of that NameID and SessionIndex server-side,
 * then the browser returns to the IdP with a LogoutResponse; the IdP's LogoutResponse to our own
 * LogoutRequest ends at `postLogoutRedirectUri`.
 */
export async function handleSlo(connector: SamlConnector, input: EndpointRequest, deps: SloDeps): Promise<EndpointResponse> {
  const params = input.method === 'POST' ? (input.form ?? new URLSearchParams()) : input.query;
  const one = (name: string) => {
    const all = params.getAll(name);
    if (all.length > 1) throw bad(`${name} repeated`);
    return all[0];
  };
  const request = one('SAMLRequest');
  const response = one('SAMLResponse');
  if (!request === !response) throw bad('exactly one of SAMLRequest and SAMLResponse is needed');
  const redirect = input.method === 'GET';
  const xml = decode(request ?? response!, redirect);
  const doc = await parseXml(xml, 'SAML_LOGOUT_INVALID');
  const root = child(doc, request ? 'LogoutRequest' : 'LogoutResponse');
  if (!root || Object.keys(doc).length !== 1) throw bad('unexpected message type');
  if (attr(root, 'Destination') !== connector.urls.slo) throw bad('Destination is not this SLO URL');
  checkAlgorithms(doc, deps.cfg.allowSha1 ?? false, bad);
  if (redirect) {
    const sigAlg = one('SigAlg');
    if (request && (!one('Signature') || !sigAlg)) throw bad('LogoutRequest is not signed');
    if (sigAlg && !redirectSigAlgs.has(sigAlg) && !(deps.cfg.allowSha1 && sigAlg === sha1SigAlg)) throw bad(`SigAlg refused: ${sanitizeParam(sigAlg, 80)}`);
  }
  const idp = await connector.idp();
  const saml = connector.nodeSaml(idp);
  let profile: Profile | null;
  try {
    const container = Object.fromEntries([...params.entries()]);
    // POST binding: a LogoutRequest or LogoutResponse must carry an enveloped signature (node-saml checks it).
    const result = redirect
      ? await saml.validateRedirectAsync(container, input.rawQuery)
      : request
        ? await saml.validatePostRequestAsync(container)
        : await saml.validatePostResponseAsync(container);
    profile = result.profile;
  } catch (err) {
    const message = err instanceof Error ? sanitizeParam(err.message, 160) : 'invalid';
    throw /signature/i.test(message)
      ? new FedgateError('SAML_SIGNATURE_INVALID', 'The sign-out request is not signed as required.', { detail: `slo: ${message}` })
      : bad(`slo: ${message}`);
  }
  if (response || !profile) return { kind: 'redirect', location: deps.postLogoutRedirectUri };
  await rememberRequest(deps, attr(root, 'IssueInstant'), profile);
  const endSessions = profile.sessionIndex
    ? [{ upstreamSid: samlSessionKey(profile.nameID, profile.sessionIndex) }]
    : deps.cfg.subjectAttribute
      ? []
      : [{ upstreamSub: profile.nameID }];
  if (!idp.sloUrl) {
    return { kind: 'document', status: 200, contentType: 'text/plain; charset=utf-8', body: 'Signed out.', endSessions };
  }
  const location = await saml.getLogoutResponseUrlAsync(profile, one('RelayState') ?? '', {}, true);
  return { kind: 'redirect', location, endSessions };
}

function decode(b64: string, inflate: boolean): string {
  if (b64.length > (maxSamlXmlBytes * 4) / 3 + 4 || !/^[A-Za-z0-9+/=\s]+$/.test(b64)) throw bad('message not base64 or too large');
  const raw = Buffer.from(b64, 'base64');
  try {
    // HTTP-Redirect: DEFLATE (bindings §3.4.4.1); the output is capped against decompression bombs.
    return (inflate ? inflateRawSync(raw, { maxOutputLength: maxSamlXmlBytes }) : raw).toString('utf8');
  } catch {
    throw bad('message could not be inflated');
  }
}

/** A LogoutRequest is used once and only while fresh. */
async function rememberRequest(deps: SloDeps, issueInstant: string | undefined, profile: Profile): Promise<void> {
  const at = Date.parse(issueInstant ?? '');
  const skew = (deps.cfg.clockSkew ?? 60) * 1000;
  const now = deps.now();
  if (!Number.isFinite(at) || at > now + skew || at < now - maxLogoutAgeMs - skew) throw bad('IssueInstant missing or outside the accepted window');
  if (!deps.store || !profile.ID) throw bad('LogoutRequest cannot be checked for replay');
  const key = `slo:${createHash('sha256')
    .update(`${profile.issuer}\n${String(profile.ID)}`)
    .digest('base64url')}`;
  if (!(await deps.store.setIfAbsent(key, '1', Math.ceil((maxLogoutAgeMs + 2 * skew) / 1000)))) throw bad('LogoutRequest replayed');
}
