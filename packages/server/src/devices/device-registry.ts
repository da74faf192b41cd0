import type { GroupCommitter, WriteEvent } from '../commit/index.ts';
import { PalisadeError } from '../errors/index.ts';
import { isUuid, uuid7 } from '../ids/index.ts';
import type { ObjectCaps } from '../quotas/index.ts';
import type { TenantStoreLocator } from '../records/index.ts';
import type {
  ControlPlaneDeviceIndex,
  DeviceCredentialKind,
  DeviceCredentialRow,
  DeviceRow,
  TenantWriteTx,
} from '../store/index.ts';
import type { TenantContext } from '../tenancy/index.ts';
import { checkCaProof, registrationCode } from './device-ca-proof.ts';
import {
  certificateLookup,
  checkCa,
  checkDeviceCertificate,
  fingerprintOf,
  hashPassword,
  mqttLookup,
  newDeviceToken,
  newProvisioningKey,
  provisioningLookup,
  tokenLookup,
} from './device-credentials.ts';
import { type SharedAttributeListener, sharedAttributeChange } from './shared-attributes.ts';

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
}

/** A new credential as the tenant asks for it. */
export type CredentialInput =
  | { readonly type: 'access_token' }
  | {
      readonly type: 'mqtt_basic';
      readonly username: string;
      readonly password: string;
      readonly clientId?: string | undefined;
    }
  | { readonly type: 'x509'; readonly certificate: string };

/** A credential as shown: secrets only once, on creation (`token`). */
export interface CredentialView {
  readonly id: string;
  readonly type: DeviceCredentialKind;
  readonly createdAt: string;
  readonly username?: string;
  readonly clientId?: string | null;
  readonly fingerprint?: string;
  readonly token?: string;
}

export function deviceNotFound(): PalisadeError {
  // No id in the message: another tenant's device must read exactly like a missing one.
  return new PalisadeError('PALISADE_DEVICE_NOT_FOUND', 'no such device');
}

export function checkDeviceId(id: string): void {
  if (!isUuid(id))
    throw new PalisadeError('PALISADE_INVALID_ID', `device id ${JSON.stringify(id)} is not a UUID`);
}

/** The gateway a new device is a child of, and how many children it may have. */
export interface GatewayParent {
  readonly id: string;
  readonly childrenMax: number;
}

async function checkGatewayRoom(tx: TenantWriteTx, gateway: GatewayParent): Promise<void> {
  const children = await tx.devices.lockGatewayChildren(gateway.id);
  if (children === undefined) throw deviceNotFound();
  if (children >= gateway.childrenMax)
    throw new PalisadeError(
      'PALISADE_GATEWAY_CHILDREN_LIMIT',
      `the gateway has ${children} child devices, the most allowed (gatewayChildrenMax)`,
    );
}

function credentialRow(row: Omit<DeviceCredentialRow, 'id' | 'createdAt'>): DeviceCredentialRow {
  return { ...row, id: uuid7(), createdAt: new Date().toISOString() };
}

function viewOf(row: DeviceCredentialRow, token?: string): CredentialView {
  const base = { id: row.id, type: row.kind, createdAt: row.createdAt };
  if (row.kind === 'mqtt_basic')
    return { ...base, username: row.lookup.slice('mqtt:'.length), clientId: row.clientId };
  if (row.kind === 'x509') return { ...base, fingerprint: row.lookup.slice('x509:'.length) };
  return token === undefined ? base : { ...base, token };
}

function newDevice(input: DeviceInput, gatewayId: string | null): DeviceRow {
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
    gatewayId,
    edgeNodeId: input.edgeNodeId ?? null,
    version: 1,
    createdAt: now,
    updatedAt: now,
  };
}

function deviceEvent(
  context: TenantContext,
  action: string,
  device: DeviceRow | string,
  state: unknown,
): WriteEvent {
  const id = typeof device === 'string' ? device : device.id;
  return { actor: context.actor.id, action, resource: `devices/${id}`, state };
}

/**
 * The device registry: devices in the tenant's store (every change a ledger entry), their
 * credentials in the control plane's platform-wide index. A credential is indexed inside
 * the device write's op, before its ledger entry, so a refused credential writes nothing;
 * a credential whose device write then fails points at no device and authenticates nobody.
 */
export class DeviceRegistry {
  readonly #locate: TenantStoreLocator;
  readonly #committer: GroupCommitter;
  readonly #index: ControlPlaneDeviceIndex;
  readonly #caps: ObjectCaps;
  readonly #onChange: () => void;
  readonly #onSharedAttributes: SharedAttributeListener;

  constructor(
    locate: TenantStoreLocator,
    committer: GroupCommitter,
    index: ControlPlaneDeviceIndex,
    caps: ObjectCaps,
    onChange: () => void,
    onSharedAttributes: SharedAttributeListener = () => undefined,
  ) {
    this.#locate = locate;
    this.#committer = committer;
    this.#index = index;
    this.#caps = caps;
    this.#onChange = onChange;
    this.#onSharedAttributes = onSharedAttributes;
  }

