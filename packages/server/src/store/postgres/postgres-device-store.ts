/**
 * One tenant's device store in a PostgreSQL shard: the shared DeviceStore over this backend's
 * parts. Like every tenant query, each statement names tenant_id and runs where RLS also
 * enforces it.
 */
import { DeviceStore } from '../device-store.ts';
import { PgDeviceEdgeHistory } from './postgres-device-edge-history.ts';
import { PgDeviceRows } from './postgres-device-rows.ts';
import { PgRpcRows } from './postgres-rpc-rows.ts';
import { PgTelemetryReads } from './postgres-telemetry-reads.ts';
import { PgTelemetryWrites } from './postgres-telemetry-writes.ts';
import { type Queryable, TenantQueries } from './tenant-queries.ts';

function pgDeviceParts(db: Queryable, tenantId: string) {
  const queries = new TenantQueries(db, tenantId);
  return {
    rows: new PgDeviceRows(queries),
    edgeHistory: new PgDeviceEdgeHistory(queries),
    telemetryReads: new PgTelemetryReads(queries),
    telemetryWrites: new PgTelemetryWrites(queries),
    rpcs: new PgRpcRows(queries),
  };
}

/** Devices, telemetry and RPC requests of one tenant in a PostgreSQL shard. */
export class PgTenantDevices extends DeviceStore<ReturnType<typeof pgDeviceParts>> {
  constructor(db: Queryable, tenantId: string) {
    super(pgDeviceParts(db, tenantId));
  }

  /** Removes every device row of the tenant (tenant deletion). */
  async purge(): Promise<void> {
    await this.telemetryWrites.purge();
    await this.rpcs.purge();
    await this.edgeHistory.purge();
    await this.rows.purge();
  }
}
