import { X509Certificate } from 'node:crypto';
import { limitedFetch } from '../connectors/common/limited-fetch.js';
import type { ResolvedConfig } from '../lib/config/load.js';
import { defaultIdTokenSigningAlg } from '../lib/config/connector-base.js';
import { toFedgateError } from '../lib/errors.js';
import { SamlConnector } from '../connectors/saml/index.js';
import { collectingLogger, createConnector } from './config.js';
import { isRecord } from './io.js';

/** What `fedgate check --probe` found for one connector: report lines and problems. */
export interface ProbeReport {
  lines: string[];
  problems: string[];
}

/** One aligned report line. */
const row = (label: string, value: string) => `${label.padEnd(24)}${value}`;

interface Recorded {
  url: string;
  /** The HTTP status, or undefined when no response came back. */
  status?: number;
  body?: unknown;
  /** Why no response came back (`ECONNREFUSED 127.0.0.1:4999`). */
  failure?: string;
}

/**
 * Names a network failure the way an operator searches for it: the system error code and the
 * address (`ECONNREFUSED 127.0.0.1:4999`, `ENOTFOUND idp.example`), or a timeout. fetch wraps
 * the system error in `cause`; ioredis reports it directly.
 */
export function networkCause(err: unknown, timeoutSeconds: number): string {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e.name === 'TimeoutError' || e.name === 'AbortError') return `no answer within ${timeoutSeconds} s`;
    const sys = e as NodeJS.ErrnoException & { address?: unknown; port?: unknown; hostname?: unknown };
    if (typeof sys.code === 'string' && /^E[A-Z_]+$/.test(sys.code)) {
      const where =
        typeof sys.address === 'string'
          ? `${sys.address}${typeof sys.port === 'number' ? `:${sys.port}` : ''}`
          : typeof sys.hostname === 'string'
            ? sys.hostname
            : '';
      return where ? `${sys.code} ${where}` : sys.code;
    }
  }
  return err instanceof Error && err.name === 'ResponseTooLargeError' ? 'response too large' : 'network error';
}

const maxBodyBytes = 512 * 1024;

/** Key type (and curve) an ID token algorithm needs in the upstream JWKS (RFC 7518 §3.1, RFC 8037). */
function keyTypeFor(alg: string): { kty: string; crv?: string } | undefined {
  if (/^(RS|PS)\d{3}$/.test(alg)) return { kty: 'RSA' };
  if (alg === 'ES256') return { kty: 'EC', crv: 'P-256' };
  if (alg === 'ES384') return { kty: 'EC', crv: 'P-384' };
  if (alg === 'ES512') return { kty: 'EC', crv: 'P-521' };
  if (alg === 'EdDSA' || alg === 'Ed25519') return { kty: 'OKP' };
  return undefined;
}

/** Upstream bodies are read through the connectors' own size cap; a body that is not JSON is undefined. */
const cappedFetch = limitedFetch(fetch, maxBodyBytes);
async function readJson(res: Response): Promise<unknown> {
  try {
    return JSON.parse(await res.text()) as unknown;
  } catch {
    return undefined;
  }
}

/** A fetch that records every URL it was asked for and what came back (status and JSON body, or why nothing did). */
function recordingFetch(recorded: Recorded[], timeoutSeconds: number): typeof fetch {
  return async (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    let res: Response;
    try {
      res = await cappedFetch(url, init ?? {});
    } catch (err) {
      recorded.push({ url, failure: networkCause(err, timeoutSeconds) });
      throw err;
    }
    recorded.push({ url, status: res.status, body: await readJson(res.clone()) });
    return res;
  };
}

/**
 * Runs the connector's own discovery (same factory, same checks as the gateway: exact issuer,
 * vendor discovery URLs) through a fetch that records what came back, then fetches the JWKS
 * the discovery names. Nothing is sent but GET requests to the upstream's public metadata.
 */
