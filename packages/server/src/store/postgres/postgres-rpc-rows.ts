import type { RpcChange, RpcRow, RpcStatus } from '../device-types.ts';
import { type RpcDbRow, rpcRowReader } from '../rpc-rows.ts';
import type { TenantQueries } from './tenant-queries.ts';

const toRpc = rpcRowReader<unknown>((value) => value);

/** Server-side RPC requests to the devices of one tenant in a PostgreSQL shard. */
export class PgRpcRows {
  readonly #q: TenantQueries;

  constructor(queries: TenantQueries) {
    this.#q = queries;
  }

  async getRpc(deviceId: string, id: string): Promise<RpcRow | undefined> {
    const row = await this.#q.one<RpcDbRow<unknown>>(
      'SELECT * FROM rpc_requests WHERE tenant_id = $1 AND device_id = $2 AND id = $3',
      [deviceId, id],
    );
    return row === undefined ? undefined : toRpc(row);
  }

  async pendingRpcs(
    deviceId: string,
    now: string,
    limit: number,
    sentBefore?: string,
  ): Promise<RpcRow[]> {
    const rows = await this.#q.all<RpcDbRow<unknown>>(
      `SELECT * FROM rpc_requests WHERE tenant_id = $1 AND device_id = $2
         AND (status = 'queued' OR (status = 'sent' AND updated_at < $5::timestamptz))
         AND expires_at > $3 ORDER BY id LIMIT $4`,
      [deviceId, now, limit, sentBefore ?? null],
    );
    return rows.map(toRpc);
  }

  async lockRpcQueue(deviceId: string, now: string): Promise<number | undefined> {
    // NO KEY UPDATE: conflicts with another queueing transaction, not with readers.
    const device = await this.#q.one(
      'SELECT id FROM devices WHERE tenant_id = $1 AND id = $2 FOR NO KEY UPDATE',
      [deviceId],
    );
    if (device === undefined) return undefined;
    const counted = await this.#q.one<{ n: number }>(
      `SELECT count(*)::int AS n FROM rpc_requests WHERE tenant_id = $1 AND device_id = $2
         AND status = 'queued' AND persistent AND expires_at > $3`,
      [deviceId, now],
    );
    return counted?.n ?? 0;
  }

  async insertRpc(row: RpcRow): Promise<void> {
    await this.#q.run(
      `INSERT INTO rpc_requests (tenant_id, id, device_id, method, params, persistent, status, response,
         error, created_at, expires_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
      [
        row.id,
        row.deviceId,
        row.method,
        JSON.stringify(row.params),
        row.persistent,
        row.status,
        row.response === null ? null : JSON.stringify(row.response),
        row.error,
        row.createdAt,
        row.expiresAt,
        row.updatedAt,
      ],
    );
  }

  async updateRpc(
    deviceId: string,
    id: string,
    from: readonly RpcStatus[],
    change: RpcChange,
    at: string,
  ): Promise<RpcRow | undefined> {
    const row = await this.#q.one<RpcDbRow<unknown>>(
      `UPDATE rpc_requests SET status = $4, response = coalesce($5::jsonb, response),
         error = coalesce($6, error),
         updated_at = CASE WHEN status = 'sent' AND $4::text = 'sent'
           THEN greatest($7::timestamptz, updated_at + interval '1 millisecond') ELSE $7::timestamptz END
       WHERE tenant_id = $1 AND device_id = $2 AND id = $3 AND status = ANY($8::text[])
         AND (status <> 'sent' OR $9::timestamptz IS NULL OR updated_at < $9::timestamptz)
         AND (status <> 'sent' OR $10::timestamptz IS NULL OR updated_at = $10::timestamptz)
       RETURNING *`,
      [
        deviceId,
        id,
        change.status,
        change.response === undefined ? null : JSON.stringify(change.response),
        change.error ?? null,
        at,
        from,
        change.sentBefore ?? null,
        change.sentAt ?? null,
      ],
    );
    return row === undefined ? undefined : toRpc(row);
  }

  async expireRpcs(now: string): Promise<number> {
    return this.#q.run(
      `UPDATE rpc_requests SET status = 'expired', updated_at = $2
       WHERE tenant_id = $1 AND status IN ('queued', 'sent', 'delivered') AND expires_at <= $2`,
      [now],
    );
  }

  /** Deletes the device's requests (the device is being deleted). */
  async deleteDevice(id: string): Promise<void> {
    await this.#q.run('DELETE FROM rpc_requests WHERE tenant_id = $1 AND device_id = $2', [id]);
  }

  /** Removes the tenant's requests (tenant deletion). */
  async purge(): Promise<void> {
    await this.#q.run('DELETE FROM rpc_requests WHERE tenant_id = $1', []);
  }
}
