import { createHash } from 'node:crypto';

/** The upstream session key of a SAML login: NameID and SessionIndex together (what a LogoutRequest names). */
export function samlSessionKey(nameId: string, sessionIndex: string): string {
  return createHash('sha256').update(`${nameId}\n${sessionIndex}`).digest('base64url');
}
