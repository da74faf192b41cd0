/**
 * How a telemetry point's value is stored, the same in both backends: a `type` column and
 * either a numeric (`num`) or a text (`text`) column.
 */
import { PalisadeError } from '../errors/index.ts';
import type { PointType, TelemetryPoint } from './device-types.ts';

/** Stored columns `type, num, text` of a point's value. */
export function pointColumns(point: TelemetryPoint): [PointType, number | null, string | null] {
  switch (point.type) {
    case 'number':
      return ['number', point.value as number, null];
    case 'boolean':
      return ['boolean', point.value === true ? 1 : 0, null];
    case 'string':
      return ['string', null, point.value as string];
    default:
      return ['json', null, JSON.stringify(point.value)];
  }
}

/** The inverse of {@link pointColumns}. */
export function pointValue(type: PointType, num: number | null, text: string | null): unknown {
  switch (type) {
    case 'number':
      return num;
    case 'boolean':
      return num === 1;
    case 'string':
      return text;
    default:
      return JSON.parse(text ?? 'null');
  }
}

/** A stored point as either backend returns it. */
export interface PointDbRow {
  key: string;
  ts: number;
  type: PointType;
  num: number | null;
  text: string | null;
}

export function toPoint(row: PointDbRow): TelemetryPoint {
  return {
    key: row.key,
    ts: row.ts,
    type: row.type,
    value: pointValue(row.type, row.num, row.text),
  };
}

/** A bucket's sum is beyond a double: SQLite makes it Infinity, PostgreSQL an error. */
export function aggregateOverflow(): PalisadeError {
  return new PalisadeError(
    'PALISADE_TELEMETRY_AGGREGATE_OVERFLOW',
    'the sum of a bucket is beyond the range of a double',
    [{ path: '/querystring/agg', message: 'overflows a double; query min or max instead' }],
  );
}
