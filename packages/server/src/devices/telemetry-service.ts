import type { Logger } from 'pino';
import type { Bus } from '../bus/index.ts';
import type { GroupCommitter, WriteEvent } from '../commit/index.ts';
import { PalisadeError } from '../errors/index.ts';
import { uuid7 } from '../ids/index.ts';
import type { TelemetryQuotas } from '../quotas/index.ts';
import type { TenantStoreLocator } from '../records/index.ts';
import type { Aggregate, AggregateRow, TelemetryPoint, TenantWriteTx } from '../store/index.ts';
import type { TenantContext } from '../tenancy/index.ts';
import type {
  ChildMessage,
  DeviceIdentity,
  IngestResult,
  TelemetryIngest,
} from './device-contract.ts';
import { checkDeviceId, deviceNotFound } from './device-writes.ts';
import {
  checkReceivedAt,
  type PointTimes,
  parseAttributes,
  parseTelemetry,
  type TelemetryLimits,
} from './telemetry-parse.ts';
import { DAY_MS, type RetentionPolicy } from './telemetry-retention-policy.ts';

/** What a `telemetry` bus event carries: the device and the points it sent. */
export interface TelemetryEventPayload {
  readonly deviceId: string;
  readonly points: readonly TelemetryPoint[];
}

export interface TelemetryRange {
  readonly keys: readonly string[];
  readonly from: number;
  readonly to: number;
  readonly limit: number;
  readonly interval?: number | undefined;
  readonly agg?: Aggregate | undefined;
}

function unknownKey(key: string): PalisadeError {
  return new PalisadeError(
    'PALISADE_TELEMETRY_UNKNOWN_KEY',
    `the device does not declare the telemetry key ${JSON.stringify(key)}`,
    [{ path: `/${key}`, message: 'is not one of the device telemetryKeys' }],
  );
}

/** The bus event id prefix of telemetry events; the rest is a UUIDv7, so ids sort by time. */
export const TELEMETRY_EVENT_ID = ':telemetry:';

