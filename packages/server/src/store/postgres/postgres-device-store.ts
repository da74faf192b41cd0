import type pg from 'pg';
import type {
  AggregateQuery,
  AggregateRow,
  DeviceRow,
  EdgeStanding,
  PointType,
  RpcRow,
  RpcStatus,
  TelemetryPoint,
  TelemetryQuery,
  TenantDeviceWriter,
} from '../device-types.ts';
import { aggregateOverflow, pointColumns, pointValue } from '../telemetry-values.ts';
import type { PageQuery } from '../types.ts';
import { insertError } from './telemetry-partitions.ts';
import { lockTenant } from './tenant-lock.ts';

type Queryable = Pick<pg.PoolClient, 'query'>;

interface DevicePgRow {
  id: string;
  name: string;
  type: string;
  labels: string[];
  attributes: Record<string, unknown>;
  client_attributes: Record<string, unknown>;
  telemetry_keys: string[] | null;
  is_gateway: boolean;
  gateway_id: string | null;
  edge_node_id: string | null;
  version: number;
  created_at: Date;
  updated_at: Date;
}

interface PointPgRow {
  key: string;
  ts: number;
  type: PointType;
  num: number | null;
  text: string | null;
}

interface RpcPgRow {
  id: string;
  device_id: string;
  method: string;
  params: unknown;
  persistent: boolean;
  status: RpcStatus;
  response: unknown;
  error: string | null;
  created_at: Date;
  expires_at: Date;
  updated_at: Date;
}

const DEVICE_COLUMNS =
  'id, name, type, labels, attributes, client_attributes, telemetry_keys, is_gateway, gateway_id, edge_node_id, version, created_at, updated_at';
const POINT_COLUMNS = 'key, ts::float8 AS ts, type, num, text';

