import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { Tenant } from '../../tenancy/index.ts';
import {
  ARTIFACT_COLUMNS,
  type ArtifactDbRow,
  artifactParams,
  CLIENT_COLUMNS,
  type ClientDbRow,
  clientParams,
  ISSUER_TABLES,
  KEY_COLUMNS,
  type KeyDbRow,
  LOOKUP_COLUMN,
  revocationParams,
  toArtifact,
  toClient,
  toKey,
} from '../identity-rows.ts';
import type {
  ControlPlaneIdentityStore,
  IssuerKeyRow,
  OAuthClientRow,
  OidcArtifact,
  RevocationRow,
} from '../identity-types.ts';
import { CREATED_TENANT, TENANT_COLUMNS, type TenantDbRow, toTenant } from '../tenant-rows.ts';

/** The tenant issuers' tables in the embedded control plane (`platform.db`). */
export class SqliteIdentityStore implements ControlPlaneIdentityStore {
  readonly #db: DatabaseSync;
  readonly #statements = new Map<string, StatementSync>();

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  #sql(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  /** Runs `work` in one write transaction, rolled back when it throws or returns false. */
  #transaction(work: () => boolean | undefined): boolean {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      const keep = work() !== false;
      this.#db.exec(keep ? 'COMMIT' : 'ROLLBACK');
      return keep;
    } catch (error) {
      this.#db.exec('ROLLBACK');
      throw error;
    }
  }

  #revoke(tenantId: string, revocation: RevocationRow): void {
    this.#sql(
      `INSERT INTO oidc_revocations (tenant_id, kind, value, expires_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (tenant_id, kind, value) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)`,
    ).run(...revocationParams(tenantId, revocation));
  }

  async tenantBySlug(slug: string): Promise<Tenant | undefined> {
    const row = this.#sql(
      `SELECT ${TENANT_COLUMNS} FROM tenants WHERE slug = ? AND ${CREATED_TENANT}`,
    ).get(slug) as TenantDbRow | undefined;
    return row === undefined ? undefined : toTenant(row);
  }

  async insertClient(row: OAuthClientRow): Promise<void> {
    this.#sql(
      `INSERT INTO oauth_clients (${CLIENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(...clientParams(row));
  }

  async getClient(tenantId: string, id: string): Promise<OAuthClientRow | undefined> {
    const row = this.#sql(
      `SELECT ${CLIENT_COLUMNS} FROM oauth_clients WHERE tenant_id = ? AND id = ?`,
    ).get(tenantId, id) as ClientDbRow | undefined;
    return row === undefined ? undefined : toClient(row);
  }

  async listClients(
    tenantId: string,
    after: string | undefined,
    limit: number,
  ): Promise<OAuthClientRow[]> {
    const rows = this.#sql(
      `SELECT ${CLIENT_COLUMNS} FROM oauth_clients WHERE tenant_id = ? AND id > ? ORDER BY id LIMIT ?`,
    ).all(tenantId, after ?? '', limit) as unknown as ClientDbRow[];
    return rows.map(toClient);
  }

  async deleteClient(tenantId: string, id: string, revocation: RevocationRow): Promise<boolean> {
    let deleted = false;
    this.#transaction(() => {
      const result = this.#sql('DELETE FROM oauth_clients WHERE tenant_id = ? AND id = ?').run(
        tenantId,
        id,
      );
      deleted = result.changes > 0;
      if (!deleted) return;
      this.#sql('DELETE FROM oidc_artifacts WHERE tenant_id = ? AND client_id = ?').run(
        tenantId,
        id,
      );
      this.#revoke(tenantId, revocation);
    });
    return deleted;
  }

  async insertKeys(
    tenantId: string,
    rows: readonly IssuerKeyRow[],
    retire?: { readonly kids: readonly string[]; readonly at: string },
  ): Promise<boolean> {
    return this.#transaction(() => {
      for (const kid of retire?.kids ?? [])
        this.#sql(
          'UPDATE oidc_keys SET retired_at = ? WHERE tenant_id = ? AND kid = ? AND retired_at IS NULL',
        ).run(retire!.at, tenantId, kid);
      const insert = this.#sql(
        `INSERT INTO oidc_keys (tenant_id, kid, use, alg, public_jwk, sealed_private, created_at, retired_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (tenant_id, use, alg) WHERE retired_at IS NULL DO NOTHING`,
      );
      return rows.every(
        (row) =>
          insert.run(
            row.tenantId,
            row.kid,
            row.use,
            row.alg,
            row.publicJwk,
            row.sealedPrivate,
            row.createdAt,
            row.retiredAt,
          ).changes === 1,
      );
    });
  }

  async listKeys(tenantId: string): Promise<IssuerKeyRow[]> {
    const rows = this.#sql(
      `SELECT ${KEY_COLUMNS} FROM oidc_keys WHERE tenant_id = ? ORDER BY created_at, kid`,
    ).all(tenantId) as unknown as KeyDbRow[];
    return rows.map(toKey);
  }

  async listAllKeys(): Promise<IssuerKeyRow[]> {
    const rows = this.#sql(
      `SELECT ${KEY_COLUMNS} FROM oidc_keys ORDER BY tenant_id, created_at, kid`,
    ).all() as unknown as KeyDbRow[];
    return rows.map(toKey);
  }

  async replaceSealedKey(tenantId: string, kid: string, sealedPrivate: Uint8Array): Promise<void> {
    this.#sql('UPDATE oidc_keys SET sealed_private = ? WHERE tenant_id = ? AND kid = ?').run(
      sealedPrivate,
      tenantId,
      kid,
    );
  }

  async retireCookieSecrets(at: string, tenantId?: string): Promise<number> {
    const result = this.#sql(
      `UPDATE oidc_keys SET retired_at = ?
       WHERE use = 'cookie' AND retired_at IS NULL AND (? IS NULL OR tenant_id = ?)`,
    ).run(at, tenantId ?? null, tenantId ?? null);
    return Number(result.changes);
  }

  async revokeCookieSecrets(tenantId?: string): Promise<number> {
    const result = this.#sql(
      `DELETE FROM oidc_keys WHERE use = 'cookie' AND (? IS NULL OR tenant_id = ?)`,
    ).run(tenantId ?? null, tenantId ?? null);
    return Number(result.changes);
  }

  async currentCookieSecret(tenantId: string): Promise<string | undefined> {
    const row = this.#sql(
      `SELECT kid FROM oidc_keys WHERE tenant_id = ? AND use = 'cookie' AND retired_at IS NULL`,
    ).get(tenantId) as { kid: string } | undefined;
    return row?.kid;
  }

  async upsertArtifact(tenantId: string, a: OidcArtifact): Promise<void> {
    this.#sql(
      `INSERT INTO oidc_artifacts (tenant_id, ${ARTIFACT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (tenant_id, model, id) DO UPDATE SET payload = excluded.payload,
         grant_id = excluded.grant_id, user_code = excluded.user_code, uid = excluded.uid,
         client_id = excluded.client_id, expires_at = excluded.expires_at`,
    ).run(...artifactParams(tenantId, a));
  }

  async findArtifact(
    tenantId: string,
    model: string,
    by: 'id' | 'uid' | 'userCode',
    value: string,
  ): Promise<OidcArtifact | undefined> {
    const row = this.#sql(
      `SELECT ${ARTIFACT_COLUMNS} FROM oidc_artifacts
       WHERE tenant_id = ? AND model = ? AND ${LOOKUP_COLUMN[by]} = ? AND (expires_at IS NULL OR expires_at > ?)`,
    ).get(tenantId, model, value, Date.now()) as ArtifactDbRow | undefined;
    return row === undefined ? undefined : toArtifact(row);
  }

  async consumeArtifact(tenantId: string, model: string, id: string, at: number): Promise<boolean> {
    const result = this.#sql(
      `UPDATE oidc_artifacts SET payload = json_set(payload, '$.consumed', ?)
       WHERE tenant_id = ? AND model = ? AND id = ? AND json_type(payload, '$.consumed') IS NULL`,
    ).run(at, tenantId, model, id);
    return result.changes === 1;
  }

  async destroyArtifact(tenantId: string, model: string, id: string): Promise<void> {
    this.#sql('DELETE FROM oidc_artifacts WHERE tenant_id = ? AND model = ? AND id = ?').run(
      tenantId,
      model,
      id,
    );
  }

  async revokeGrant(tenantId: string, grantId: string, revocation: RevocationRow): Promise<void> {
    this.#transaction(() => {
      this.#sql('DELETE FROM oidc_artifacts WHERE tenant_id = ? AND grant_id = ?').run(
        tenantId,
        grantId,
      );
      this.#revoke(tenantId, revocation);
    });
  }

  async addRevocation(tenantId: string, revocation: RevocationRow): Promise<void> {
    this.#revoke(tenantId, revocation);
  }

  async listRevocations(tenantId: string, now: number): Promise<RevocationRow[]> {
    const rows = this.#sql(
      'SELECT kind, value, expires_at FROM oidc_revocations WHERE tenant_id = ? AND expires_at > ?',
    ).all(tenantId, now) as unknown as {
      kind: RevocationRow['kind'];
      value: string;
      expires_at: number;
    }[];
    return rows.map((r) => ({ kind: r.kind, value: r.value, expiresAt: r.expires_at }));
  }

  async deleteIssuer(tenantId: string): Promise<void> {
    this.#transaction(() => {
      for (const table of ISSUER_TABLES)
        this.#sql(`DELETE FROM ${table} WHERE tenant_id = ?`).run(tenantId);
    });
  }

  async purgeExpired(tenantId: string, now: number): Promise<void> {
    this.#sql('DELETE FROM oidc_artifacts WHERE tenant_id = ? AND expires_at <= ?').run(
      tenantId,
      now,
    );
    this.#sql('DELETE FROM oidc_revocations WHERE tenant_id = ? AND expires_at <= ?').run(
      tenantId,
      now,
    );
  }
}
