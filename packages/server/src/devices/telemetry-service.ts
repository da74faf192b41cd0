import type { Logger } from 'pino';
import type { Bus } from '../bus/index.ts';
import type { GroupCommitter, WriteEvent } from '../commit/index.ts';
import { PalisadeError } from '../errors/index.ts';
import type { TelemetryQuotas } from '../quotas/index.ts';
import type { TenantStoreLocator } from '../records/index.ts';
import type { TelemetryPoint, TenantWriteTx } from '../store/index.ts';
import type { TenantContext } from '../tenancy/index.ts';
import type {
  ChildMessage,
  ChildStore,
  DeviceIdentity,
  IngestResult,
  TelemetryIngest,
} from './device-contract.ts';
import { checkDeviceId, deviceNotFound } from './device-writes.ts';
import { publishTelemetry } from './telemetry-events.ts';
import {
  checkReceivedAt,
  type PointTimes,
  parseAttributes,
  parseTelemetry,
  type TelemetryLimits,
} from './telemetry-parse.ts';
import { DAY_MS, type RetentionPolicy } from './telemetry-retention-policy.ts';
import { checkPoints, insertPoints, writeClientAttributes } from './telemetry-writes.ts';

/**
 * Telemetry in. One message is one group-commit op: its points are written and ONE
 * ledger entry commits to all of them (device, key, ts, type, value) as a salted hash, and
 * concurrent messages of a tenant share one transaction and one ledger leaf. The promise
 * resolves only after that commit, so a listener may then acknowledge; accepted points are
 * then published on the bus (kind `telemetry`) for live consumers.
 */
export class TelemetryService implements TelemetryIngest {
  readonly #locate: TenantStoreLocator;
  readonly #committer: GroupCommitter;
  readonly #limits: TelemetryLimits;
  readonly #retention: RetentionPolicy;
  readonly #bus: Bus | undefined;
  readonly #logger: Logger | undefined;
  readonly #quotas: TelemetryQuotas | undefined;
  readonly #childStore: ChildStore;

  constructor(options: {
    locate: TenantStoreLocator;
    committer: GroupCommitter;
    limits: TelemetryLimits;
    /** How long each plan keeps telemetry: an older point is refused. */
    retention: RetentionPolicy;
    bus?: Bus | undefined;
    logger?: Logger | undefined;
    /** Plan rate limits; a message over one is refused (429) before anything is written. */
    quotas?: TelemetryQuotas | undefined;
    /** Stores the new children a gateway message names, in the message's own write. */
    children: ChildStore;
  }) {
    this.#locate = options.locate;
    this.#committer = options.committer;
    this.#limits = options.limits;
    this.#retention = options.retention;
    this.#bus = options.bus;
    this.#logger = options.logger;
    this.#quotas = options.quotas;
    this.#childStore = options.children;
  }

  /** The plan rate limits this service enforces, if any (edge batches and `GET /v1/usage`). */
  get quotas(): TelemetryQuotas | undefined {
    return this.#quotas;
  }

  telemetry(device: DeviceIdentity, payload: unknown): Promise<IngestResult> {
    return this.ingest(device.context, device.deviceId, payload);
  }

