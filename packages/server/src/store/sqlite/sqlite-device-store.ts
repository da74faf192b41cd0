/**
 * One tenant file's device store, as the tenant store's `devices`: the store interface over
 * modules with one job each (device rows, their edge history, telemetry reads, telemetry
 * writes, RPC rows). A device's deletion spans them all.
 */
import type { StatementSync } from 'node:sqlite';
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
import { SqliteDeviceEdgeHistory } from './sqlite-device-edge-history.ts';
import { SqliteDeviceRows } from './sqlite-device-rows.ts';
import { SqliteRpcRows } from './sqlite-rpc-rows.ts';
import { SqliteTelemetryReads } from './sqlite-telemetry-reads.ts';
import { SqliteTelemetryWrites } from './sqlite-telemetry-writes.ts';
import type { StagedLatest } from './staged-latest.ts';

type Prepare = (sql: string) => StatementSync;

/** Where a tenant file's connection stands: the one writer, or a reader. */
export interface DeviceStoreRole {
  readonly writer: boolean;
  /** The file's newest committed staged points: the writer records, readers read. */
  readonly stagedLatest: StagedLatest;
}

/** Devices, telemetry and RPC requests in one tenant's SQLite file. */
export class SqliteTenantDevices implements TenantDeviceWriter {
  readonly #devices: SqliteDeviceRows;
  readonly #edgeHistory: SqliteDeviceEdgeHistory;
  readonly #telemetryReads: SqliteTelemetryReads;
  readonly #telemetryWrites: SqliteTelemetryWrites;
  readonly #rpcs: SqliteRpcRows;

  constructor(prepare: Prepare, role: DeviceStoreRole) {
    this.#devices = new SqliteDeviceRows(prepare, role.writer);
    this.#edgeHistory = new SqliteDeviceEdgeHistory(prepare);
    this.#telemetryReads = new SqliteTelemetryReads(
      prepare,
      role.writer ? undefined : role.stagedLatest,
    );
    this.#telemetryWrites = new SqliteTelemetryWrites(prepare, role.stagedLatest);
    this.#rpcs = new SqliteRpcRows(prepare);
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
    this.#telemetryWrites.deleteDevice(id);
    this.#rpcs.deleteDevice(id);
    this.#edgeHistory.deleteDevice(id);
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

  /** Points staged by this connection since the last call (what its store must compact). */
  takeStaged(): number {
    return this.#telemetryWrites.takeStaged();
  }

  /** Moves every staged point into the telemetry tree and the latest values. */
  compactStaged(): void {
    this.#telemetryWrites.compactStaged();
  }

  deletePointsBefore(before: number, limit: number): Promise<number> {
    return this.#telemetryWrites.deletePointsBefore(before, limit);
  }

  /** Forgets what the rolled-back transaction did: its staged points and cached keys. */
  rolledBack(): void {
    this.#telemetryWrites.rolledBack();
    this.#devices.rolledBack();
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
}
