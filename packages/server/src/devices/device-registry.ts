import type { WriteEvent } from '../commit/index.ts';
import { PalisadeError } from '../errors/index.ts';
import { uuid7 } from '../ids/index.ts';
import type { ObjectCaps } from '../quotas/index.ts';
import { type CountReads, readableRows } from '../records/index.ts';
import type { ControlPlaneDeviceIndex, DeviceRow, TenantWriteTx } from '../store/index.ts';
import type { TenantContext } from '../tenancy/index.ts';
import type { ChildStore } from './device-contract.ts';
import { newDeviceToken, tokenLookup } from './device-credentials.ts';
import { credentialRow, type DeviceWrites, deviceEvent, deviceNotFound } from './device-writes.ts';
import { type SharedAttributeListener, sharedAttributeChange } from './shared-attributes.ts';

/** Devices read per page while counting those a caller may read. */
const COUNT_PAGE = 1000;
/** The longest device name, in UTF-16 code units (the API's and a gateway child's). */
export const DEVICE_NAME_MAX_LENGTH = 255;

/** What a tenant sets on a device. */
export interface DeviceInput {
  readonly name: string;
  readonly type?: string | undefined;
  readonly labels?: readonly string[] | undefined;
  readonly attributes?: Record<string, unknown> | undefined;
  readonly telemetryKeys?: readonly string[] | null | undefined;
  readonly isGateway?: boolean | undefined;
  /** The edge node the device connects through (it gets the device's credential hashes). */
  readonly edgeNodeId?: string | null | undefined;
  /** The gateway the device is a child of: it publishes for it and takes its RPC requests. */
  readonly gatewayId?: string | null | undefined;
}

function gatewayNotFound(): PalisadeError {
  return new PalisadeError('PALISADE_GATEWAY_NOT_FOUND', 'no gateway device with that id');
}

/**
 * Makes room for one more child of `gatewayId`: a gateway device of the tenant with fewer
 * than `childrenMax` children. Its row is held until the transaction ends, so concurrent
 * additions cannot pass the bound together.
 */
async function admitChild(tx: TenantWriteTx, gatewayId: string, childrenMax: number) {
  const children = await tx.devices.lockGatewayChildren(gatewayId);
  if (children === undefined || !(await tx.devices.getDevice(gatewayId))?.isGateway)
    throw gatewayNotFound();
  if (children >= childrenMax)
    throw new PalisadeError(
      'PALISADE_GATEWAY_CHILDREN_LIMIT',
      `the gateway has ${children} child devices, the most allowed (gatewayChildrenMax)`,
    );
}

function newDevice(input: DeviceInput): DeviceRow {
  const now = new Date().toISOString();
  return {
    id: uuid7(),
    name: input.name,
    type: input.type ?? 'default',
    labels: input.labels ?? [],
    attributes: input.attributes ?? {},
    clientAttributes: {},
    telemetryKeys: input.telemetryKeys ?? null,
    isGateway: input.isGateway ?? false,
    gatewayId: input.gatewayId ?? null,
    edgeNodeId: input.edgeNodeId ?? null,
    version: 1,
    createdAt: now,
    updatedAt: now,
  };
}

/** A gateway's child as a gateway message first naming it makes it. */
export function newChildRow(name: string, gatewayId: string): DeviceRow {
  return newDevice({ name, type: 'default', gatewayId });
}

/**
 * The device registry: devices in the tenant's store (every change a ledger entry), each
 * created with an access token (further credentials are the CredentialRegistry's).
 */
export class DeviceRegistry implements ChildStore {
  readonly #writes: DeviceWrites;
  readonly #index: ControlPlaneDeviceIndex;
  readonly #caps: ObjectCaps;
  readonly #childrenMax: number;
  readonly #onSharedAttributes: SharedAttributeListener;

  constructor(
    writes: DeviceWrites,
    index: ControlPlaneDeviceIndex,
    caps: ObjectCaps,
    childrenMax: number,
    onSharedAttributes: SharedAttributeListener = () => undefined,
  ) {
    this.#writes = writes;
    this.#index = index;
    this.#caps = caps;
    this.#childrenMax = childrenMax;
    this.#onSharedAttributes = onSharedAttributes;
  }

