export {
  INVITATION_PAGE_HEADERS,
  invitationDone,
  invitationForm,
  invitationProblem,
} from './invitation-page.ts';
export { INVITATION_TOKEN_PATTERN } from './invitation-token.ts';
export type { LockoutPolicy } from './lockout.ts';
export { OwnAccount } from './own-account.ts';
export { passwordHashParams } from './password-hash.ts';
export { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from './password-policy.ts';
export { AccountLockedError } from './sign-in-failures.ts';
export { type SignInNames, signInNameKey, tenantSignInNames } from './sign-in-names.ts';
export {
  newTotpSecret,
  totpBase32,
  totpIssuer,
  totpSecretFromBase32,
  totpUri,
} from './totp-code.ts';
export {
  type InvitationAnswer,
  type InvitationView,
  type SignedInUser,
  UserAuthenticator,
} from './user-authenticator.ts';
export {
  type Invitation,
  type NewUser,
  type UserPatch,
  UserService,
} from './user-service.ts';
export { openUserServices, type UserServices } from './user-services.ts';
export type { UserView } from './user-view.ts';
