import { compileMapping, mergeMappings, type CompiledMapping } from './claims/map.js';
import type { ClaimMapping } from './claims/schema.js';
import type { Connector, ConnectorConfig, ConnectorContext, ConnectorRegistry, ConnectorType } from './connector.js';
import { FedgateError } from './errors.js';

/** One configured connector: the instance and its effective claim mapping, compiled. */
export interface BuiltConnector {
  readonly connector: Connector;
  /** The type's default mapping overlaid by the entry's `claims`. */
  readonly claims: ClaimMapping;
  readonly mapping: CompiledMapping;
}

/** What the gateway runs on: connectors and mappings by connector id, in configuration order. */
export interface BuiltConnectors {
  readonly connectors: Map<string, Connector>;
  readonly mappings: Map<string, CompiledMapping>;
}

/** The effective claim mapping of an entry: the type's defaults, overlaid by the entry's `claims`. */
export function effectiveClaims(type: ConnectorType, entry: ConnectorConfig): ClaimMapping {
  return mergeMappings(type.claims?.(entry) ?? {}, entry.claims);
}

/**
 * Builds the connector of one validated entry with its type's factory, and compiles its mapping.
 * `ctx` is this connector's own context (its fetch, its store namespace).
 */
export function buildConnector(entry: ConnectorConfig, types: ConnectorRegistry, ctx: ConnectorContext): BuiltConnector {
  const type = types.get(entry.type);
  // loadConfig validated every entry against these types, so this only guards a mismatched registry.
  if (!type) throw new FedgateError('CONFIG_INVALID', `Unknown connector type "${entry.type}"`);
  const claims = effectiveClaims(type, entry);
  return { connector: type.create(entry, ctx), claims, mapping: compileMapping(claims) };
}

/**
 * Builds every configured connector, as the gateway and the CLI both do. `contextFor` gives each
 * connector its context (the gateway instruments fetch and namespaces the store per connector).
 */
export function buildConnectors(
  config: { readonly connectors: readonly ConnectorConfig[] },
  types: ConnectorRegistry,
  contextFor: (entry: ConnectorConfig) => ConnectorContext,
): BuiltConnectors {
  const connectors = new Map<string, Connector>();
  const mappings = new Map<string, CompiledMapping>();
  for (const entry of config.connectors) {
    const built = buildConnector(entry, types, contextFor(entry));
    connectors.set(entry.id, built.connector);
    mappings.set(entry.id, built.mapping);
  }
  return { connectors, mappings };
}
