import { iso, json } from './row-values.ts';
import type { SealedTotp, SignInFailureRow, UserInvitationRow, UserRow } from './user-types.ts';

/** The user columns, in the order every user query selects them. */
export const USER_COLUMNS =
  'id, email, name, roles, disabled, password_hash, totp_key, totp_secret, totp_last_step, version, created_at, updated_at, sessions_not_before, kept_sign_in, totp_pending_key, totp_pending_secret';

/** A user row as either backend returns it (SQLite: 0/1 and text; PostgreSQL: boolean, jsonb, Date). */
export interface UserDbRow {
  id: string;
  email: string;
  name: string;
  roles: string | string[];
  disabled: number | boolean;
  password_hash: string | null;
  totp_key: Uint8Array | null;
  totp_secret: Uint8Array | null;
  totp_last_step: number | null;
  version: number;
  created_at: string | Date;
  updated_at: string | Date;
  sessions_not_before: string | Date | null;
  kept_sign_in: string | null;
  totp_pending_key: Uint8Array | null;
  totp_pending_secret: Uint8Array | null;
}

export interface InvitationDbRow {
  user_id: string;
  token_hash: string;
  expires_at: string | Date;
  created_at: string | Date;
}

export function toUser(row: UserDbRow): UserRow {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    roles: json(row.roles),
    disabled: row.disabled === true || row.disabled === 1,
    passwordHash: row.password_hash,
    totp: sealedTotp(row.totp_key, row.totp_secret),
    totpLastStep: row.totp_last_step,
    version: row.version,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
    sessionsNotBefore: row.sessions_not_before === null ? null : iso(row.sessions_not_before),
    keptSignIn: row.kept_sign_in,
    totpPending: sealedTotp(row.totp_pending_key, row.totp_pending_secret),
  };
}

function sealedTotp(key: Uint8Array | null, secret: Uint8Array | null): SealedTotp | null {
  return key === null || secret === null
    ? null
    : { wrappedKey: Uint8Array.from(key), sealed: Uint8Array.from(secret) };
}

export interface SignInFailureDbRow {
  name_key: string;
  failures: number;
  run_from: string | Date;
  locked_until: string | Date | null;
}

export function toSignInFailure(row: SignInFailureDbRow): SignInFailureRow {
  return {
    nameKey: row.name_key,
    failures: row.failures,
    runFrom: iso(row.run_from),
    lockedUntil: row.locked_until === null ? null : iso(row.locked_until),
  };
}

export function toInvitation(row: InvitationDbRow): UserInvitationRow {
  return {
    userId: row.user_id,
    tokenHash: row.token_hash,
    expiresAt: iso(row.expires_at),
    createdAt: iso(row.created_at),
  };
}
