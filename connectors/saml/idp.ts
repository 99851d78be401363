import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ConnectorContext } from '../../lib/connector.js';
import { FedgateError } from '../../lib/errors.js';
import { limitedFetch } from '../common/limited-fetch.js';
import { attr, child, children, findAll, parseXml, textOnly, type XmlNode } from './xml.js';
import type { SamlConfig } from './schema.js';

/** What the SP needs to know about its IdP. */
export interface IdpInfo {
  /** The IdP's entity id: the required `Issuer` of its responses. */
  entityId: string;
  /** SingleSignOnService, HTTP-Redirect binding. */
  ssoUrl: string;
  /** SingleLogoutService, HTTP-Redirect binding. */
  sloUrl?: string;
  /** Base64 bodies of the certificates that may sign (never taken from a message's KeyInfo). */
  certs: string[];
}

const redirectBinding = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';
/** Federation metadata aggregates are large; a single IdP's metadata is a few KB. */
const maxMetadataBytes = 2 * 1024 * 1024;

/** A certificate given as PEM or as its base64 body, reduced to the body. */
export function certBody(value: string): string {
  return value.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
}

/**
 * Reads IdP metadata (SAML 2.0 metadata, https://docs.oasis-open.org/security/saml/v2.0/saml-metadata-2.0-os.pdf):
 * the one entity with an IDPSSODescriptor (or the one named `wanted` in an aggregate), its
 * HTTP-Redirect SSO/SLO locations and its signing certificates (`use="signing"` or no `use`).
 */
export async function parseIdpMetadata(xml: string, wanted?: string): Promise<IdpInfo> {
  const doc = await parseXml(xml, 'UPSTREAM_RESPONSE_INVALID');
  const bad = (detail: string) => new FedgateError('UPSTREAM_RESPONSE_INVALID', "The identity provider's SAML metadata is not usable.", { detail });
  const entities = findAll(doc, 'EntityDescriptor').filter((e) => children(e, 'IDPSSODescriptor').length > 0);
  const matching = wanted ? entities.filter((e) => attr(e, 'entityID') === wanted) : entities;
  if (matching.length !== 1) throw bad(wanted ? `metadata: no IdP entity ${wanted}` : `metadata: ${matching.length} IdP entities (set idpIssuer)`);
  const entity = matching[0]!;
  const entityId = attr(entity, 'entityID');
  if (!entityId) throw bad('metadata: entityID missing');
  const idp = child(entity, 'IDPSSODescriptor');
  const location = (name: string) => children(idp, name).find((s) => attr(s, 'Binding') === redirectBinding && attr(s, 'Location'));
  const sso = attr(location('SingleSignOnService'), 'Location');
  if (!sso) throw bad('metadata: no HTTP-Redirect SingleSignOnService');
  const slo = attr(location('SingleLogoutService'), 'Location');
  const certs = children(idp, 'KeyDescriptor')
    .filter((k) => (attr(k, 'use') ?? 'signing') === 'signing')
    .flatMap((k) => findAll(k, 'X509Certificate'))
    .map((c) => certBody(textOnly(c) ?? ''))
    .filter((c) => c.length > 0);
  if (certs.length === 0) throw bad('metadata: no signing certificate');
  return { entityId, ssoUrl: sso, ...(slo ? { sloUrl: slo } : {}), certs: [...new Set(certs)] };
}

/** The IdP from configuration: `entryPoint` + `idpCert` + `idpIssuer`, or metadata (URL, inline, file). */
export class IdpSource {
  readonly #cfg: SamlConfig;
  readonly #ctx: ConnectorContext;
  #current?: IdpInfo;
  #loadedAt = 0;
  #loading: Promise<IdpInfo> | undefined;

  constructor(cfg: SamlConfig, ctx: ConnectorContext) {
    this.#cfg = cfg;
    this.#ctx = ctx;
  }

  /** The current IdP info; refreshes URL metadata when stale, keeping the last good copy on failure. */
  async get(): Promise<IdpInfo> {
    const fresh = this.#current && (!this.#cfg.metadataUrl || this.#ctx.now() - this.#loadedAt < (this.#cfg.metadataRefresh ?? 3600) * 1000);
    if (fresh) return this.#current!;
    this.#loading ??= this.#load().finally(() => {
      this.#loading = undefined;
    });
    try {
      return await this.#loading;
    } catch (err) {
      if (this.#current) {
        this.#ctx.logger.warn(
          { event: 'saml.metadata_refresh_failed', code: err instanceof FedgateError ? err.code : 'UPSTREAM_UNAVAILABLE' },
          'SAML metadata refresh failed; keeping the previous copy',
        );
        this.#loadedAt = this.#ctx.now();
        return this.#current;
      }
      throw err;
    }
  }

  async #load(): Promise<IdpInfo> {
    const cfg = this.#cfg;
    let info: IdpInfo;
    if (cfg.metadataUrl || cfg.metadata) {
      const xml = cfg.metadataUrl ? await this.#fetch(cfg.metadataUrl) : await this.#inline(cfg.metadata!);
      info = await parseIdpMetadata(xml, cfg.idpIssuer);
    } else {
      info = { entityId: cfg.idpIssuer!, ssoUrl: cfg.entryPoint!, certs: [] };
    }
    if (cfg.entryPoint) info.ssoUrl = cfg.entryPoint;
    if (cfg.logoutUrl) info.sloUrl = cfg.logoutUrl;
    if (cfg.idpCert) info.certs = (Array.isArray(cfg.idpCert) ? cfg.idpCert : [cfg.idpCert]).map(certBody);
    for (const u of [info.ssoUrl, info.sloUrl]) {
      if (u && !/^https:/i.test(u) && !(this.#ctx.allowInsecureRequests && /^http:/i.test(u))) {
        throw new FedgateError('UPSTREAM_RESPONSE_INVALID', "The identity provider's SAML metadata is not usable.", {
          detail: 'metadata: endpoint is not https',
        });
      }
    }
    this.#current = info;
    this.#loadedAt = this.#ctx.now();
    return info;
  }

  async #fetch(url: string): Promise<string> {
    if (!url.startsWith('https:') && !this.#ctx.allowInsecureRequests)
      throw new FedgateError('UPSTREAM_UNAVAILABLE', "The identity provider's SAML metadata could not be loaded.", { detail: 'metadataUrl is not https' });
    let res: Response;
    try {
      res = await limitedFetch(this.#ctx.fetch, maxMetadataBytes)(url, {
        redirect: 'error',
        signal: AbortSignal.timeout(this.#ctx.httpTimeout * 1000),
        headers: { accept: 'application/samlmetadata+xml, application/xml, text/xml' },
      });
    } catch (err) {
      throw new FedgateError('UPSTREAM_UNAVAILABLE', "The identity provider's SAML metadata could not be loaded.", {
        detail: `metadata: ${err instanceof Error ? err.message.slice(0, 120) : 'fetch failed'}`,
        cause: err,
      });
    }
    if (res.status !== 200)
      throw new FedgateError('UPSTREAM_UNAVAILABLE', "The identity provider's SAML metadata could not be loaded.", { detail: `metadata: HTTP ${res.status}` });
    return res.text();
  }

  async #inline(value: string): Promise<string> {
    if (value.trimStart().startsWith('<')) return value;
    const file = path.resolve(this.#ctx.baseDir ?? process.cwd(), value);
    try {
      return await readFile(file, 'utf8');
    } catch {
      throw new FedgateError('CONFIG_FILE_UNREADABLE', 'The SAML metadata file cannot be read.', { detail: `metadata file ${path.basename(file)}` });
    }
  }
}

export type { XmlNode };
