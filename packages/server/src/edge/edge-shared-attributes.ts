/**
 * Shared attributes of the devices behind an edge node, as the node's RPC exchange carries
 * them. The node keeps a copy and echoes, with each poll, the digest the platform gave it for
 * that copy; the platform computes the digest of what it holds for the node's devices, and
 * when the two differ (the node is new, was offline, a notice was lost, a device joined or
 * left the node) answers at once with every device's attributes. Between polls a committed
 * change wakes the node's poll and only the devices it touched go down, with the digest of
 * the node's copy once it applied them. So the node converges on what the platform holds
 * whatever it missed, and the platform never keeps a queue of changes per node.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '@palisade/ledger';
import type { DeviceRow } from '../store/index.ts';

/** One device's shared attributes, as its node receives them. */
export interface EdgeSharedAttributes {
  readonly deviceId: string;
  readonly attributes: Readonly<Record<string, unknown>>;
}

/**
 * What the node's copy becomes: `complete`, exactly these devices (the node drops any
 * other); else these devices replaced and the rest kept. `digest` names the result.
 */
export interface EdgeSharedUpdate {
  readonly digest: string;
  readonly complete: boolean;
  readonly devices: readonly EdgeSharedAttributes[];
}

type Attributed = Pick<DeviceRow, 'id' | 'attributes'>;

/** SHA-256 (base64url) of the RFC 8785 JSON of `{deviceId: attributes}` over `devices`. */
export function sharedDigest(devices: Iterable<Attributed>): string {
  const byId: Record<string, unknown> = {};
  for (const d of devices) byId[d.id] = d.attributes;
  return createHash('sha256').update(canonicalJson(byId), 'utf8').digest('base64url');
}

const entry = (d: Attributed): EdgeSharedAttributes => ({
  deviceId: d.id,
  attributes: d.attributes,
});

/** Every device of the node, replacing whatever the node holds. */
export function completeUpdate(devices: readonly Attributed[]): EdgeSharedUpdate {
  return { digest: sharedDigest(devices), complete: true, devices: devices.map(entry) };
}

/**
 * `changed`, read again after a notice, laid over `held` (what the node holds, per the
 * digest it echoed): only those go down, with the digest of the result.
 */
export function partialUpdate(
  held: readonly Attributed[],
  changed: readonly Attributed[],
): EdgeSharedUpdate {
  const byId = new Map(held.map((d) => [d.id, d]));
  for (const d of changed) byId.set(d.id, d);
  return { digest: sharedDigest(byId.values()), complete: false, devices: changed.map(entry) };
}
