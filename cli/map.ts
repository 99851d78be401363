import path from 'node:path';
import { mapClaims, type CompiledClaimRule, type CompiledMapping } from '../lib/claims/map.js';
import type { ResolvedConfig } from '../lib/config/load.js';
import { FedgateError } from '../lib/errors.js';
import type { Connector } from '../lib/connector.js';
import { generatePrivateJwk, loadKeySet } from '../lib/tokens/keys.js';
import { createTokenMinter, reservedClaims } from '../lib/tokens/mint.js';
import { computeScopes } from '../lib/tokens/scopes.js';
import { SamlConnector } from '../connectors/saml/index.js';
import { collectingLogger, createConnector, loadConfigFile, offlineContext, printConfigError } from './config.js';
import { displayPath, exitCodes, inputError, isRecord, json, parseCommand, positionals, readTextFile, usageError, type Io } from './io.js';

export const mapUsage = `Usage: fedgate map <config.json> --connector <id> <claims.json> [--userinfo <userinfo.json>] [--json]

Dry-runs a connector's effective claim mapping (its preset overlaid by the config's "claims")
on sample upstream claims, offline. <claims.json> is a JSON object of ID token claims, or a
file holding a compact JWT (its payload is decoded; the signature is not checked), or for a
"saml" connector a SAML Response or Assertion (XML; read, not validated).
Prints the local claims with where each came from, the local scopes, and the payloads of the
local ID token and access token fedgate would mint. Nothing is signed with your keys.
  --userinfo <file>  userinfo claims overlaid on the ID token claims (connectors with "userinfo": true)
  --json             machine-readable output
Missing \${env:NAME} variables get placeholders: no secret is needed.`;

/** Where one local claim came from. */
export interface ClaimOrigin {
  claim: string;
  value: unknown;
  /** The upstream claim name or path used, or `constant`, `default`, `absent`. */
  from: string;
  /** `preset` (the connector type's default mapping) or `config` (the connector's `claims`). */
  rule: 'preset' | 'config';
  transforms: string[];
}

const jwtPattern = /^[A-Za-z0-9_-]+\.([A-Za-z0-9_-]+)\.[A-Za-z0-9_-]*$/;

/** Protocol claims of an upstream ID token; listing them as "unmapped" would only be noise. */
const protocolClaims = new Set([...reservedClaims, 'at_hash', 'c_hash', 'amr', 'acr', 'ver', 'tid', 'uti', 'rh', 'idp', 'auth_time', 'updated_at', 'sid']);

async function readClaims(file: string, what: string): Promise<{ claims: Record<string, unknown>; fromJwt: boolean }> {
  const text = (await readTextFile(file, what)).trim();
  const jwt = jwtPattern.exec(text);
  let value: unknown;
  if (jwt) {
    try {
      value = JSON.parse(Buffer.from(jwt[1]!, 'base64url').toString('utf8'));
    } catch {
      throw inputError(`${what} ${displayPath(file)} looks like a JWT but its payload is not JSON`);
    }
  } else {
    try {
      value = JSON.parse(text);
    } catch {
      throw inputError(`${what} ${displayPath(file)} is not valid JSON (nor a compact JWT)`);
    }
  }
  if (!isRecord(value)) throw inputError(`${what} ${displayPath(file)} must hold a JSON object of claims`);
  return { claims: value, fromJwt: jwt !== null };
}

/**
 * A SAML Response or Assertion (XML) as the sample of a `saml` connector: the upstream claims a
 * sign-in would give (attributes by Name, NameID as `sub`), read without validation. JSON files
 * are read as for any connector.
 */
async function readSamlSample(connector: SamlConnector, file: string): Promise<{ claims: Record<string, unknown>; fromJwt: boolean } | undefined> {
  const text = (await readTextFile(file, 'claims file')).trim();
  if (!text.startsWith('<')) return undefined;
  try {
    return { claims: (await connector.sampleIdentity(text)).claims, fromJwt: false };
  } catch (err) {
    throw inputError(`claims file ${displayPath(file)}: ${err instanceof FedgateError ? (err.detail ?? err.message) : 'not a SAML assertion'}`);
  }
}

/** The first source of a rule that is present, found with the real lookup of `mapClaims`. */
function originOf(rule: CompiledClaimRule, upstream: Record<string, unknown>): string {
  if (rule.isConstant) return 'constant';
  for (const source of rule.sources) {
    try {
      if (Object.hasOwn(mapClaims({ probe: { from: source.name } }, upstream), 'probe')) return source.name;
    } catch {
      return source.name; // present but unmappable: the real mapping reports it
    }
  }
  return rule.fallback !== undefined && rule.fallback !== null ? 'default' : 'absent';
}

