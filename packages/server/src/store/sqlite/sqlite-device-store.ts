/**
 * One tenant file's device store: the shared DeviceStore over this backend's parts, plus the
 * staging of telemetry that the tenant store compacts.
 */
import type { StatementSync } from 'node:sqlite';
import { DeviceStore } from '../device-store.ts';
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

function sqliteDeviceParts(prepare: Prepare, role: DeviceStoreRole) {
  return {
    rows: new SqliteDeviceRows(prepare, role.writer),
    edgeHistory: new SqliteDeviceEdgeHistory(prepare),
    telemetryReads: new SqliteTelemetryReads(prepare, role.writer ? undefined : role.stagedLatest),
    telemetryWrites: new SqliteTelemetryWrites(prepare, role.stagedLatest),
    rpcs: new SqliteRpcRows(prepare),
  };
}

/** Devices, telemetry and RPC requests in one tenant's SQLite file. */
export class SqliteTenantDevices extends DeviceStore<ReturnType<typeof sqliteDeviceParts>> {
  constructor(prepare: Prepare, role: DeviceStoreRole) {
    super(sqliteDeviceParts(prepare, role));
  }

  /** Points staged by this connection since the last call (what its store must compact). */
  takeStaged(): number {
    return this.telemetryWrites.takeStaged();
  }

  /** Moves every staged point into the telemetry tree and the latest values. */
  compactStaged(): void {
    this.telemetryWrites.compactStaged();
  }

  /** Forgets what the rolled-back transaction did: its staged points and cached keys. */
  rolledBack(): void {
    this.telemetryWrites.rolledBack();
    this.rows.rolledBack();
  }
}
