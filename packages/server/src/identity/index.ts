export type { TokenPresentation, VerifiedAccessToken } from './access-token-verifier.ts';
export type { ClientView, NewClient } from './client-service.ts';
export { revokeCookieSecrets, rotateCookieSecrets } from './cookie-secrets.ts';
export { type IdentityOptions, IdentityService } from './identity-service.ts';
export type { InteractionForm } from './interactions.ts';
export { resealIssuerKeys, SIGNING_ALGORITHMS, type SigningAlgorithm } from './issuer-keys.ts';
export type { IssuerAccount, SignInVerifier } from './sign-in.ts';
export type { TenantIssuer } from './tenant-issuers.ts';
export type { IssuerLifetimes } from './tenant-provider.ts';
