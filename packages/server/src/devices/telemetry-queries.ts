import type { TenantStoreLocator } from '../records/index.ts';
import type { Aggregate, AggregateRow, TelemetryPoint } from '../store/index.ts';
import type { TenantContext } from '../tenancy/index.ts';
import { checkDeviceId, deviceNotFound } from './device-writes.ts';

export interface TelemetryRange {
  readonly keys: readonly string[];
  readonly from: number;
  readonly to: number;
  readonly limit: number;
  readonly interval?: number | undefined;
  readonly agg?: Aggregate | undefined;
}

/** Telemetry out: a tenant's reads of one of its devices' points. */
export class TelemetryQueries {
  readonly #locate: TenantStoreLocator;

  constructor(locate: TenantStoreLocator) {
    this.#locate = locate;
  }

  async #device(context: TenantContext, deviceId: string) {
    checkDeviceId(deviceId);
    const reader = (await this.#locate(context)).reader;
    if ((await reader.devices.getDevice(deviceId)) === undefined) throw deviceNotFound();
    return reader;
  }

  /** Raw points, or with `interval` and `agg` numeric aggregates per bucket. */
  async query(
    context: TenantContext,
    deviceId: string,
    range: TelemetryRange,
  ): Promise<TelemetryPoint[] | AggregateRow[]> {
    const reader = await this.#device(context, deviceId);
    if (range.agg !== undefined || range.interval !== undefined) {
      return reader.devices.aggregate({
        deviceId,
        keys: range.keys,
        from: range.from,
        to: range.to,
        limit: range.limit,
        intervalMs: range.interval ?? range.to - range.from,
        agg: range.agg ?? 'avg',
      });
    }
    return reader.devices.telemetry({ deviceId, ...range });
  }

  async latest(context: TenantContext, deviceId: string, keys: readonly string[]) {
    return (await this.#device(context, deviceId)).devices.latest(deviceId, keys);
  }
}
