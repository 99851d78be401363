export { loadKeySet, validatePrivateJwks, generatePrivateJwk, supportedAlgorithms } from './keys.js';
export type { KeySet, VerifyingKey, SigningAlgorithm, LoadKeySetInput } from './keys.js';
export { createTokenMinter, reservedClaims, accessTokenAuthorizationClaims } from './mint.js';
export type { TokenMinter, TokenMinterOptions, MintIdTokenInput, MintAccessTokenInput, MintedToken } from './mint.js';
export { createAccessTokenVerifier } from './verify.js';
export type { AccessTokenVerifier, AccessTokenVerifierOptions, VerifiedAccessToken } from './verify.js';
export { computeScopes } from './scopes.js';
export { buildDiscoveryDocument, publicJwks } from './metadata.js';
export type { DiscoveryDocumentInput } from './metadata.js';