function toDevice(row: DevicePgRow): DeviceRow {
  return {
    id: row.id,
    name: row.name,
    type: row.type,
    labels: row.labels,
    attributes: row.attributes,
    clientAttributes: row.client_attributes,
    telemetryKeys: row.telemetry_keys,
    isGateway: row.is_gateway,
    gatewayId: row.gateway_id,
    edgeNodeId: row.edge_node_id,
    version: row.version,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

function toPoint(row: PointPgRow): TelemetryPoint {
  return {
    key: row.key,
    ts: row.ts,
    type: row.type,
    value: pointValue(row.type, row.num, row.text),
  };
}

function toRpc(row: RpcPgRow): RpcRow {
  return {
    id: row.id,
    deviceId: row.device_id,
    method: row.method,
    params: row.params,
    persistent: row.persistent,
    status: row.status,
    response: row.response,
    error: row.error,
    createdAt: row.created_at.toISOString(),
    expiresAt: row.expires_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

/** PostgreSQL's float8 overflow (22003), which `sum` raises rather than answer Infinity. */
const NUMERIC_VALUE_OUT_OF_RANGE = '22003';

const AGGREGATES = {
  // The value avg(num) answers, without the sum of squares it also keeps, which overflows
  // (an error) from about 1e154 on.
  avg: 'sum(num) / count(num)',
  min: 'min(num)',
  max: 'max(num)',
  sum: 'sum(num)',
  count: 'count(*)',
} as const;

/**
 * Devices, telemetry and RPC requests of one tenant in a PostgreSQL shard. Like every
 * tenant query, each statement names tenant_id and runs where RLS also enforces it.
 */
export class PgTenantDevices implements TenantDeviceWriter {
  readonly #db: Queryable;
  readonly #tenantId: string;
  constructor(db: Queryable, tenantId: string) {
    this.#db = db;
    this.#tenantId = tenantId;
  }

  async #one<T>(sql: string, params: unknown[]): Promise<T | undefined> {
    return (await this.#db.query(sql, [this.#tenantId, ...params])).rows[0] as T | undefined;
  }

  async #all<T>(sql: string, params: unknown[]): Promise<T[]> {
    return (await this.#db.query(sql, [this.#tenantId, ...params])).rows as T[];
  }

  async getDevice(id: string): Promise<DeviceRow | undefined> {
    const row = await this.#one<DevicePgRow>(
      `SELECT ${DEVICE_COLUMNS} FROM devices WHERE tenant_id = $1 AND id = $2`,
      [id],
    );
    return row === undefined ? undefined : toDevice(row);
  }

  async getDeviceByName(name: string): Promise<DeviceRow | undefined> {
    const row = await this.#one<DevicePgRow>(
      `SELECT ${DEVICE_COLUMNS} FROM devices WHERE tenant_id = $1 AND name = $2`,
      [name],
    );
    return row === undefined ? undefined : toDevice(row);
  }

  async listDevices(page: PageQuery): Promise<DeviceRow[]> {
    const rows = await this.#all<DevicePgRow>(
      `SELECT ${DEVICE_COLUMNS} FROM devices WHERE tenant_id = $1 AND ($2::uuid IS NULL OR id > $2::uuid)
       ORDER BY id LIMIT $3`,
      [page.after ?? null, page.limit],
    );
    return rows.map(toDevice);
  }

  async countDevices(): Promise<number> {
    const counted = await this.#one<{ n: number }>(
      'SELECT count(*)::int AS n FROM devices WHERE tenant_id = $1',
      [],
    );
    return counted?.n ?? 0;
  }

  async lockDeviceCount(): Promise<number> {
    await lockTenant(this.#db, this.#tenantId, 'devices');
    return this.countDevices();
  }

  async listEdgeNodeDevices(nodeId: string, page: PageQuery): Promise<DeviceRow[]> {
    const rows = await this.#all<DevicePgRow>(
      `SELECT ${DEVICE_COLUMNS} FROM devices WHERE tenant_id = $1 AND edge_node_id = $2
         AND ($3::uuid IS NULL OR id > $3::uuid) ORDER BY id LIMIT $4`,
      [nodeId, page.after ?? null, page.limit],
    );
    return rows.map(toDevice);
  }

  async telemetry(query: TelemetryQuery): Promise<TelemetryPoint[]> {
    const rows = await this.#all<PointPgRow>(
      `SELECT ${POINT_COLUMNS} FROM telemetry WHERE tenant_id = $1 AND device_id = $2
         AND ts >= $3 AND ts < $4 AND (cardinality($5::text[]) = 0 OR key = ANY($5::text[]))
       ORDER BY key, ts LIMIT $6`,
      [query.deviceId, query.from, query.to, query.keys, query.limit],
    );
    return rows.map(toPoint);
  }

  async aggregate(query: AggregateQuery): Promise<AggregateRow[]> {
    const numeric = query.agg === 'count' ? '' : " AND type IN ('number', 'boolean')";
    const rows = this.#all<AggregateRow>(
      `SELECT key, ($3 + ((ts - $3) / $7) * $7)::float8 AS ts, ${AGGREGATES[query.agg]}::float8 AS value
       FROM telemetry WHERE tenant_id = $1 AND device_id = $2 AND ts >= $3 AND ts < $4${numeric}
         AND (cardinality($5::text[]) = 0 OR key = ANY($5::text[]))
       GROUP BY 1, 2 ORDER BY 1, 2 LIMIT $6`,
      [query.deviceId, query.from, query.to, query.keys, query.limit, query.intervalMs],
    );
    return rows.catch((error: unknown) => {
      if ((error as { code?: string }).code === NUMERIC_VALUE_OUT_OF_RANGE)
        throw aggregateOverflow();
      throw error;
    });
  }

  async latest(deviceId: string, keys: readonly string[]): Promise<TelemetryPoint[]> {
    const rows = await this.#all<PointPgRow>(
      `SELECT ${POINT_COLUMNS} FROM telemetry_latest WHERE tenant_id = $1 AND device_id = $2
         AND (cardinality($3::text[]) = 0 OR key = ANY($3::text[])) ORDER BY key`,
      [deviceId, keys],
    );
    return rows.map(toPoint);
  }

  async getRpc(deviceId: string, id: string): Promise<RpcRow | undefined> {
    const row = await this.#one<RpcPgRow>(
      'SELECT * FROM rpc_requests WHERE tenant_id = $1 AND device_id = $2 AND id = $3',
      [deviceId, id],
    );
    return row === undefined ? undefined : toRpc(row);
  }

  async pendingRpcs(deviceId: string, now: string, limit: number): Promise<RpcRow[]> {
    const rows = await this.#all<RpcPgRow>(
      `SELECT * FROM rpc_requests WHERE tenant_id = $1 AND device_id = $2 AND status = 'queued'
         AND expires_at > $3 ORDER BY id LIMIT $4`,
      [deviceId, now, limit],
    );
    return rows.map(toRpc);
  }

  async lockGatewayChildren(gatewayId: string): Promise<number | undefined> {
    const gateway = await this.#one(
      'SELECT id FROM devices WHERE tenant_id = $1 AND id = $2 FOR UPDATE',
      [gatewayId],
    );
    if (gateway === undefined) return undefined;
    const counted = await this.#one<{ n: number }>(
      'SELECT count(*)::int AS n FROM devices WHERE tenant_id = $1 AND gateway_id = $2',
      [gatewayId],
    );
    return counted?.n ?? 0;
  }

  async insertDevice(row: DeviceRow): Promise<boolean> {
    const result = await this.#db.query(
      `INSERT INTO devices (tenant_id, ${DEVICE_COLUMNS})
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
       ON CONFLICT (tenant_id, name) DO NOTHING`,
      [
        this.#tenantId,
        row.id,
        row.name,
        row.type,
        JSON.stringify(row.labels),
        JSON.stringify(row.attributes),
        JSON.stringify(row.clientAttributes),
        row.telemetryKeys === null ? null : JSON.stringify(row.telemetryKeys),
        row.isGateway,
        row.gatewayId,
        row.edgeNodeId,
        row.version,
        row.createdAt,
        row.updatedAt,
      ],
    );
    return (result.rowCount ?? 0) > 0;
  }

  async updateDevice(row: DeviceRow): Promise<DeviceRow | undefined | 'name-taken'> {
    const clash = await this.#one(
      'SELECT id FROM devices WHERE tenant_id = $1 AND name = $2 AND id <> $3',
      [row.name, row.id],
    );
    if (clash !== undefined) return 'name-taken';
    const updated = await this.#one<DevicePgRow>(
      `UPDATE devices SET name = $3, type = $4, labels = $5, attributes = $6, telemetry_keys = $7,
         edge_node_id = $8, gateway_id = $9, version = version + 1, updated_at = $10
       WHERE tenant_id = $1 AND id = $2
       RETURNING ${DEVICE_COLUMNS}`,
      [
        row.id,
        row.name,
        row.type,
        JSON.stringify(row.labels),
        JSON.stringify(row.attributes),
        row.telemetryKeys === null ? null : JSON.stringify(row.telemetryKeys),
        row.edgeNodeId,
        row.gatewayId,
        row.updatedAt,
      ],
    );
    return updated === undefined ? undefined : toDevice(updated);
  }

  async deleteDevice(id: string): Promise<boolean> {
    for (const table of ['telemetry', 'telemetry_latest', 'rpc_requests', 'device_edge_history'])
      await this.#db.query(`DELETE FROM ${table} WHERE tenant_id = $1 AND device_id = $2`, [
        this.#tenantId,
        id,
      ]);
    const result = await this.#db.query('DELETE FROM devices WHERE tenant_id = $1 AND id = $2', [
      this.#tenantId,
      id,
    ]);
    return (result.rowCount ?? 0) > 0;
  }

  async unlinkGatewayChildren(gatewayId: string, at: string): Promise<DeviceRow[]> {
    const rows = await this.#all<DevicePgRow>(
      `UPDATE devices SET gateway_id = NULL, version = version + 1, updated_at = $3
       WHERE tenant_id = $1 AND gateway_id = $2 RETURNING ${DEVICE_COLUMNS}`,
      [gatewayId, at],
    );
    return rows.map(toDevice);
  }

  async recordEdgeUnassignment(deviceId: string, nodeId: string, at: string): Promise<void> {
    await this.#db.query(
      `INSERT INTO device_edge_history (tenant_id, device_id, edge_node_id, unassigned_at)
       VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, device_id, edge_node_id)
         DO UPDATE SET unassigned_at = greatest(device_edge_history.unassigned_at, excluded.unassigned_at)`,
      [this.#tenantId, deviceId, nodeId, at],
    );
  }

  async edgeStanding(
    nodeId: string,
    deviceIds: readonly string[],
  ): Promise<Map<string, EdgeStanding>> {
    const rows = await this.#all<{ id: string; assigned: boolean; unassigned_at: Date | null }>(
      `SELECT d.id, d.edge_node_id IS NOT DISTINCT FROM $2::uuid AS assigned, h.unassigned_at
       FROM devices AS d LEFT JOIN device_edge_history AS h
         ON h.tenant_id = d.tenant_id AND h.device_id = d.id AND h.edge_node_id = $2::uuid
       WHERE d.tenant_id = $1 AND d.id = ANY($3::uuid[])`,
      [nodeId, deviceIds],
    );
    return new Map(
      rows.map((r) => [
        r.id,
        { assigned: r.assigned, unassignedAt: r.unassigned_at?.toISOString() ?? null },
      ]),
    );
  }

  async mergeClientAttributes(
    id: string,
    attributes: Record<string, unknown>,
    at: string,
  ): Promise<boolean> {
    const result = await this.#db.query(
      `UPDATE devices SET client_attributes = client_attributes || $3::jsonb, updated_at = $4
       WHERE tenant_id = $1 AND id = $2`,
      [this.#tenantId, id, JSON.stringify(attributes), at],
    );
    return (result.rowCount ?? 0) > 0;
  }

  async telemetryKeys(id: string): Promise<string[] | null | undefined> {
    const row = await this.#one<{ telemetry_keys: string[] | null }>(
      'SELECT telemetry_keys FROM devices WHERE tenant_id = $1 AND id = $2',
      [id],
    );
    return row?.telemetry_keys;
  }

  async insertPoints(deviceId: string, points: readonly TelemetryPoint[]): Promise<void> {
    if (points.length === 0) return;
    // One statement may not upsert a row twice: of points with the same key and ts (across an
    // edge batch's messages), the later one wins, as successive inserts would leave it.
    const unique = [...new Map(points.map((p) => [`${p.ts}\u0000${p.key}`, p])).values()];
    const columns = unique.map(pointColumns);
    const params = [
      this.#tenantId,
      deviceId,
      unique.map((p) => p.key),
      unique.map((p) => p.ts),
      columns.map((c) => c[0]),
      columns.map((c) => c[1]),
      columns.map((c) => c[2]),
    ];
    await this.#db
      .query(
        `INSERT INTO telemetry (tenant_id, device_id, key, ts, type, num, text)
         SELECT $1, $2, * FROM unnest($3::text[], $4::int8[], $5::text[], $6::float8[], $7::text[])
         ON CONFLICT (tenant_id, device_id, key, ts) DO UPDATE
           SET type = excluded.type, num = excluded.num, text = excluded.text`,
        params,
      )
      .catch((error: unknown) => {
        throw insertError(error, unique);
      });
    // One row per key: the newest point of each key in this message.
    await this.#db.query(
      `INSERT INTO telemetry_latest (tenant_id, device_id, key, ts, type, num, text)
       SELECT DISTINCT ON (key) $1::uuid, $2::uuid, key, ts, type, num, text
       FROM unnest($3::text[], $4::int8[], $5::text[], $6::float8[], $7::text[]) AS p (key, ts, type, num, text)
       ORDER BY key, ts DESC
       ON CONFLICT (tenant_id, device_id, key) DO UPDATE
         SET ts = excluded.ts, type = excluded.type, num = excluded.num, text = excluded.text
         WHERE excluded.ts >= telemetry_latest.ts`,
      params,
    );
  }

  async deletePointsBefore(before: number, limit: number): Promise<number> {
    // The oldest first, through telemetry_by_ts (tenant_id, ts).
    const result = await this.#db.query(
      `DELETE FROM telemetry WHERE tenant_id = $1 AND ts < $2 AND (device_id, key, ts) IN (
         SELECT device_id, key, ts FROM telemetry WHERE tenant_id = $1 AND ts < $2
         ORDER BY ts LIMIT $3)`,
      [this.#tenantId, before, limit],
    );
    const deleted = result.rowCount ?? 0;
    if (deleted < limit)
      await this.#db.query('DELETE FROM telemetry_latest WHERE tenant_id = $1 AND ts < $2', [
        this.#tenantId,
        before,
      ]);
    return deleted;
  }

  async lockRpcQueue(deviceId: string, now: string): Promise<number | undefined> {
    // NO KEY UPDATE: conflicts with another queueing transaction, not with readers.
    const device = await this.#one(
      'SELECT id FROM devices WHERE tenant_id = $1 AND id = $2 FOR NO KEY UPDATE',
      [deviceId],
    );
    if (device === undefined) return undefined;
    const counted = await this.#one<{ n: number }>(
      `SELECT count(*)::int AS n FROM rpc_requests WHERE tenant_id = $1 AND device_id = $2
         AND status = 'queued' AND persistent AND expires_at > $3`,
      [deviceId, now],
    );
    return counted?.n ?? 0;
  }

  async insertRpc(row: RpcRow): Promise<void> {
    await this.#db.query(
      `INSERT INTO rpc_requests (tenant_id, id, device_id, method, params, persistent, status, response,
         error, created_at, expires_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
      [
        this.#tenantId,
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
    change: { status: RpcStatus; response?: unknown; error?: string | null },
    at: string,
  ): Promise<RpcRow | undefined> {
    const row = await this.#one<RpcPgRow>(
      `UPDATE rpc_requests SET status = $4, response = coalesce($5::jsonb, response),
         error = coalesce($6, error), updated_at = $7
       WHERE tenant_id = $1 AND device_id = $2 AND id = $3 AND status = ANY($8::text[]) RETURNING *`,
      [
        deviceId,
        id,
        change.status,
        change.response === undefined ? null : JSON.stringify(change.response),
        change.error ?? null,
        at,
        from,
      ],
    );
    return row === undefined ? undefined : toRpc(row);
  }

  async expireRpcs(now: string): Promise<number> {
    const result = await this.#db.query(
      `UPDATE rpc_requests SET status = 'expired', updated_at = $2
       WHERE tenant_id = $1 AND status IN ('queued', 'sent') AND expires_at <= $2`,
      [this.#tenantId, now],
    );
    return result.rowCount ?? 0;
  }

  /** Removes every device row of the tenant (tenant deletion). */
  async purge(): Promise<void> {
    for (const table of [
      'telemetry',
      'telemetry_latest',
      'rpc_requests',
      'device_edge_history',
      'devices',
    ])
      await this.#db.query(`DELETE FROM ${table} WHERE tenant_id = $1`, [this.#tenantId]);
  }
}
