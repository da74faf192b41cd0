import type { StatementSync } from 'node:sqlite';
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

type Prepare = (sql: string) => StatementSync;

/** Edge nodes in one tenant's SQLite file. */
export class SqliteTenantEdge implements TenantEdgeWriter {
  readonly #sql: Prepare;
  constructor(sql: Prepare) {
    this.#sql = sql;
  }

  async getNode(id: string): Promise<EdgeNodeRow | undefined> {
    const row = this.#sql(`SELECT ${NODE_COLUMNS} FROM edge_nodes WHERE id = ?`).get(id);
    return row === undefined ? undefined : toNode(row as unknown as NodeDbRow);
  }

  /** A tenant's SQLite write transaction already holds the whole file. */
  holdNode(id: string): Promise<EdgeNodeRow | undefined> {
    return this.getNode(id);
  }

  async nodeByCredential(credentialHash: string): Promise<EdgeNodeRow | undefined> {
    const row = this.#sql(`SELECT ${NODE_COLUMNS} FROM edge_nodes WHERE credential_hash = ?`).get(
      credentialHash,
    );
    return row === undefined ? undefined : toNode(row as unknown as NodeDbRow);
  }

  async listNodes(page: PageQuery): Promise<EdgeNodeRow[]> {
    return (
      this.#sql(
        `SELECT ${NODE_COLUMNS} FROM edge_nodes WHERE (? IS NULL OR id > ?) ORDER BY id LIMIT ?`,
      ).all(page.after ?? null, page.after ?? null, page.limit) as unknown as NodeDbRow[]
    ).map(toNode);
  }

  async getBatch(nodeId: string, batchId: string): Promise<EdgeBatchRow | undefined> {
    const row = this.#sql(
      'SELECT content_hash, signatures, result, applied_at, key_version, seq FROM edge_batches WHERE node_id = ? AND batch_id = ?',
    ).get(nodeId, batchId) as
      | {
          content_hash: string;
          signatures: string;
          result: string;
          applied_at: string;
          key_version: number | null;
          seq: number | null;
        }
      | undefined;
    if (row === undefined) return undefined;
    return {
      nodeId,
      batchId,
      contentHash: row.content_hash,
      signatures: JSON.parse(row.signatures),
      result: JSON.parse(row.result),
      appliedAt: row.applied_at,
      seq: seqOf(row.key_version, row.seq),
    };
  }

  async batchAtSeq(nodeId: string, keyVersion: number, n: number): Promise<string | undefined> {
    const row = this.#sql(
      'SELECT batch_id FROM edge_batches WHERE node_id = ? AND key_version = ? AND seq = ?',
    ).get(nodeId, keyVersion, n) as { batch_id: string } | undefined;
    return row?.batch_id;
  }

  async listAlerts(nodeId: string, page: PageQuery): Promise<EdgeAlertRow[]> {
    return (
      this.#sql(
        `SELECT ${ALERT_COLUMNS} FROM edge_alerts WHERE node_id = ? AND (? IS NULL OR id > ?) ORDER BY id LIMIT ?`,
      ).all(nodeId, page.after ?? null, page.after ?? null, page.limit) as unknown as AlertDbRow[]
    ).map(toAlert);
  }

  async insertToken(row: EdgeEnrollmentTokenRow): Promise<void> {
    this.#sql(
      'INSERT INTO edge_enrollment_tokens (token_hash, name, node_id, expires_at, created_at) VALUES (?, ?, ?, ?, ?)',
    ).run(row.tokenHash, row.name, row.nodeId, row.expiresAt, row.createdAt);
  }

  async consumeToken(tokenHash: string, now: string): Promise<EdgeEnrollmentTokenRow | undefined> {
    const row = this.#sql(
      'DELETE FROM edge_enrollment_tokens WHERE token_hash = ? AND expires_at > ? RETURNING *',
    ).get(tokenHash, now) as
      | { name: string; node_id: string | null; expires_at: string; created_at: string }
      | undefined;
    if (row === undefined) return undefined;
    return {
      tokenHash,
      name: row.name,
      nodeId: row.node_id,
      expiresAt: row.expires_at,
      createdAt: row.created_at,
    };
  }

  async putNode(row: EdgeNodeRow): Promise<void> {
    this.#sql(
      `INSERT OR REPLACE INTO edge_nodes (${NODE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(...nodeParams(row));
  }

  async insertBatch(row: EdgeBatchRow): Promise<void> {
    this.#sql(
      'INSERT INTO edge_batches (node_id, batch_id, content_hash, signatures, result, applied_at, key_version, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    ).run(...batchParams(row));
  }

  async insertAlert(row: EdgeAlertRow): Promise<void> {
    this.#sql(`INSERT INTO edge_alerts (${ALERT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`).run(
      ...alertParams(row),
    );
  }

  async holdOpenAlert(
    nodeId: string,
    kind: EdgeAlertKind,
    since: string,
  ): Promise<EdgeAlertRow | undefined> {
    // SQLite has one writer: the transaction this runs in already excludes every other.
    const row = this.#sql(
      `SELECT ${ALERT_COLUMNS} FROM edge_alerts WHERE node_id = ? AND kind = ? AND created_at >= ?
       ORDER BY id DESC LIMIT 1`,
    ).get(nodeId, kind, since);
    return row === undefined ? undefined : toAlert(row as unknown as AlertDbRow);
  }

  async repeatAlert(id: string, seenAt: string): Promise<EdgeAlertRow> {
    const row = this.#sql(
      `UPDATE edge_alerts SET count = count + 1, last_seen_at = ? WHERE id = ? RETURNING ${ALERT_COLUMNS}`,
    ).get(seenAt, id);
    return toAlert(row as unknown as AlertDbRow);
  }
}
