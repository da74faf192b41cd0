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
    }
  | {
      readonly id: string;
      readonly type: 'x509';
      /** Lower-case hex SHA-256 of the certificate's DER: a device presenting it is this one. */
      readonly fingerprint: string;
    };

/** A CA certificate the node's tenant trusts for its devices' client certificates (PEM). */
export interface EdgeDeviceCa {
  readonly id: string;
  readonly certificate: string;
}

/** A device assigned to the node, with the credentials it may connect to the node with. */
export interface EdgeDevice {
  /** The device id. */
  readonly id: string;
  readonly name: string;
  /** The device type (edge rules are set per type). */
  readonly type: string;
  readonly credentials: readonly EdgeDeviceCredential[];
}

/** Credentials an edge node can check itself (provisioning keys stay on the platform). */
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
  if (row.kind === 'x509')
    return { id: row.id, type: 'x509', fingerprint: row.lookup.slice('x509:'.length) };
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

  /**
   * The CA certificates of the node's tenant (from the node credential), against which the
   * node checks its devices' client certificates as the platform does.
   */
  async cas({ context }: EdgeNodeSession): Promise<EdgeDeviceCa[]> {
    const cas = await this.#index.listCas(context.tenantId);
    return cas.map((ca) => ({ id: ca.id, certificate: ca.pem }));
  }
}
