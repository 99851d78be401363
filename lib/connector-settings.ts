import type { ConnectorConfig } from './connector.js';

/**
 * What the gateway reads from a connector's validated entry rather than from the connector: each
 * default is applied here and nowhere else.
 */
export interface ConnectorSettings {
  /** Display name on the chooser page and in messages. Default: the id. */
  readonly name: string;
  /** Lower-cased e-mail domains for home-realm discovery (`login_hint`). */
  readonly domains: readonly string[];
  /** `logout: "upstream"`: logout continues at the upstream (when the connector can). Default false. */
  readonly upstreamLogout: boolean;
  /** Where the upstream sends the browser after its logout (registered there). Default baseUrl + "/". */
  readonly postLogoutRedirectUri: string;
  /** Whether the gateway refreshes upstream tokens near expiry (when the connector can). Default true. */
  readonly refresh: boolean;
  /** Whether `req.auth.upstream` carries the upstream tokens. Default false. */
  readonly exposeUpstreamTokens: boolean;
}

/** The settings of one connector entry; `baseUrl` is the gateway's public origin. */
export function connectorSettings(entry: ConnectorConfig, baseUrl: string): ConnectorSettings {
  return {
    name: entry.name ?? entry.id,
    domains: (entry.domains ?? []).map((d) => d.toLowerCase()),
    upstreamLogout: entry.logout === 'upstream',
    postLogoutRedirectUri: entry.postLogoutRedirectUri ?? `${baseUrl}/`,
    refresh: entry.refresh ?? true,
    exposeUpstreamTokens: entry.exposeUpstreamTokens ?? false,
  };
}

/** The settings of the configured connector `id`, or undefined when no entry has that id. */
export function settingsOf(config: { readonly baseUrl: string; readonly connectors: readonly ConnectorConfig[] }, id: string): ConnectorSettings | undefined {
  const entry = config.connectors.find((c) => c.id === id);
  return entry && connectorSettings(entry, config.baseUrl);
}
