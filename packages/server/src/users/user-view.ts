import type { SignInFailureRow, UserRow } from '../store/index.ts';

/** A user as the API shows it: never the password hash or the TOTP secret. */
export interface UserView {
  readonly id: string;
  readonly email: string;
  readonly name: string;
  readonly roles: readonly string[];
  readonly disabled: boolean;
  /** False until the user accepted an invitation and set a password. */
  readonly active: boolean;
  readonly totp: boolean;
  /** Of the user's email, as every name's are counted (see SignInFailureRow). */
  readonly failedSignIns: number;
  readonly lockedUntil: string | null;
  readonly version: number;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export function viewOf(row: UserRow, failures: SignInFailureRow | undefined): UserView {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    roles: row.roles,
    disabled: row.disabled,
    active: row.passwordHash !== null,
    totp: row.totp !== null,
    failedSignIns: failures?.failures ?? 0,
    lockedUntil: failures?.lockedUntil ?? null,
    version: row.version,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

/** What a ledger entry commits to about a user: no secrets, not even their hashes. */
export function ledgerStateOf(row: UserRow) {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    roles: row.roles,
    disabled: row.disabled,
    active: row.passwordHash !== null,
    totp: row.totp !== null,
    version: row.version,
  };
}

/** Emails compare case-insensitively and without surrounding spaces. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}
