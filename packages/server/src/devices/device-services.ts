import { type AttributeQuery, answerAttributes } from '@palisade/device-api';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Bus } from '../bus/index.ts';
import type { GroupCommitter } from '../commit/index.ts';
import type { Settings } from '../config/index.ts';
import { type ObjectCaps, planLimits, TelemetryQuotas } from '../quotas/index.ts';
import type { TenantStoreLocator } from '../records/index.ts';
import type { Stores } from '../store/index.ts';
import { CredentialRegistry } from './credential-registry.ts';
import { DeviceAuthority } from './device-authenticator.ts';
import { DeviceCaService, type SecretSealer } from './device-ca-service.ts';
import type { DeviceIdentity } from './device-contract.ts';
import { DeviceRegistry } from './device-registry.ts';
import { DeviceWrites } from './device-writes.ts';
import { LiveStreams } from './live-streams.ts';
import type { RpcRemote } from './rpc-contract.ts';
import { RpcService } from './rpc-queue.ts';
import type { SharedAttributeListener } from './shared-attributes.ts';
import { TelemetryPartitionUpkeep } from './telemetry-partition-upkeep.ts';
import { TelemetryQueries } from './telemetry-queries.ts';
import { TelemetryRetention } from './telemetry-retention.ts';
import { retentionPolicy } from './telemetry-retention-policy.ts';
import { TelemetryService } from './telemetry-service.ts';

/** Everything the listeners (HTTP, MQTT) and the device routes use, built once per platform. */
export interface DeviceServices {
  readonly registry: DeviceRegistry;
  /** Device credentials, trusted CA certificates and provisioning keys. */
  readonly credentials: CredentialRegistry;
  /** The `DeviceAuthenticator` of the device contract (plus provisioning). */
  readonly authority: DeviceAuthority;
  /** The `TelemetryIngest` of the device contract (plus tenant-side ingest). */
  readonly telemetry: TelemetryService;
  /** Tenant-side telemetry reads: raw, aggregated, latest. */
  readonly telemetryQueries: TelemetryQueries;
  /** The `RpcQueue` (deliver to attached devices, take their answers). */
  readonly rpc: RpcService;
  /** Palisade-generated device CAs and the certificates they issue. */
  readonly cas: DeviceCaService;
  readonly retention: TelemetryRetention;
  /** PostgreSQL telemetry partitions; `prepare` them before taking telemetry. */
  readonly partitions: TelemetryPartitionUpkeep;
  readonly bus: Bus;
  readonly streamHeartbeatMs: number;
  /** The live telemetry streams open in this process, by tenant, within their plans' cap. */
  readonly liveStreams: LiveStreams;
  /** ThingsBoard attribute request: `{ client: {…}, shared: {…} }`, filtered by keys when given. */
  readAttributes(device: DeviceIdentity, query: AttributeQuery): Promise<Record<string, unknown>>;
}

/** Builds the device registry, authenticator, telemetry, RPC queue and retention job. */
export function openDeviceServices(options: {
  readonly settings: Settings;
  readonly stores: Stores;
  readonly locate: TenantStoreLocator;
  readonly committer: GroupCommitter;
  readonly bus: Bus;
  /** Seals generated CA keys under the tenant key hierarchy. */
  readonly secrets: SecretSealer;
  /** The plan's cap on devices, checked by every creation. */
  readonly caps: ObjectCaps;
  readonly logger?: Logger | undefined;
  /** Where the quota metrics are registered. */
  readonly metrics?: Registry | undefined;
  /** Scale-out: RPC to devices connected to other processes. */
  readonly rpcRemote?: RpcRemote | undefined;
  /** Told of each committed change of a device's shared attributes, to push to the device. */
  readonly onSharedAttributes?: SharedAttributeListener | undefined;
}): DeviceServices {
  const { settings, stores, locate, committer } = options;
  let authority: DeviceAuthority | undefined;
  const writes = new DeviceWrites(locate, committer, stores.controlPlane.devices, (tenantId) =>
    authority?.credentialsChanged(tenantId),
  );
  const registry = new DeviceRegistry(
    writes,
    stores.controlPlane.devices,
    options.caps,
    settings.gatewayChildrenMax,
    options.onSharedAttributes,
  );
  const credentials = new CredentialRegistry(writes, stores.controlPlane.devices);
  authority = new DeviceAuthority(stores.controlPlane.devices, locate, registry, {
    ttlMs: settings.authCacheTtlMs,
    foundMax: settings.authCacheMax,
    missingMax: settings.authCacheMissesMax,
  });
  const policy = retentionPolicy(settings.telemetryRetention);
  const telemetry = new TelemetryService({
    locate,
    committer,
    children: registry,
    retention: policy,
    bus: options.bus,
    logger: options.logger,
    quotas: new TelemetryQuotas({
      limitsOf: planLimits(settings),
      maxBuckets: settings.quotaMaxBuckets,
      usageWindowMs: settings.quotaUsageWindowMs,
      metrics: options.metrics,
    }),
    limits: {
      maxPoints: settings.telemetryMaxPoints,
      maxKeys: settings.telemetryMaxKeys,
      keyMaxLength: settings.telemetryKeyMaxLength,
      valueMaxBytes: settings.telemetryValueMaxBytes,
      maxPastMs: settings.telemetryMaxPastMs,
      maxFutureMs: settings.telemetryMaxFutureMs,
    },
  });
  const rpc = new RpcService({
    locate,
    committer,
    defaultTimeoutMs: settings.rpcTimeoutDefaultMs,
    maxTimeoutMs: settings.rpcTimeoutMaxMs,
    queueMax: settings.rpcQueueMax,
    remote: options.rpcRemote,
    logger: options.logger,
  });
  const partitions = new TelemetryPartitionUpkeep({
    shards: stores.shards,
    longestDays: policy.longestDays,
    maxPastMs: settings.telemetryMaxPastMs,
    maxFutureMs: settings.telemetryMaxFutureMs,
    monthsAhead: settings.telemetryPartitionMonthsAhead,
    intervalMs: settings.telemetryRetentionIntervalMs,
    logger: options.logger,
    metrics: options.metrics,
  });
  const retention = new TelemetryRetention({
    controlPlane: stores.controlPlane,
    shards: stores.shards,
    committer,
    policy,
    intervalMs: settings.telemetryRetentionIntervalMs,
    batchMax: settings.telemetryRetentionBatchMax,
    partitions,
    logger: options.logger,
  });
  const cas = new DeviceCaService({
    locate,
    committer,
    index: stores.controlPlane.devices,
    registry,
    credentials,
    secrets: options.secrets,
    caValidityDays: settings.deviceCaValidityDays,
    certValidityDays: settings.deviceCertValidityDays,
  });
  return {
    registry,
    credentials,
    authority,
    telemetry,
    telemetryQueries: new TelemetryQueries(locate),
    rpc,
    cas,
    retention,
    partitions,
    bus: options.bus,
    streamHeartbeatMs: settings.telemetryStreamHeartbeatMs,
    liveStreams: new LiveStreams({ limitsOf: planLimits(settings), metrics: options.metrics }),
    async readAttributes(device, query) {
      const row = await (await locate(device.context)).reader.devices.getDevice(device.deviceId);
      if (row === undefined) return {};
      return answerAttributes(row.clientAttributes, row.attributes, query);
    },
  };
}
