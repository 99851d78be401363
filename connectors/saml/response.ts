import { SAML, SamlStatusError, ValidateInResponseTo, type Profile } from '@node-saml/node-saml';
import { FedgateError } from '../../lib/errors.js';
import { sanitizeParam } from '../common/errors.js';
import { attr, child, children, countElements, decryptXml, findAll, parseXml, textOnly, type XmlNode } from './xml.js';

/** What a validated assertion yields; everything here was covered by a verified signature. */
export interface ValidatedAssertion {
  assertionId: string;
  issuer: string;
  nameId: string;
  nameIdFormat?: string;
  nameQualifier?: string;
  spNameQualifier?: string;
  sessionIndex?: string;
  /** From the signed SubjectConfirmationData; undefined for an unsolicited response. */
  inResponseTo?: string;
  /** Epoch ms until which the assertion may be used (replay memory lasts this long). */
  expiresAt: number;
  authnInstant?: number;
  attributes: Record<string, string | string[]>;
}

/** What a Response is checked against: this SP, its IdP, and the connector's settings. */
export interface ResponseCheck {
  acsUrl: string;
  spEntityId: string;
  idpEntityId: string;
  certs: string[];
  wantAssertionsSigned: boolean;
  wantResponseSigned: boolean;
  allowSha1: boolean;
  requireEncrypted: boolean;
  decryptionKey?: string;
  clockSkewMs: number;
  now: number;
}

/** Decoded SAML messages larger than this are refused (real ones, encrypted and with many groups, stay far below). */
export const maxSamlXmlBytes = 128 * 1024;
const bearer = 'urn:oasis:names:tc:SAML:2.0:cm:bearer';
const success = 'urn:oasis:names:tc:SAML:2.0:status:Success';
/** XML-DSig algorithms (https://www.w3.org/TR/xmldsig-core1/, RFC 6931); SHA-1 ones only with allowSha1. */
const sha1Algs = new Set(['http://www.w3.org/2000/09/xmldsig#rsa-sha1', 'http://www.w3.org/2000/09/xmldsig#sha1']);
const strongAlgs = new Set([
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512',
  'http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1',
  'http://www.w3.org/2001/04/xmlenc#sha256',
  'http://www.w3.org/2001/04/xmlenc#sha512',
]);

/**
 * XML Encryption algorithms accepted for assertions (https://www.w3.org/TR/xmlenc-core1/): RSA-OAEP
 * key transport only (RSA PKCS#1 v1.5 invites Bleichenbacher-style oracles), AES-GCM or AES-CBC
 * content (ADFS and Entra ID still default to CBC); 3DES is refused.
 */
const encryptionAlgs = new Set([
  'http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p',
  'http://www.w3.org/2009/xmlenc11#rsa-oaep',
  'http://www.w3.org/2009/xmlenc11#aes128-gcm',
  'http://www.w3.org/2009/xmlenc11#aes256-gcm',
  'http://www.w3.org/2001/04/xmlenc#aes128-cbc',
  'http://www.w3.org/2001/04/xmlenc#aes256-cbc',
]);

const invalid = (detail: string, message = "The identity provider's response was refused.") => new FedgateError('SAML_RESPONSE_INVALID', message, { detail });
const badSignature = (detail: string) => new FedgateError('SAML_SIGNATURE_INVALID', "The identity provider's response is not signed as required.", { detail });

/** Decodes the base64 `SAMLResponse` form field with a size cap. */
export function decodeMessage(b64: string): string {
  if (b64.length > (maxSamlXmlBytes * 4) / 3 + 4 || !/^[A-Za-z0-9+/=\s]+$/.test(b64)) throw invalid('SAMLResponse not base64 or too large');
  const xml = Buffer.from(b64, 'base64').toString('utf8');
  if (xml.length === 0) throw invalid('SAMLResponse empty');
  return xml;
}

/** Only the configured algorithms may appear in any Signature of the message. */
export function checkAlgorithms(doc: XmlNode, allowSha1: boolean, onBad: (detail: string) => FedgateError = badSignature): void {
  for (const sig of findAll(doc, 'Signature')) {
    const info = child(sig, 'SignedInfo');
    const algs = [attr(child(info, 'SignatureMethod'), 'Algorithm'), ...children(info, 'Reference').map((r) => attr(child(r, 'DigestMethod'), 'Algorithm'))];
    for (const alg of algs) {
      if (alg && strongAlgs.has(alg)) continue;
      if (alg && allowSha1 && sha1Algs.has(alg)) continue;
      throw onBad(`signature algorithm refused: ${sanitizeParam(alg ?? 'none', 80)}`);
    }
  }
}