function transformsOf(rule: CompiledClaimRule): string[] {
  const out: string[] = [];
  if (rule.type) out.push(`type ${rule.type}${rule.split !== undefined ? ` split "${rule.split}"` : ''}`);
  if (rule.lowercase) out.push('lowercase');
  if (rule.match) out.push(`match /${rule.match.source}/`);
  if (rule.prefix) out.push(`prefix "${rule.prefix}"`);
  if (rule.required) out.push('required');
  return out;
}

/** Env lookups that never fail: a missing variable becomes a placeholder long enough for any secret check. */
function placeholderEnv(missing: Set<string>): Readonly<Record<string, string | undefined>> {
  return new Proxy({} as Record<string, string | undefined>, {
    get(_t, name) {
      if (typeof name !== 'string') return undefined;
      const v = process.env[name];
      if (v !== undefined) return v;
      missing.add(name);
      return `fedgate-map-placeholder-${name.toLowerCase()}-0123456789abcdef`;
    },
  });
}

/** `fedgate map`: an offline dry run of one connector's claim mapping and the tokens it leads to. */
export async function runMap(args: string[], io: Io): Promise<number> {
  const { values, positionals: rest } = parseCommand(args, {
    connector: { type: 'string', short: 'c' },
    userinfo: { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    io.out(mapUsage);
    return exitCodes.ok;
  }
  const [configFile, claimsFile] = positionals(rest, ['config.json', 'claims.json']) as [string, string];
  if (values.connector === undefined || values.connector === '') throw usageError('missing --connector <id>');

  const missingEnv = new Set<string>();
  let config: ResolvedConfig;
  try {
    // The dry run signs with a throwaway key, so tokens.keys need not exist here.
    config = loadConfigFile(configFile, placeholderEnv(missingEnv), { readKeyFile: false });
  } catch (err) {
    io.out(`${displayPath(path.resolve(configFile))}: invalid`);
    printConfigError(err, io);
    return exitCodes.problems;
  }
  const index = config.connectors.findIndex((c) => c.id === values.connector);
  if (index === -1) {
    throw new FedgateError(
      'CONNECTOR_UNKNOWN',
      `no connector "${values.connector}" in ${displayPath(path.resolve(configFile))}; configured: ${config.connectors.map((c) => c.id).join(', ')}`,
    );
  }
  const { connector, mapping } = createConnector(config, index, offlineContext(config, collectingLogger()));
  const sample = await readSample(connector, claimsFile, values.userinfo);
  const result = mapSample(config, index, connector, mapping, sample.upstream, claimsFile);
  if (typeof result === 'string') {
    io.out(result);
    return exitCodes.problems;
  }
  const tokens = await mintPayloads(config, result, sample.upstream);
  if (values.json) {
    const { claims, origins, removed, unmapped, scope } = result;
    io.out(
      json({ connector: { id: connector.id, type: connector.type }, claims, origins, removed, unmapped, scope, ...tokens, placeholders: [...missingEnv] }),
    );
    return exitCodes.ok;
  }
  printReport(io, connector, result, tokens, { fromJwt: sample.fromJwt, fromSaml: sample.fromSaml, missingEnv });
  return exitCodes.ok;
}

/** The upstream claims of the sample: ID token claims (JSON, a JWT or a SAML assertion), userinfo overlaid. */
async function readSample(
  connector: Connector,
  claimsFile: string,
  userinfoFile: string | undefined,
): Promise<{ upstream: Record<string, unknown>; fromJwt: boolean; fromSaml: boolean }> {
  const samlSample = connector instanceof SamlConnector ? await readSamlSample(connector, claimsFile) : undefined;
  const idClaims = samlSample ?? (await readClaims(claimsFile, 'claims file'));
  let upstream: Record<string, unknown> = idClaims.claims;
  if (userinfoFile !== undefined) upstream = { ...upstream, ...(await readClaims(userinfoFile, 'userinfo file')).claims };
  for (const dropped of ['_claim_names', '_claim_sources']) delete upstream[dropped];
  return { upstream, fromJwt: idClaims.fromJwt, fromSaml: samlSample !== undefined };
}

interface MappedSample {
  /** The connector's effective rules (preset overlaid by the config's `claims`). */
  ruleCount: number;
  configRuleCount: number;
  sub: string;
  claims: Record<string, unknown>;
  scope: string[];
  origins: ClaimOrigin[];
  removed: string[];
  unmapped: string[];
}

/** Runs the real mapping on the sample; a string is the mapping failure to print. */
function mapSample(
  config: ResolvedConfig,
  index: number,
  connector: Connector,
  compiled: CompiledMapping,
  upstream: Record<string, unknown>,
  claimsFile: string,
): MappedSample | string {
  let mapped: Record<string, unknown>;
  try {
    mapped = mapClaims(compiled, upstream);
  } catch (err) {
    if (!(err instanceof FedgateError)) throw err;
    return `mapping failed: ${err.code}: ${err.message}`;
  }
  const upstreamSub = mapped.sub ?? upstream.sub;
  if (typeof upstreamSub !== 'string' && typeof upstreamSub !== 'number') {
    throw inputError(`claims file ${displayPath(claimsFile)} has no "sub": every ID token carries one`);
  }
  const sub = `${connector.id}|${String(upstreamSub)}`;
  const claims: Record<string, unknown> = { ...mapped, sub };
  const userRules = config.connectors[index]!.claims ?? {};
  const origins: ClaimOrigin[] = compiled.rules.map((rule) => ({
    claim: rule.local,
    value: rule.local === 'sub' ? sub : mapped[rule.local],
    from: originOf(rule, upstream),
    rule: Object.hasOwn(userRules, rule.local) ? 'config' : 'preset',
    transforms: rule.local === 'sub' ? ['prefixed with the connector id'] : transformsOf(rule),
  }));
  const used = new Set(compiled.rules.flatMap((r) => r.sources.flatMap((s) => [s.name, s.segments[0]!])));
  return {
    ruleCount: compiled.rules.length,
    configRuleCount: Object.keys(userRules).length,
    sub,
    claims,
    scope: computeScopes(config.tokens.scopes as Record<string, never>, claims),
    origins,
    removed: Object.entries(userRules)
      .filter(([, v]) => v === null)
      .map(([k]) => k),
    unmapped: Object.keys(upstream).filter((k) => !used.has(k) && !protocolClaims.has(k)),
  };
}

/** Minted with a throwaway key, so the payloads are exactly what the gateway would build. */
async function mintPayloads(config: ResolvedConfig, m: MappedSample, upstream: Record<string, unknown>): Promise<{ idToken: object; accessToken: object }> {
  const keySet = await loadKeySet({ keys: { keys: [await generatePrivateJwk('ES256')] }, baseDir: config.baseDir, logger: collectingLogger() });
  const minter = createTokenMinter({
    keySet,
    issuer: config.tokens.issuer,
    audience: config.tokens.audience,
    accessTokenTtl: config.tokens.accessTokenTtl,
    idTokenTtl: config.tokens.idTokenTtl,
    now: Date.now,
    randomId: () => '(random per token)',
  });
  const authTime = typeof upstream.auth_time === 'number' ? upstream.auth_time : Math.floor(Date.now() / 1000);
  const sid = '(random per session)';
  const { sub, claims, scope } = m;
  const idToken = (await minter.mintIdToken({ sub, authTime, sid, claims })).payload;
  const accessToken = (await minter.mintAccessToken({ sub, authTime, sid, scope, claims })).payload;
  return { idToken, accessToken };
}

function printReport(
  io: Io,
  connector: Connector,
  m: MappedSample,
  tokens: { idToken: object; accessToken: object },
  notes: { fromJwt: boolean; fromSaml: boolean; missingEnv: Set<string> },
): void {
  io.out(
    `connector ${connector.id} (${connector.type}): ${m.ruleCount} rules, ${m.configRuleCount} from the config${m.removed.length ? `, removed: ${m.removed.join(', ')}` : ''}`,
  );
  if (notes.fromJwt) io.out('(claims decoded from a JWT payload; its signature was not checked)');
  if (notes.fromSaml) io.out('(claims read from a SAML assertion sample; its signature, audience and times were not checked)');
  if (notes.missingEnv.size) io.out(`(placeholders used for unset environment variables: ${[...notes.missingEnv].join(', ')})`);
  io.out('');
  printTable(io, m.origins);
  io.out('');
  io.out(`unmapped upstream claims: ${m.unmapped.length ? m.unmapped.join(', ') : '(none)'}`);
  io.out(`local scopes: ${m.scope.length ? m.scope.join(' ') : '(none)'}`);
  io.out('');
  io.out('ID token payload (header typ "JWT"):');
  io.out(json(tokens.idToken));
  io.out('');
  io.out('access token payload (header typ "at+jwt"; only roles, groups and entitlements are copied):');
  io.out(json(tokens.accessToken));
}

function printTable(io: Io, origins: ClaimOrigin[]): void {
  const show = (v: unknown) => {
    if (v === undefined) return '-';
    const s = JSON.stringify(v);
    return s.length > 48 ? `${s.slice(0, 45)}...` : s;
  };
  const rows = [
    ['local claim', 'value', 'from', 'rule', 'transforms'],
    ...origins.map((o) => [
      o.claim,
      show(o.value),
      o.from === 'constant' || o.from === 'default' || o.from === 'absent' ? `(${o.from})` : o.from,
      o.rule,
      o.transforms.join(', '),
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows)
    io.out(
      r
        .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    );
}
