import type { SQLInputValue, StatementSync } from 'node:sqlite';
import { DEVICE_COLUMNS, type DeviceDbRow, toDevice } from '../device-rows.ts';
import type { DeviceRow } from '../device-types.ts';
import type { PageQuery } from '../types.ts';

type Prepare = (sql: string) => StatementSync;

/** Devices whose telemetry keys the writer keeps at most (then it starts afresh). */
const TELEMETRY_KEYS_CACHE_MAX = 10_000;

function deviceParams(row: DeviceRow): SQLInputValue[] {
  return [
    row.id,
    row.name,
    row.type,
    JSON.stringify(row.labels),
    JSON.stringify(row.attributes),
    JSON.stringify(row.clientAttributes),
    row.telemetryKeys === null ? null : JSON.stringify(row.telemetryKeys),
    row.isGateway ? 1 : 0,
    row.gatewayId,
    row.edgeNodeId,
    row.version,
    row.createdAt,
    row.updatedAt,
  ];
}

/**
 * The device rows of one tenant's SQLite file. The writer owns the cache of devices'
 * declared telemetry keys.
 */
export class SqliteDeviceRows {
  readonly #sql: Prepare;
  /**
   * The writer's cache of devices' declared telemetry keys, asked once per message; every
   * change to a device goes through this writer, which forgets the device's entry.
   */
  readonly #telemetryKeys: Map<string, readonly string[] | null> | undefined;

  constructor(prepare: Prepare, writer: boolean) {
    this.#sql = prepare;
    this.#telemetryKeys = writer ? new Map() : undefined;
  }

  async getDevice(id: string): Promise<DeviceRow | undefined> {
    const row = this.#sql(`SELECT ${DEVICE_COLUMNS} FROM devices WHERE id = ?`).get(id) as
      | DeviceDbRow
      | undefined;
    return row === undefined ? undefined : toDevice(row);
  }

  async getDeviceByName(name: string): Promise<DeviceRow | undefined> {
    const row = this.#sql(`SELECT ${DEVICE_COLUMNS} FROM devices WHERE name = ?`).get(name) as
      | DeviceDbRow
      | undefined;
    return row === undefined ? undefined : toDevice(row);
  }

  async listDevices(page: PageQuery): Promise<DeviceRow[]> {
    const rows = this.#sql(
      `SELECT ${DEVICE_COLUMNS} FROM devices WHERE id > ? ORDER BY id LIMIT ?`,
    ).all(page.after ?? '', page.limit) as unknown as DeviceDbRow[];
    return rows.map(toDevice);
  }

  async countDevices(): Promise<number> {
    return (this.#sql('SELECT count(*) AS n FROM devices').get() as { n: number }).n;
  }

  async lockDeviceCount(): Promise<number> {
    // SQLite has one writer: the transaction this runs in already excludes every other.
    return this.countDevices();
  }

  async listEdgeNodeDevices(nodeId: string, page: PageQuery): Promise<DeviceRow[]> {
    const rows = this.#sql(
      `SELECT ${DEVICE_COLUMNS} FROM devices WHERE edge_node_id = ? AND id > ? ORDER BY id LIMIT ?`,
    ).all(nodeId, page.after ?? '', page.limit) as unknown as DeviceDbRow[];
    return rows.map(toDevice);
  }

  async lockGatewayChildren(gatewayId: string): Promise<number | undefined> {
    // SQLite has one writer: the transaction this runs in already holds the gateway's row.
    if (this.#sql('SELECT 1 FROM devices WHERE id = ?').get(gatewayId) === undefined)
      return undefined;
    const counted = this.#sql('SELECT count(*) AS n FROM devices WHERE gateway_id = ?').get(
      gatewayId,
    ) as { n: number };
    return counted.n;
  }

  async insertDevice(row: DeviceRow): Promise<boolean> {
    const result = this.#sql(
      `INSERT INTO devices (${DEVICE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (name) DO NOTHING`,
    ).run(...deviceParams(row));
    return result.changes > 0;
  }

  async updateDevice(row: DeviceRow): Promise<DeviceRow | undefined | 'name-taken'> {
    const clash = this.#sql('SELECT id FROM devices WHERE name = ? AND id <> ?').get(
      row.name,
      row.id,
    );
    if (clash !== undefined) return 'name-taken';
    this.#telemetryKeys?.delete(row.id);
    const updated = this.#sql(
      `UPDATE devices SET name = ?, type = ?, labels = ?, attributes = ?, telemetry_keys = ?,
         edge_node_id = ?, gateway_id = ?, version = version + 1, updated_at = ?
       WHERE id = ? RETURNING ${DEVICE_COLUMNS}`,
    ).get(
      row.name,
      row.type,
      JSON.stringify(row.labels),
      JSON.stringify(row.attributes),
      row.telemetryKeys === null ? null : JSON.stringify(row.telemetryKeys),
      row.edgeNodeId,
      row.gatewayId,
      row.updatedAt,
      row.id,
    ) as DeviceDbRow | undefined;
    return updated === undefined ? undefined : toDevice(updated);
  }

  /** Deletes the device's row (not what other tables hold of it); false when it was gone. */
  deleteDevice(id: string): boolean {
    this.#telemetryKeys?.delete(id);
    return this.#sql('DELETE FROM devices WHERE id = ?').run(id).changes > 0;
  }

  async unlinkGatewayChildren(gatewayId: string, at: string): Promise<DeviceRow[]> {
    const rows = this.#sql(
      `UPDATE devices SET gateway_id = NULL, version = version + 1, updated_at = ?
       WHERE gateway_id = ? RETURNING ${DEVICE_COLUMNS}`,
    ).all(at, gatewayId) as unknown as DeviceDbRow[];
    return rows.map(toDevice);
  }

  async mergeClientAttributes(
    id: string,
    attributes: Record<string, unknown>,
    at: string,
  ): Promise<boolean> {
    // A shallow merge, like PostgreSQL's `jsonb || jsonb` (json_patch would merge deeply).
    // The tenant's writer connection runs one transaction at a time, so read-then-write is atomic.
    const row = this.#sql('SELECT client_attributes FROM devices WHERE id = ?').get(id) as
      | { client_attributes: string }
      | undefined;
    if (row === undefined) return false;
    const merged = { ...JSON.parse(row.client_attributes), ...attributes };
    this.#sql('UPDATE devices SET client_attributes = ?, updated_at = ? WHERE id = ?').run(
      JSON.stringify(merged),
      at,
      id,
    );
    return true;
  }

  async telemetryKeys(id: string): Promise<readonly string[] | null | undefined> {
    const cached = this.#telemetryKeys?.get(id);
    if (cached !== undefined) return cached;
    const row = this.#sql('SELECT telemetry_keys FROM devices WHERE id = ?').get(id) as
      | { telemetry_keys: string | null }
      | undefined;
    if (row === undefined) return undefined;
    const keys: readonly string[] | null =
      row.telemetry_keys === null ? null : JSON.parse(row.telemetry_keys);
    if (this.#telemetryKeys !== undefined) {
      if (this.#telemetryKeys.size >= TELEMETRY_KEYS_CACHE_MAX) this.#telemetryKeys.clear();
      this.#telemetryKeys.set(id, keys);
    }
    return keys;
  }

  /** Forgets the cached keys: the rolled-back transaction may have changed devices. */
  rolledBack(): void {
    this.#telemetryKeys?.clear();
  }
}
