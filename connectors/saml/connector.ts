import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { SAML, ValidateInResponseTo, type Profile, type SamlConfig as NodeSamlConfig } from '@node-saml/node-saml';
import type {
  BeginLoginInput,
  BeginLoginResult,
  CompleteLoginInput,
  Connector,
  ConnectorContext,
  ConnectorEndpoint,
  ConnectorStatus,
  EndpointProvider,
  EndpointRequest,
  EndpointResponse,
  FormPostCallback,
  LogoutInput,
  PostedCallback,
  UpstreamIdentity,
  UpstreamLogout,
} from '../../lib/connector.js';
import { connectorSettings, type ConnectorSettings } from '../../lib/connector-settings.js';
import { FedgateError, toFedgateError } from '../../lib/errors.js';
import { IdpSource, type IdpInfo } from './idp.js';
import { readSample, validateResponse, type ValidatedAssertion } from './response.js';
import { handleSlo } from './slo.js';
import { spMetadataXml } from './sp-metadata.js';
import { samlSessionKey } from './session-key.js';
import type { SamlConfig } from './schema.js';

/** NameID formats that do not identify the same user across sign-ins (SAML 2.0 core §8.3). */
const unstableFormats = new Set(['urn:oasis:names:tc:SAML:2.0:nameid-format:transient', 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress']);

/** The NameID format asked for by default (SAML 2.0 core §8.3.7): stable and IdP-scoped. */
export const persistentNameId = 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent';

/** This SP's URLs, from configuration only (never from a request's Host). */
export interface SpUrls {
  entityId: string;
  acs: string;
  slo: string;
  metadataPath: string;
  sloPath: string;
}

/**
 * SAML 2.0 Web Browser SSO as a connector (SP side), on @node-saml/node-saml: AuthnRequest by
 * HTTP-Redirect, Response by HTTP-POST to the ACS (the gateway's form-post callback), SP metadata
 * and single logout as connector endpoints. What node-saml leaves open is pinned here and in
 * response.ts: InResponseTo bound to the browser's pending login, replay memory, Destination and
 * Recipient, DTD refusal, one assertion only, algorithm allow-list, unsolicited responses off.
 */
export class SamlConnector implements Connector, FormPostCallback, EndpointProvider, UpstreamLogout {
  readonly id: string;
  readonly type = 'saml';
  /** The display name, for messages. */
  readonly name: string;
  readonly endpoints: readonly ConnectorEndpoint[];
  readonly urls: SpUrls;

  readonly #cfg: SamlConfig;
  readonly #ctx: ConnectorContext;
  readonly #settings: ConnectorSettings;
  readonly #idp: IdpSource;
  readonly #key?: string;
  readonly #cert?: string;
  #state: ConnectorStatus;
  #warnedUnstable = false;

  constructor(cfg: SamlConfig, ctx: ConnectorContext) {
    this.#cfg = cfg;
    this.#ctx = ctx;
    this.id = cfg.id;
    this.#settings = connectorSettings(cfg, ctx.baseUrl);
    this.name = this.#settings.name;
    const base = `${ctx.baseUrl}${ctx.basePath ?? '/auth'}`;
    const seg = encodeURIComponent(cfg.id);
    this.urls = {
      entityId: cfg.spEntityId ?? `${base}/saml/${seg}`,
      acs: `${base}/callback/${seg}`,
      slo: `${base}/saml/${seg}/slo`,
      metadataPath: `/saml/${seg}/metadata`,
      sloPath: `/saml/${seg}/slo`,
    };
    this.endpoints = [
      { path: this.urls.metadataPath, methods: ['GET'] },
      { path: this.urls.sloPath, methods: ['GET', 'POST'] },
    ];
    if (cfg.spKeyFile) this.#key = readPem(cfg.spKeyFile, ctx.baseDir);
    if (cfg.spCertFile) this.#cert = readPem(cfg.spCertFile, ctx.baseDir);
    this.#idp = new IdpSource(cfg, ctx);
    this.#state = { id: this.id, type: this.type, state: 'pending' };
  }

  status(): ConnectorStatus {
    return { ...this.#state };
  }

  async ready(): Promise<void> {
    await this.idp();
  }

  /** The IdP (metadata loaded and cached); failures become UPSTREAM_UNAVAILABLE and show in status(). */
  async idp(): Promise<IdpInfo> {
    try {
      const info = await this.#idp.get();
      this.#setState({ id: this.id, type: this.type, state: 'ready', checkedAt: this.#ctx.now() });
      return info;
    } catch (err) {
      const e = toFedgateError(err);
      this.#setState({ id: this.id, type: this.type, state: 'failed', error: e.code, checkedAt: this.#ctx.now() });
      if (e.code === 'UPSTREAM_UNAVAILABLE') throw e;
      throw new FedgateError('UPSTREAM_UNAVAILABLE', "The identity provider's SAML configuration could not be loaded.", {
        detail: e.detail ?? e.message,
        cause: err,
      });
    }
  }

  #setState(next: ConnectorStatus): void {
    const changed = next.state !== this.#state.state;
    this.#state = next;
    if (changed && next.state !== 'pending') this.#ctx.onStatusChange?.(next);
  }

  get #signs(): boolean {
    return Boolean(this.#key && this.#cert && this.#cfg.signRequests !== false);
  }

  /** A node-saml instance for one operation (cheap: it only holds options). */
  nodeSaml(idp: IdpInfo, extra: Partial<NodeSamlConfig> = {}): SAML {
    return new SAML({
      entryPoint: idp.ssoUrl,
      ...(idp.sloUrl ? { logoutUrl: idp.sloUrl } : {}),
      callbackUrl: this.urls.acs,
      issuer: this.urls.entityId,
      audience: this.urls.entityId,
      idpCert: idp.certs.length ? idp.certs : ['-'],
      idpIssuer: idp.entityId,
      identifierFormat: this.#cfg.nameIdFormat ?? persistentNameId,
      allowCreate: true,
      // A fixed RequestedAuthnContext makes Entra ID and ADFS fail MFA or Windows logins; the IdP decides.
      disableRequestedAuthnContext: true,
      forceAuthn: this.#cfg.forceAuthn ?? false,
      signatureAlgorithm: 'sha256',
      acceptedClockSkewMs: (this.#cfg.clockSkew ?? 60) * 1000,
      validateInResponseTo: ValidateInResponseTo.never,
      ...(this.#signs ? { privateKey: this.#key! } : {}),
      ...(this.#key ? { decryptionPvk: this.#key } : {}),
      ...extra,
    });
  }

  async beginLogin(input: BeginLoginInput): Promise<BeginLoginResult> {
    const idp = await this.idp();
    // Our own request ID, stored with this browser's transaction: InResponseTo must come back to it.
    const requestId = `_${randomBytes(20).toString('hex')}`;
    const url = await this.nodeSaml(idp, { generateUniqueId: () => requestId }).getAuthorizeUrlAsync(input.state, undefined, {});
    return { url: new URL(url), data: { requestId } };
  }

  async acceptCallbackPost(input: { form: URLSearchParams; callbackUrl: string }): Promise<PostedCallback> {
    const one = (name: string) => {
      const all = input.form.getAll(name);
      if (all.length > 1) throw new FedgateError('SAML_RESPONSE_INVALID', "The identity provider's response is malformed.", { detail: `${name} repeated` });
      return all[0];
    };
    const b64 = one('SAMLResponse');
    const relayState = one('RelayState');
    if (!b64) throw new FedgateError('SAML_RESPONSE_INVALID', "The identity provider's response is missing.", { detail: 'SAMLResponse missing' });
    if (input.callbackUrl !== this.urls.acs)
      throw new FedgateError('SAML_RESPONSE_INVALID', "The identity provider's response was refused.", { detail: 'callback URL differs from the ACS URL' });
    const idp = await this.idp();
    const a = await validateResponse(b64, {
      acsUrl: this.urls.acs,
      spEntityId: this.urls.entityId,
      idpEntityId: idp.entityId,
      certs: idp.certs,
      wantAssertionsSigned: this.#cfg.wantAssertionsSigned ?? true,
      wantResponseSigned: this.#cfg.wantResponseSigned ?? false,
      allowSha1: this.#cfg.allowSha1 ?? false,
      requireEncrypted: this.#cfg.requireEncryptedAssertions ?? false,
      ...(this.#key ? { decryptionKey: this.#key } : {}),
      clockSkewMs: (this.#cfg.clockSkew ?? 60) * 1000,
      now: this.#ctx.now(),
    });
    if (a.inResponseTo === undefined && !this.#cfg.allowUnsolicited) {
      throw new FedgateError('SAML_UNSOLICITED', 'This sign-in was not started here. Please start the sign-in from this site.');
    }
    await this.#remember(a);
    const data = { assertion: JSON.stringify(a) };
    if (a.inResponseTo === undefined) return { data, ...(relayState ? { returnTo: relayState } : {}) };
    if (!relayState)
      throw new FedgateError('SAML_RESPONSE_INVALID', "The identity provider's response was refused.", {
        detail: 'RelayState missing on a solicited response',
      });
    return { state: relayState, data };
  }

  /** Every assertion ID is remembered until it expires: a second presentation is a replay. */
  async #remember(a: ValidatedAssertion): Promise<void> {
    const store = this.#ctx.store;
    if (!store) throw new FedgateError('INTERNAL_ERROR', 'Internal error', { detail: 'saml: no connector store for replay memory' });
    const ttl = Math.max(1, Math.ceil((a.expiresAt - this.#ctx.now()) / 1000));
    const key = `aid:${createHash('sha256').update(`${a.issuer}\n${a.assertionId}`).digest('base64url')}`;
    if (!(await store.setIfAbsent(key, '1', ttl))) {
      throw new FedgateError('SAML_REPLAYED', 'This sign-in response was already used. Please start the sign-in again.', {
        detail: 'assertion ID seen before',
      });
    }
  }

  async completeLogin(input: CompleteLoginInput): Promise<UpstreamIdentity> {
    const raw = input.posted?.assertion;
    if (!raw)
      throw new FedgateError('CALLBACK_PARAMS_INVALID', 'SAML sign-in responses arrive by POST.', { detail: 'saml: GET callback without a posted response' });
    const a = JSON.parse(raw) as ValidatedAssertion;
    if (a.inResponseTo !== undefined) {
      if (!input.data.requestId || input.data.requestId !== a.inResponseTo) {
        throw new FedgateError('SAML_RESPONSE_INVALID', "The identity provider's response does not answer this browser's sign-in.", {
          detail: 'InResponseTo differs from the pending AuthnRequest',
        });
      }
    } else if (!this.#cfg.allowUnsolicited) {
      throw new FedgateError('SAML_UNSOLICITED', 'This sign-in was not started here. Please start the sign-in from this site.');
    }
    return this.#identity(a);
  }

  #identity(a: ValidatedAssertion): UpstreamIdentity {
    if (!this.#cfg.subjectAttribute && a.nameIdFormat && unstableFormats.has(a.nameIdFormat) && !this.#warnedUnstable) {
      // IdPs fall back to a transient (or e-mail) NameID silently when the persistent one is unavailable:
      // every sign-in would then be a new local user. Said once per connector, without the value.
      this.#warnedUnstable = true;
      this.#ctx.logger.warn(
        { event: 'saml.nameid_unstable', connector: this.id, format: a.nameIdFormat },
        'The IdP sent a NameID that is not a stable subject; configure a persistent NameID at the IdP or set subjectAttribute',
      );
    }
    return identityOf(a, this.#cfg);
  }

  /**
   * Upstream claims from a sample SAML Response or Assertion, for `fedgate map`: the same claims a
   * sign-in would give, read WITHOUT any check (no signature, audience or time). Offline tools only.
   */
  async sampleIdentity(xml: string): Promise<UpstreamIdentity> {
    return identityOf(await readSample(xml), this.#cfg);
  }

  /** SP-initiated single logout: a (signed, when configured) LogoutRequest to the IdP's SLO. */
  async buildLogoutUrl(input: LogoutInput): Promise<URL | undefined> {
    const d = input.data;
    if (!d?.nameId) return undefined;
    const idp = await this.idp();
    if (!idp.sloUrl) return undefined;
    const profile = {
      issuer: idp.entityId,
      nameID: d.nameId,
      nameIDFormat: d.nameIdFormat ?? 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified',
      ...(d.nameQualifier ? { nameQualifier: d.nameQualifier } : {}),
      ...(d.spNameQualifier ? { spNameQualifier: d.spNameQualifier } : {}),
      ...(d.sessionIndex ? { sessionIndex: d.sessionIndex } : {}),
    } satisfies Profile;
    return new URL(await this.nodeSaml(idp).getLogoutUrlAsync(profile, '', {}));
  }

  async handleEndpoint(input: EndpointRequest): Promise<EndpointResponse> {
    if (input.path === this.urls.metadataPath) {
      return { kind: 'document', status: 200, contentType: 'application/samlmetadata+xml; charset=utf-8', body: this.spMetadata() };
    }
    return handleSlo(this, input, {
      cfg: this.#cfg,
      store: this.#ctx.store,
      now: this.#ctx.now,
      postLogoutRedirectUri: this.#settings.postLogoutRedirectUri,
    });
  }

  spMetadata(): string {
    return spMetadataXml({
      entityId: this.urls.entityId,
      acsUrl: this.urls.acs,
      sloUrl: this.urls.slo,
      nameIdFormat: this.#cfg.nameIdFormat ?? persistentNameId,
      wantAssertionsSigned: this.#cfg.wantAssertionsSigned ?? true,
      ...(this.#signs ? { signingCert: this.#cert! } : {}),
      ...(this.#key && this.#cert ? { encryptionCert: this.#cert } : {}),
    });
  }
}

function readPem(file: string, baseDir: string | undefined): string {
  const resolved = path.resolve(baseDir ?? process.cwd(), file);
  try {
    return readFileSync(resolved, 'utf8');
  } catch {
    throw new FedgateError('CONFIG_FILE_UNREADABLE', 'A SAML key or certificate file cannot be read.', { detail: `file ${path.basename(resolved)}` });
  }
}

/** The upstream identity of a validated assertion: subject, claims (attributes by Name), logout data. */
export function identityOf(a: ValidatedAssertion, cfg: SamlConfig): UpstreamIdentity {
  let subject = a.nameId;
  if (cfg.subjectAttribute) {
    const v = a.attributes[cfg.subjectAttribute];
    const first = Array.isArray(v) ? v[0] : v;
    if (!first)
      throw new FedgateError('CLAIM_REQUIRED_MISSING', 'The identity provider did not send the attribute that identifies the user.', {
        detail: `subjectAttribute ${cfg.subjectAttribute} missing`,
      });
    subject = first;
  }
  const claims: Record<string, unknown> = {
    ...a.attributes,
    sub: subject,
    nameid: a.nameId,
    ...(a.nameIdFormat ? { nameid_format: a.nameIdFormat } : {}),
    ...(a.sessionIndex ? { session_index: a.sessionIndex } : {}),
    iss: a.issuer,
    // SAML has no verified-address flag: only the connector's configuration can vouch for it.
    email_verified: cfg.emailVerified === true,
    ...(a.authnInstant ? { auth_time: Math.floor(a.authnInstant / 1000) } : {}),
  };
  const logoutData: Record<string, string> = { nameId: a.nameId };
  if (a.nameIdFormat) logoutData.nameIdFormat = a.nameIdFormat;
  if (a.nameQualifier) logoutData.nameQualifier = a.nameQualifier;
  if (a.spNameQualifier) logoutData.spNameQualifier = a.spNameQualifier;
  if (a.sessionIndex) logoutData.sessionIndex = a.sessionIndex;
  return {
    subject,
    claims,
    tokens: {},
    ...(a.sessionIndex ? { sid: samlSessionKey(a.nameId, a.sessionIndex) } : {}),
    logoutData,
  };
}
