import type { TelemetryPoint } from '../device-types.ts';
import { pointColumns } from '../telemetry-values.ts';
import { insertError } from './telemetry-partitions.ts';
import type { TenantQueries } from './tenant-queries.ts';

/**
 * Telemetry writes of one tenant in a PostgreSQL shard: points and latest values upserted
 * together, and retention.
 */
export class PgTelemetryWrites {
  readonly #q: TenantQueries;

  constructor(queries: TenantQueries) {
    this.#q = queries;
  }

  async insertPoints(deviceId: string, points: readonly TelemetryPoint[]): Promise<void> {
    if (points.length === 0) return;
    // One statement may not upsert a row twice: of points with the same key and ts (across an
    // edge batch's messages), the later one wins, as successive inserts would leave it.
    const unique = [...new Map(points.map((p) => [`${p.ts}\u0000${p.key}`, p])).values()];
    const columns = unique.map(pointColumns);
    const params = [
      deviceId,
      unique.map((p) => p.key),
      unique.map((p) => p.ts),
      columns.map((c) => c[0]),
      columns.map((c) => c[1]),
      columns.map((c) => c[2]),
    ];
    await this.#q
      .run(
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
    await this.#q.run(
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
    const deleted = await this.#q.run(
      `DELETE FROM telemetry WHERE tenant_id = $1 AND ts < $2 AND (device_id, key, ts) IN (
         SELECT device_id, key, ts FROM telemetry WHERE tenant_id = $1 AND ts < $2
         ORDER BY ts LIMIT $3)`,
      [before, limit],
    );
    if (deleted < limit)
      await this.#q.run('DELETE FROM telemetry_latest WHERE tenant_id = $1 AND ts < $2', [before]);
    return deleted;
  }

  /** Deletes the device's points and latest values. */
  async deleteDevice(id: string): Promise<void> {
    for (const table of ['telemetry', 'telemetry_latest'])
      await this.#q.run(`DELETE FROM ${table} WHERE tenant_id = $1 AND device_id = $2`, [id]);
  }

  /** Removes the tenant's points and latest values (tenant deletion). */
  async purge(): Promise<void> {
    for (const table of ['telemetry', 'telemetry_latest'])
      await this.#q.run(`DELETE FROM ${table} WHERE tenant_id = $1`, []);
  }
}