/**
 * Telemetry in and out. One message is one group-commit op: its points are written and ONE
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
  }) {
    this.#locate = options.locate;
    this.#committer = options.committer;
    this.#limits = options.limits;
    this.#retention = options.retention;
    this.#bus = options.bus;
    this.#logger = options.logger;
    this.#quotas = options.quotas;
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
    await this.#committer.submit(store, (tx, record) =>
      this.write(tx, record, context.actor.id, deviceId, points),
    );
    this.#quotas?.accepted(context, 1, points.length);
    this.announce(context, deviceId, points);
    return { points: points.length };
  }

  /** The times the points of `context`'s tenant are held to at `now`. */
  #times(context: TenantContext, now: number): PointTimes {
    return { now, keptFrom: now - this.#retention.daysOf(context.tenant.plan) * DAY_MS };
  }

  /**
   * An edge message's points, stamped with when the node received it where they name no ts;
   * that time is another clock's, so it must itself be in the platform's accepted range.
   * Throws on bad input.
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

  /**
   * Writes one message's points inside a caller's group-commit op and records its ledger
   * entry. A refusal throws a PalisadeError before anything is written.
   */
  async write(
    tx: TenantWriteTx,
    record: (event: WriteEvent) => void,
    actor: string,
    deviceId: string,
    points: readonly TelemetryPoint[],
  ): Promise<void> {
    await this.#check(tx, deviceId, points);
    await this.#insert(tx, record, actor, deviceId, points);
  }

  /** Refuses points of a device that is gone or does not declare their keys. */
  async #check(tx: TenantWriteTx, deviceId: string, points: readonly TelemetryPoint[]) {
    const allowed = await tx.devices.telemetryKeys(deviceId);
    if (allowed === undefined) throw deviceNotFound();
    const unknown = allowed === null ? undefined : points.find((p) => !allowed.includes(p.key));
    if (unknown !== undefined) throw unknownKey(unknown.key);
  }

  async #insert(
    tx: TenantWriteTx,
    record: (event: WriteEvent) => void,
    actor: string,
    deviceId: string,
    points: readonly TelemetryPoint[],
  ): Promise<void> {
    await tx.devices.insertPoints(deviceId, points);
    record({
      actor,
      action: 'telemetry.ingest',
      resource: `telemetry/${deviceId}`,
      state: { device: deviceId, points: points.map((p) => [p.key, p.ts, p.type, p.value]) },
    });
  }

  /**
   * Writes several messages of one device (an edge batch's, in order) inside a caller's
   * group-commit op: one device lookup, one insert of all their points, and ONE ledger entry
   * whose state is `{device, points, via}` with the points of every accepted message in order.
   * Answers, per message, the PalisadeError that refused it (nothing of it written) or
   * undefined.
   */
  async writeMany(
    tx: TenantWriteTx,
    record: (event: WriteEvent) => void,
    actor: string,
    deviceId: string,
    messages: readonly (readonly TelemetryPoint[])[],
    via: Readonly<Record<string, unknown>>,
  ): Promise<(PalisadeError | undefined)[]> {
    const keys = await tx.devices.telemetryKeys(deviceId);
    if (keys === undefined) return messages.map(() => deviceNotFound());
    const allowed = keys === null ? null : new Set(keys);
    const points: TelemetryPoint[] = [];
    const outcomes = messages.map((message) => {
      const unknown = allowed === null ? undefined : message.find((p) => !allowed.has(p.key));
      if (unknown !== undefined) return unknownKey(unknown.key);
      for (const point of message) points.push(point);
      return undefined;
    });
    if (points.length === 0) return outcomes;
    await tx.devices.insertPoints(deviceId, points);
    record({
      actor,
      action: 'telemetry.ingest',
      resource: `telemetry/${deviceId}`,
      state: { device: deviceId, points: points.map((p) => [p.key, p.ts, p.type, p.value]), via },
    });
    return outcomes;
  }

  /** Publishes committed points on the bus (kind `telemetry`) for live consumers. */
  announce(context: TenantContext, deviceId: string, points: readonly TelemetryPoint[]): void {
    this.#publish(context, { deviceId, points });
  }

  async attributes(device: DeviceIdentity, payload: unknown): Promise<IngestResult> {
    const attributes = parseAttributes(payload, this.#limits);
    const store = await this.#locate(device.context);
    await this.#committer.submit(store, (tx, record) =>
      this.writeAttributes(tx, record, device.context.actor.id, device.deviceId, attributes),
    );
    return { points: Object.keys(attributes).length };
  }

  /**
   * A gateway's message for its children as ONE group-commit op whose every part is parsed
   * and checked before any is written: a refused op must have written nothing (see
   * GroupCommitter), and a refused message is sent again whole.
   */
  async children(
    gateway: DeviceIdentity,
    kind: 'telemetry' | 'attributes',
    messages: readonly ChildMessage[],
  ): Promise<IngestResult> {
    if (messages.length === 0) return { points: 0 };
    // Every payload parses before any child is found or created (a refused message creates no
    // device); the children's ids are the registry's own, so they need no check.
    const devices = () => Promise.all(messages.map((message) => message.device()));
    if (kind === 'attributes') {
      const attributes = messages.map(({ payload }) => parseAttributes(payload, this.#limits));
      const parts = (await devices()).map((device, i) => ({ device, attributes: attributes[i]! }));
      const store = await this.#locate(parts[0]!.device.context);
      await this.#committer.submit(store, async (tx, record) => {
        for (const { device } of parts)
          if ((await tx.devices.getDevice(device.deviceId)) === undefined) throw deviceNotFound();
        for (const { device, attributes } of parts)
          await this.writeAttributes(
            tx,
            record,
            device.context.actor.id,
            device.deviceId,
            attributes,
          );
      });
      return { points: parts.reduce((n, part) => n + Object.keys(part.attributes).length, 0) };
    }
    const times = this.#times(gateway.context, Date.now());
    const points = messages.map(({ payload }) => parseTelemetry(payload, times, this.#limits));
    const parts = (await devices()).map((device, i) => ({ device, points: points[i]! }));
    const store = await this.#locate(parts[0]!.device.context);
    for (const { device, points } of parts)
      this.#quotas?.admit(device.context, device.deviceId, points.length);
    await this.#committer.submit(store, async (tx, record) => {
      for (const { device, points } of parts) await this.#check(tx, device.deviceId, points);
      for (const { device, points } of parts)
        await this.#insert(tx, record, device.context.actor.id, device.deviceId, points);
    });
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

  /**
   * Merges client attributes inside a caller's group-commit op and records their ledger entry;
   * with `via` (the edge node and batch that vouched for them) the state is `{attributes, via}`.
   */
  async writeAttributes(
    tx: TenantWriteTx,
    record: (event: WriteEvent) => void,
    actor: string,
    deviceId: string,
    attributes: Record<string, unknown>,
    via?: Readonly<Record<string, unknown>>,
  ): Promise<void> {
    if (!(await tx.devices.mergeClientAttributes(deviceId, attributes, new Date().toISOString())))
      throw deviceNotFound();
    record({
      actor,
      action: 'device.attributes',
      resource: `devices/${deviceId}/attributes`,
      state: via === undefined ? attributes : { attributes, via },
    });
  }

  #publish(context: TenantContext, payload: TelemetryEventPayload): void {
    if (this.#bus === undefined) return;
    this.#bus
      .publish(context, {
        kind: 'telemetry',
        key: [payload.deviceId],
        id: `${context.tenantId}${TELEMETRY_EVENT_ID}${uuid7()}`,
        payload,
      })
      .catch((error: unknown) =>
        this.#logger?.warn(
          { code: (error as { code?: unknown }).code },
          'telemetry: bus publish failed',
        ),
      );
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
