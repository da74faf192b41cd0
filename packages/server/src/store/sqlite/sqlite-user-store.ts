import type { StatementSync } from 'node:sqlite';
import type { PageQuery } from '../types.ts';
import {
  type InvitationDbRow,
  type SignInFailureDbRow,
  toInvitation,
  toSignInFailure,
  toUser,
  USER_COLUMNS,
  type UserDbRow,
} from '../user-rows.ts';
import type {
  SignInFailureRow,
  TenantUserWriter,
  UserInvitationRow,
  UserRow,
} from '../user-types.ts';

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
      `INSERT INTO users (${USER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
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
      row.version,
      row.createdAt,
      row.updatedAt,
      row.sessionsNotBefore,
      row.keptSignIn,
      row.totpPending?.wrappedKey ?? null,
      row.totpPending?.sealed ?? null,
    );
  }

  async updateUser(row: UserRow, expectedVersion: number): Promise<boolean> {
    const result = this.#sql(
      `UPDATE users SET name = ?, roles = ?, disabled = ?, password_hash = ?, totp_key = ?,
         totp_secret = ?, totp_last_step = ?, version = ?, updated_at = ?, sessions_not_before = ?,
         kept_sign_in = ?, totp_pending_key = ?, totp_pending_secret = ?
       WHERE id = ? AND version = ?`,
    ).run(
      row.name,
      JSON.stringify(row.roles),
      row.disabled ? 1 : 0,
      row.passwordHash,
      row.totp?.wrappedKey ?? null,
      row.totp?.sealed ?? null,
      row.totpLastStep,
      row.version,
      row.updatedAt,
      row.sessionsNotBefore,
      row.keptSignIn,
      row.totpPending?.wrappedKey ?? null,
      row.totpPending?.sealed ?? null,
      row.id,
      expectedVersion,
    );
    return result.changes === 1;
  }

  async deleteUser(id: string): Promise<boolean> {
    return this.#sql('DELETE FROM users WHERE id = ?').run(id).changes === 1;
  }

  async getSignInFailures(nameKeys: readonly string[]): Promise<SignInFailureRow[]> {
    const rows = this.#sql(
      'SELECT * FROM sign_in_failures WHERE name_key IN (SELECT value FROM json_each(?))',
    ).all(JSON.stringify(nameKeys)) as unknown as SignInFailureDbRow[];
    return rows.map(toSignInFailure);
  }

  async addSignInFailure(
    nameKey: string,
    at: string,
    countsSince: string,
    keepMax: number,
  ): Promise<number> {
    this.#sql('DELETE FROM sign_in_failures WHERE run_from <= ?').run(countsSince);
    // The SETs read the row as it was (ISO 8601 UTC text compares in time order).
    const { failures } = this.#sql(
      `INSERT INTO sign_in_failures (name_key, failures, run_from) VALUES (?1, 1, ?2)
       ON CONFLICT (name_key) DO UPDATE SET
         failures = CASE WHEN run_from > ?3 THEN failures + 1 ELSE 1 END,
         locked_until = CASE WHEN run_from > ?3 THEN locked_until END,
         run_from = CASE WHEN run_from > ?3 THEN run_from ELSE ?2 END
       RETURNING failures`,
    ).get(nameKey, at, countsSince) as { failures: number };
    if (failures === 1)
      this.#sql(
        `DELETE FROM sign_in_failures WHERE name_key IN (
           SELECT name_key FROM sign_in_failures WHERE name_key <> ?1
           ORDER BY run_from DESC, name_key LIMIT -1 OFFSET ?2)`,
      ).run(nameKey, keepMax - 1);
    return failures;
  }

  async lockSignIns(nameKey: string, until: string): Promise<void> {
    this.#sql(
      `UPDATE sign_in_failures SET locked_until = ?2, run_from = max(run_from, ?2)
       WHERE name_key = ?1`,
    ).run(nameKey, until);
  }

  async clearSignInFailures(nameKey: string): Promise<void> {
    this.#sql('DELETE FROM sign_in_failures WHERE name_key = ?').run(nameKey);
  }

  async signedIn(id: string, totpStep: number | null): Promise<boolean> {
    const result = this.#sql(
      `UPDATE users SET version = version + 1, totp_last_step = coalesce(?, totp_last_step)
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
