/**
 * One tenant's device store, as the tenant store's `devices`: the store interface over parts
 * with one job each (device rows, their edge history, telemetry reads, telemetry writes, RPC
 * rows), which each backend supplies. A device's deletion spans them all. A backend's part
 * may delete synchronously (SQLite's do).
 */
import type {
  AggregateQuery,
  AggregateRow,
  DeviceRow,
  EdgeStanding,
  RpcChange,
  RpcRow,
  RpcStatus,
  TelemetryPoint,
  TelemetryQuery,
  TenantDeviceReader,
  TenantDeviceWriter,
} from './device-types.ts';
import type { PageQuery } from './types.ts';

type Awaitable<T> = T | Promise<T>;

/** The device rows; its deleteDevice removes the row only. */
interface DeviceRowsPart
  extends Pick<
    TenantDeviceWriter,
    | 'getDevice'
    | 'getDeviceByName'
    | 'listDevices'
    | 'countDevices'
    | 'lockDeviceCount'
    | 'listEdgeNodeDevices'
    | 'lockGatewayChildren'
    | 'insertDevice'
    | 'updateDevice'
    | 'unlinkGatewayChildren'
    | 'mergeClientAttributes'
    | 'telemetryKeys'
  > {
  deleteDevice(id: string): Awaitable<boolean>;
}

/** The devices' edge-node assignment history. */
interface DeviceEdgeHistoryPart
  extends Pick<TenantDeviceWriter, 'recordEdgeUnassignment' | 'edgeStanding'> {
  deleteDevice(id: string): Awaitable<void>;
}

type TelemetryReadsPart = Pick<TenantDeviceReader, 'telemetry' | 'aggregate' | 'latest'>;

interface TelemetryWritesPart
  extends Pick<TenantDeviceWriter, 'insertPoints' | 'deletePointsBefore'> {
  deleteDevice(id: string): Awaitable<void>;
}

interface RpcRowsPart
  extends Pick<
    TenantDeviceWriter,
    'getRpc' | 'pendingRpcs' | 'lockRpcQueue' | 'insertRpc' | 'updateRpc' | 'expireRpcs'
  > {
  deleteDevice(id: string): Awaitable<void>;
}

export interface DeviceStoreParts {
  readonly rows: DeviceRowsPart;
  readonly edgeHistory: DeviceEdgeHistoryPart;
  readonly telemetryReads: TelemetryReadsPart;
  readonly telemetryWrites: TelemetryWritesPart;
  readonly rpcs: RpcRowsPart;
}

/**
 * The device store over one backend's parts; a backend's subclass adds what only it does
 * (PostgreSQL's purge, SQLite's staged telemetry).
 */
export class DeviceStore<Parts extends DeviceStoreParts> implements TenantDeviceWriter {
  protected readonly rows: Parts['rows'];
  protected readonly edgeHistory: Parts['edgeHistory'];
  protected readonly telemetryReads: Parts['telemetryReads'];
  protected readonly telemetryWrites: Parts['telemetryWrites'];
  protected readonly rpcs: Parts['rpcs'];

  constructor(parts: Parts) {
    this.rows = parts.rows;
    this.edgeHistory = parts.edgeHistory;
    this.telemetryReads = parts.telemetryReads;
    this.telemetryWrites = parts.telemetryWrites;
    this.rpcs = parts.rpcs;
  }

  getDevice(id: string): Promise<DeviceRow | undefined> {
    return this.rows.getDevice(id);
  }

  getDeviceByName(name: string): Promise<DeviceRow | undefined> {
    return this.rows.getDeviceByName(name);
  }

  listDevices(page: PageQuery): Promise<DeviceRow[]> {
    return this.rows.listDevices(page);
  }

  countDevices(): Promise<number> {
    return this.rows.countDevices();
  }

  lockDeviceCount(): Promise<number> {
    return this.rows.lockDeviceCount();
  }

  listEdgeNodeDevices(nodeId: string, page: PageQuery): Promise<DeviceRow[]> {
    return this.rows.listEdgeNodeDevices(nodeId, page);
  }

  lockGatewayChildren(gatewayId: string): Promise<number | undefined> {
    return this.rows.lockGatewayChildren(gatewayId);
  }

  insertDevice(row: DeviceRow): Promise<boolean> {
    return this.rows.insertDevice(row);
  }

  updateDevice(row: DeviceRow): Promise<DeviceRow | undefined | 'name-taken'> {
    return this.rows.updateDevice(row);
  }

  async deleteDevice(id: string): Promise<boolean> {
    await this.telemetryWrites.deleteDevice(id);
    await this.rpcs.deleteDevice(id);
    await this.edgeHistory.deleteDevice(id);
    return this.rows.deleteDevice(id);
  }

  unlinkGatewayChildren(gatewayId: string, at: string): Promise<DeviceRow[]> {
    return this.rows.unlinkGatewayChildren(gatewayId, at);
  }

  mergeClientAttributes(
    id: string,
    attributes: Record<string, unknown>,
    at: string,
  ): Promise<boolean> {
    return this.rows.mergeClientAttributes(id, attributes, at);
  }

  telemetryKeys(id: string): Promise<readonly string[] | null | undefined> {
    return this.rows.telemetryKeys(id);
  }

  recordEdgeUnassignment(deviceId: string, nodeId: string, at: string): Promise<void> {
    return this.edgeHistory.recordEdgeUnassignment(deviceId, nodeId, at);
  }

  edgeStanding(nodeId: string, deviceIds: readonly string[]): Promise<Map<string, EdgeStanding>> {
    return this.edgeHistory.edgeStanding(nodeId, deviceIds);
  }

  telemetry(query: TelemetryQuery): Promise<TelemetryPoint[]> {
    return this.telemetryReads.telemetry(query);
  }

  aggregate(query: AggregateQuery): Promise<AggregateRow[]> {
    return this.telemetryReads.aggregate(query);
  }

  latest(deviceId: string, keys: readonly string[]): Promise<TelemetryPoint[]> {
    return this.telemetryReads.latest(deviceId, keys);
  }

  insertPoints(deviceId: string, points: readonly TelemetryPoint[]): Promise<void> {
    return this.telemetryWrites.insertPoints(deviceId, points);
  }

  deletePointsBefore(before: number, limit: number): Promise<number> {
    return this.telemetryWrites.deletePointsBefore(before, limit);
  }

  getRpc(deviceId: string, id: string): Promise<RpcRow | undefined> {
    return this.rpcs.getRpc(deviceId, id);
  }

  pendingRpcs(
    deviceId: string,
    now: string,
    limit: number,
    sentBefore?: string,
  ): Promise<RpcRow[]> {
    return this.rpcs.pendingRpcs(deviceId, now, limit, sentBefore);
  }

  lockRpcQueue(deviceId: string, now: string): Promise<number | undefined> {
    return this.rpcs.lockRpcQueue(deviceId, now);
  }

  insertRpc(row: RpcRow): Promise<void> {
    return this.rpcs.insertRpc(row);
  }

  updateRpc(
    deviceId: string,
    id: string,
    from: readonly RpcStatus[],
    change: RpcChange,
    at: string,
  ): Promise<RpcRow | undefined> {
    return this.rpcs.updateRpc(deviceId, id, from, change, at);
  }

  expireRpcs(now: string): Promise<number> {
    return this.rpcs.expireRpcs(now);
  }
}