  /**
   * Checks the gateway a device is to be the child of: not itself, never a gateway's own
   * gateway (no nesting), with room for one more child (see admitChild). Null unlinks.
   */
  async #parentIn(
    tx: TenantWriteTx,
    device: Pick<DeviceRow, 'id' | 'isGateway'>,
    gatewayId: string | null,
  ): Promise<string | null> {
    if (gatewayId === null) return null;
    if (device.isGateway)
      throw new PalisadeError(
        'PALISADE_INVALID_REQUEST',
        'a gateway cannot be the child of another gateway',
        [{ path: '/body/gatewayId', message: 'must be null for a gateway device' }],
      );
    if (gatewayId === device.id) throw gatewayNotFound();
    await admitChild(tx, gatewayId, this.#childrenMax);
    return gatewayId;
  }

  /** A node to assign a device to must be one of this tenant's. */
  async #edgeNodeIn(tx: TenantWriteTx, id: string | null): Promise<string | null> {
    if (id !== null && (await tx.edge.getNode(id)) === undefined)
      throw new PalisadeError('PALISADE_EDGE_NODE_NOT_FOUND', 'no such edge node');
    return id;
  }

  /** Creates a device with an access token, shown only in this answer. */
  async create(
    context: TenantContext,
    input: DeviceInput,
  ): Promise<{ device: DeviceRow; token: string }> {
    const device = newDevice(input);
    const token = newDeviceToken();
    const row = credentialRow({
      tenantId: context.tenantId,
      deviceId: device.id,
      kind: 'access_token',
      lookup: tokenLookup(token),
      secretHash: null,
      clientId: null,
    });
    await this.#writes.write(context, async (tx, record) => {
      await this.#insert(tx, record, context, device);
      const credential = await this.#writes.register(row);
      record({
        actor: context.actor.id,
        action: 'device.credential.create',
        resource: `devices/${device.id}/credentials/${credential.id}`,
        state: { type: 'access_token', lookup: credential.lookup },
      });
    });
    return { device, token };
  }

  /**
   * Creates the child a gateway named. It gets no credential: it is reached only through its
   * gateway.
   */
  async createChild(context: TenantContext, name: string, gatewayId: string): Promise<DeviceRow> {
    const device = newChildRow(name, gatewayId);
    await this.#writes.write(context, (tx, record) => this.#insert(tx, record, context, device));
    return device;
  }

  async insertChildren(
    tx: TenantWriteTx,
    record: (e: WriteEvent) => void,
    context: TenantContext,
    rows: readonly DeviceRow[],
  ): Promise<void> {
    for (const row of rows) await this.#insert(tx, record, context, row);
  }

  /**
   * Inserts a new device: every way a device comes to be (the API, self-provisioning, a
   * gateway naming a child) goes through here. The tenant's devices are counted against its
   * plan's devicesMax, and a gateway's children against `gatewayChildrenMax`, with the count
   * locks held until the transaction ends, so concurrent creations cannot pass either bound.
   */
  async #insert(
    tx: TenantWriteTx,
    record: (e: WriteEvent) => void,
    context: TenantContext,
    device: DeviceRow,
  ): Promise<void> {
    await this.#edgeNodeIn(tx, device.edgeNodeId);
    // The plan's count lock before the gateway's row, always in that order: never a deadlock.
    await this.#caps.admit(context, 'devices', () => tx.devices.lockDeviceCount());
    await this.#parentIn(tx, device, device.gatewayId);
    if (!(await tx.devices.insertDevice(device)))
      throw new PalisadeError(
        'PALISADE_DEVICE_NAME_TAKEN',
        `a device named ${JSON.stringify(device.name)} exists`,
      );
    record(deviceEvent(context, 'device.create', device, device));
  }

  async get(context: TenantContext, id: string): Promise<DeviceRow> {
    return this.#writes.device(context, id);
  }

  /**
   * How many devices of the tenant the caller may read (`readable`, as a listing decides it):
   * the store's count when the decision is `uniform`; else its devices are walked a page at a
   * time, so a count names no device a listing would not.
   */
  async count(context: TenantContext, readable: CountReads<DeviceRow>): Promise<number> {
    if (readable.uniform === false) return 0;
    const { devices } = await this.#writes.reader(context);
    if (readable.uniform === true) return devices.countDevices();
    let count = 0;
    for (let after: string | undefined; ; ) {
      const page = await devices.listDevices({ after, limit: COUNT_PAGE });
      for (const device of page) if (readable(device)) count++;
      if (page.length < COUNT_PAGE) return count;
      after = page.at(-1)!.id;
    }
  }

  /**
   * The first `limit` devices after `after` that the caller may read (`readable`), as if no
   * other existed, and whether another follows (see readableRows).
   */
  async list(
    context: TenantContext,
    after: string | undefined,
    limit: number,
    readable: (device: DeviceRow) => boolean,
  ): Promise<{ items: DeviceRow[]; more: boolean }> {
    const { devices } = await this.#writes.reader(context);
    return readableRows(
      (from, count) => devices.listDevices({ after: from, limit: count }),
      readable,
      after,
      limit,
    );
  }

  /**
   * Changes a device; a change of its shared attributes is told, once committed, to the
   * devices. A new `gatewayId` moves the device to that gateway (null: to none); the gateway
   * it leaves stops speaking for it (see DeviceAuthority.current).
   */
  async update(
    context: TenantContext,
    id: string,
    change: Partial<DeviceInput>,
  ): Promise<DeviceRow> {
    const { before, updated } = await this.#writes.write(context, async (tx, record) => {
      const current = await this.#writes.deviceIn(tx, id);
      const next: DeviceRow = {
        ...current,
        name: change.name ?? current.name,
        type: change.type ?? current.type,
        labels: change.labels ?? current.labels,
        attributes: change.attributes ?? current.attributes,
        telemetryKeys:
          change.telemetryKeys === undefined ? current.telemetryKeys : change.telemetryKeys,
        edgeNodeId:
          change.edgeNodeId === undefined
            ? current.edgeNodeId
            : await this.#edgeNodeIn(tx, change.edgeNodeId),
        gatewayId:
          change.gatewayId === undefined || change.gatewayId === current.gatewayId
            ? current.gatewayId
            : await this.#parentIn(tx, current, change.gatewayId),
        updatedAt: new Date().toISOString(),
      };
      const updated = await tx.devices.updateDevice(next);
      if (updated === 'name-taken')
        throw new PalisadeError(
          'PALISADE_DEVICE_NAME_TAKEN',
          `a device named ${JSON.stringify(next.name)} exists`,
        );
      if (updated === undefined) throw deviceNotFound();
      if (current.edgeNodeId !== null && current.edgeNodeId !== updated.edgeNodeId)
        await tx.devices.recordEdgeUnassignment(id, current.edgeNodeId, updated.updatedAt);
      record(deviceEvent(context, 'device.update', updated, updated));
      return { before: current.attributes, updated };
    });
    const pushed = sharedAttributeChange(context.tenantId, id, before, updated.attributes);
    if (pushed !== undefined) this.#onSharedAttributes(pushed);
    return updated;
  }

  /**
   * Revokes every credential first, then removes the device with its telemetry and RPCs. A
   * gateway's children stay, with their data, as devices of no gateway (as on ThingsBoard);
   * the gateway's row goes first, so no child can be added to it meanwhile.
   */
  async delete(context: TenantContext, id: string): Promise<void> {
    await this.get(context, id);
    await this.#index.deleteDeviceCredentials(context.tenantId, id);
    await this.#writes.write(context, async (tx, record) => {
      if (!(await tx.devices.deleteDevice(id))) throw deviceNotFound();
      record(deviceEvent(context, 'device.delete', id, null));
      const at = new Date().toISOString();
      for (const child of await tx.devices.unlinkGatewayChildren(id, at))
        record(deviceEvent(context, 'device.update', child, child));
    });
  }
}
