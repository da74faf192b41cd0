import type { StatementSync } from 'node:sqlite';
import type { TelemetryPoint } from '../device-types.ts';
import { pointColumns } from '../telemetry-values.ts';
import type { StagedLatest } from './staged-latest.ts';

type Prepare = (sql: string) => StatementSync;

/** A series' latest value moves only to a point as new as it or newer. */
const LATEST_UPSERT = `ON CONFLICT (device_id, key) DO UPDATE SET ts = excluded.ts, type = excluded.type,
  num = excluded.num, text = excluded.text WHERE excluded.ts >= telemetry_latest.ts`;

/**
 * Telemetry writes of one tenant's SQLite file: ingest stages points, compaction moves them
 * into the telemetry tree and the latest values, retention deletes the old. This connection
 * counts what it staged; the file's StagedLatest tracks the newest staged of each series.
 */
export class SqliteTelemetryWrites {
  readonly #sql: Prepare;
  readonly #stagedLatest: StagedLatest;
  #staged = 0;

  constructor(prepare: Prepare, stagedLatest: StagedLatest) {
    this.#sql = prepare;
    this.#stagedLatest = stagedLatest;
  }

  /** Deletes the device's points, staged points and latest values. */
  deleteDevice(id: string): void {
    this.#sql('DELETE FROM telemetry WHERE device_id = ?').run(id);
    this.#sql('DELETE FROM telemetry_staged WHERE device_id = ?').run(id);
    this.#stagedLatest.deviceDeleted(id);
    this.#sql('DELETE FROM telemetry_latest WHERE device_id = ?').run(id);
  }

  /** Forgets the rolled-back transaction's staged points. */
  rolledBack(): void {
    this.#staged = 0;
    this.#stagedLatest.rolledBack();
  }

  /** Points staged by this connection since the last call (what its store must compact). */
  takeStaged(): number {
    const staged = this.#staged;
    this.#staged = 0;
    return staged;
  }

  async insertPoints(deviceId: string, points: readonly TelemetryPoint[]): Promise<void> {
    const insert = this.#sql(
      'INSERT INTO telemetry_staged (device_id, key, ts, type, num, text) VALUES (?, ?, ?, ?, ?, ?)',
    );
    for (const point of points) insert.run(deviceId, point.key, point.ts, ...pointColumns(point));
    this.#staged += points.length;
    this.#stagedLatest.staged(deviceId, points);
  }

  /**
   * Moves every staged point into the telemetry tree, in the tree's order, and brings each
   * series' latest value up to date; of points with the same device, key and ts the last
   * staged wins, as an upsert in arrival order would. The newest staged point of each series
   * comes from the writer's StagedLatest when it is whole: one upsert per series, where
   * ranking the staged table costs more than the tree insert itself (27 against 15–45 ms
   * for 20,000 points of 2,000 series).
   */
  compactStaged(): void {
    this.#sql(
      `INSERT INTO telemetry (device_id, key, ts, type, num, text)
       SELECT device_id, key, ts, type, num, text FROM telemetry_staged WHERE true
       ORDER BY device_id, key, ts, seq
       ON CONFLICT (device_id, key, ts) DO UPDATE SET type = excluded.type, num = excluded.num, text = excluded.text`,
    ).run();
    const newest = this.#stagedLatest.newestPoints();
    if (newest === undefined) {
      this.#sql(
        `INSERT INTO telemetry_latest (device_id, key, ts, type, num, text)
         SELECT device_id, key, ts, type, num, text FROM (
           SELECT device_id, key, ts, type, num, text,
             row_number() OVER (PARTITION BY device_id, key ORDER BY ts DESC, seq DESC) AS newest
           FROM telemetry_staged
         ) WHERE newest = 1
         ${LATEST_UPSERT}`,
      ).run();
    } else {
      const upsert = this.#sql(
        `INSERT INTO telemetry_latest (device_id, key, ts, type, num, text) VALUES (?, ?, ?, ?, ?, ?)
         ${LATEST_UPSERT}`,
      );
      for (const [deviceId, point] of newest)
        upsert.run(deviceId, point.key, point.ts, ...pointColumns(point));
    }
    this.#sql('DELETE FROM telemetry_staged').run();
    this.#stagedLatest.compacted();
  }

  /**
   * Deletes the points older than `before`, series by series (every series has a latest
   * value; CROSS JOIN keeps that join order), so the tree's key finds them and telemetry
   * needs no time index, which every insert would pay for.
   */
  async deletePointsBefore(before: number, limit: number): Promise<number> {
    this.compactStaged();
    const deleted = Number(
      this.#sql(
        `DELETE FROM telemetry WHERE (device_id, key, ts) IN (
           SELECT t.device_id, t.key, t.ts FROM telemetry_latest AS l
           CROSS JOIN telemetry AS t ON t.device_id = l.device_id AND t.key = l.key AND t.ts < ?
           LIMIT ?)`,
      ).run(before, limit).changes,
    );
    // Only once the points are gone: their series are found through the latest values.
    if (deleted < limit) this.#sql('DELETE FROM telemetry_latest WHERE ts < ?').run(before);
    return deleted;
  }
}
