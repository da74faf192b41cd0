import type { SQLInputValue, StatementSync } from 'node:sqlite';
import type {
  AggregateQuery,
  AggregateRow,
  TelemetryPoint,
  TelemetryQuery,
} from '../device-types.ts';
import { aggregateOverflow, type PointDbRow, pointColumns, toPoint } from '../telemetry-values.ts';
import type { StagedLatest } from './staged-latest.ts';

type Prepare = (sql: string) => StatementSync;

function keyFilter(keys: readonly string[]): { sql: string; params: string[] } {
  if (keys.length === 0) return { sql: '', params: [] };
  return { sql: ` AND key IN (${keys.map(() => '?').join(', ')})`, params: [...keys] };
}

/**
 * A `staged` CTE: one device's staged points in a range, `newest = 1` on the last staged of
 * each key and ts. Ingest stages points and compaction moves them into `telemetry`, so a
 * read sees both, the staged point winning.
 */
function stagedPoints(keySql: string): string {
  return `WITH staged AS MATERIALIZED (
    SELECT key, ts, type, num, text, row_number() OVER (PARTITION BY key, ts ORDER BY seq DESC) AS newest
    FROM telemetry_staged WHERE device_id = ? AND ts >= ? AND ts < ?${keySql})`;
}

function rangeParams(
  query: TelemetryQuery | AggregateQuery,
  keys: readonly string[],
): SQLInputValue[] {
  return [query.deviceId, query.from, query.to, ...keys];
}

/**
 * The condition and parameters of a read of the telemetry tree: one device's points in a range
 * of the keys asked for or, when none are, of every key it has a latest value of (every
 * series has one, see deletePointsBefore). With keys to match, the tree's key (device_id, key,
 * ts) seeks each series' range; without, a read walked every point the device ever sent to find
 * those of its range, holding the event loop all the while.
 */
function treeRange(query: TelemetryQuery | AggregateQuery): {
  sql: string;
  params: SQLInputValue[];
} {
  const range = 'device_id = ? AND ts >= ? AND ts < ?';
  if (query.keys.length > 0) {
    const keys = keyFilter(query.keys);
    return { sql: `${range}${keys.sql}`, params: rangeParams(query, keys.params) };
  }
  return {
    sql: `${range} AND key IN (SELECT key FROM telemetry_latest WHERE device_id = ?)`,
    params: [...rangeParams(query, []), query.deviceId],
  };
}

const AGGREGATES = {
  avg: 'avg(num)',
  min: 'min(num)',
  max: 'max(num)',
  sum: 'sum(num)',
  count: 'count(*)',
} as const;

/**
 * Telemetry reads of one tenant's SQLite file: raw points, aggregates and latest values, each
 * seeing the staged points not yet compacted as if they were.
 */
export class SqliteTelemetryReads {
  readonly #sql: Prepare;
  /** Where a reader takes the newest staged points; undefined for the writer, which scans. */
  readonly #stagedLatest: StagedLatest | undefined;

  constructor(prepare: Prepare, stagedLatest: StagedLatest | undefined) {
    this.#sql = prepare;
    this.#stagedLatest = stagedLatest;
  }