  /** Telemetry of `deviceId` sent by whoever `context` names (the device, or a tenant key). */
  async ingest(context: TenantContext, deviceId: string, payload: unknown): Promise<IngestResult> {
    checkDeviceId(deviceId);
    const points = parseTelemetry(payload, this.#times(context, Date.now()), this.#limits);
    this.#quotas?.admit(context, deviceId, points.length);
    const store = await this.#locate(context);
    await this.#committer.submit(store, async (tx, record) => {
      await checkPoints(tx, deviceId, points);
      await insertPoints(tx, record, context.actor.id, deviceId, points);
    });
    this.#quotas?.accepted(context, 1, points.length);
    this.announce(context, deviceId, points);
    return { points: points.length };
  }

  /** The times the points of `context`'s tenant are held to at `now`. */
  #times(context: TenantContext, now: number): PointTimes {
    return {
      now,
      clock: now,
      keptFrom: now - this.#retention.daysOf(context.tenant.plan) * DAY_MS,
    };
  }

  /**
   * An edge message's points, stamped with when the node received it where they name no ts;
   * that time is another clock's, so it must itself be in the platform's accepted range, and
   * each ts in both that range and the one around it. Throws on bad input.
   */
  parseReceived(
    context: TenantContext,
    deviceId: string,
    payload: unknown,
    receivedAt: number,
  ): TelemetryPoint[] {
    checkDeviceId(deviceId);
    const times = this.#times(context, Date.now());
    checkReceivedAt(receivedAt, times, this.#limits);
    return parseTelemetry(payload, { ...times, now: receivedAt }, this.#limits);
  }

  /** Publishes committed points on the bus (kind `telemetry`) for live consumers. */
  announce(context: TenantContext, deviceId: string, points: readonly TelemetryPoint[]): void {
    if (this.#bus !== undefined)
      publishTelemetry(this.#bus, this.#logger, context, { deviceId, points });
  }

  async attributes(device: DeviceIdentity, payload: unknown): Promise<IngestResult> {
    const attributes = parseAttributes(payload, this.#limits);
    const store = await this.#locate(device.context);
    await this.#committer.submit(store, (tx, record) =>
      writeClientAttributes(tx, record, device.context.actor.id, device.deviceId, attributes),
    );
    return { points: Object.keys(attributes).length };
  }

  /**
   * A gateway's message for its children as ONE group-commit op whose every part is parsed
   * and checked before any is written: a refused op must have written nothing (see
   * GroupCommitter), and a refused message is sent again whole. The children it names for
   * the first time are stored by that op too, so a refused message (a child past the plan's
   * or the gateway's bound, a quota, a key limit) leaves no device behind.
   */
  async children(
    gateway: DeviceIdentity,
    kind: 'telemetry' | 'attributes',
    messages: readonly ChildMessage[],
  ): Promise<IngestResult> {
    try {
      return await this.#gatewayMessage(gateway, kind, messages);
    } catch (error) {
      // Another connection stored a child of the same name first: this time it is found.
      if (!nameTaken(error)) throw error;
      return this.#gatewayMessage(gateway, kind, messages);
    }
  }

  async #gatewayMessage(
    gateway: DeviceIdentity,
    kind: 'telemetry' | 'attributes',
    messages: readonly ChildMessage[],
  ): Promise<IngestResult> {
    if (messages.length === 0) return { points: 0 };
    const parsed =
      kind === 'attributes'
        ? messages.map(({ payload }) => parseAttributes(payload, this.#limits))
        : undefined;
    const times = this.#times(gateway.context, Date.now());
    const points =
      kind === 'telemetry'
        ? messages.map(({ payload }) => parseTelemetry(payload, times, this.#limits))
        : undefined;
    // A name the gateway may not have refuses the message before anything is written. The
    // children's ids are the registry's own, so they need no check.
    const found = await Promise.all(messages.map((message) => message.find()));
    const created = messages.map((message, i) =>
      found[i] === undefined ? message.prepare() : undefined,
    );
    const devices = found.map((device, i) => device ?? created[i]!.identity);
    const newRows = created.flatMap((child) => (child === undefined ? [] : [child.row]));
    const store = await this.#locate(gateway.context);
    const storeChildren = (tx: TenantWriteTx, record: (event: WriteEvent) => void) =>
      newRows.length === 0
        ? undefined
        : this.#childStore.insertChildren(tx, record, gateway.context, newRows);
    const adopted = () =>
      created.forEach((child, i) => {
        if (child !== undefined) messages[i]!.created(child.identity);
      });
    if (parsed !== undefined) {
      await this.#committer.submit(store, async (tx, record) => {
        await storeChildren(tx, record);
        for (const device of devices)
          if ((await tx.devices.getDevice(device.deviceId)) === undefined) throw deviceNotFound();
        for (const [i, device] of devices.entries())
          await writeClientAttributes(
            tx,
            record,
            device.context.actor.id,
            device.deviceId,
            parsed[i]!,
          );
      });
      adopted();
      return { points: parsed.reduce((n, attributes) => n + Object.keys(attributes).length, 0) };
    }
    const parts = devices.map((device, i) => ({ device, points: points![i]! }));
    const charged = parts.map(({ device, points }) => ({
      deviceId: device.deviceId,
      points: points.length,
    }));
    this.#quotas?.admitEach(gateway.context, charged);
    try {
      await this.#committer.submit(store, async (tx, record) => {
        await storeChildren(tx, record);
        for (const { device, points } of parts) await checkPoints(tx, device.deviceId, points);
        for (const { device, points } of parts)
          await insertPoints(tx, record, device.context.actor.id, device.deviceId, points);
      });
    } catch (error) {
      // The message is tried again (see children), and charged then.
      if (nameTaken(error)) this.#quotas?.refundEach(gateway.context, charged);
      throw error;
    }
    adopted();
    for (const { device, points } of parts) {
      this.#quotas?.accepted(device.context, 1, points.length);
      this.announce(device.context, device.deviceId, points);
    }
    return { points: parts.reduce((n, part) => n + part.points.length, 0) };
  }

  /** One message's client attributes (edge batches); throws on bad input. */
  parseAttributes(deviceId: string, payload: unknown): Record<string, unknown> {
    checkDeviceId(deviceId);
    return parseAttributes(payload, this.#limits);
  }
}

/** A new child's name was stored by another connection after the message looked it up. */
function nameTaken(error: unknown): boolean {
  return error instanceof PalisadeError && error.code === 'PALISADE_DEVICE_NAME_TAKEN';
}
