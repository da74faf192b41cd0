import type { Kms } from '@palisade/crypto';
import type { RoleGrants } from '../authz/index.ts';
import type { GroupCommitter } from '../commit/index.ts';
import type { Settings } from '../config/index.ts';
import { type KeyService, TenantSecretSeal } from '../keys/index.ts';
import type { TenantStoreLocator } from '../records/index.ts';
import type { ControlPlaneStore } from '../store/index.ts';
import { OwnAccount } from './own-account.ts';
import { tenantSignInNames } from './sign-in-names.ts';
import { UserAuthenticator } from './user-authenticator.ts';
import { UserService } from './user-service.ts';

/**
 * A tenant's users: the admin API's service, the sign-in / invitation authenticator, and each
 * signed-in user's own account.
 */
export interface UserServices {
  readonly service: UserService;
  readonly authenticator: UserAuthenticator;
  readonly own: OwnAccount;
}

export function openUserServices(options: {
  settings: Settings;
  locate: TenantStoreLocator;
  committer: GroupCommitter;
  kms: Kms;
  controlPlane: ControlPlaneStore;
  keys: KeyService;
  roles: RoleGrants;
}): UserServices {
  const { settings, locate, committer } = options;
  const names = tenantSignInNames(options.keys);
  const secrets = new TenantSecretSeal(options);
  const lockout = {
    threshold: settings.signInLockoutThreshold,
    baseMs: settings.signInLockoutBaseMs,
    maxMs: settings.signInLockoutMaxMs,
    windowMs: settings.signInFailureWindowMs,
    namesMax: settings.signInFailureNamesMax,
  };
  return {
    service: new UserService({
      locate,
      committer,
      invitationTtlMs: settings.userInvitationTtlMs,
      roles: options.roles,
      names,
    }),
    authenticator: new UserAuthenticator({ locate, committer, secrets, names, lockout }),
    own: new OwnAccount({ locate, committer, secrets, names, lockout }),
  };
}
