import type pg from 'pg';
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

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const REVOKE = `INSERT INTO oidc_revocations (tenant_id, kind, value, expires_at) VALUES ($1, $2, $3, $4)
  ON CONFLICT (tenant_id, kind, value) DO UPDATE SET expires_at = greatest(oidc_revocations.expires_at, excluded.expires_at)`;

/** The tenant issuers' tables in the PostgreSQL control plane. */
export class PgIdentityStore implements ControlPlaneIdentityStore {
  readonly #pool: pg.Pool;

  constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  /** Runs `work` in one transaction, rolled back when it throws or resolves false. */
  async #transaction(
    work: (client: pg.PoolClient) => Promise<boolean | undefined>,
  ): Promise<boolean> {
    const client = await this.#pool.connect();
    try {
      await client.query('BEGIN');
      const keep = (await work(client)) !== false;
      await client.query(keep ? 'COMMIT' : 'ROLLBACK');
      return keep;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  async tenantBySlug(slug: string): Promise<Tenant | undefined> {
    const result = await this.#pool.query<TenantDbRow>(
      `SELECT ${TENANT_COLUMNS} FROM tenants WHERE slug = $1 AND ${CREATED_TENANT}`,
      [slug],
    );
    const row = result.rows[0];
    return row === undefined ? undefined : toTenant(row);
  }

  async insertClient(row: OAuthClientRow): Promise<void> {
    await this.#pool.query(
      `INSERT INTO oauth_clients (${CLIENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [...clientParams(row)],
    );
  }

  async getClient(tenantId: string, id: string): Promise<OAuthClientRow | undefined> {
    if (!UUID.test(id)) return undefined;
    const result = await this.#pool.query<ClientDbRow>(
      `SELECT ${CLIENT_COLUMNS} FROM oauth_clients WHERE tenant_id = $1 AND id = $2`,
      [tenantId, id],
    );
    const row = result.rows[0];
    return row === undefined ? undefined : toClient(row);
  }

  async listClients(
    tenantId: string,
    after: string | undefined,
    limit: number,
  ): Promise<OAuthClientRow[]> {
    const result = await this.#pool.query<ClientDbRow>(
      `SELECT ${CLIENT_COLUMNS} FROM oauth_clients WHERE tenant_id = $1 AND ($2::uuid IS NULL OR id > $2)
       ORDER BY id LIMIT $3`,
      [tenantId, after ?? null, limit],
    );
    return result.rows.map(toClient);
  }

  async deleteClient(tenantId: string, id: string, revocation: RevocationRow): Promise<boolean> {
    if (!UUID.test(id)) return false;
    let deleted = false;
    await this.#transaction(async (client) => {
      const result = await client.query(
        'DELETE FROM oauth_clients WHERE tenant_id = $1 AND id = $2',
        [tenantId, id],
      );
      deleted = (result.rowCount ?? 0) > 0;
      if (!deleted) return;
      await client.query('DELETE FROM oidc_artifacts WHERE tenant_id = $1 AND client_id = $2', [
        tenantId,
        id,
      ]);
      await client.query(REVOKE, [...revocationParams(tenantId, revocation)]);
    });
    return deleted;
  }

  async insertKeys(
    tenantId: string,
    rows: readonly IssuerKeyRow[],
    retire?: { readonly kids: readonly string[]; readonly at: string },
  ): Promise<boolean> {
    return this.#transaction(async (client) => {
      for (const kid of retire?.kids ?? [])
        await client.query(
          'UPDATE oidc_keys SET retired_at = $1 WHERE tenant_id = $2 AND kid = $3 AND retired_at IS NULL',
          [retire!.at, tenantId, kid],
        );
      for (const row of rows) {
        // Behind a concurrent insert of the same current key, this waits for its outcome.
        const inserted = await client.query(
          `INSERT INTO oidc_keys (tenant_id, kid, use, alg, public_jwk, sealed_private, created_at, retired_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (tenant_id, use, alg) WHERE retired_at IS NULL DO NOTHING`,
          [
            row.tenantId,
            row.kid,
            row.use,
            row.alg,
            row.publicJwk,
            Buffer.from(row.sealedPrivate),
            row.createdAt,
            row.retiredAt,
          ],
        );
        if (inserted.rowCount !== 1) return false;
      }
      return true;
    });
  }

  async listKeys(tenantId: string): Promise<IssuerKeyRow[]> {
    const result = await this.#pool.query<KeyDbRow>(
      `SELECT ${KEY_COLUMNS} FROM oidc_keys WHERE tenant_id = $1 ORDER BY created_at, kid`,
      [tenantId],
    );
    return result.rows.map(toKey);
  }

  async listAllKeys(): Promise<IssuerKeyRow[]> {
    const result = await this.#pool.query<KeyDbRow>(
      `SELECT ${KEY_COLUMNS} FROM oidc_keys ORDER BY tenant_id, created_at, kid`,
    );
    return result.rows.map(toKey);
  }

  async replaceSealedKey(tenantId: string, kid: string, sealedPrivate: Uint8Array): Promise<void> {
    await this.#pool.query(
      'UPDATE oidc_keys SET sealed_private = $1 WHERE tenant_id = $2 AND kid = $3',
      [Buffer.from(sealedPrivate), tenantId, kid],
    );
  }

  async retireCookieSecrets(at: string, tenantId?: string): Promise<number> {
    const result = await this.#pool.query(
      `UPDATE oidc_keys SET retired_at = $1
       WHERE use = 'cookie' AND retired_at IS NULL AND ($2::uuid IS NULL OR tenant_id = $2)`,
      [at, tenantId ?? null],
    );
    return result.rowCount ?? 0;
  }

  async revokeCookieSecrets(tenantId?: string): Promise<number> {
    const result = await this.#pool.query(
      `DELETE FROM oidc_keys WHERE use = 'cookie' AND ($1::uuid IS NULL OR tenant_id = $1)`,
      [tenantId ?? null],
    );
    return result.rowCount ?? 0;
  }

  async currentCookieSecret(tenantId: string): Promise<string | undefined> {
    const result = await this.#pool.query<{ kid: string }>(
      `SELECT kid FROM oidc_keys WHERE tenant_id = $1 AND use = 'cookie' AND retired_at IS NULL`,
      [tenantId],
    );
    return result.rows[0]?.kid;
  }

  async upsertArtifact(tenantId: string, a: OidcArtifact): Promise<void> {
    await this.#pool.query(
      `INSERT INTO oidc_artifacts (tenant_id, ${ARTIFACT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT (tenant_id, model, id) DO UPDATE SET payload = excluded.payload,
         grant_id = excluded.grant_id, user_code = excluded.user_code, uid = excluded.uid,
         client_id = excluded.client_id, expires_at = excluded.expires_at`,
      [...artifactParams(tenantId, a)],
    );
  }

  async findArtifact(
    tenantId: string,
    model: string,
    by: 'id' | 'uid' | 'userCode',
    value: string,
  ): Promise<OidcArtifact | undefined> {
    const result = await this.#pool.query<ArtifactDbRow>(
      `SELECT ${ARTIFACT_COLUMNS} FROM oidc_artifacts
       WHERE tenant_id = $1 AND model = $2 AND ${LOOKUP_COLUMN[by]} = $3 AND (expires_at IS NULL OR expires_at > $4)`,
      [tenantId, model, value, Date.now()],
    );
    const row = result.rows[0];
    return row === undefined ? undefined : toArtifact(row);
  }

  async consumeArtifact(tenantId: string, model: string, id: string, at: number): Promise<boolean> {
    const result = await this.#pool.query(
      `UPDATE oidc_artifacts SET payload = jsonb_set(payload, '{consumed}', to_jsonb($1::bigint))
       WHERE tenant_id = $2 AND model = $3 AND id = $4 AND NOT payload ? 'consumed'`,
      [at, tenantId, model, id],
    );
    return result.rowCount === 1;
  }

  async destroyArtifact(tenantId: string, model: string, id: string): Promise<void> {
    await this.#pool.query(
      'DELETE FROM oidc_artifacts WHERE tenant_id = $1 AND model = $2 AND id = $3',
      [tenantId, model, id],
    );
  }

  async revokeGrant(tenantId: string, grantId: string, revocation: RevocationRow): Promise<void> {
    await this.#transaction(async (client) => {
      await client.query('DELETE FROM oidc_artifacts WHERE tenant_id = $1 AND grant_id = $2', [
        tenantId,
        grantId,
      ]);
      await client.query(REVOKE, [...revocationParams(tenantId, revocation)]);
    });
  }

  async addRevocation(tenantId: string, revocation: RevocationRow): Promise<void> {
    await this.#pool.query(REVOKE, [...revocationParams(tenantId, revocation)]);
  }

  async listRevocations(tenantId: string, now: number): Promise<RevocationRow[]> {
    const result = await this.#pool.query<{
      kind: RevocationRow['kind'];
      value: string;
      expires_at: string;
    }>(
      'SELECT kind, value, expires_at FROM oidc_revocations WHERE tenant_id = $1 AND expires_at > $2',
      [tenantId, now],
    );
    return result.rows.map((r) => ({
      kind: r.kind,
      value: r.value,
      expiresAt: Number(r.expires_at),
    }));
  }

  async deleteIssuer(tenantId: string): Promise<void> {
    await this.#transaction(async (client) => {
      for (const table of ISSUER_TABLES)
        await client.query(`DELETE FROM ${table} WHERE tenant_id = $1`, [tenantId]);
    });
  }

  async purgeExpired(tenantId: string, now: number): Promise<void> {
    await this.#pool.query('DELETE FROM oidc_artifacts WHERE tenant_id = $1 AND expires_at <= $2', [
      tenantId,
      now,
    ]);
    await this.#pool.query(
      'DELETE FROM oidc_revocations WHERE tenant_id = $1 AND expires_at <= $2',
      [tenantId, now],
    );
  }
}
