/**
 * One tenant's device store in a PostgreSQL shard, as the tenant store's `devices`: the store
 * interface over modules with one job each (device rows, their edge history, telemetry
 * reads, telemetry writes, RPC rows). Like every tenant query, each statement names
 * tenant_id and runs where RLS also enforces it. A device's deletion spans them all.
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
  TenantDeviceWriter,
} from '../device-types.ts';
import type { PageQuery } from '../types.ts';
import { PgDeviceEdgeHistory } from './postgres-device-edge-history.ts';
import { PgDeviceRows } from './postgres-device-rows.ts';
import { PgRpcRows } from './postgres-rpc-rows.ts';
import { PgTelemetryReads } from './postgres-telemetry-reads.ts';
import { PgTelemetryWrites } from './postgres-telemetry-writes.ts';
import { type Queryable, TenantQueries } from './tenant-queries.ts';

/** Devices, telemetry and RPC requests of one tenant in a PostgreSQL shard. */
export class PgTenantDevices implements TenantDeviceWriter {
  readonly #devices: PgDeviceRows;
  readonly #edgeHistory: PgDeviceEdgeHistory;
  readonly #telemetryReads: PgTelemetryReads;
  readonly #telemetryWrites: PgTelemetryWrites;
  readonly #rpcs: PgRpcRows;

  constructor(db: Queryable, tenantId: string) {
    const queries = new TenantQueries(db, tenantId);
    this.#devices = new PgDeviceRows(queries);
    this.#edgeHistory = new PgDeviceEdgeHistory(queries);
    this.#telemetryReads = new PgTelemetryReads(queries);
    this.#telemetryWrites = new PgTelemetryWrites(queries);
    this.#rpcs = new PgRpcRows(queries);
  }

  getDevice(id: string): Promise<DeviceRow | undefined> {
    return this.#devices.getDevice(id);
  }

  getDeviceByName(name: string): Promise<DeviceRow | undefined> {
    return this.#devices.getDeviceByName(name);
  }

  listDevices(page: PageQuery): Promise<DeviceRow[]> {
    return this.#devices.listDevices(page);
  }

  countDevices(): Promise<number> {
    return this.#devices.countDevices();
  }

  lockDeviceCount(): Promise<number> {
    return this.#devices.lockDeviceCount();
  }

  listEdgeNodeDevices(nodeId: string, page: PageQuery): Promise<DeviceRow[]> {
    return this.#devices.listEdgeNodeDevices(nodeId, page);
  }

  lockGatewayChildren(gatewayId: string): Promise<number | undefined> {
    return this.#devices.lockGatewayChildren(gatewayId);
  }

  insertDevice(row: DeviceRow): Promise<boolean> {
    return this.#devices.insertDevice(row);
  }

  updateDevice(row: DeviceRow): Promise<DeviceRow | undefined | 'name-taken'> {
    return this.#devices.updateDevice(row);
  }

  async deleteDevice(id: string): Promise<boolean> {
    await this.#telemetryWrites.deleteDevice(id);
    await this.#rpcs.deleteDevice(id);
    await this.#edgeHistory.deleteDevice(id);
    return this.#devices.deleteDevice(id);
  }

  unlinkGatewayChildren(gatewayId: string, at: string): Promise<DeviceRow[]> {
    return this.#devices.unlinkGatewayChildren(gatewayId, at);
  }

  mergeClientAttributes(
    id: string,
    attributes: Record<string, unknown>,
    at: string,
  ): Promise<boolean> {
    return this.#devices.mergeClientAttributes(id, attributes, at);
  }

  telemetryKeys(id: string): Promise<readonly string[] | null | undefined> {
    return this.#devices.telemetryKeys(id);
  }

  recordEdgeUnassignment(deviceId: string, nodeId: string, at: string): Promise<void> {
    return this.#edgeHistory.recordEdgeUnassignment(deviceId, nodeId, at);
  }

  edgeStanding(nodeId: string, deviceIds: readonly string[]): Promise<Map<string, EdgeStanding>> {
    return this.#edgeHistory.edgeStanding(nodeId, deviceIds);
  }

  telemetry(query: TelemetryQuery): Promise<TelemetryPoint[]> {
    return this.#telemetryReads.telemetry(query);
  }

  aggregate(query: AggregateQuery): Promise<AggregateRow[]> {
    return this.#telemetryReads.aggregate(query);
  }

  latest(deviceId: string, keys: readonly string[]): Promise<TelemetryPoint[]> {
    return this.#telemetryReads.latest(deviceId, keys);
  }

  insertPoints(deviceId: string, points: readonly TelemetryPoint[]): Promise<void> {
    return this.#telemetryWrites.insertPoints(deviceId, points);
  }

  deletePointsBefore(before: number, limit: number): Promise<number> {
    return this.#telemetryWrites.deletePointsBefore(before, limit);
  }

  getRpc(deviceId: string, id: string): Promise<RpcRow | undefined> {
    return this.#rpcs.getRpc(deviceId, id);
  }

  pendingRpcs(
    deviceId: string,
    now: string,
    limit: number,
    sentBefore?: string,
  ): Promise<RpcRow[]> {
    return this.#rpcs.pendingRpcs(deviceId, now, limit, sentBefore);
  }

  lockRpcQueue(deviceId: string, now: string): Promise<number | undefined> {
    return this.#rpcs.lockRpcQueue(deviceId, now);
  }

  insertRpc(row: RpcRow): Promise<void> {
    return this.#rpcs.insertRpc(row);
  }

  updateRpc(
    deviceId: string,
    id: string,
    from: readonly RpcStatus[],
    change: RpcChange,
    at: string,
  ): Promise<RpcRow | undefined> {
    return this.#rpcs.updateRpc(deviceId, id, from, change, at);
  }

  expireRpcs(now: string): Promise<number> {
    return this.#rpcs.expireRpcs(now);
  }

  /** Removes every device row of the tenant (tenant deletion). */
  async purge(): Promise<void> {
    await this.#telemetryWrites.purge();
    await this.#rpcs.purge();
    await this.#edgeHistory.purge();
    await this.#devices.purge();
  }
}
