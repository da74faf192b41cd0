import type { ControlPlaneDeviceIndex, DeviceCredentialRow } from '../store/index.ts';
import type { EdgeNodeSession } from './node-authentication.ts';

/** A credential as an edge node holds it: hashes only, never a secret. */
export type EdgeDeviceCredential =
  | { readonly id: string; readonly type: 'access_token'; readonly tokenSha256: string }
  | {
      readonly id: string;
      readonly type: 'mqtt_basic';
      readonly username: string;
      readonly clientId: string | null;
      /** `scrypt$N$r$p$salt$hash`, as the platform stores it. */
      readonly passwordHash: string;
    };

/** A device assigned to the node, with the credentials it may connect to the node with. */
export interface EdgeDevice {
  /** The device id. */
  readonly id: string;
  readonly name: string;
  /** The device type (edge rules are set per type). */
  readonly type: string;
  readonly credentials: readonly EdgeDeviceCredential[];
}

/** Credentials an edge node can check itself; X.509 needs the node's own TLS and is not synced. */
function forEdge(row: DeviceCredentialRow): EdgeDeviceCredential | undefined {
  if (row.kind === 'access_token')
    return { id: row.id, type: 'access_token', tokenSha256: row.lookup.slice('token:'.length) };
  if (row.kind === 'mqtt_basic' && row.secretHash !== null)
    return {
      id: row.id,
      type: 'mqtt_basic',
      username: row.lookup.slice('mqtt:'.length),
      clientId: row.clientId,
      passwordHash: row.secretHash,
    };
  return undefined;
}

/**
 * The device credentials an edge node checks locally: those of the devices whose
 * `edgeNodeId` names the node calling, in the node's own tenant (both come from the node
 * credential, never from the request). Only hashes leave the platform.
 */
export class EdgeCredentialSync {
  readonly #index: ControlPlaneDeviceIndex;

  constructor(index: ControlPlaneDeviceIndex) {
    this.#index = index;
  }

  /** One page of the node's devices by id, after `after`; `limit + 1` rows tell if more follow. */
  async page(
    { context, store, node }: EdgeNodeSession,
    after: string | undefined,
    limit: number,
  ): Promise<EdgeDevice[]> {
    const devices = await store.reader.devices.listEdgeNodeDevices(node.id, { after, limit });
    return Promise.all(
      devices.map(async (device) => ({
        id: device.id,
        name: device.name,
        type: device.type,
        credentials: (await this.#index.listCredentials(context.tenantId, device.id))
          .map(forEdge)
          .filter((c) => c !== undefined),
      })),
    );
  }
}
