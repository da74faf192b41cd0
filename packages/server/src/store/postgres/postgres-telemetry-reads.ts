import type {
  AggregateQuery,
  AggregateRow,
  TelemetryPoint,
  TelemetryQuery,
} from '../device-types.ts';
import { aggregateOverflow, type PointDbRow, toPoint } from '../telemetry-values.ts';
import type { TenantQueries } from './tenant-queries.ts';

const POINT_COLUMNS = 'key, ts::float8 AS ts, type, num, text';

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

/** Telemetry reads of one tenant in a PostgreSQL shard: raw points, aggregates, latest values. */
export class PgTelemetryReads {
  readonly #q: TenantQueries;

  constructor(queries: TenantQueries) {
    this.#q = queries;
  }

  async telemetry(query: TelemetryQuery): Promise<TelemetryPoint[]> {
    // Series by series (the keys asked for that the device has a latest value of, or all it
    // has: every series has one), each read in its primary key's order up to the limit: the
    // first `limit` points are found without reading, or sorting, the rest of the range.
    const rows = await this.#q.all<PointDbRow>(
      `SELECT p.key, p.ts::float8 AS ts, p.type, p.num, p.text
       FROM telemetry_latest AS s CROSS JOIN LATERAL (
         SELECT t.key, t.ts, t.type, t.num, t.text FROM telemetry AS t
         WHERE t.tenant_id = $1 AND t.device_id = $2 AND t.key = s.key AND t.ts >= $3 AND t.ts < $4
         ORDER BY t.ts LIMIT $6
       ) AS p
       WHERE s.tenant_id = $1 AND s.device_id = $2
         AND (cardinality($5::text[]) = 0 OR s.key = ANY($5::text[]))
       ORDER BY s.key, p.ts LIMIT $6`,
      [query.deviceId, query.from, query.to, query.keys, query.limit],
    );
    return rows.map(toPoint);
  }

  async aggregate(query: AggregateQuery): Promise<AggregateRow[]> {
    const numeric = query.agg === 'count' ? '' : " AND type IN ('number', 'boolean')";
    const rows = this.#q.all<AggregateRow>(
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
    const rows = await this.#q.all<PointDbRow>(
      `SELECT ${POINT_COLUMNS} FROM telemetry_latest WHERE tenant_id = $1 AND device_id = $2
         AND (cardinality($3::text[]) = 0 OR key = ANY($3::text[])) ORDER BY key`,
      [deviceId, keys],
    );
    return rows.map(toPoint);
  }
}
