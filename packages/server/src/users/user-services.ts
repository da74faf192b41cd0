import type { Kms } from '@palisade/crypto';
import type { RoleGrants } from '../authz/index.ts';
import type { GroupCommitter } from '../commit/index.ts';
import type { Settings } from '../config/index.ts';
import { type KeyService, TenantSecretSeal } from '../keys/index.ts';
import type { TenantStoreLocator } from '../records/index.ts';
import type { ControlPlaneStore } from '../store/index.ts';
import { tenantSignInNames } from './sign-in-names.ts';
import { UserAuthenticator } from './user-authenticator.ts';
import { UserService } from './user-service.ts';

/** A tenant's users: the admin API's service and the sign-in / invitation authenticator. */
export interface UserServices {
  readonly service: UserService;
  readonly authenticator: UserAuthenticator;
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
  return {
    service: new UserService({
      locate,
      committer,
      invitationTtlMs: settings.userInvitationTtlMs,
      roles: options.roles,
      names,
    }),
    authenticator: new UserAuthenticator({
      locate,
      committer,
      secrets: new TenantSecretSeal(options),
      names,
      lockout: {
        threshold: settings.signInLockoutThreshold,
        baseMs: settings.signInLockoutBaseMs,
        maxMs: settings.signInLockoutMaxMs,
        windowMs: settings.signInFailureWindowMs,
        namesMax: settings.signInFailureNamesMax,
      },
    }),
  };
}