/**
 * Structure checks on the whole (unverified) message before node-saml verifies it: one Response,
 * exactly one assertion anywhere in it (wrapping attacks hide a second one in Extensions, Object or
 * Advice), the exact ACS URL as Destination, a success status, the algorithms.
 */
async function checkEnvelope(xml: string, c: ResponseCheck): Promise<{ inResponseTo?: string; encrypted: boolean }> {
  const doc = await parseXml(xml, 'SAML_RESPONSE_INVALID');
  const keys = Object.keys(doc);
  const response = child(doc, 'Response');
  if (keys.length !== 1 || !response) throw invalid('root element is not a Response');
  if (attr(response, 'Version') !== '2.0') throw invalid('Response Version is not 2.0');
  const status = attr(child(child(response, 'Status'), 'StatusCode'), 'Value');
  if (status !== success) {
    const sub = attr(child(child(child(response, 'Status'), 'StatusCode'), 'StatusCode'), 'Value');
    const short = (v: string | undefined) => sanitizeParam((v ?? 'unknown').replace(/^.*:/, ''), 40);
    throw new FedgateError(
      'UPSTREAM_AUTHORIZATION_ERROR',
      `The identity provider did not complete the sign-in (${short(status)}${sub ? `/${short(sub)}` : ''}).`,
    );
  }
  if (attr(response, 'Destination') !== c.acsUrl) throw invalid('Response Destination is not this ACS URL');
  const issuer = child(response, 'Issuer');
  if (issuer && textOnly(issuer)?.trim() !== c.idpEntityId) throw invalid('Response Issuer is not the configured IdP');
  const plain = countElements(doc, ['Assertion']);
  const encrypted = countElements(doc, ['EncryptedAssertion']);
  if (plain + encrypted !== 1 || children(response, 'Assertion').length + children(response, 'EncryptedAssertion').length !== 1) {
    throw badSignature(`expected exactly one assertion, directly in the Response (found ${plain} plain, ${encrypted} encrypted)`);
  }
  if (encrypted && !c.decryptionKey) throw invalid('encrypted assertion but no spKeyFile');
  if (!encrypted && c.requireEncrypted) throw invalid('assertion not encrypted (requireEncryptedAssertions)');
  checkAlgorithms(doc, c.allowSha1);
  if (encrypted) {
    for (const m of findAll(child(response, 'EncryptedAssertion'), 'EncryptionMethod')) {
      const alg = attr(m, 'Algorithm');
      if (!alg || !encryptionAlgs.has(alg)) throw invalid(`encryption algorithm refused: ${sanitizeParam(alg ?? 'none', 80)}`);
    }
    // The algorithms of a signature inside the encrypted assertion are checked on the plaintext.
    const plainXml = await decrypt(xml, c.decryptionKey!);
    const inner = await parseXml(plainXml, 'SAML_RESPONSE_INVALID');
    if (countElements(inner, ['Assertion', 'EncryptedAssertion']) !== 1 || !child(inner, 'Assertion'))
      throw badSignature('encrypted assertion does not hold exactly one assertion');
    checkAlgorithms(inner, c.allowSha1);
  }
  const irt = attr(response, 'InResponseTo');
  return { ...(irt !== undefined ? { inResponseTo: irt } : {}), encrypted: encrypted === 1 };
}

async function decrypt(xml: string, key: string): Promise<string> {
  const start = xml.search(/<([A-Za-z0-9_-]+:)?EncryptedAssertion[\s>]/);
  const close = /<\/([A-Za-z0-9_-]+:)?EncryptedAssertion\s*>/.exec(xml.slice(start));
  if (start < 0 || !close) throw invalid('encrypted assertion not found');
  const fragment = xml.slice(start, start + close.index + close[0].length);
  try {
    const out = await decryptXml(fragment, key);
    if (out.length > maxSamlXmlBytes) throw new Error('too large');
    return out;
  } catch {
    // Same code and message as a bad signature: a distinguishable decryption failure is an oracle.
    throw badSignature('encrypted assertion could not be decrypted with spKeyFile');
  }
}

