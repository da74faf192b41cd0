import type { GroupCommitter, WriteEvent } from '../commit/index.ts';
import { PalisadeError } from '../errors/index.ts';
import { isUuid, uuid7 } from '../ids/index.ts';
import type { TenantStoreLocator } from '../records/index.ts';
import type {
  ControlPlaneDeviceIndex,
  DeviceCredentialRow,
  DeviceRow,
  TenantReader,
  TenantWriteTx,
} from '../store/index.ts';
import type { TenantContext } from '../tenancy/index.ts';

export function deviceNotFound(): PalisadeError {
  // No id in the message: another tenant's device must read exactly like a missing one.
  return new PalisadeError('PALISADE_DEVICE_NOT_FOUND', 'no such device');
}

export function checkDeviceId(id: string): void {
  if (!isUuid(id))
    throw new PalisadeError('PALISADE_INVALID_ID', `device id ${JSON.stringify(id)} is not a UUID`);
}

/** A credential row with its id and creation time. */
export function credentialRow(
  row: Omit<DeviceCredentialRow, 'id' | 'createdAt'>,
): DeviceCredentialRow {
  return { ...row, id: uuid7(), createdAt: new Date().toISOString() };
}

/** The ledger entry of a change to a device. */
export function deviceEvent(
  context: TenantContext,
  action: string,
  device: DeviceRow | string,
  state: unknown,
): WriteEvent {
  const id = typeof device === 'string' ? device : device.id;
  return { actor: context.actor.id, action, resource: `devices/${id}`, state };
}

/**
 * How the device registries write: devices in the tenant's store through the group committer
 * (every change a ledger entry), credentials in the control plane's platform-wide index.
 * A credential is indexed inside the device write's op, before its ledger entry, so a refused
 * credential writes nothing; a credential whose device write then fails points at no device
 * and authenticates nobody.
 */
export class DeviceWrites {
  readonly #locate: TenantStoreLocator;
  readonly #committer: GroupCommitter;
  readonly #index: ControlPlaneDeviceIndex;
  /** Told of each committed change of a tenant's devices or credentials. */
  readonly #onChange: (tenantId: string) => void;

  constructor(
    locate: TenantStoreLocator,
    committer: GroupCommitter,
    index: ControlPlaneDeviceIndex,
    onChange: (tenantId: string) => void,
  ) {
    this.#locate = locate;
    this.#committer = committer;
    this.#index = index;
    this.#onChange = onChange;
  }

  /** Runs `op` in a tenant write; the credential caches hear of it once it is committed. */
  async write<T>(
    context: TenantContext,
    op: (tx: TenantWriteTx, record: (e: WriteEvent) => void) => Promise<T>,
  ): Promise<T> {
    const result = await this.#committer.submit(await this.#locate(context), op);
    this.#onChange(context.tenantId);
    return result;
  }

  /** Tells the credential caches at once, for a change made outside a tenant write. */
  credentialsChanged(context: TenantContext): void {
    this.#onChange(context.tenantId);
  }

  /** The device as the write's transaction sees it; another tenant's reads as missing. */
  async deviceIn(tx: TenantWriteTx, id: string): Promise<DeviceRow> {
    checkDeviceId(id);
    const device = await tx.devices.getDevice(id);
    if (device === undefined) throw deviceNotFound();
    return device;
  }

  /** The tenant's store as committed. */
  async reader(context: TenantContext): Promise<TenantReader> {
    return (await this.#locate(context)).reader;
  }

  /** The committed device, from the tenant's reader. */
  async device(context: TenantContext, id: string): Promise<DeviceRow> {
    checkDeviceId(id);
    const device = await (await this.reader(context)).devices.getDevice(id);
    if (device === undefined) throw deviceNotFound();
    return device;
  }

  /**
   * Indexes a credential row made once per call, outside the op: an op whose batch failed is
   * run again alone (see GroupCommitter), and then finds the row it indexed the first time.
   */
  async register(row: DeviceCredentialRow): Promise<DeviceCredentialRow> {
    if (await this.#index.insertCredential(row)) return row;
    if ((await this.#index.findCredential(row.lookup))?.credential.id === row.id) return row;
    throw new PalisadeError('PALISADE_CREDENTIAL_TAKEN', 'that credential is already registered');
  }
}
