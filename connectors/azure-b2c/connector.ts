import {
  LoginRestartRequest,
  type BeginLoginInput,
  type BeginLoginResult,
  type CompleteLoginInput,
  type Connector,
  type ConnectorStatus,
  type LogoutInput,
  type Refreshable,
  type RefreshInput,
  type UpstreamIdentity,
  type UpstreamLogout,
} from '../../lib/connector.js';
import { FedgateError } from '../../lib/errors.js';
import type { OidcConnector } from '../oidc/connector.js';
import { UpstreamAuthorizationError } from '../common/errors.js';

/** `restart` value the gateway passes back after AADB2C90118. */
export const passwordResetRestart = 'password-reset';

/** Key in the per-login data naming the policy the login went to (the rest is the OIDC connector's). */
const flowKey = 'b2cFlow';

/**
 * Azure AD B2C: one OIDC connector per policy (discovery is per policy), the
 * sign-in policy by default and the password-reset policy after `AADB2C90118`. B2C reports both
 * "forgot password" and "cancel" as `error=access_denied` with the code in `error_description`
 * (https://learn.microsoft.com/ca-es/azure/active-directory-b2c/troubleshoot, https://learn.microsoft.com/en-us/Azure/active-directory-b2c/error-codes): the first becomes a {@link LoginRestartRequest}, the second a
 * clear "cancelled" page.
 */
export class AzureB2cConnector implements Connector, Refreshable, UpstreamLogout {
  readonly id: string;
  readonly type: string;
  /** The display name, for messages. */
  readonly name: string;

  readonly #signIn: OidcConnector;
  readonly #reset: OidcConnector | undefined;

  constructor(signIn: OidcConnector, reset: OidcConnector | undefined) {
    this.#signIn = signIn;
    this.#reset = reset;
    this.id = signIn.id;
    this.type = signIn.type;
    this.name = signIn.name;
  }

  status(): ConnectorStatus {
    return this.#signIn.status();
  }

  ready(): Promise<void> {
    return this.#signIn.ready();
  }

  async beginLogin(input: BeginLoginInput): Promise<BeginLoginResult> {
    const reset = input.restart === passwordResetRestart ? this.#reset : undefined;
    const begin = await (reset ?? this.#signIn).beginLogin(input);
    return { url: begin.url, data: { ...begin.data, [flowKey]: reset ? 'reset' : 'signin' } };
  }

  async completeLogin(input: CompleteLoginInput): Promise<UpstreamIdentity> {
    const { [flowKey]: flow, ...data } = input.data;
    const inReset = flow === 'reset';
    const delegate = inReset ? this.#reset : this.#signIn;
    if (!delegate)
      throw new FedgateError('CALLBACK_STATE_INVALID', 'The sign-in session is incomplete; please start again.', {
        detail: 'reset flow without a reset policy',
      });
    try {
      return await delegate.completeLogin({ ...input, data });
    } catch (err) {
      if (!(err instanceof UpstreamAuthorizationError)) throw err;
      const code = /^AADB2C\d+/.exec(err.errorDescription ?? '')?.[0];
      if (code === 'AADB2C90118') {
        // "Forgot your password?" in a flow without embedded reset. Never from the reset flow itself (no loop).
        if (this.#reset && !inReset) throw new LoginRestartRequest(passwordResetRestart, `${this.name} asked to reset the password.`);
        throw new FedgateError('UPSTREAM_AUTHORIZATION_ERROR', `${this.name} cannot reset the password here. Please contact support.`, {
          detail: 'AADB2C90118 without passwordResetPolicy',
        });
      }
      if (code === 'AADB2C90091') {
        throw new FedgateError('UPSTREAM_AUTHORIZATION_ERROR', `The sign-in with ${this.name} was cancelled.`, { detail: 'AADB2C90091' });
      }
      throw err;
    }
  }

  refresh(input: RefreshInput): Promise<UpstreamIdentity> {
    // Refresh tokens are redeemed at the sign-in policy's token endpoint.
    return this.#signIn.refresh(input);
  }

  buildLogoutUrl(input: LogoutInput): Promise<URL | undefined> {
    return this.#signIn.buildLogoutUrl(input);
  }
}