/** node-saml's verification: signature over what is used, configured certificates only, audience, Conditions window. */
async function verifyWithNodeSaml(b64: string, c: ResponseCheck): Promise<Profile> {
  const saml = new SAML({
    callbackUrl: c.acsUrl,
    issuer: c.spEntityId,
    audience: c.spEntityId,
    idpCert: c.certs,
    idpIssuer: c.idpEntityId,
    wantAssertionsSigned: c.wantAssertionsSigned,
    wantAuthnResponseSigned: c.wantResponseSigned,
    acceptedClockSkewMs: c.clockSkewMs,
    // InResponseTo is checked against this browser's pending login by the connector, not by a cache.
    validateInResponseTo: ValidateInResponseTo.never,
    ...(c.decryptionKey ? { decryptionPvk: c.decryptionKey } : {}),
  });
  let result: { profile: Profile | null };
  try {
    result = await saml.validatePostResponseAsync({ SAMLResponse: b64 });
  } catch (err) {
    throw translate(err);
  }
  if (!result.profile) throw new FedgateError('UPSTREAM_AUTHORIZATION_ERROR', 'The identity provider did not complete the sign-in (NoPassive).');
  return result.profile;
}

function translate(err: unknown): FedgateError {
  if (err instanceof FedgateError) return err;
  if (err instanceof SamlStatusError)
    return new FedgateError('UPSTREAM_AUTHORIZATION_ERROR', 'The identity provider did not complete the sign-in.', { detail: sanitizeParam(err.message, 200) });
  const message = err instanceof Error ? sanitizeParam(err.message, 200) : 'validation failed';
  if (/signature|signed|reference|transform|ID cannot refer/i.test(message)) return badSignature(`node-saml: ${message}`);
  return invalid(`node-saml: ${message}`);
}

/**
 * Validates a POSTed SAML Response completely (SAML 2.0 profiles §4.1.4.3 and §4.1.4.5,
 * https://docs.oasis-open.org/security/saml/v2.0/saml-profiles-2.0-os.pdf), except what needs the
 * browser (InResponseTo against the pending login) and replay memory, which the connector adds.
 */
export async function validateResponse(b64: string, c: ResponseCheck): Promise<ValidatedAssertion> {
  const xml = decodeMessage(b64);
  const envelope = await checkEnvelope(xml, c);
  const profile = await verifyWithNodeSaml(b64, c);
  const signedXml = profile.getAssertionXml?.();
  if (!signedXml) throw badSignature('no verified assertion');
  // Everything below reads the verified (canonical, comment-free) assertion, never the raw message.
  const doc = await parseXml(signedXml, 'SAML_RESPONSE_INVALID');
  const assertion = child(doc, 'Assertion');
  if (!assertion) throw badSignature('verified content is not an assertion');
  return readAssertion(assertion, envelope.inResponseTo, c);
}

function readAssertion(assertion: XmlNode, responseInResponseTo: string | undefined, c: ResponseCheck): ValidatedAssertion {
  const id = attr(assertion, 'ID');
  if (!id) throw invalid('assertion ID missing');
  const issuer = textOnly(child(assertion, 'Issuer'))?.trim();
  if (issuer !== c.idpEntityId) throw invalid('assertion Issuer is not the configured IdP');
  const subject = child(assertion, 'Subject');
  const nameIds = children(subject, 'NameID');
  const nameId = nameIds.length === 1 ? textOnly(nameIds[0])?.trim() : undefined;
  if (!nameId) throw invalid('assertion Subject has no single plain NameID');
  const confirmation = confirm(subject, responseInResponseTo, c);
  const authn = child(assertion, 'AuthnStatement');
  const sessionIndex = attr(authn, 'SessionIndex');
  const authnInstant = Date.parse(attr(authn, 'AuthnInstant') ?? '');
  const nameNode = nameIds[0]!;
  return {
    assertionId: id,
    issuer,
    nameId,
    ...optional('nameIdFormat', attr(nameNode, 'Format')),
    ...optional('nameQualifier', attr(nameNode, 'NameQualifier')),
    ...optional('spNameQualifier', attr(nameNode, 'SPNameQualifier')),
    ...optional('sessionIndex', sessionIndex),
    ...optional('inResponseTo', confirmation.inResponseTo),
    expiresAt: confirmation.notOnOrAfter + c.clockSkewMs,
    ...(Number.isFinite(authnInstant) ? { authnInstant } : {}),
    attributes: readAttributes(assertion),
  };
}