  async #write<T>(
    context: TenantContext,
    op: (tx: TenantWriteTx, record: (e: WriteEvent) => void) => Promise<T>,
  ): Promise<T> {
    const result = await this.#committer.submit(await this.#locate(context), op);
    this.#onChange();
    return result;
  }

  async #deviceIn(tx: TenantWriteTx, id: string): Promise<DeviceRow> {
    checkDeviceId(id);
    const device = await tx.devices.getDevice(id);
    if (device === undefined) throw deviceNotFound();
    return device;
  }

  /** A node to assign a device to must be one of this tenant's. */
  async #edgeNodeIn(tx: TenantWriteTx, id: string | null): Promise<string | null> {
    if (id !== null && (await tx.edge.getNode(id)) === undefined)
      throw new PalisadeError('PALISADE_EDGE_NODE_NOT_FOUND', 'no such edge node');
    return id;
  }

  /**
   * Indexes a credential row made once per call, outside the op: an op whose batch failed is
   * run again alone (see GroupCommitter), and then finds the row it indexed the first time.
   */
  async #register(row: DeviceCredentialRow): Promise<DeviceCredentialRow> {
    if (await this.#index.insertCredential(row)) return row;
    if ((await this.#index.findCredential(row.lookup))?.credential.id === row.id) return row;
    throw new PalisadeError('PALISADE_CREDENTIAL_TAKEN', 'that credential is already registered');
  }

  /** Creates a device with an access token, shown only in this answer. */
  async create(
    context: TenantContext,
    input: DeviceInput,
  ): Promise<{ device: DeviceRow; token: string }> {
    const device = newDevice(input, null);
    const token = newDeviceToken();
    const row = credentialRow({
      tenantId: context.tenantId,
      deviceId: device.id,
      kind: 'access_token',
      lookup: tokenLookup(token),
      secretHash: null,
      clientId: null,
    });
    await this.#write(context, async (tx, record) => {
      await this.#insert(tx, record, context, device, null);
      const credential = await this.#register(row);
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
   * gateway. It is counted against `gateway.childrenMax` in the transaction that inserts it,
   * the gateway's row held meanwhile, so concurrent creations cannot pass the bound together.
   */
  async createChild(
    context: TenantContext,
    name: string,
    gateway: GatewayParent,
  ): Promise<DeviceRow> {
    const device = newDevice({ name, type: 'default' }, gateway.id);
    await this.#write(context, (tx, record) => this.#insert(tx, record, context, device, gateway));
    return device;
  }

  /**
   * Inserts a new device: every way a device comes to be (the API, self-provisioning, a
   * gateway naming a child) goes through here. The tenant's devices are counted against its
   * plan's devicesMax, and a gateway's children against `gateway.childrenMax`, with the count
   * locks held until the transaction ends, so concurrent creations cannot pass either bound.
   */
  async #insert(
    tx: TenantWriteTx,
    record: (e: WriteEvent) => void,
    context: TenantContext,
    device: DeviceRow,
    gateway: GatewayParent | null,
  ): Promise<void> {
    await this.#edgeNodeIn(tx, device.edgeNodeId);
    // The plan's count lock before the gateway's row, always in that order: never a deadlock.
    await this.#caps.admit(context, 'devices', () => tx.devices.lockDeviceCount());
    if (gateway !== null) await checkGatewayRoom(tx, gateway);
    if (!(await tx.devices.insertDevice(device)))
      throw new PalisadeError(
        'PALISADE_DEVICE_NAME_TAKEN',
        `a device named ${JSON.stringify(device.name)} exists`,
      );
    record(deviceEvent(context, 'device.create', device, device));
  }

  async get(context: TenantContext, id: string): Promise<DeviceRow> {
    checkDeviceId(id);
    const device = await (await this.#locate(context)).reader.devices.getDevice(id);
    if (device === undefined) throw deviceNotFound();
    return device;
  }

  /** How many devices the tenant holds. */
  async count(context: TenantContext): Promise<number> {
    return (await this.#locate(context)).reader.devices.countDevices();
  }

  async list(
    context: TenantContext,
    after: string | undefined,
    limit: number,
  ): Promise<DeviceRow[]> {
    return (await this.#locate(context)).reader.devices.listDevices({ after, limit });
  }

  /** Changes a device; a change of its shared attributes is told, once committed, to the devices. */
  async update(
    context: TenantContext,
    id: string,
    change: Partial<DeviceInput>,
  ): Promise<DeviceRow> {
    const { before, updated } = await this.#write(context, async (tx, record) => {
      const current = await this.#deviceIn(tx, id);
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
    await this.#write(context, async (tx, record) => {
      if (!(await tx.devices.deleteDevice(id))) throw deviceNotFound();
      record(deviceEvent(context, 'device.delete', id, null));
      const at = new Date().toISOString();
      for (const child of await tx.devices.unlinkGatewayChildren(id, at))
        record(deviceEvent(context, 'device.update', child, child));
    });
  }

  async credentials(context: TenantContext, id: string): Promise<CredentialView[]> {
    await this.get(context, id);
    return (await this.#index.listCredentials(context.tenantId, id)).map((row) => viewOf(row));
  }

  /** Adds a credential; an access token is shown only in this answer. */
  async addCredential(
    context: TenantContext,
    id: string,
    input: CredentialInput,
  ): Promise<CredentialView> {
    const prepared = await this.#prepare(context, input);
    const credential = credentialRow({ tenantId: context.tenantId, deviceId: id, ...prepared.row });
    return this.#write(context, async (tx, record) => {
      await this.#deviceIn(tx, id);
      const row = await this.#register(credential);
      record({
        actor: context.actor.id,
        action: 'device.credential.create',
        resource: `devices/${id}/credentials/${row.id}`,
        state: { type: row.kind, lookup: row.lookup },
      });
      return viewOf(row, prepared.token);
    });
  }

  async #prepare(
    context: TenantContext,
    input: CredentialInput,
  ): Promise<{
    row: Pick<DeviceCredentialRow, 'kind' | 'lookup' | 'secretHash' | 'clientId'>;
    token?: string;
  }> {
    if (input.type === 'access_token') {
      const token = newDeviceToken();
      return {
        row: { kind: 'access_token', lookup: tokenLookup(token), secretHash: null, clientId: null },
        token,
      };
    }
    if (input.type === 'mqtt_basic') {
      return {
        row: {
          kind: 'mqtt_basic',
          lookup: mqttLookup(input.username),
          secretHash: await hashPassword(input.password),
          clientId: input.clientId ?? null,
        },
      };
    }
    const cas = await this.#index.listCas(context.tenantId);
    const cert = checkDeviceCertificate(
      input.certificate,
      cas.map((ca) => ca.pem),
      new Date(),
    );
    return {
      row: {
        kind: 'x509',
        lookup: certificateLookup(fingerprintOf(cert)),
        secretHash: null,
        clientId: null,
      },
    };
  }

  async deleteCredential(context: TenantContext, id: string, credentialId: string): Promise<void> {
    await this.get(context, id);
    if (
      !isUuid(credentialId) ||
      !(await this.#index.deleteCredential(context.tenantId, id, credentialId))
    )
      throw new PalisadeError('PALISADE_CREDENTIAL_NOT_FOUND', 'no such credential');
    this.#onChange();
    await this.#write(context, async (_tx, record) =>
      record({
        actor: context.actor.id,
        action: 'device.credential.delete',
        resource: `devices/${id}/credentials/${credentialId}`,
        state: null,
      }),
    );
  }

  /**
   * Trusts a CA certificate (PEM) for the tenant's device certificates, once
   * `verificationCertificate` proves the uploader holds the CA's key (see `checkCaProof`).
   */
  async addCa(context: TenantContext, pem: string, verificationCertificate: string | undefined) {
    const now = new Date();
    const cert = checkCa(pem, now);
    checkCaProof(verificationCertificate, cert, registrationCode(context.tenantId), now);
    const row = {
      id: uuid7(),
      tenantId: context.tenantId,
      pem: cert.toString(),
      fingerprint: fingerprintOf(cert),
      createdAt: new Date().toISOString(),
    };
    // One tenant per CA key: were a CA key shared, a tenant could claim another's device
    // certificates (certificates are public) before their owner registers them.
    if (!(await this.#index.insertCa(row)))
      throw new PalisadeError(
        'PALISADE_CREDENTIAL_TAKEN',
        'that CA certificate, or another tenant CA with its key, is already trusted',
      );
    await this.#write(context, async (_tx, record) =>
      record({
        actor: context.actor.id,
        action: 'device.ca.create',
        resource: `device-cas/${row.id}`,
        state: { fingerprint: row.fingerprint },
      }),
    );
    return row;
  }

  async deleteCa(context: TenantContext, id: string): Promise<void> {
    if (!isUuid(id) || !(await this.#index.deleteCa(context.tenantId, id)))
      throw new PalisadeError('PALISADE_CREDENTIAL_NOT_FOUND', 'no such CA certificate');
    await this.#write(context, async (tx, record) => {
      // A generated CA's sealed private key goes with it.
      await tx.deviceCas.deleteCaKey(id);
      record({
        actor: context.actor.id,
        action: 'device.ca.delete',
        resource: `device-cas/${id}`,
        state: null,
      });
    });
  }

  /** A single-use provisioning key: one new device may register itself with it. */
  async issueProvisioningKey(
    context: TenantContext,
  ): Promise<{ id: string; key: string; createdAt: string }> {
    const key = newProvisioningKey();
    const row = await this.#register(
      credentialRow({
        tenantId: context.tenantId,
        deviceId: null,
        kind: 'provisioning',
        lookup: provisioningLookup(key),
        secretHash: null,
        clientId: null,
      }),
    );
    await this.#write(context, async (_tx, record) =>
      record({
        actor: context.actor.id,
        action: 'device.provisioning-key.create',
        resource: `provisioning-keys/${row.id}`,
        state: { lookup: row.lookup },
      }),
    );
    return { id: row.id, key, createdAt: row.createdAt };
  }
}
