import type { StatementSync } from 'node:sqlite';
import type { RpcChange, RpcRow, RpcStatus } from '../device-types.ts';
import { type RpcDbRow, rpcRowReader } from '../rpc-rows.ts';

type Prepare = (sql: string) => StatementSync;

const toRpc = rpcRowReader<string>((text) => JSON.parse(text));

/** Server-side RPC requests to the devices of one tenant's SQLite file. */
export class SqliteRpcRows {
  readonly #sql: Prepare;

  constructor(prepare: Prepare) {
    this.#sql = prepare;
  }

  async getRpc(deviceId: string, id: string): Promise<RpcRow | undefined> {
    const row = this.#sql('SELECT * FROM rpc_requests WHERE device_id = ? AND id = ?').get(
      deviceId,
      id,
    ) as RpcDbRow<string> | undefined;
    return row === undefined ? undefined : toRpc(row);
  }

  async pendingRpcs(
    deviceId: string,
    now: string,
    limit: number,
    sentBefore?: string,
  ): Promise<RpcRow[]> {
    const rows = this.#sql(
      `SELECT * FROM rpc_requests WHERE device_id = ?
         AND (status = 'queued' OR (status = 'sent' AND updated_at < ?))
         AND expires_at > ? ORDER BY id LIMIT ?`,
    ).all(deviceId, sentBefore ?? null, now, limit) as unknown as RpcDbRow<string>[];
    return rows.map(toRpc);
  }

  async lockRpcQueue(deviceId: string, now: string): Promise<number | undefined> {
    // SQLite has one writer: the transaction this runs in already holds the device's row.
    if (this.#sql('SELECT 1 FROM devices WHERE id = ?').get(deviceId) === undefined)
      return undefined;
    const counted = this.#sql(
      `SELECT count(*) AS n FROM rpc_requests
       WHERE device_id = ? AND status = 'queued' AND persistent = 1 AND expires_at > ?`,
    ).get(deviceId, now) as { n: number };
    return counted.n;
  }

  async insertRpc(row: RpcRow): Promise<void> {
    this.#sql(
      `INSERT INTO rpc_requests (id, device_id, method, params, persistent, status, response, error,
         created_at, expires_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      row.id,
      row.deviceId,
      row.method,
      JSON.stringify(row.params),
      row.persistent ? 1 : 0,
      row.status,
      row.response === null ? null : JSON.stringify(row.response),
      row.error,
      row.createdAt,
      row.expiresAt,
      row.updatedAt,
    );
  }

  async updateRpc(
    deviceId: string,
    id: string,
    from: readonly RpcStatus[],
    change: RpcChange,
    at: string,
  ): Promise<RpcRow | undefined> {
    const row = this.#sql(
      `UPDATE rpc_requests SET status = ?, response = coalesce(?, response), error = coalesce(?, error),
         updated_at = CASE WHEN status = 'sent' AND ? = 'sent'
           THEN max(?, strftime('%Y-%m-%dT%H:%M:%fZ', updated_at, '+0.001 seconds')) ELSE ? END
         WHERE device_id = ? AND id = ? AND status IN (SELECT value FROM json_each(?))
         AND (status <> 'sent' OR ? IS NULL OR updated_at < ?)
         AND (status <> 'sent' OR ? IS NULL OR updated_at = ?)
       RETURNING *`,
    ).get(
      change.status,
      change.response === undefined ? null : JSON.stringify(change.response),
      change.error ?? null,
      change.status,
      at,
      at,
      deviceId,
      id,
      JSON.stringify(from),
      change.sentBefore ?? null,
      change.sentBefore ?? null,
      change.sentAt ?? null,
      change.sentAt ?? null,
    ) as RpcDbRow<string> | undefined;
    return row === undefined ? undefined : toRpc(row);
  }

  async expireRpcs(now: string): Promise<number> {
    return Number(
      this.#sql(
        `UPDATE rpc_requests SET status = 'expired', updated_at = ?
         WHERE status IN ('queued', 'sent', 'delivered') AND expires_at <= ?`,
      ).run(now, now).changes,
    );
  }

  /** Deletes the device's requests (the device is being deleted). */
  deleteDevice(id: string): void {
    this.#sql('DELETE FROM rpc_requests WHERE device_id = ?').run(id);
  }
}
