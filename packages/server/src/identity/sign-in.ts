import { PalisadeError } from '../errors/index.ts';
import type { ShardStore } from '../store/index.ts';
import type { Tenant } from '../tenancy/index.ts';

/** A user as the issuer puts it in tokens: `sub` is the id, `roles` decide permissions. */
export interface IssuerAccount {
  readonly id: string;
  readonly email: string;
  readonly name: string;
  readonly roles: readonly string[];
  /**
   * Epoch seconds of the user's last disable or credential (re)set, or null: a session, code
   * or refresh token from a sign-in before that second is refused.
   */
  readonly signInsFrom: number | null;
  /** The one sign-in (grant id) that `signInsFrom` spares: the user's own change came from it. */
  readonly keptSignIn: string | null;
}

/**
 * Checks a user's email, password and (when the account has one) TOTP code, with lock-out.
 * Throws a PalisadeError saying why not (PALISADE_SIGN_IN_FAILED, PALISADE_TOTP_REQUIRED,
 * PALISADE_ACCOUNT_LOCKED, which also carries `retryAfterSeconds`: see retryAfterOf); the
 * users capability provides it.
 */
export interface SignInVerifier {
  signIn(
    tenant: Tenant,
    email: string,
    password: string,
    totpCode?: string,
  ): Promise<{ readonly id: string }>;
}

/** When a refusal says trying again can succeed (a lock ends): seconds until then. */
export function retryAfterOf(error: PalisadeError): number | undefined {
  const seconds = (error as PalisadeError & { retryAfterSeconds?: unknown }).retryAfterSeconds;
  return typeof seconds === 'number' ? seconds : undefined;
}

/** Finds the account a token is about; undefined when it is gone or disabled. */
export interface AccountDirectory {
  account(tenant: Tenant, userId: string): Promise<IssuerAccount | undefined>;
}

/** Accounts read from the tenant's own store (its users table). */
export function storedAccounts(shards: ReadonlyMap<string, ShardStore>): AccountDirectory {
  return {
    async account(tenant, userId) {
      const shard = shards.get(tenant.shard);
      if (shard === undefined)
        throw new PalisadeError('PALISADE_INTERNAL', `shard ${tenant.shard} is not open`);
      const user = await (await shard.tenant(tenant.id)).reader.users.getUser(userId);
      if (user === undefined || user.disabled || user.passwordHash === null) return undefined;
      const { sessionsNotBefore: since } = user;
      return {
        id: user.id,
        email: user.email,
        name: user.name,
        roles: user.roles,
        signInsFrom: since === null ? null : Math.floor(Date.parse(since) / 1000),
        keptSignIn: user.keptSignIn,
      };
    },
  };
}
