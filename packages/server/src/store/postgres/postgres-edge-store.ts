import type pg from 'pg';
import {
  ALERT_COLUMNS,
  type AlertDbRow,
  alertParams,
  batchParams,
  NODE_COLUMNS,
  type NodeDbRow,
  nodeParams,
  seqOf,
  toAlert,
  toNode,
} from '../edge-rows.ts';
import type {
  EdgeAlertKind,
  EdgeAlertRow,
  EdgeBatchRow,
  EdgeEnrollmentTokenRow,
  EdgeNodeRow,
  TenantEdgeWriter,
} from '../edge-types.ts';
import type { PageQuery } from '../types.ts';

type Queryable = Pick<pg.PoolClient, 'query'>;

/** Edge nodes of one tenant in a PostgreSQL shard (every statement names the tenant). */
export class PgTenantEdge implements TenantEdgeWriter {
  readonly #db: Queryable;
  readonly #tenantId: string;
  constructor(db: Queryable, tenantId: string) {
    this.#db = db;
    this.#tenantId = tenantId;
  }

  async getNode(id: string): Promise<EdgeNodeRow | undefined> {
    const result = await this.#db.query<NodeDbRow>(
      `SELECT ${NODE_COLUMNS} FROM edge_nodes WHERE tenant_id = $1 AND id = $2`,
      [this.#tenantId, id],
    );
    const row = result.rows[0];
    return row === undefined ? undefined : toNode(row);
  }

  async holdNode(id: string): Promise<EdgeNodeRow | undefined> {
    // FOR UPDATE, not FOR SHARE: a batch's transaction also takes the row for its alerts
    // (holdOpenAlert), and two sharers upgrading at once would deadlock.
    const result = await this.#db.query<NodeDbRow>(
      `SELECT ${NODE_COLUMNS} FROM edge_nodes WHERE tenant_id = $1 AND id = $2 FOR UPDATE`,
      [this.#tenantId, id],
    );
    const row = result.rows[0];
    return row === undefined ? undefined : toNode(row);
  }

  async nodeByCredential(credentialHash: string): Promise<EdgeNodeRow | undefined> {
    const result = await this.#db.query<NodeDbRow>(
      `SELECT ${NODE_COLUMNS} FROM edge_nodes WHERE tenant_id = $1 AND credential_hash = $2`,
      [this.#tenantId, credentialHash],
    );
    const row = result.rows[0];
    return row === undefined ? undefined : toNode(row);
  }

  async listNodes(page: PageQuery): Promise<EdgeNodeRow[]> {
    const result = await this.#db.query<NodeDbRow>(
      `SELECT ${NODE_COLUMNS} FROM edge_nodes WHERE tenant_id = $1 AND ($2::uuid IS NULL OR id > $2)
       ORDER BY id LIMIT $3`,
      [this.#tenantId, page.after ?? null, page.limit],
    );
    return result.rows.map(toNode);
  }

  async getBatch(nodeId: string, batchId: string): Promise<EdgeBatchRow | undefined> {
    const result = await this.#db.query<{
      content_hash: string;
      signatures: EdgeBatchRow['signatures'];
      result: unknown;
      applied_at: Date;
      key_version: number | null;
      seq: string | null;
    }>(
      `SELECT content_hash, signatures, result, applied_at, key_version, seq FROM edge_batches
       WHERE tenant_id = $1 AND node_id = $2 AND batch_id = $3`,
      [this.#tenantId, nodeId, batchId],
    );
    const row = result.rows[0];
    if (row === undefined) return undefined;
    return {
      nodeId,
      batchId,
      contentHash: row.content_hash,
      signatures: row.signatures,
      result: row.result,
      appliedAt: row.applied_at.toISOString(),
      seq: seqOf(row.key_version, row.seq === null ? null : Number(row.seq)),
    };
  }

  async batchAtSeq(nodeId: string, keyVersion: number, n: number): Promise<string | undefined> {
    const result = await this.#db.query<{ batch_id: string }>(
      `SELECT batch_id FROM edge_batches
       WHERE tenant_id = $1 AND node_id = $2 AND key_version = $3 AND seq = $4`,
      [this.#tenantId, nodeId, keyVersion, n],
    );
    return result.rows[0]?.batch_id;
  }

