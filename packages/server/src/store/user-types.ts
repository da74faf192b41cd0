/**
 * Storage of a tenant's users: their profile and roles, the password hash (self-describing,
 * see users/password-hash), the TOTP secret sealed to the tenant's KEK, and one-time
 * invitations (only the token's SHA-256 is stored). Failed sign-ins and locks are kept per
 * user name, whether or not a user has it (see SignInFailureRow).
 */
import type { PageQuery } from './types.ts';

/** A TOTP secret at rest: a per-user data key wrapped to the tenant KEK, and the secret under it. */
export interface SealedTotp {
  readonly wrappedKey: Uint8Array;
  readonly sealed: Uint8Array;
}

export interface UserRow {
  readonly id: string;
  /** Lower-cased; unique in the tenant. */
  readonly email: string;
  readonly name: string;
  readonly roles: readonly string[];
  readonly disabled: boolean;
  /** Null until the user accepts an invitation. */
  readonly passwordHash: string | null;
  readonly totp: SealedTotp | null;
  /** The newest TOTP time step accepted; a code of that step or older is a replay. */
  readonly totpLastStep: number | null;
  /**
   * Moves with every write of the row, a sign-in's included: a change read before another
   * instance took a TOTP step must not write back the old step.
   */
  readonly version: number;
  readonly createdAt: string;
  readonly updatedAt: string;
  /**
   * Sign-ins before this no longer count: the issuer refuses their sessions, codes and
   * refresh tokens. Set when the user is disabled and when their credentials are set, reset or
   * changed.
   */
  readonly sessionsNotBefore: string | null;
  /**
   * The one sign-in (the issuer's grant id) that `sessionsNotBefore` spares: the user's own,
   * when they changed their password or TOTP themselves. Null after any other change.
   */
  readonly keptSignIn: string | null;
  /** A TOTP secret the user is enrolling, in force only once a code of it confirms it. */
  readonly totpPending: SealedTotp | null;
}

/** A user's live one-time invitation (at most one per user). */
export interface UserInvitationRow {
  readonly userId: string;
  readonly tokenHash: string;
  readonly expiresAt: string;
  readonly createdAt: string;
}

/**
 * The failed sign-ins of one user name and its lock. Kept for any name tried, a user's or
 * not, so an unknown name locks exactly as a known one does; keyed by an HMAC of the name
 * under the tenant's blind-index key (users/sign-in-names.ts), so what strangers typed (a
 * password in the email field, say) is not stored, nor testable against a list of addresses.
 */
export interface SignInFailureRow {
  readonly nameKey: string;
  /** Consecutive failures of the current run. */
  readonly failures: number;
  /**
   * The later of the run's first failure and the end of its last lock: the run goes on (and
   * the row is kept) while this is within the failure window.
   */
  readonly runFrom: string;
  readonly lockedUntil: string | null;
}

/** User reads of one tenant's store. */
export interface TenantUserReader {
  getUser(id: string): Promise<UserRow | undefined>;
  getUserByEmail(email: string): Promise<UserRow | undefined>;
  listUsers(page: PageQuery): Promise<UserRow[]>;
  getInvitation(tokenHash: string): Promise<UserInvitationRow | undefined>;
  /** The failure rows of those of `nameKeys` that have one. */
  getSignInFailures(nameKeys: readonly string[]): Promise<SignInFailureRow[]>;
}

/** User writes, inside the tenant's transaction; each is one atomic statement. */
export interface TenantUserWriter extends TenantUserReader {
  insertUser(row: UserRow): Promise<void>;
  /** Writes every field of `row` if the stored version is `expectedVersion`; false otherwise. */
  updateUser(row: UserRow, expectedVersion: number): Promise<boolean>;
  /** Deletes the user and its invitation; false when there is no such user. */
  deleteUser(id: string): Promise<boolean>;
  /**
   * Adds one failed sign-in of the name at `at`; the new count. The earlier failures count
   * only when the run's `runFrom` is after `countsSince`; otherwise this one starts the count
   * again, at 1. Forgets the other names whose run is over by then, and when more than
   * `keepMax` names are left, those whose `runFrom` is oldest (a lock in force is newest).
   */
  addSignInFailure(
    nameKey: string,
    at: string,
    countsSince: string,
    keepMax: number,
  ): Promise<number>;
  /** Locks the name until `until` (its run goes on at least until then). */
  lockSignIns(nameKey: string, until: string): Promise<void>;
  /** Forgets the name's failures and lock. */
  clearSignInFailures(nameKey: string): Promise<void>;
  /**
   * A successful sign-in (moves the version): when `totpStep` is given, records it only if it
   * is newer than the last accepted step. False when that step was already used.
   */
  signedIn(id: string, totpStep: number | null): Promise<boolean>;
  /** Inserts the user's invitation, replacing an earlier one. */
  putInvitation(row: UserInvitationRow): Promise<void>;
  /** Deletes the invitation if it is unexpired at `now`; the invitation, or undefined. */
  consumeInvitation(tokenHash: string, now: string): Promise<UserInvitationRow | undefined>;
}