export async function probeConnector(config: ResolvedConfig, index: number, timeoutSeconds: number): Promise<ProbeReport> {
  const report: ProbeReport = { lines: [], problems: [] };
  const recorded: Recorded[] = [];
  const cfg = config.connectors[index]!;
  const { connector } = createConnector(config, index, {
    fetch: recordingFetch(recorded, timeoutSeconds),
    logger: collectingLogger(),
    now: Date.now,
    allowInsecureRequests: config.allowInsecureRequests,
    httpTimeout: timeoutSeconds,
    baseUrl: config.baseUrl,
    basePath: config.basePath,
    baseDir: config.baseDir,
  });
  const readyError = await readinessError(connector);

  if (connector instanceof SamlConnector) {
    for (const r of recorded) report.lines.push(`GET ${r.url} -> ${r.status}`);
    if (readyError) report.problems.push(`SAML metadata rejected: ${readyError}`);
    else await probeSaml(connector, cfg.logout === 'upstream', report.lines, report.problems);
    return report;
  }
  for (const r of recorded) report.lines.push(`GET ${r.url} -> ${r.failure !== undefined ? `failed: ${r.failure}` : String(r.status)}`);
  const discovery = recorded.find((r) => isRecord(r.body) && typeof r.body.issuer === 'string');
  if (!discovery) {
    reportNoDiscovery(recorded.at(-1), readyError, cfg.type, report);
    return report;
  }
  const doc = discovery.body as Record<string, unknown>;
  checkIssuer(doc, cfg['issuer'], report);
  if (readyError) report.problems.push(`discovery rejected: ${readyError}`);
  checkEndpoints(doc, report);
  const expectedAlg = cfg.idTokenSigningAlg ?? defaultIdTokenSigningAlg;
  checkAlgorithms(doc, expectedAlg, report);
  if (typeof doc.jwks_uri === 'string' && !expectedAlg.startsWith('HS')) {
    await probeJwks(doc.jwks_uri, expectedAlg, timeoutSeconds, report.lines, report.problems);
  }
  return report;
}

/** Why `connector.ready()` failed (`CODE: message`), or undefined when it did not. */
async function readinessError(connector: { ready(): Promise<void> }): Promise<string | undefined> {
  try {
    await connector.ready();
    return undefined;
  } catch (err) {
    const e = toFedgateError(err);
    return `${e.code}: ${e.message}`;
  }
}

/**
 * One problem line that names the URL and the cause; the connector's own error would only
 * repeat it in vaguer words.
 */
function reportNoDiscovery(last: Recorded | undefined, readyError: string | undefined, type: string, { lines, problems }: ProbeReport): void {
  if (last?.failure !== undefined) problems.push(`discovery failed: ${last.url} is not reachable (${last.failure})`);
  else if (last !== undefined) problems.push(`discovery failed: ${last.url} answered ${String(last.status)}, not a discovery document`);
  else if (readyError) problems.push(`discovery failed: ${readyError}`);
  else lines.push(`no discovery document: connector type "${type}" does not use OpenID discovery`);
}

function checkIssuer(doc: Record<string, unknown>, configured: unknown, { lines, problems }: ProbeReport): void {
  if (typeof configured !== 'string') {
    lines.push(row('issuer', String(doc.issuer)));
  } else if (doc.issuer === configured) {
    lines.push(row('issuer', `${String(doc.issuer)} (exact match)`));
  } else {
    problems.push(`issuer mismatch: discovery says "${String(doc.issuer)}", the config says "${configured}" (they must be equal, character for character)`);
  }
}

function checkEndpoints(doc: Record<string, unknown>, { lines, problems }: ProbeReport): void {
  for (const name of ['authorization_endpoint', 'token_endpoint', 'userinfo_endpoint', 'end_session_endpoint', 'jwks_uri']) {
    const value = doc[name];
    lines.push(row(name, typeof value === 'string' ? value : '(none)'));
  }
  for (const required of ['authorization_endpoint', 'token_endpoint', 'jwks_uri']) {
    if (typeof doc[required] !== 'string') problems.push(`discovery has no ${required}`);
  }
}