  async telemetry(query: TelemetryQuery): Promise<TelemetryPoint[]> {
    const keys = keyFilter(query.keys);
    const tree = treeRange(query);
    // The compacted tree's first `limit` points (read in its order), then the staged ones:
    // a staged point replaces a compacted one at the same key and ts, as compaction will.
    const rows = this.#sql(
      `${stagedPoints(keys.sql)}
       SELECT key, ts, type, num, text FROM (
         SELECT * FROM (
           SELECT key, ts, type, num, text FROM telemetry
           WHERE ${tree.sql} ORDER BY key, ts LIMIT ?
         ) AS t WHERE NOT EXISTS (SELECT 1 FROM staged AS s WHERE s.key = t.key AND s.ts = t.ts)
         UNION ALL SELECT key, ts, type, num, text FROM staged WHERE newest = 1
       ) ORDER BY key, ts LIMIT ?`,
    ).all(
      ...rangeParams(query, keys.params),
      ...tree.params,
      query.limit,
      query.limit,
    ) as unknown as PointDbRow[];
    return rows.map(toPoint);
  }

  async aggregate(query: AggregateQuery): Promise<AggregateRow[]> {
    const keys = keyFilter(query.keys);
    const tree = treeRange(query);
    const numeric = query.agg === 'count' ? '' : " WHERE type IN ('number', 'boolean')";
    const rows = this.#sql(
      `${stagedPoints(keys.sql)}
       SELECT key, CAST(? AS INTEGER) + ((ts - CAST(? AS INTEGER)) / CAST(? AS INTEGER)) * CAST(? AS INTEGER) AS ts, ${AGGREGATES[query.agg]} AS value FROM (
         SELECT key, ts, type, num FROM telemetry AS t
         WHERE ${tree.sql}
           AND NOT EXISTS (SELECT 1 FROM staged AS s WHERE s.key = t.key AND s.ts = t.ts)
         UNION ALL SELECT key, ts, type, num FROM staged WHERE newest = 1
       )${numeric}
       GROUP BY key, 2 ORDER BY key, 2 LIMIT ?`,
    ).all(
      ...rangeParams(query, keys.params),
      query.from,
      query.from,
      query.intervalMs,
      query.intervalMs,
      ...tree.params,
      query.limit,
    ) as unknown as AggregateRow[];
    if (rows.some((row) => !Number.isFinite(row.value))) throw aggregateOverflow();
    return rows;
  }

  /**
   * Compaction brings telemetry_latest up to date; until then a staged point at least as new
   * as the held one is the latest (the later written on a tie, as compaction decides). A
   * reader takes the newest staged points from the file's StagedLatest, as a JSON parameter,
   * rather than scanning the staged table; the writer (whose own transaction may have staged
   * more) and a reader of a file not yet whole scan it.
   */
  async latest(deviceId: string, keys: readonly string[]): Promise<TelemetryPoint[]> {
    const filter = keyFilter(keys);
    const held = this.#stagedLatest?.pointsOf(deviceId);
    const staged =
      held === undefined
        ? `SELECT key, ts, type, num, text FROM (
             SELECT key, ts, type, num, text,
               row_number() OVER (PARTITION BY key ORDER BY ts DESC, seq DESC) AS newest
             FROM telemetry_staged WHERE device_id = ?${filter.sql}
           ) WHERE newest = 1`
        : // num is REAL as in the tables: JSON's 2^53 would be an INTEGER node cannot return.
          `SELECT value ->> 0 AS key, value ->> 1 AS ts, value ->> 2 AS type,
             CAST(value ->> 3 AS REAL) AS num, value ->> 4 AS text FROM json_each(?)`;
    const stagedParams: SQLInputValue[] =
      held === undefined
        ? [deviceId, ...filter.params]
        : [
            JSON.stringify(
              held
                .filter((point) => keys.length === 0 || keys.includes(point.key))
                .map((point) => [point.key, point.ts, ...pointColumns(point)]),
            ),
          ];
    const rows = this.#sql(
      `WITH staged AS MATERIALIZED (${staged})
       SELECT key, ts, type, num, text FROM telemetry_latest AS l WHERE device_id = ?${filter.sql}
         AND NOT EXISTS (SELECT 1 FROM staged AS s WHERE s.key = l.key AND s.ts >= l.ts)
       UNION ALL
       SELECT key, ts, type, num, text FROM staged AS s WHERE NOT EXISTS (
         SELECT 1 FROM telemetry_latest AS l WHERE l.device_id = ? AND l.key = s.key AND l.ts > s.ts)
       ORDER BY key`,
    ).all(...stagedParams, deviceId, ...filter.params, deviceId) as unknown as PointDbRow[];
    return rows.map(toPoint);
  }
}