  async listAlerts(nodeId: string, page: PageQuery): Promise<EdgeAlertRow[]> {
    const result = await this.#db.query<AlertDbRow>(
      `SELECT ${ALERT_COLUMNS} FROM edge_alerts
       WHERE tenant_id = $1 AND node_id = $2 AND ($3::uuid IS NULL OR id > $3) ORDER BY id LIMIT $4`,
      [this.#tenantId, nodeId, page.after ?? null, page.limit],
    );
    return result.rows.map(toAlert);
  }

  async insertToken(row: EdgeEnrollmentTokenRow): Promise<void> {
    await this.#db.query(
      `INSERT INTO edge_enrollment_tokens (tenant_id, token_hash, name, node_id, expires_at, created_at)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [this.#tenantId, row.tokenHash, row.name, row.nodeId, row.expiresAt, row.createdAt],
    );
  }

  async consumeToken(tokenHash: string, now: string): Promise<EdgeEnrollmentTokenRow | undefined> {
    const result = await this.#db.query<{
      name: string;
      node_id: string | null;
      expires_at: Date;
      created_at: Date;
    }>(
      `DELETE FROM edge_enrollment_tokens WHERE tenant_id = $1 AND token_hash = $2 AND expires_at > $3
       RETURNING name, node_id, expires_at, created_at`,
      [this.#tenantId, tokenHash, now],
    );
    const row = result.rows[0];
    if (row === undefined) return undefined;
    return {
      tokenHash,
      name: row.name,
      nodeId: row.node_id,
      expiresAt: row.expires_at.toISOString(),
      createdAt: row.created_at.toISOString(),
    };
  }

  async putNode(row: EdgeNodeRow): Promise<void> {
    await this.#db.query(
      `INSERT INTO edge_nodes (tenant_id, ${NODE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
       ON CONFLICT (tenant_id, id) DO UPDATE SET name = excluded.name, status = excluded.status,
         ed25519 = excluded.ed25519, mldsa65 = excluded.mldsa65,
         credential_hash = excluded.credential_hash, key_version = excluded.key_version,
         updated_at = excluded.updated_at`,
      [this.#tenantId, ...nodeParams(row)],
    );
  }

  async insertBatch(row: EdgeBatchRow): Promise<void> {
    await this.#db.query(
      `INSERT INTO edge_batches (tenant_id, node_id, batch_id, content_hash, signatures, result,
         applied_at, key_version, seq)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [this.#tenantId, ...batchParams(row)],
    );
  }

  async insertAlert(row: EdgeAlertRow): Promise<void> {
    await this.#db.query(
      `INSERT INTO edge_alerts (tenant_id, ${ALERT_COLUMNS})
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [this.#tenantId, ...alertParams(row)],
    );
  }

  async holdOpenAlert(
    nodeId: string,
    kind: EdgeAlertKind,
    since: string,
  ): Promise<EdgeAlertRow | undefined> {
    // The node's row lock serializes its alerts across processes. Under READ COMMITTED only a
    // statement after the lock sees the alert the previous holder inserted: hence two.
    await this.#db.query('SELECT 1 FROM edge_nodes WHERE tenant_id = $1 AND id = $2 FOR UPDATE', [
      this.#tenantId,
      nodeId,
    ]);
    const result = await this.#db.query<AlertDbRow>(
      `SELECT ${ALERT_COLUMNS} FROM edge_alerts
       WHERE tenant_id = $1 AND node_id = $2 AND kind = $3 AND created_at >= $4
       ORDER BY id DESC LIMIT 1`,
      [this.#tenantId, nodeId, kind, since],
    );
    const row = result.rows[0];
    return row === undefined ? undefined : toAlert(row);
  }

  async repeatAlert(id: string, seenAt: string): Promise<EdgeAlertRow> {
    const result = await this.#db.query<AlertDbRow>(
      `UPDATE edge_alerts SET count = count + 1, last_seen_at = $3
       WHERE tenant_id = $1 AND id = $2 RETURNING ${ALERT_COLUMNS}`,
      [this.#tenantId, id, seenAt],
    );
    return toAlert(result.rows[0]!);
  }

  /** Removes every edge row of the tenant. */
  async purge(): Promise<void> {
    for (const table of ['edge_alerts', 'edge_batches', 'edge_enrollment_tokens', 'edge_nodes'])
      await this.#db.query(`DELETE FROM ${table} WHERE tenant_id = $1`, [this.#tenantId]);
  }
}
