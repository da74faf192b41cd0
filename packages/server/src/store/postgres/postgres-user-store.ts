import type pg from 'pg';
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

type Queryable = Pick<pg.PoolClient, 'query'>;

const SELECT_USER = USER_COLUMNS.replace(
  'totp_last_step',
  'totp_last_step::float8 AS totp_last_step',
);
const bytes = (value: Uint8Array | undefined) => (value === undefined ? null : Buffer.from(value));

/** Users of one tenant in a PostgreSQL shard (every statement names the tenant). */
export class PgTenantUsers implements TenantUserWriter {
  readonly #db: Queryable;
  readonly #tenantId: string;
  constructor(db: Queryable, tenantId: string) {
    this.#db = db;
    this.#tenantId = tenantId;
  }

  async #one(sql: string, params: unknown[]): Promise<UserRow | undefined> {
    const row = (await this.#db.query<UserDbRow>(sql, params)).rows[0];
    return row === undefined ? undefined : toUser(row);
  }

  getUser(id: string): Promise<UserRow | undefined> {
    return this.#one(`SELECT ${SELECT_USER} FROM users WHERE tenant_id = $1 AND id = $2`, [
      this.#tenantId,
      id,
    ]);
  }

  getUserByEmail(email: string): Promise<UserRow | undefined> {
    return this.#one(`SELECT ${SELECT_USER} FROM users WHERE tenant_id = $1 AND email = $2`, [
      this.#tenantId,
      email,
    ]);
  }

  async listUsers(page: PageQuery): Promise<UserRow[]> {
    const result = await this.#db.query<UserDbRow>(
      `SELECT ${SELECT_USER} FROM users WHERE tenant_id = $1 AND ($2::uuid IS NULL OR id > $2)
       ORDER BY id LIMIT $3`,
      [this.#tenantId, page.after ?? null, page.limit],
    );
    return result.rows.map(toUser);
  }

  async getInvitation(tokenHash: string): Promise<UserInvitationRow | undefined> {
    const row = (
      await this.#db.query<InvitationDbRow>(
        'SELECT user_id, token_hash, expires_at, created_at FROM user_invitations WHERE tenant_id = $1 AND token_hash = $2',
        [this.#tenantId, tokenHash],
      )
    ).rows[0];
    return row === undefined ? undefined : toInvitation(row);
  }

  async insertUser(row: UserRow): Promise<void> {
    await this.#db.query(
      `INSERT INTO users (tenant_id, ${USER_COLUMNS})
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
      [
        this.#tenantId,
        row.id,
        row.email,
        row.name,
        JSON.stringify(row.roles),
        row.disabled,
        row.passwordHash,
        bytes(row.totp?.wrappedKey),
        bytes(row.totp?.sealed),
        row.totpLastStep,
        row.version,
        row.createdAt,
        row.updatedAt,
        row.sessionsNotBefore,
        row.keptSignIn,
        bytes(row.totpPending?.wrappedKey),
        bytes(row.totpPending?.sealed),
      ],
    );
  }

  async updateUser(row: UserRow, expectedVersion: number): Promise<boolean> {
    const result = await this.#db.query(
      `UPDATE users SET name = $3, roles = $4, disabled = $5, password_hash = $6, totp_key = $7,
         totp_secret = $8, totp_last_step = $9, version = $10, updated_at = $11,
         sessions_not_before = $13, kept_sign_in = $14, totp_pending_key = $15,
         totp_pending_secret = $16
       WHERE tenant_id = $1 AND id = $2 AND version = $12`,
      [
        this.#tenantId,
        row.id,
        row.name,
        JSON.stringify(row.roles),
        row.disabled,
        row.passwordHash,
        bytes(row.totp?.wrappedKey),
        bytes(row.totp?.sealed),
        row.totpLastStep,
        row.version,
        row.updatedAt,
        expectedVersion,
        row.sessionsNotBefore,
        row.keptSignIn,
        bytes(row.totpPending?.wrappedKey),
        bytes(row.totpPending?.sealed),
      ],
    );
    return result.rowCount === 1;
  }

  async deleteUser(id: string): Promise<boolean> {
    const result = await this.#db.query('DELETE FROM users WHERE tenant_id = $1 AND id = $2', [
      this.#tenantId,
      id,
    ]);
    return result.rowCount === 1;
  }

  async getSignInFailures(nameKeys: readonly string[]): Promise<SignInFailureRow[]> {
    const result = await this.#db.query<SignInFailureDbRow>(
      `SELECT name_key, failures, run_from, locked_until FROM sign_in_failures
       WHERE tenant_id = $1 AND name_key = ANY($2::text[])`,
      [this.#tenantId, nameKeys],
    );
    return result.rows.map(toSignInFailure);
  }

  async addSignInFailure(
    nameKey: string,
    at: string,
    countsSince: string,
    keepMax: number,
  ): Promise<number> {
    await this.#db.query(
      'DELETE FROM sign_in_failures WHERE tenant_id = $1 AND run_from <= $2::timestamptz',
      [this.#tenantId, countsSince],
    );
    // The SETs read the row as it was.
    const result = await this.#db.query<{ failures: number }>(
      `INSERT INTO sign_in_failures AS f (tenant_id, name_key, failures, run_from)
       VALUES ($1, $2, 1, $3::timestamptz)
       ON CONFLICT (tenant_id, name_key) DO UPDATE SET
         failures = CASE WHEN f.run_from > $4::timestamptz THEN f.failures + 1 ELSE 1 END,
         locked_until = CASE WHEN f.run_from > $4::timestamptz THEN f.locked_until END,
         run_from = CASE WHEN f.run_from > $4::timestamptz THEN f.run_from ELSE $3::timestamptz END
       RETURNING failures`,
      [this.#tenantId, nameKey, at, countsSince],
    );
    const failures = result.rows[0]!.failures;
    if (failures === 1)
      await this.#db.query(
        `DELETE FROM sign_in_failures WHERE tenant_id = $1 AND name_key IN (
           SELECT name_key FROM sign_in_failures WHERE tenant_id = $1 AND name_key <> $2
           ORDER BY run_from DESC, name_key OFFSET $3)`,
        [this.#tenantId, nameKey, keepMax - 1],
      );
    return failures;
  }

  async lockSignIns(nameKey: string, until: string): Promise<void> {
    await this.#db.query(
      `UPDATE sign_in_failures SET locked_until = $3::timestamptz,
         run_from = greatest(run_from, $3::timestamptz)
       WHERE tenant_id = $1 AND name_key = $2`,
      [this.#tenantId, nameKey, until],
    );
  }

  async clearSignInFailures(nameKey: string): Promise<void> {
    await this.#db.query('DELETE FROM sign_in_failures WHERE tenant_id = $1 AND name_key = $2', [
      this.#tenantId,
      nameKey,
    ]);
  }

  async signedIn(id: string, totpStep: number | null): Promise<boolean> {
    const result = await this.#db.query(
      `UPDATE users SET version = version + 1,
         totp_last_step = coalesce($3::bigint, totp_last_step)
       WHERE tenant_id = $1 AND id = $2
         AND ($3::bigint IS NULL OR totp_last_step IS NULL OR totp_last_step < $3::bigint)`,
      [this.#tenantId, id, totpStep],
    );
    return result.rowCount === 1;
  }

  async putInvitation(row: UserInvitationRow): Promise<void> {
    await this.#db.query(
      `INSERT INTO user_invitations (tenant_id, user_id, token_hash, expires_at, created_at)
       VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (tenant_id, user_id) DO UPDATE SET token_hash = excluded.token_hash,
         expires_at = excluded.expires_at, created_at = excluded.created_at`,
      [this.#tenantId, row.userId, row.tokenHash, row.expiresAt, row.createdAt],
    );
  }

  async consumeInvitation(tokenHash: string, now: string): Promise<UserInvitationRow | undefined> {
    const row = (
      await this.#db.query<InvitationDbRow>(
        `DELETE FROM user_invitations WHERE tenant_id = $1 AND token_hash = $2 AND expires_at > $3
         RETURNING user_id, token_hash, expires_at, created_at`,
        [this.#tenantId, tokenHash, now],
      )
    ).rows[0];
    return row === undefined ? undefined : toInvitation(row);
  }

  /** Removes every user row of the tenant (invitations go with their users) and failure row. */
  async purge(): Promise<void> {
    await this.#db.query('DELETE FROM users WHERE tenant_id = $1', [this.#tenantId]);
    await this.#db.query('DELETE FROM sign_in_failures WHERE tenant_id = $1', [this.#tenantId]);
  }
}
