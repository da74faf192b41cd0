import { DEVICE_COLUMNS, type DeviceDbRow, toDevice } from '../device-rows.ts';
import type { DeviceRow } from '../device-types.ts';
import type { PageQuery } from '../types.ts';
import { lockTenant } from './tenant-lock.ts';
import type { TenantQueries } from './tenant-queries.ts';

/** The device rows of one tenant in a PostgreSQL shard. */
export class PgDeviceRows {
  readonly #q: TenantQueries;

  constructor(queries: TenantQueries) {
    this.#q = queries;
  }

  async getDevice(id: string): Promise<DeviceRow | undefined> {
    const row = await this.#q.one<DeviceDbRow>(
      `SELECT ${DEVICE_COLUMNS} FROM devices WHERE tenant_id = $1 AND id = $2`,
      [id],
    );
    return row === undefined ? undefined : toDevice(row);
  }

  async getDeviceByName(name: string): Promise<DeviceRow | undefined> {
    const row = await this.#q.one<DeviceDbRow>(
      `SELECT ${DEVICE_COLUMNS} FROM devices WHERE tenant_id = $1 AND name = $2`,
      [name],
    );
    return row === undefined ? undefined : toDevice(row);
  }

  async listDevices(page: PageQuery): Promise<DeviceRow[]> {
    const rows = await this.#q.all<DeviceDbRow>(
      `SELECT ${DEVICE_COLUMNS} FROM devices WHERE tenant_id = $1 AND ($2::uuid IS NULL OR id > $2::uuid)
       ORDER BY id LIMIT $3`,
      [page.after ?? null, page.limit],
    );
    return rows.map(toDevice);
  }

  async countDevices(): Promise<number> {
    const counted = await this.#q.one<{ n: number }>(
      'SELECT count(*)::int AS n FROM devices WHERE tenant_id = $1',
      [],
    );
    return counted?.n ?? 0;
  }

  async lockDeviceCount(): Promise<number> {
    await lockTenant(this.#q.db, this.#q.tenantId, 'devices');
    return this.countDevices();
  }

  async listEdgeNodeDevices(nodeId: string, page: PageQuery): Promise<DeviceRow[]> {
    const rows = await this.#q.all<DeviceDbRow>(
      `SELECT ${DEVICE_COLUMNS} FROM devices WHERE tenant_id = $1 AND edge_node_id = $2
         AND ($3::uuid IS NULL OR id > $3::uuid) ORDER BY id LIMIT $4`,
      [nodeId, page.after ?? null, page.limit],
    );
    return rows.map(toDevice);
  }

  async lockGatewayChildren(gatewayId: string): Promise<number | undefined> {
    const gateway = await this.#q.one(
      'SELECT id FROM devices WHERE tenant_id = $1 AND id = $2 FOR UPDATE',
      [gatewayId],
    );
    if (gateway === undefined) return undefined;
    const counted = await this.#q.one<{ n: number }>(
      'SELECT count(*)::int AS n FROM devices WHERE tenant_id = $1 AND gateway_id = $2',
      [gatewayId],
    );
    return counted?.n ?? 0;
  }

  async insertDevice(row: DeviceRow): Promise<boolean> {
    const inserted = await this.#q.run(
      `INSERT INTO devices (tenant_id, ${DEVICE_COLUMNS})
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
       ON CONFLICT (tenant_id, name) DO NOTHING`,
      [
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
    return inserted > 0;
  }

  async updateDevice(row: DeviceRow): Promise<DeviceRow | undefined | 'name-taken'> {
    const clash = await this.#q.one(
      'SELECT id FROM devices WHERE tenant_id = $1 AND name = $2 AND id <> $3',
      [row.name, row.id],
    );
    if (clash !== undefined) return 'name-taken';
    const updated = await this.#q.one<DeviceDbRow>(
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

  /** Deletes the device's row (not what other tables hold of it); false when it was gone. */
  async deleteDevice(id: string): Promise<boolean> {
    return (await this.#q.run('DELETE FROM devices WHERE tenant_id = $1 AND id = $2', [id])) > 0;
  }

  async unlinkGatewayChildren(gatewayId: string, at: string): Promise<DeviceRow[]> {
    const rows = await this.#q.all<DeviceDbRow>(
      `UPDATE devices SET gateway_id = NULL, version = version + 1, updated_at = $3
       WHERE tenant_id = $1 AND gateway_id = $2 RETURNING ${DEVICE_COLUMNS}`,
      [gatewayId, at],
    );
    return rows.map(toDevice);
  }

  async mergeClientAttributes(
    id: string,
    attributes: Record<string, unknown>,
    at: string,
  ): Promise<boolean> {
    const updated = await this.#q.run(
      `UPDATE devices SET client_attributes = client_attributes || $3::jsonb, updated_at = $4
       WHERE tenant_id = $1 AND id = $2`,
      [id, JSON.stringify(attributes), at],
    );
    return updated > 0;
  }

  async telemetryKeys(id: string): Promise<string[] | null | undefined> {
    const row = await this.#q.one<{ telemetry_keys: string[] | null }>(
      'SELECT telemetry_keys FROM devices WHERE tenant_id = $1 AND id = $2',
      [id],
    );
    return row?.telemetry_keys;
  }

  /** Removes every device row of the tenant (tenant deletion). */
  async purge(): Promise<void> {
    await this.#q.run('DELETE FROM devices WHERE tenant_id = $1', []);
  }
}
