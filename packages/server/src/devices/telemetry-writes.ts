import type { WriteEvent } from '../commit/index.ts';
import { PalisadeError } from '../errors/index.ts';
import type { TelemetryPoint, TenantWriteTx } from '../store/index.ts';
import { deviceNotFound } from './device-writes.ts';

/** Records a write's ledger entry inside its group-commit op. */
type RecordEvent = (event: WriteEvent) => void;

function unknownKey(key: string): PalisadeError {
  return new PalisadeError(
    'PALISADE_TELEMETRY_UNKNOWN_KEY',
    `the device does not declare the telemetry key ${JSON.stringify(key)}`,
    [{ path: `/${key}`, message: 'is not one of the device telemetryKeys' }],
  );
}

/** Refuses points of a device that is gone or does not declare their keys. */
export async function checkPoints(
  tx: TenantWriteTx,
  deviceId: string,
  points: readonly TelemetryPoint[],
): Promise<void> {
  const allowed = await tx.devices.telemetryKeys(deviceId);
  if (allowed === undefined) throw deviceNotFound();
  const unknown = allowed === null ? undefined : points.find((p) => !allowed.includes(p.key));
  if (unknown !== undefined) throw unknownKey(unknown.key);
}

/** Inserts checked points and records their ledger entry. */
export async function insertPoints(
  tx: TenantWriteTx,
  record: RecordEvent,
  actor: string,
  deviceId: string,
  points: readonly TelemetryPoint[],
): Promise<void> {
  await tx.devices.insertPoints(deviceId, points);
  record({
    actor,
    action: 'telemetry.ingest',
    resource: `telemetry/${deviceId}`,
    state: { device: deviceId, points: points.map((p) => [p.key, p.ts, p.type, p.value]) },
  });
}

/**
 * Writes several messages of one device (an edge batch's, in order) inside a caller's
 * group-commit op: one device lookup, one insert of all their points, and ONE ledger entry
 * whose state is `{device, points, via}` with the points of every accepted message in order.
 * Answers, per message, the PalisadeError that refused it (nothing of it written) or
 * undefined.
 */
export async function writeTelemetryMessages(
  tx: TenantWriteTx,
  record: RecordEvent,
  actor: string,
  deviceId: string,
  messages: readonly (readonly TelemetryPoint[])[],
  via: Readonly<Record<string, unknown>>,
): Promise<(PalisadeError | undefined)[]> {
  const keys = await tx.devices.telemetryKeys(deviceId);
  if (keys === undefined) return messages.map(() => deviceNotFound());
  const allowed = keys === null ? null : new Set(keys);
  const points: TelemetryPoint[] = [];
  const outcomes = messages.map((message) => {
    const unknown = allowed === null ? undefined : message.find((p) => !allowed.has(p.key));
    if (unknown !== undefined) return unknownKey(unknown.key);
    for (const point of message) points.push(point);
    return undefined;
  });
  if (points.length === 0) return outcomes;
  await tx.devices.insertPoints(deviceId, points);
  record({
    actor,
    action: 'telemetry.ingest',
    resource: `telemetry/${deviceId}`,
    state: { device: deviceId, points: points.map((p) => [p.key, p.ts, p.type, p.value]), via },
  });
  return outcomes;
}

/**
 * Merges client attributes inside a caller's group-commit op and records their ledger entry;
 * with `via` (the edge node and batch that vouched for them) the state is `{attributes, via}`.
 */
export async function writeClientAttributes(
  tx: TenantWriteTx,
  record: RecordEvent,
  actor: string,
  deviceId: string,
  attributes: Record<string, unknown>,
  via?: Readonly<Record<string, unknown>>,
): Promise<void> {
  if (!(await tx.devices.mergeClientAttributes(deviceId, attributes, new Date().toISOString())))
    throw deviceNotFound();
  record({
    actor,
    action: 'device.attributes',
    resource: `devices/${deviceId}/attributes`,
    state: via === undefined ? attributes : { attributes, via },
  });
}
