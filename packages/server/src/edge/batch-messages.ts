/**
 * A batch's messages as parsed before its commit: each a message's points, client
 * attributes, or the error that refuses it.
 */
import type { TelemetryService } from '../devices/index.ts';
import { PalisadeError } from '../errors/index.ts';
import type { TelemetryPoint, TenantWriteTx } from '../store/index.ts';
import type { TenantContext } from '../tenancy/index.ts';
import type { EdgeMessage } from './batch-signature.ts';

/** One parsed message: telemetry points, client attributes, or why it is refused. */
export type ParsedMessage = TelemetryPoint[] | Record<string, unknown> | PalisadeError;

/** Parses each message as its device would have sent it; a refusal is kept, not thrown. */
export function parseMessages(
  telemetry: TelemetryService,
  context: TenantContext,
  messages: readonly EdgeMessage[],
): ParsedMessage[] {
  return messages.map((m) => {
    try {
      return m.kind === 'attributes'
        ? telemetry.parseAttributes(m.deviceId, m.payload)
        : telemetry.parseReceived(context, m.deviceId, m.payload, m.receivedAt);
    } catch (error) {
      if (error instanceof PalisadeError) return error;
      throw error;
    }
  });
}

/** A batch's parsed telemetry messages grouped by device, each keeping its index, in order. */
export function telemetryByDevice(
  messages: readonly EdgeMessage[],
  parsed: readonly ParsedMessage[],
): Map<string, { index: number; points: TelemetryPoint[] }[]> {
  const byDevice = new Map<string, { index: number; points: TelemetryPoint[] }[]>();
  parsed.forEach((points, index) => {
    if (!Array.isArray(points)) return;
    const deviceId = messages[index]!.deviceId;
    const own = byDevice.get(deviceId);
    if (own === undefined) byDevice.set(deviceId, [{ index, points }]);
    else own.push({ index, points });
  });
  return byDevice;
}

/**
 * The messages for devices that were never the node's (`indexes`), and those devices. A
 * device that left the node still counts as its own: what the node received for it stays its
 * backlog, however long the node was offline before it learned of the move (the node stamps
 * `receivedAt` itself, so bounding the backlog by the move's time would only lose an honest
 * node's data). Messages already refused, and devices that do not exist (refused as not
 * found, as another tenant's are), are not among them.
 */
export async function neverAssigned(
  tx: TenantWriteTx,
  nodeId: string,
  messages: readonly EdgeMessage[],
  parsed: readonly ParsedMessage[],
): Promise<{ indexes: Set<number>; devices: Set<string> }> {
  const valid = [...messages.keys()].filter((i) => !(parsed[i] instanceof PalisadeError));
  const standing = await tx.devices.edgeStanding(nodeId, [
    ...new Set(valid.map((i) => messages[i]!.deviceId)),
  ]);
  const indexes = new Set<number>();
  const devices = new Set<string>();
  for (const i of valid) {
    const { deviceId } = messages[i]!;
    const device = standing.get(deviceId);
    if (device === undefined || device.assigned || device.unassignedAt !== null) continue;
    devices.add(deviceId);
    indexes.add(i);
  }
  return { indexes, devices };
}
