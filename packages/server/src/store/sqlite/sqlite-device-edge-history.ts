import type { StatementSync } from 'node:sqlite';
import type { EdgeStanding } from '../device-types.ts';

type Prepare = (sql: string) => StatementSync;

/** When each device of one tenant's SQLite file last left each edge node. */
export class SqliteDeviceEdgeHistory {
  readonly #sql: Prepare;

  constructor(prepare: Prepare) {
    this.#sql = prepare;
  }

  async recordEdgeUnassignment(deviceId: string, nodeId: string, at: string): Promise<void> {
    this.#sql(
      `INSERT INTO device_edge_history (device_id, edge_node_id, unassigned_at) VALUES (?, ?, ?)
       ON CONFLICT (device_id, edge_node_id)
         DO UPDATE SET unassigned_at = max(unassigned_at, excluded.unassigned_at)`,
    ).run(deviceId, nodeId, at);
  }

  async edgeStanding(
    nodeId: string,
    deviceIds: readonly string[],
  ): Promise<Map<string, EdgeStanding>> {
    const rows = this.#sql(
      `SELECT d.id, d.edge_node_id IS ? AS assigned, h.unassigned_at
       FROM json_each(?) AS j JOIN devices AS d ON d.id = j.value
       LEFT JOIN device_edge_history AS h ON h.device_id = d.id AND h.edge_node_id = ?`,
    ).all(nodeId, JSON.stringify(deviceIds), nodeId) as unknown as {
      id: string;
      assigned: number;
      unassigned_at: string | null;
    }[];
    return new Map(
      rows.map((r) => [r.id, { assigned: r.assigned === 1, unassignedAt: r.unassigned_at }]),
    );
  }

  /** Forgets the device's history (the device is being deleted). */
  deleteDevice(id: string): void {
    this.#sql('DELETE FROM device_edge_history WHERE device_id = ?').run(id);
  }
}
