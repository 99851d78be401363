/**
 * Type-level test of the connector contract, as an app compiles it against 'fedgate': checked by
 * `npm run typecheck` (tsc), not run by jest. A connector type needs no cast anywhere; what is
 * wrong fails to compile (each `@ts-expect-error` must meet an error, or tsc reports it unused).
 */
import { z } from 'zod';
import {
  builtinConnectors,
  canRefresh,
  connectorBaseShape,
  defineConnectorType,
  fedgate,
  logsOutUpstream,
  type Connector,
  type ConnectorContext,
  type ConnectorRegistry,
  type ConnectorType,
  type UpstreamIdentity,
} from 'fedgate';

const schema = z.strictObject({ type: z.literal('typed'), ...connectorBaseShape, tenant: z.string() });

declare function makeConnector(id: string, tenant: string, ctx: ConnectorContext): Connector;

// The config type is inferred from the schema: `tenant` is a string, `refresh` an optional boolean.
const typed = defineConnectorType({
  type: 'typed',
  schema,
  claims: (config) => ({ sub: config.tenant }),
  validate: (config, at) => (config.refresh === false ? [{ path: `${at}.refresh`, message: 'must stay on' }] : []),
  create: (config, ctx) => makeConnector(config.id, config.tenant, ctx),
});

// No cast into a registry, next to the built-in types, or into the options.
const registry: ConnectorRegistry = new Map<string, ConnectorType>([...builtinConnectors, [typed.type, typed]]);
fedgate('./gateway.json', { connectorTypes: registry });
fedgate('./gateway.json', { connectorTypes: new Map([[typed.type, typed]]) });

defineConnectorType({
  type: 'typed',
  schema,
  // @ts-expect-error a key the schema does not have
  create: (config, ctx) => makeConnector(config.id, config.tenantt, ctx),
});

defineConnectorType({
  type: 'no-id',
  // @ts-expect-error every entry has a string `id` (and `type`)
  schema: z.strictObject({ type: z.literal('no-id'), tenant: z.string() }),
  create: (_config, ctx) => makeConnector('x', 'y', ctx),
});

// Optional capabilities are checked, not assumed.
declare const connector: Connector;
declare const identity: UpstreamIdentity;
// @ts-expect-error refresh is a capability, not part of every connector
void connector.refresh({ refreshToken: 'rt', original: identity });
if (canRefresh(connector)) void connector.refresh({ refreshToken: 'rt', original: identity });
if (logsOutUpstream(connector)) void connector.buildLogoutUrl({ postLogoutRedirectUri: 'https://app.example.com/' });
