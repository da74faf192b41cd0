import {
  type DeviceServices,
  openDeviceServices,
  type SharedAttributeChange,
} from '../devices/index.ts';
import { EdgeRpcRelay, EdgeService } from '../edge/index.ts';
import { ChannelRpcRemote } from '../internal/index.ts';
import { type KeyService, TenantSecretSeal } from '../keys/index.ts';
import type { MqttListener } from '../mqtt/index.ts';
import type { ObjectCaps } from '../quotas/index.ts';
import type { PlatformContext } from './context.ts';
import { SharedAttributePusher } from './shared-attribute-pusher.ts';

export interface DeviceOptions
  extends Pick<
    PlatformContext,
    | 'settings'
    | 'stores'
    | 'bus'
    | 'locate'
    | 'committer'
    | 'kms'
    | 'channel'
    | 'metrics'
    | 'logger'
  > {
  readonly keys: KeyService;
  readonly caps: ObjectCaps;
  /** This process's MQTT listener, once it listens. */
  readonly mqtt: () => MqttListener | undefined;
}

/** Devices and their telemetry and RPC, and the edge nodes some of them sit behind. */
export interface Devices {
  readonly services: DeviceServices;
  readonly edge: EdgeService;
  readonly edgeRpc: EdgeRpcRelay;
  /** Stops hearing of RPC answers that reached other processes. */
  stopRpcAnswers(): void;
  /** Stops hearing of shared attribute changes made in other processes. */
  stopAttributeNotices(): void;
}

export async function assembleDevices(options: DeviceOptions): Promise<Devices> {
  const { settings, stores, channel, logger } = options;
  const rpcRemote = channel === undefined ? undefined : new ChannelRpcRemote(channel);
  const sharedAttributes = sharedAttributePusher(options);
  // Devices behind an edge node hear of a change by their node's poll (the relay made below).
  let toEdgeNodes: ((change: SharedAttributeChange) => void) | undefined;
  const pushShared = (change: SharedAttributeChange) => {
    sharedAttributes.push(change);
    toEdgeNodes?.(change);
  };
  const stopAttributeNotices = channel?.subscribe('device.attributes', [], (payload) => {
    if (isSharedAttributeChange(payload)) pushShared(payload);
  });
  const services = openDeviceServices({
    settings,
    stores,
    locate: options.locate,
    committer: options.committer,
    bus: options.bus,
    secrets: new TenantSecretSeal({
      kms: options.kms,
      controlPlane: stores.controlPlane,
      keys: options.keys,
    }),
    caps: options.caps,
    logger,
    metrics: options.metrics,
    rpcRemote,
    onSharedAttributes:
      channel === undefined
        ? pushShared
        : (change) => void channel.publish('device.attributes', [], change).catch(() => undefined),
  });
  // A PostgreSQL point needs its month's partition (there is no default one), and the
  // retention job that makes them runs in one worker only, maybe not yet.
  await services.partitions.prepare();
  const stopRpcAnswers = rpcRemote?.listen((tenantId, deviceId, rpcId) =>
    services.rpc.answeredElsewhere(tenantId, deviceId, rpcId),
  );
  const edge = edgeService(options, services);
  const edgeRpc = new EdgeRpcRelay(services.rpc, { ackWaitMs: settings.edgeRpcAckWaitMs });
  toEdgeNodes = (change) => edgeRpc.sharedAttributesChanged(change);
  return {
    services,
    edge,
    edgeRpc,
    stopRpcAnswers: () => stopRpcAnswers?.(),
    stopAttributeNotices: () => stopAttributeNotices?.(),
  };
}

/**
 * A change of a device's shared attributes reaches its MQTT connections wherever they are:
 * through the channel to every process (this one included), else to this listener.
 */
function sharedAttributePusher({ stores, mqtt, logger }: DeviceOptions): SharedAttributePusher {
  return new SharedAttributePusher({
    readDevice: async (tenantId, deviceId) => {
      const tenant = await stores.controlPlane.getTenant(tenantId);
      const shard = tenant === undefined ? undefined : stores.shards.get(tenant.shard);
      if (shard === undefined) return undefined;
      return (await shard.tenant(tenantId)).reader.devices.getDevice(deviceId);
    },
    listener: mqtt,
    logger,
  });
}

function edgeService(options: DeviceOptions, devices: DeviceServices): EdgeService {
  const { settings } = options;
  return new EdgeService({
    controlPlane: options.stores.controlPlane,
    locate: options.locate,
    committer: options.committer,
    telemetry: devices.telemetry,
    enrollmentTtlMs: settings.edgeEnrollmentTtlMs,
    alertWindowMs: settings.edgeAlertWindowMs,
    logger: options.logger,
    metrics: options.metrics,
  });
}

/** A `device.attributes` notice as the api process sends it. */
function isSharedAttributeChange(payload: unknown): payload is SharedAttributeChange {
  if (typeof payload !== 'object' || payload === null) return false;
  const { tenantId, deviceId, changed, deleted } = payload as Record<string, unknown>;
  return (
    typeof tenantId === 'string' &&
    typeof deviceId === 'string' &&
    typeof changed === 'object' &&
    changed !== null &&
    !Array.isArray(changed) &&
    Array.isArray(deleted) &&
    deleted.every((name) => typeof name === 'string')
  );
}
