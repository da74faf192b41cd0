import type { EdgeStanding } from '../device-types.ts';
import type { TenantQueries } from './tenant-queries.ts';

/** When each device of one tenant in a PostgreSQL shard last left each edge node. */
export class PgDeviceEdgeHistory {
  readonly #q: TenantQueries;

  constructor(queries: TenantQueries) {
    this.#q = queries;
  }

  async recordEdgeUnassignment(deviceId: string, nodeId: string, at: string): Promise<void> {
    await this.#q.run(
      `INSERT INTO device_edge_history (tenant_id, device_id, edge_node_id, unassigned_at)
       VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, device_id, edge_node_id)
         DO UPDATE SET unassigned_at = greatest(device_edge_history.unassigned_at, excluded.unassigned_at)`,
      [deviceId, nodeId, at],
    );
  }

  async edgeStanding(
    nodeId: string,
    deviceIds: readonly string[],
  ): Promise<Map<string, EdgeStanding>> {
    const rows = await this.#q.all<{ id: string; assigned: boolean; unassigned_at: Date | null }>(
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

  /** Forgets the device's history (the device is being deleted). */
  async deleteDevice(id: string): Promise<void> {
    await this.#q.run('DELETE FROM device_edge_history WHERE tenant_id = $1 AND device_id = $2', [
      id,
    ]);
  }

  /** Removes the tenant's history (tenant deletion). */
  async purge(): Promise<void> {
    await this.#q.run('DELETE FROM device_edge_history WHERE tenant_id = $1', []);
  }
}