/** The ID token algorithm fedgate expects and PKCE S256, against what the discovery advertises. */
function checkAlgorithms(doc: Record<string, unknown>, expectedAlg: string, { lines, problems }: ProbeReport): void {
  const algs = Array.isArray(doc.id_token_signing_alg_values_supported) ? doc.id_token_signing_alg_values_supported.map(String) : [];
  lines.push(row('id_token algs', `${algs.length ? algs.join(', ') : '(not advertised)'}; expected ${expectedAlg}`));
  if (algs.length && !algs.includes(expectedAlg)) {
    problems.push(`the upstream does not advertise ${expectedAlg} for ID tokens; set idTokenSigningAlg to one of ${algs.join(', ')}`);
  }
  const pkce = Array.isArray(doc.code_challenge_methods_supported) ? doc.code_challenge_methods_supported.map(String) : [];
  if (pkce.length && !pkce.includes('S256')) problems.push('the upstream does not advertise PKCE S256, which fedgate always sends');
}

async function probeJwks(uri: string, alg: string, timeoutSeconds: number, lines: string[], problems: string[]): Promise<void> {
  let body: unknown;
  try {
    const res = await cappedFetch(uri, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(timeoutSeconds * 1000) });
    lines.push(`GET ${uri} -> ${res.status}`);
    if (res.status !== 200) {
      problems.push(`JWKS ${uri} answered ${res.status}`);
      return;
    }
    body = await readJson(res);
  } catch (err) {
    lines.push(`GET ${uri} -> failed: ${networkCause(err, timeoutSeconds)}`);
    problems.push(`JWKS could not be fetched: ${uri} is not reachable (${networkCause(err, timeoutSeconds)})`);
    return;
  }
  if (!isRecord(body) || !Array.isArray(body.keys)) {
    problems.push('JWKS is not a JSON object with a "keys" array');
    return;
  }
  const keys = body.keys.filter(isRecord);
  const described = keys.map(
    (k) =>
      `${typeof k.kid === 'string' ? k.kid : '(no kid)'} ${String(k.kty)}${k.crv ? `/${String(k.crv)}` : ''}${k.alg ? ` ${String(k.alg)}` : ''}${k.use ? ` ${String(k.use)}` : ''}`,
  );
  lines.push(row('jwks', `${keys.length} key${keys.length === 1 ? '' : 's'}${described.length ? `: ${described.join('; ')}` : ''}`));
  const need = keyTypeFor(alg);
  const usable = keys.some(
    (k) =>
      need !== undefined
      && k.kty === need.kty
      && (need.crv === undefined || k.crv === need.crv)
      && (k.alg === undefined || k.alg === alg)
      && (k.use === undefined || k.use === 'sig'),
  );
  if (!usable) problems.push(`the JWKS has no key that can verify ${alg} ID tokens`);
  if (keys.some((k) => 'd' in k || 'p' in k || 'k' in k)) problems.push('the JWKS publishes private or symmetric key material');
}

/** What the IdP's metadata says, what to register there, and certificates near their end. */
async function probeSaml(connector: SamlConnector, upstreamLogout: boolean, lines: string[], problems: string[]): Promise<void> {
  const idp = await connector.idp();
  lines.push(row('idp entity id', idp.entityId));
  lines.push(row('SingleSignOnService', idp.ssoUrl));
  lines.push(row('SingleLogoutService', idp.sloUrl ?? '(none)'));
  if (upstreamLogout && !idp.sloUrl) problems.push('"logout": "upstream" but the IdP has no HTTP-Redirect SingleLogoutService');
  for (const body of idp.certs) {
    try {
      const cert = new X509Certificate(Buffer.from(body, 'base64'));
      const left = Math.floor((Date.parse(cert.validTo) - Date.now()) / 86_400_000);
      lines.push(row('signing certificate', `${cert.subject.replace(/\n/g, ', ')}, valid until ${cert.validTo}`));
      if (left < 0) problems.push(`an IdP signing certificate expired on ${cert.validTo}`);
      else if (left < 30) lines.push(row('warning', `a signing certificate expires in ${left} days: add the next one (idpCert array)`));
    } catch {
      problems.push('an IdP signing certificate cannot be parsed');
    }
  }
  lines.push(row('register SP entity id', connector.urls.entityId));
  lines.push(row('register ACS', `${connector.urls.acs} (HTTP-POST)`));
  lines.push(row('register SLO', connector.urls.slo));
}
