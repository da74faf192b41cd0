import { type ErrorCode, PalisadeError, type ProblemDetail } from '../errors/index.ts';
import { type TelemetryPoint, unstorable } from '../store/index.ts';

/** Limits of one message, from the `telemetry*` settings. */
export interface TelemetryLimits {
  readonly maxPoints: number;
  readonly maxKeys: number;
  readonly keyMaxLength: number;
  readonly valueMaxBytes: number;
  readonly maxPastMs: number;
  readonly maxFutureMs: number;
}

/** The times a message's points are held to. */
export interface PointTimes {
  /**
   * Stamps the points that name no ts and centres an accepted range (`telemetryMaxPastMs`,
   * `telemetryMaxFutureMs`): the platform's clock, or when an edge node received the message.
   */
  readonly now: number;
  /**
   * The platform's clock, which centres the accepted range too: a ts in the range around an
   * edge node's `now` but not in this one is past the settings (and on PostgreSQL past the
   * partitions made for them).
   */
  readonly clock: number;
  /**
   * The oldest instant the tenant's plan keeps (`telemetryRetention`) by the platform's clock:
   * an older point would be accepted only to be deleted at the next retention pass.
   */
  readonly keptFrom: number;
}

const KEY = /^[A-Za-z0-9_.:-]+$/;
const RESERVED_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

function fail(code: ErrorCode, path: string, message: string): never {
  const detail: ProblemDetail = { path, message };
  throw new PalisadeError(code, `${path || '/'} ${message}`, [detail]);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** MQTT hands over bytes, HTTP a parsed body: both end up as a JSON value. */
export function decodePayload(payload: unknown): unknown {
  if (typeof payload !== 'string' && !(payload instanceof Uint8Array)) return payload;
  const text = typeof payload === 'string' ? payload : Buffer.from(payload).toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    throw new PalisadeError('PALISADE_MALFORMED_JSON', 'the payload is not valid JSON');
  }
}

function checkKey(key: string, path: string, limits: TelemetryLimits): void {
  if (
    key.length === 0 ||
    key.length > limits.keyMaxLength ||
    !KEY.test(key) ||
    RESERVED_KEYS.has(key)
  )
    fail(
      'PALISADE_TELEMETRY_INVALID_KEY',
      path,
      `must be 1-${limits.keyMaxLength} characters of [A-Za-z0-9_.:-], not a reserved name`,
    );
}

/** A value as a typed point value; refuses null, non-finite numbers and oversized strings or JSON. */
function typed(
  value: unknown,
  path: string,
  limits: TelemetryLimits,
): Pick<TelemetryPoint, 'type' | 'value'> {
  if (typeof value === 'number') {
    if (!Number.isFinite(value))
      fail('PALISADE_TELEMETRY_INVALID_VALUE', path, 'must be a finite number');
    return { type: 'number', value };
  }
  if (typeof value === 'boolean') return { type: 'boolean', value };
  if (value === null || value === undefined)
    fail('PALISADE_TELEMETRY_INVALID_VALUE', path, 'must not be null');
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  if (Buffer.byteLength(text) > limits.valueMaxBytes)
    fail('PALISADE_TELEMETRY_INVALID_VALUE', path, `is longer than ${limits.valueMaxBytes} bytes`);
  const found = unstorable(value);
  if (found !== undefined)
    fail('PALISADE_TELEMETRY_INVALID_VALUE', `${path}${found.path}`, found.message);
  return typeof value === 'string' ? { type: 'string', value } : { type: 'json', value };
}

/**
 * A point's time: Unix milliseconds from 1970 on (queries take `from` >= 0, so an earlier
 * point could never be read back), within the accepted ranges around `times.now` and
 * `times.clock`, and kept by the tenant's plan.
 */
