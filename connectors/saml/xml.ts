/**
 * Read-only helpers over the xml2js trees node-saml parses (tag prefixes stripped, text under `_`,
 * attributes under `$`), plus the pre-parse refusal of DTDs. node-saml is the only XML stack used:
 * its parser, its signature verification (xml-crypto) and its decryption (xml-encryption).
 */
import { decryptXml, parseXml2JsFromString } from '@node-saml/node-saml/lib/xml.js';
import type { XmlJsObject } from '@node-saml/node-saml/lib/types.js';
import { FedgateError } from '../../lib/errors.js';

/** An element as node-saml's xml2js parser returns it. */
export type XmlNode = XmlJsObject;

/**
 * No DTD at all: no external entities (XXE), no entity expansion ("billion laughs"). SAML never
 * needs one (SAML 2.0 core §1.3: no DTD-based processing), so its mere presence is a refusal.
 */
export function refuseDtd(xml: string, code: 'SAML_RESPONSE_INVALID' | 'SAML_LOGOUT_INVALID' | 'UPSTREAM_RESPONSE_INVALID'): void {
  if (/<!DOCTYPE|<!ENTITY|<!ELEMENT|<!ATTLIST/i.test(xml)) {
    throw new FedgateError(code, 'The identity provider sent XML that is not allowed.', { detail: 'XML with a DTD refused' });
  }
}

/** Parses with node-saml's own parser; any parse error is a coded refusal. */
export async function parseXml(xml: string, code: 'SAML_RESPONSE_INVALID' | 'SAML_LOGOUT_INVALID' | 'UPSTREAM_RESPONSE_INVALID'): Promise<XmlNode> {
  refuseDtd(xml, code);
  try {
    return await parseXml2JsFromString(xml);
  } catch (err) {
    throw new FedgateError(code, 'The identity provider sent malformed XML.', {
      detail: `XML parse: ${err instanceof Error ? err.message.slice(0, 120) : 'error'}`,
    });
  }
}

export { decryptXml };

const isNode = (v: unknown): v is XmlNode => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The child elements named `name` (local name). */
export function children(node: XmlNode | undefined, name: string): XmlNode[] {
  const v = node?.[name];
  if (Array.isArray(v)) return v.filter(isNode);
  return isNode(v) && name !== '$' ? [v] : [];
}

/** The first child element named `name`. */
export function child(node: XmlNode | undefined, name: string): XmlNode | undefined {
  return children(node, name)[0];
}

/** An attribute's value, when present and a string. */
export function attr(node: XmlNode | undefined, name: string): string | undefined {
  const attrs = node?.$ as unknown;
  if (!isNode(attrs)) return undefined;
  const v = (attrs as Record<string, unknown>)[name];
  return typeof v === 'string' ? v : undefined;
}

/** Text content of an element that must have no child elements; undefined otherwise. */
export function textOnly(node: XmlNode | undefined): string | undefined {
  if (!node) return undefined;
  if (Object.keys(node).some((k) => k !== '_' && k !== '$')) return undefined;
  return typeof node._ === 'string' ? node._ : '';
}

/** Every element named `name` anywhere below `node` (node included), depth-first. */
export function countElements(node: unknown, names: readonly string[], depth = 0): number {
  if (depth > 64) throw new FedgateError('SAML_RESPONSE_INVALID', 'The identity provider sent malformed XML.', { detail: 'XML nested too deeply' });
  if (Array.isArray(node)) return node.reduce<number>((n, c) => n + countElements(c, names, depth + 1), 0);
  if (!isNode(node)) return 0;
  let n = 0;
  for (const [k, v] of Object.entries(node)) {
    if (k === '$' || k === '_') continue;
    if (names.includes(k)) n += Array.isArray(v) ? v.length : 1;
    n += countElements(v, names, depth + 1);
  }
  return n;
}

/** All elements named `name` anywhere below `node`. */
export function findAll(node: unknown, name: string, out: XmlNode[] = [], depth = 0): XmlNode[] {
  if (depth > 64) return out;
  if (Array.isArray(node)) {
    for (const c of node) findAll(c, name, out, depth + 1);
    return out;
  }
  if (!isNode(node)) return out;
  for (const [k, v] of Object.entries(node)) {
    if (k === '$' || k === '_') continue;
    if (k === name) out.push(...(Array.isArray(v) ? v.filter(isNode) : isNode(v) ? [v] : []));
    findAll(v, name, out, depth + 1);
  }
  return out;
}
