/**
 * Storage of devices, their telemetry and their commands. Devices, points and RPC requests
 * live in the tenant's own store; the control plane holds only the platform-wide index
 * from a credential's hash to its (tenant, device), so a device authenticates with one
 * lookup and never names its tenant.
 */
import type { Tenant } from '../tenancy/index.ts';
import type { PageQuery } from './types.ts';

/** A device as stored in its tenant's store. */
export interface DeviceRow {
  readonly id: string;
  readonly name: string;
  readonly type: string;
  readonly labels: readonly string[];
  /** Server-side attributes the tenant sets. */
  readonly attributes: Readonly<Record<string, unknown>>;
  /** Client-side attributes the device reports (ThingsBoard `attributes`). */
  readonly clientAttributes: Readonly<Record<string, unknown>>;
  /** When set, the only telemetry keys the device may send (others are refused). */
  readonly telemetryKeys: readonly string[] | null;
  readonly isGateway: boolean;
  /** The gateway that created this device on first use, if any. */
  readonly gatewayId: string | null;
  /** The edge node this device connects through: it receives the device's credential hashes. */
  readonly edgeNodeId: string | null;
  readonly version: number;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** The type of a stored telemetry value. */
export type PointType = 'number' | 'boolean' | 'string' | 'json';

/** One typed telemetry point of one device. */
export interface TelemetryPoint {
  readonly key: string;
  /** Unix milliseconds. */
  readonly ts: number;
  readonly type: PointType;
  /** number, boolean, string, or any JSON value (for `json`). */
  readonly value: unknown;
}

export type Aggregate = 'avg' | 'min' | 'max' | 'sum' | 'count';

export interface TelemetryQuery {
  readonly deviceId: string;
  readonly keys: readonly string[];
  readonly from: number;
  /** Exclusive. */
  readonly to: number;
  readonly limit: number;
}

export interface AggregateQuery extends TelemetryQuery {
  readonly intervalMs: number;
  readonly agg: Aggregate;
}

/** One aggregated bucket of numeric points: `ts` is the bucket start. */
export interface AggregateRow {
  readonly key: string;
  readonly ts: number;
  readonly value: number;
}

/**
 * Where a server-side RPC request stands: `queued` for its device, `sent` (claimed and written
 * to one of its connections), `delivered` (the device acknowledged it), then answered
 * (`succeeded`, `failed`) or `expired`.
 */
export type RpcStatus = 'queued' | 'sent' | 'delivered' | 'succeeded' | 'failed' | 'expired';

/** A server-side RPC request to a device. */
export interface RpcRow {
  readonly id: string;
  readonly deviceId: string;
  readonly method: string;
  readonly params: unknown;
  readonly persistent: boolean;
  readonly status: RpcStatus;
  readonly response: unknown;
  readonly error: string | null;
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly updatedAt: string;
}

/** A status change of an RPC request (see `updateRpc`). */
export interface RpcChange {
  readonly status: RpcStatus;
  readonly response?: unknown;
  readonly error?: string | null;
  /** A `sent` request changes only when it was sent (claimed) before this instant. */
  readonly sentBefore?: string;
  /**
   * A `sent` request changes only when it was sent (claimed) at exactly this instant: the
   * `updatedAt` of one claim, which names it (see `updateRpc`).
   */
  readonly sentAt?: string;
}

/** How a device stands with one edge node: assigned to it now, and when it last left it. */
export interface EdgeStanding {
  readonly assigned: boolean;
  /** The last time the device was moved off the node, or null if it never was. */
  readonly unassignedAt: string | null;
}

/** Device reads of one tenant's store. */
export interface TenantDeviceReader {
  getDevice(id: string): Promise<DeviceRow | undefined>;
  getDeviceByName(name: string): Promise<DeviceRow | undefined>;
  listDevices(page: PageQuery): Promise<DeviceRow[]>;
  /** How many devices the tenant holds. */
  countDevices(): Promise<number>;
  /** The devices assigned to an edge node, by id. */
  listEdgeNodeDevices(nodeId: string, page: PageQuery): Promise<DeviceRow[]>;
  /** Raw points, ordered by key then ts. */
  telemetry(query: TelemetryQuery): Promise<TelemetryPoint[]>;
  /**
   * Numeric points (numbers and booleans as 0/1) aggregated per key and interval bucket;
   * throws PALISADE_TELEMETRY_AGGREGATE_OVERFLOW when a bucket's sum is beyond a double.
   */
  aggregate(query: AggregateQuery): Promise<AggregateRow[]>;
  /** The newest point of each key (all keys when `keys` is empty). */
  latest(deviceId: string, keys: readonly string[]): Promise<TelemetryPoint[]>;
  getRpc(deviceId: string, id: string): Promise<RpcRow | undefined>;
  /**
   * Queued, unexpired requests of a device, oldest first; with `sentBefore`, also those sent
   * (claimed) before it and not answered: claims whose delivery nobody confirmed in time.
   */
  pendingRpcs(deviceId: string, now: string, limit: number, sentBefore?: string): Promise<RpcRow[]>;
}

/** Device writes, inside the tenant's transaction; each is one atomic statement. */
export interface TenantDeviceWriter extends TenantDeviceReader {
  /** False when the name is taken. */
  insertDevice(row: DeviceRow): Promise<boolean>;
  /**
   * Holds the tenant's device-count lock until the transaction ends (so two transactions
   * creating devices of one tenant count one after the other, on any process) and counts the
   * tenant's devices: what a plan's devicesMax is checked against.
   */
  lockDeviceCount(): Promise<number>;
  /**
   * Holds the gateway's row until the transaction ends (so two transactions adding children
   * to one gateway run one after the other) and counts its child devices; undefined when the
   * gateway does not exist.
   */
  lockGatewayChildren(gatewayId: string): Promise<number | undefined>;
  /** The updated row; undefined when the device is gone; 'name-taken' on a name clash. */
  updateDevice(row: DeviceRow): Promise<DeviceRow | undefined | 'name-taken'>;
  /**
   * Removes the device, its points, its RPC requests and its edge assignment history; false
   * when it did not exist.
   */
  deleteDevice(id: string): Promise<boolean>;
  /**
   * Clears the gateway link of the gateway's children (version bumped, `updatedAt` set to
   * `at`), as when the gateway is deleted; the updated rows.
   */
  unlinkGatewayChildren(gatewayId: string, at: string): Promise<DeviceRow[]>;
  /** Records that the device left edge node `nodeId` at `at` (a later departure replaces it). */
  recordEdgeUnassignment(deviceId: string, nodeId: string, at: string): Promise<void>;
  /** The standing with edge node `nodeId` of each of `deviceIds` that exists (others absent). */
  edgeStanding(nodeId: string, deviceIds: readonly string[]): Promise<Map<string, EdgeStanding>>;
  /** Merges client attributes into the device's; false when the device is gone. */
  mergeClientAttributes(
    id: string,
    attributes: Record<string, unknown>,
    at: string,
  ): Promise<boolean>;
  /** The device's declared telemetry keys (null: any key), or undefined when it does not exist. */
  telemetryKeys(id: string): Promise<readonly string[] | null | undefined>;
  /** Upserts points (a point at the same device, key and ts replaces the older) and latest values. */
  insertPoints(deviceId: string, points: readonly TelemetryPoint[]): Promise<void>;
  /**
   * Deletes at most `limit` points older than `before` (Unix ms); returns how many. When
   * that is fewer than `limit` (none of them is left), also the latest values that old.
   */
  deletePointsBefore(before: number, limit: number): Promise<number>;
  /**
   * Holds the device's row until the transaction ends (so two transactions queueing requests
   * for one device run one after the other) and counts its queued persistent requests not
   * expired at `now`; undefined when the device does not exist.
   */
  lockRpcQueue(deviceId: string, now: string): Promise<number | undefined>;
  insertRpc(row: RpcRow): Promise<void>;
  /**
   * Sets status (and response or error) when the request is in one of `from`; the new row or
   * undefined. With `change.sentBefore`, a sent request is in `from` only when sent before it;
   * with `change.sentAt`, only when sent at it. The row's `updatedAt` becomes `at`, except
   * that a sent request claimed (sent) again gets a time past its previous claim's, even from
   * a process whose clock is behind or within the same millisecond: no two claims share one.
   */
  updateRpc(
    deviceId: string,
    id: string,
    from: readonly RpcStatus[],
    change: RpcChange,
    at: string,
  ): Promise<RpcRow | undefined>;
  /** Marks queued, sent or delivered requests past their expiry as expired; returns how many. */
  expireRpcs(now: string): Promise<number>;
}

export type DeviceCredentialKind = 'access_token' | 'mqtt_basic' | 'x509' | 'provisioning';

/**
 * One row of the control plane's credential index. `lookup` is unique platform-wide:
 * `token:<sha256>`, `mqtt:<username>`, `x509:<sha256 fingerprint>`, `prov:<sha256>`.
 */
export interface DeviceCredentialRow {
  readonly id: string;
  readonly tenantId: string;
  /** Null for a provisioning key (it belongs to the tenant, not a device). */
  readonly deviceId: string | null;
  readonly kind: DeviceCredentialKind;
  readonly lookup: string;
  /** scrypt hash of an MQTT password; null otherwise. */
  readonly secretHash: string | null;
  /** MQTT client id the credential is bound to, if any. */
  readonly clientId: string | null;
  readonly createdAt: string;
}

/** What a credential lookup finds: the credential and its live tenant. */
export interface DeviceCredentialMatch {
  readonly credential: DeviceCredentialRow;
  readonly tenant: Tenant;
}

/** A tenant's X.509 CA certificate, trusted for its devices' client certificates. */
export interface TenantCaRow {
  readonly id: string;
  readonly tenantId: string;
  readonly pem: string;
  readonly fingerprint: string;
  readonly createdAt: string;
}

/** The control plane's device credential index (platform-wide, tenant-safe). */
export interface ControlPlaneDeviceIndex {
  /** False when `lookup` is taken. */
  insertCredential(row: DeviceCredentialRow): Promise<boolean>;
  findCredential(lookup: string): Promise<DeviceCredentialMatch | undefined>;
  listCredentials(tenantId: string, deviceId: string): Promise<DeviceCredentialRow[]>;
  /** Removes one credential of the device; false when it has no such credential. */
  deleteCredential(tenantId: string, deviceId: string, id: string): Promise<boolean>;
  deleteDeviceCredentials(tenantId: string, deviceId: string): Promise<void>;
  /** Deletes a provisioning key atomically, so it registers one device only; false when gone. */
  consumeProvisioningKey(lookup: string): Promise<DeviceCredentialMatch | undefined>;
  /**
   * False when any tenant already trusts that certificate, or another tenant a CA certificate
   * with the same public key (one owner per CA key: see the registry).
   */
  insertCa(row: TenantCaRow): Promise<boolean>;
  listCas(tenantId: string): Promise<TenantCaRow[]>;
  deleteCa(tenantId: string, id: string): Promise<boolean>;
}
