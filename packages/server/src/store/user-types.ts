/**
 * Storage of a tenant's users: their profile and roles, the password hash (self-describing,
 * see users/password-hash), the TOTP secret sealed to the tenant's KEK, the sign-in failure
 * counter and lock, and one-time invitations (only the token's SHA-256 is stored).
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
   * Consecutive failed sign-ins since the last success, counted within the lockout window (see
   * addSignInFailure).
   */
  readonly failedSignIns: number;
  readonly lockedUntil: string | null;
  /**
   * Moves with every write of the row, the sign-in bookkeeping's included: a change read
   * before another instance counted a failure or took a TOTP step must not write back the old
   * count, lock or step.
   */
  readonly version: number;
  readonly createdAt: string;
  readonly updatedAt: string;
  /**
   * Sign-ins before this no longer count: the issuer refuses their sessions, codes and
   * refresh tokens. Set when the user is disabled and when their credentials are set or reset.
   */
  readonly sessionsNotBefore: string | null;
}

/** A user's live one-time invitation (at most one per user). */
export interface UserInvitationRow {
  readonly userId: string;
  readonly tokenHash: string;
  readonly expiresAt: string;
  readonly createdAt: string;
}

/** User reads of one tenant's store. */
export interface TenantUserReader {
  getUser(id: string): Promise<UserRow | undefined>;
  getUserByEmail(email: string): Promise<UserRow | undefined>;
  listUsers(page: PageQuery): Promise<UserRow[]>;
  getInvitation(tokenHash: string): Promise<UserInvitationRow | undefined>;
}

/** User writes, inside the tenant's transaction; each is one atomic statement. */
export interface TenantUserWriter extends TenantUserReader {
  insertUser(row: UserRow): Promise<void>;
  /** Writes every field of `row` if the stored version is `expectedVersion`; false otherwise. */
  updateUser(row: UserRow, expectedVersion: number): Promise<boolean>;
  /** Deletes the user and its invitation; false when there is no such user. */
  deleteUser(id: string): Promise<boolean>;
  /**
   * Adds one failed sign-in at `at` (and moves the version, as lockUser and signedIn do); the
   * new count, or undefined when there is no such user. The earlier failures count only when
   * the first of them, or the end of the last lock, is after `countsSince`; otherwise this one
   * starts the count again, at 1.
   */
  addSignInFailure(id: string, at: string, countsSince: string): Promise<number | undefined>;
  lockUser(id: string, until: string): Promise<void>;
  /**
   * A successful sign-in: clears failures (and when their run began) and lock, and when `totpStep` is given, records it
   * only if it is newer than the last accepted step. False when that step was already used.
   */
  signedIn(id: string, totpStep: number | null): Promise<boolean>;
  /** Inserts the user's invitation, replacing an earlier one. */
  putInvitation(row: UserInvitationRow): Promise<void>;
  /** Deletes the invitation if it is unexpired at `now`; the invitation, or undefined. */
  consumeInvitation(tokenHash: string, now: string): Promise<UserInvitationRow | undefined>;
}