function optional<K extends string>(key: K, value: string | undefined): Partial<Record<K, string>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, string>);
}

/**
 * A bearer SubjectConfirmation whose data names this ACS as Recipient, is inside its window, and
 * answers the same request as the Response (profiles §4.1.4.2). Its InResponseTo is signed; the
 * Response's is not when only the assertion is signed, so both must agree.
 */
function confirm(subject: XmlNode | undefined, responseInResponseTo: string | undefined, c: ResponseCheck): { inResponseTo?: string; notOnOrAfter: number } {
  const reasons: string[] = [];
  for (const sc of children(subject, 'SubjectConfirmation')) {
    if (attr(sc, 'Method') !== bearer) {
      reasons.push('not bearer');
      continue;
    }
    const data = child(sc, 'SubjectConfirmationData');
    const notOnOrAfter = Date.parse(attr(data, 'NotOnOrAfter') ?? '');
    const notBefore = attr(data, 'NotBefore');
    const irt = attr(data, 'InResponseTo');
    if (attr(data, 'Recipient') !== c.acsUrl) reasons.push('Recipient is not this ACS URL');
    else if (!Number.isFinite(notOnOrAfter) || c.now - c.clockSkewMs >= notOnOrAfter) reasons.push('SubjectConfirmationData expired or without NotOnOrAfter');
    else if (notBefore !== undefined && !(Date.parse(notBefore) <= c.now + c.clockSkewMs)) reasons.push('SubjectConfirmationData not yet valid');
    else if (irt !== responseInResponseTo) reasons.push('SubjectConfirmationData InResponseTo differs from the Response');
    else return { ...(irt !== undefined ? { inResponseTo: irt } : {}), notOnOrAfter };
  }
  throw invalid(`no valid bearer SubjectConfirmation (${reasons.join('; ') || 'none'})`);
}

/** Attributes by `Name`: one value → string, several → string[]; values with child elements are dropped. */
function readAttributes(assertion: XmlNode): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = Object.create(null) as Record<string, string | string[]>;
  for (const statement of children(assertion, 'AttributeStatement')) {
    for (const a of children(statement, 'Attribute')) {
      const name = attr(a, 'Name');
      if (!name || name === '__proto__' || name === 'constructor' || name === 'prototype') continue;
      const values = children(a, 'AttributeValue')
        .map(textOnly)
        .filter((v): v is string => v !== undefined);
      if (values.length === 0) continue;
      const prev = out[name];
      const all = [...(prev === undefined ? [] : Array.isArray(prev) ? prev : [prev]), ...values];
      out[name] = all.length === 1 ? all[0]! : all;
    }
  }
  return { ...out };
}

/**
 * Reads a sample Response or Assertion WITHOUT validating it (for `fedgate map`): the NameID,
 * SessionIndex, issuer and attributes as a sign-in would read them from a verified assertion.
 */
export async function readSample(xml: string): Promise<ValidatedAssertion> {
  const doc = await parseXml(xml, 'SAML_RESPONSE_INVALID');
  const assertion = child(doc, 'Assertion') ?? child(child(doc, 'Response'), 'Assertion');
  if (!assertion) throw invalid('the sample holds no plain Assertion (an EncryptedAssertion cannot be read offline)');
  const nameNode = children(child(assertion, 'Subject'), 'NameID')[0];
  const nameId = textOnly(nameNode)?.trim();
  if (!nameId) throw invalid('the sample assertion has no NameID');
  const authn = child(assertion, 'AuthnStatement');
  const authnInstant = Date.parse(attr(authn, 'AuthnInstant') ?? '');
  return {
    assertionId: attr(assertion, 'ID') ?? '',
    issuer: textOnly(child(assertion, 'Issuer'))?.trim() ?? '',
    nameId,
    ...optional('nameIdFormat', attr(nameNode, 'Format')),
    ...optional('sessionIndex', attr(authn, 'SessionIndex')),
    expiresAt: 0,
    ...(Number.isFinite(authnInstant) ? { authnInstant } : {}),
    attributes: readAttributes(assertion),
  };
}
