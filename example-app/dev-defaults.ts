/**
 * Development-only values shared by the bundled IdP and the example app. A real deployment
 * gets its client secret and session secret from a secret store, through `${env:NAME}`.
 */

/** The example app's client id at every vendor of the development IdP. */
export const devClientId = 'example-app';

/** The example app's client secret at the development IdP (`${env:EXAMPLE_IDP_CLIENT_SECRET}` default). */
export const devClientSecret = 'example-app-development-client-secret-0123456789';

/** Session cookie secret used when FEDGATE_SESSION_SECRET is not set; refused with NODE_ENV=production. */
export const devSessionSecret = 'example-app-development-session-secret-change-me-0123456789';
