import type Provider from 'oidc-provider';

/**
 * `at_hash` in the ID tokens the token endpoint issues together with an access token.
 *
 * OIDC Core §3.1.3.6 makes it optional for the code flow, and oidc-provider only sets it for
 * ID tokens from the authorization endpoint; clients that check it (and the security review that
 * asked for it) get the binding between the two tokens this way, at the code exchange and at every
 * refresh. oidc-provider hashes whatever `at_hash` holds with the ID token's algorithm when it
 * signs (left half of the digest, base64url), so this only hands it the access token's value.
 *
 * Both classes are this provider's own (oidc-provider builds them per instance), so nothing is
 * shared with any other provider in the process.
 */
export function installAtHash(provider: Provider): void {
  const values = new WeakMap<object, string>();
  const accessToken = provider.AccessToken.prototype;
  const save = accessToken.save;
  accessToken.save = async function saveAndRemember(this: InstanceType<Provider['AccessToken']>): Promise<string> {
    const value = await save.call(this);
    values.set(this, value);
    return value;
  };
  const idToken = provider.IdToken.prototype;
  const issue = idToken.issue;
  idToken.issue = function issueWithAtHash(this: InstanceType<Provider['IdToken']>, context) {
    const at = context.use === 'idtoken' ? this.ctx?.oidc?.entities.AccessToken : undefined;
    const value = at ? values.get(at) : undefined;
    if (value !== undefined && this.extra.at_hash === undefined) this.set('at_hash', value);
    return issue.call(this, context);
  };
}