function checkTs(ts: unknown, path: string, times: PointTimes, limits: TelemetryLimits): number {
  if (typeof ts !== 'number' || !Number.isSafeInteger(ts) || ts < 0)
    fail(
      'PALISADE_TELEMETRY_TIMESTAMP_OUT_OF_RANGE',
      path,
      'must be an integer of Unix milliseconds, 0 or more',
    );
  if (
    ts < Math.max(times.now, times.clock) - limits.maxPastMs ||
    ts > Math.min(times.now, times.clock) + limits.maxFutureMs
  )
    fail(
      'PALISADE_TELEMETRY_TIMESTAMP_OUT_OF_RANGE',
      path,
      'is outside the accepted range (telemetryMaxPastMs, telemetryMaxFutureMs)',
    );
  if (ts < times.keptFrom)
    fail(
      'PALISADE_TELEMETRY_TIMESTAMP_OUT_OF_RANGE',
      path,
      "is older than the tenant's plan keeps telemetry (telemetryRetention)",
    );
  return ts;
}

/**
 * The time an edge node says it received a message, which stamps the points that name no ts:
 * held to the platform's times, as a ts is.
 */
export function checkReceivedAt(
  receivedAt: number,
  times: PointTimes,
  limits: TelemetryLimits,
): void {
  checkTs(receivedAt, '/receivedAt', times, limits);
}

/**
 * ThingsBoard telemetry as typed points: `{"k": v}` (stamped `times.now`), `{"ts": ms, "values":
 * {…}}`, or an array of either. Everything is checked before anything is returned, so a bad
 * message is refused whole. A key sent twice at one timestamp keeps its last value.
 */
export function parseTelemetry(
  payload: unknown,
  times: PointTimes,
  limits: TelemetryLimits,
): TelemetryPoint[] {
  const body = decodePayload(payload);
  const items = Array.isArray(body) ? body : [body];
  const points = new Map<string, TelemetryPoint>();
  const keys = new Set<string>();
  items.forEach((item, i) => {
    const at = Array.isArray(body) ? `/${i}` : '';
    if (!isObject(item)) fail('PALISADE_TELEMETRY_MALFORMED', at, 'must be a JSON object');
    let ts = times.now;
    let values: Record<string, unknown> = item;
    let valuesAt = at;
    if ('ts' in item || 'values' in item) {
      const extra = Object.keys(item).find((k) => k !== 'ts' && k !== 'values');
      if (extra !== undefined)
        fail(
          'PALISADE_TELEMETRY_MALFORMED',
          `${at}/${extra}`,
          'is not allowed beside ts and values',
        );
      if (!isObject(item.values))
        fail('PALISADE_TELEMETRY_MALFORMED', `${at}/values`, 'must be a JSON object');
      ts = checkTs(item.ts, `${at}/ts`, times, limits);
      values = item.values;
      valuesAt = `${at}/values`;
    }
    for (const [key, value] of Object.entries(values)) {
      const path = `${valuesAt}/${key}`;
      checkKey(key, path, limits);
      keys.add(key);
      points.set(`${key}\u0000${ts}`, { key, ts, ...typed(value, path, limits) });
      if (points.size > limits.maxPoints)
        fail('PALISADE_TELEMETRY_TOO_LARGE', '', `carries more than ${limits.maxPoints} points`);
    }
  });
  if (keys.size > limits.maxKeys)
    fail('PALISADE_TELEMETRY_TOO_LARGE', '', `carries more than ${limits.maxKeys} keys`);
  if (points.size === 0) fail('PALISADE_TELEMETRY_MALFORMED', '', 'carries no points');
  return [...points.values()];
}

/** ThingsBoard client attributes: a flat, non-empty JSON object of non-null values. */
export function parseAttributes(
  payload: unknown,
  limits: TelemetryLimits,
): Record<string, unknown> {
  const body = decodePayload(payload);
  if (!isObject(body)) fail('PALISADE_TELEMETRY_MALFORMED', '', 'must be a JSON object');
  const entries = Object.entries(body);
  if (entries.length === 0) fail('PALISADE_TELEMETRY_MALFORMED', '', 'carries no attributes');
  if (entries.length > limits.maxKeys)
    fail('PALISADE_TELEMETRY_TOO_LARGE', '', `carries more than ${limits.maxKeys} keys`);
  const attributes: Record<string, unknown> = {};
  for (const [key, value] of entries) {
    checkKey(key, `/${key}`, limits);
    attributes[key] = typed(value, `/${key}`, limits).value;
  }
  return attributes;
}
