import type { StatementSync } from 'node:sqlite';
import type { PageQuery } from '../types.ts';
import {
  type InvitationDbRow,
  toInvitation,
  toUser,
  USER_COLUMNS,
  type UserDbRow,
} from '../user-rows.ts';
import type { TenantUserWriter, UserInvitationRow, UserRow } from '../user-types.ts';

type Prepare = (sql: string) => StatementSync;

/** Users and invitations in one tenant's SQLite file. */
export class SqliteTenantUsers implements TenantUserWriter {
  readonly #sql: Prepare;
  constructor(sql: Prepare) {
    this.#sql = sql;
  }

  async getUser(id: string): Promise<UserRow | undefined> {
    const row = this.#sql(`SELECT ${USER_COLUMNS} FROM users WHERE id = ?`).get(id);
    return row === undefined ? undefined : toUser(row as unknown as UserDbRow);
  }

  async getUserByEmail(email: string): Promise<UserRow | undefined> {
    const row = this.#sql(`SELECT ${USER_COLUMNS} FROM users WHERE email = ?`).get(email);
    return row === undefined ? undefined : toUser(row as unknown as UserDbRow);
  }

  async listUsers(page: PageQuery): Promise<UserRow[]> {
    return (
      this.#sql(
        `SELECT ${USER_COLUMNS} FROM users WHERE (? IS NULL OR id > ?) ORDER BY id LIMIT ?`,
      ).all(page.after ?? null, page.after ?? null, page.limit) as unknown as UserDbRow[]
    ).map(toUser);
  }

  async getInvitation(tokenHash: string): Promise<UserInvitationRow | undefined> {
    const row = this.#sql('SELECT * FROM user_invitations WHERE token_hash = ?').get(tokenHash);
    return row === undefined ? undefined : toInvitation(row as unknown as InvitationDbRow);
  }

  async insertUser(row: UserRow): Promise<void> {
    this.#sql(
      `INSERT INTO users (${USER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      row.id,
      row.email,
      row.name,
      JSON.stringify(row.roles),
      row.disabled ? 1 : 0,
      row.passwordHash,
      row.totp?.wrappedKey ?? null,
      row.totp?.sealed ?? null,
      row.totpLastStep,
      row.failedSignIns,
      row.lockedUntil,
      row.version,
      row.createdAt,
      row.updatedAt,
      row.sessionsNotBefore,
    );
  }

  async updateUser(row: UserRow, expectedVersion: number): Promise<boolean> {
    const result = this.#sql(
      `UPDATE users SET name = ?, roles = ?, disabled = ?, password_hash = ?, totp_key = ?,
         totp_secret = ?, totp_last_step = ?, failed_sign_ins = ?, locked_until = ?, version = ?,
         updated_at = ?, sessions_not_before = ?
       WHERE id = ? AND version = ?`,
    ).run(
      row.name,
      JSON.stringify(row.roles),
      row.disabled ? 1 : 0,
      row.passwordHash,
      row.totp?.wrappedKey ?? null,
      row.totp?.sealed ?? null,
      row.totpLastStep,
      row.failedSignIns,
      row.lockedUntil,
      row.version,
      row.updatedAt,
      row.sessionsNotBefore,
      row.id,
      expectedVersion,
    );
    return result.changes === 1;
  }

  async deleteUser(id: string): Promise<boolean> {
    return this.#sql('DELETE FROM users WHERE id = ?').run(id).changes === 1;
  }

  async addSignInFailure(id: string, at: string, countsSince: string): Promise<number | undefined> {
    // Both SETs read the row as it was: the run goes on while its start or the last lock's end
    // is recent (ISO 8601 UTC text compares in time order).
    const row = this.#sql(
      `UPDATE users SET
         failed_sign_ins = CASE WHEN sign_in_failures_since > ?1 OR locked_until > ?1
           THEN failed_sign_ins + 1 ELSE 1 END,
         sign_in_failures_since = CASE WHEN sign_in_failures_since > ?1 OR locked_until > ?1
           THEN sign_in_failures_since ELSE ?2 END,
         version = version + 1
       WHERE id = ?3 RETURNING failed_sign_ins`,
    ).get(countsSince, at, id) as { failed_sign_ins: number } | undefined;
    return row?.failed_sign_ins;
  }

  async lockUser(id: string, until: string): Promise<void> {
    this.#sql('UPDATE users SET locked_until = ?, version = version + 1 WHERE id = ?').run(
      until,
      id,
    );
  }

  async signedIn(id: string, totpStep: number | null): Promise<boolean> {
    const result = this.#sql(
      `UPDATE users SET failed_sign_ins = 0, sign_in_failures_since = NULL, locked_until = NULL,
         version = version + 1,
         totp_last_step = coalesce(?, totp_last_step)
       WHERE id = ? AND (? IS NULL OR totp_last_step IS NULL OR totp_last_step < ?)`,
    ).run(totpStep, id, totpStep, totpStep);
    return result.changes === 1;
  }

  async putInvitation(row: UserInvitationRow): Promise<void> {
    this.#sql(
      `INSERT INTO user_invitations (user_id, token_hash, expires_at, created_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (user_id) DO UPDATE SET token_hash = excluded.token_hash,
         expires_at = excluded.expires_at, created_at = excluded.created_at`,
    ).run(row.userId, row.tokenHash, row.expiresAt, row.createdAt);
  }

  async consumeInvitation(tokenHash: string, now: string): Promise<UserInvitationRow | undefined> {
    const row = this.#sql(
      'DELETE FROM user_invitations WHERE token_hash = ? AND expires_at > ? RETURNING *',
    ).get(tokenHash, now);
    return row === undefined ? undefined : toInvitation(row as unknown as InvitationDbRow);
  }
}
