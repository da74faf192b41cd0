import type { Logger } from 'pino';
import type { GroupCommitter } from '../commit/index.ts';
import { PalisadeError } from '../errors/index.ts';
import { isUuid, uuid7 } from '../ids/index.ts';
import type { TenantStoreLocator } from '../records/index.ts';
import type { RpcRow } from '../store/index.ts';
import type { TenantContext } from '../tenancy/index.ts';
import { setLongTimeout } from '../timers/index.ts';
import type { DeviceIdentity } from './device-contract.ts';
import { checkDeviceId, deviceNotFound } from './device-writes.ts';
import type { AttachOptions, RpcInput, RpcQueue, RpcRemote, RpcSender } from './rpc-contract.ts';
import { RpcDelivery } from './rpc-delivery.ts';
import {
  effective,
  isOpen,
  OPEN_STATUSES,
  type RpcStatusChange,
  rpcNotFound,
  rpcStatusChange,
} from './rpc-status.ts';

/**
 * Server-side RPC. Every request is stored in the tenant's store (a ledger entry) with an
 * expiry; a persistent one waits for its device to attach, a non-persistent one is delivered
 * now and the call waits for the answer until `timeoutMs`. Delivery is to devices attached
 * to this process (the listeners call `attach`) or, in scale-out, through the process that
 * holds the device's connection (`RpcRemote`); status changes are ledgered too.
 */
export class RpcService implements RpcQueue {
  readonly #locate: TenantStoreLocator;
  readonly #committer: GroupCommitter;
  readonly #defaultTimeoutMs: number;
  readonly #maxTimeoutMs: number;
  readonly #queueMax: number;
  readonly #waiters = new Map<string, Waiter>();
  readonly #remote: RpcRemote | undefined;
  readonly #change: RpcStatusChange;
  readonly #delivery: RpcDelivery;

  constructor(options: {
    locate: TenantStoreLocator;
    committer: GroupCommitter;
    defaultTimeoutMs: number;
    maxTimeoutMs: number;
    /** Most queued persistent requests of one device (`rpcQueueMax`). */
    queueMax: number;
    /** Set in scale-out: devices may be connected to other processes. */
    remote?: RpcRemote | undefined;
    logger?: Logger | undefined;
  }) {
    this.#remote = options.remote;
    this.#locate = options.locate;
    this.#committer = options.committer;
    this.#defaultTimeoutMs = options.defaultTimeoutMs;
    this.#maxTimeoutMs = options.maxTimeoutMs;
    this.#queueMax = options.queueMax;
    this.#change = rpcStatusChange(options.locate, options.committer);
    this.#delivery = new RpcDelivery({
      locate: options.locate,
      change: this.#change,
      remote: options.remote,
      logger: options.logger,
    });
  }

  /** Stores the request; delivers it to the device if attached; waits for the answer unless persistent. */
  async create(context: TenantContext, deviceId: string, input: RpcInput): Promise<RpcRow> {
    checkDeviceId(deviceId);
    const timeoutMs = input.timeoutMs ?? this.#defaultTimeoutMs;
    if (timeoutMs > this.#maxTimeoutMs)
      throw new PalisadeError(
        'PALISADE_INVALID_REQUEST',
        `timeoutMs exceeds rpcTimeoutMaxMs (${this.#maxTimeoutMs})`,
        [{ path: '/body/timeoutMs', message: `must be at most ${this.#maxTimeoutMs}` }],
      );
    const now = Date.now();
    const row: RpcRow = {
      id: uuid7(),
      deviceId,
      method: input.method,
      params: input.params ?? null,
      persistent: input.persistent ?? false,
      status: 'queued',
      response: null,
      error: null,
      createdAt: new Date(now).toISOString(),
      expiresAt: new Date(now + timeoutMs).toISOString(),
      updatedAt: new Date(now).toISOString(),
    };
    const store = await this.#locate(context);
    let viaEdge = false;
    await this.#committer.submit(store, async (tx, record) => {
      // Counted under the device's lock, so concurrent requests cannot pass the bound together.
      const queued = row.persistent ? await tx.devices.lockRpcQueue(deviceId, row.createdAt) : 0;
      if (queued !== undefined && queued >= this.#queueMax)
        throw new PalisadeError(
          'PALISADE_RPC_QUEUE_LIMIT',
          `the device has ${queued} queued persistent RPC requests, the most allowed (rpcQueueMax)`,
        );
      const device = await tx.devices.getDevice(deviceId);
      if (device === undefined) throw deviceNotFound();
      viaEdge = device.edgeNodeId !== null;
      await tx.devices.insertRpc(row);
      record({
        actor: context.actor.id,
        action: 'rpc.create',
        resource: `devices/${deviceId}/rpc/${row.id}`,
        state: {
          method: row.method,
          params: row.params,
          persistent: row.persistent,
          expiresAt: row.expiresAt,
        },
      });
    });
    if (row.persistent) {
      await this.#delivery.deliverAnywhere(context, row);
      return this.#settled(context, row);
    }
    const answered = new Promise<RpcRow>((resolve) =>
      this.#waiters.set(row.id, { context, deviceId, resolve }),
    );
    const delivered = await this.#delivery.deliverAnywhere(context, row);
    // A device behind an edge node is reached through the node's next poll: the request stays
    // queued (and the call waits) until the node takes it or the deadline passes.
    if (!delivered && !viaEdge) {
      const failed = await this.#change(context, deviceId, row.id, ['queued'], {
        status: 'failed',
        error: 'the device is not connected',
      });
      // Not queued any more: expired or answered, or sent by a process whose reply to the
      // delivery request came after another's "not delivered" (then the call waits).
      const now = failed ?? (await this.#settled(context, row));
      if (!isOpen(now.status)) {
        this.#waiters.delete(row.id);
        return now;
      }
    }
    let cancel: (() => void) | undefined;
    const timedOut = new Promise<undefined>((resolve) => {
      cancel = setLongTimeout(() => resolve(undefined), timeoutMs);
    });
    const answer = await Promise.race([answered, timedOut]);
    cancel?.();
    this.#waiters.delete(row.id);
    if (answer !== undefined) return answer;
    // Not expired when the answer came but its notice from another process did not.
    return (
      (await this.#change(context, deviceId, row.id, OPEN_STATUSES, { status: 'expired' })) ??
      (await store.reader.devices.getRpc(deviceId, row.id)) ??
      row
    );
  }

  /**
   * The request as it stands when its call ends. One past its expiry is marked expired now,
   * as a two-way call's timeout marks it, so the answer, the store and later reads agree.
   */
  async #settled(context: TenantContext, row: RpcRow): Promise<RpcRow> {
    const reader = (await this.#locate(context)).reader;
    const current = (await reader.devices.getRpc(row.deviceId, row.id)) ?? row;
    if (effective(current, new Date().toISOString()) === current) return current;
    const expired = await this.#change(context, row.deviceId, row.id, OPEN_STATUSES, {
      status: 'expired',
    });
    if (expired !== undefined) return expired;
    const now = new Date().toISOString();
    return effective((await reader.devices.getRpc(row.deviceId, row.id)) ?? current, now);
  }

  async get(context: TenantContext, deviceId: string, id: string): Promise<RpcRow> {
    checkDeviceId(deviceId);
    if (!isUuid(id)) throw rpcNotFound();
    const row = await (await this.#locate(context)).reader.devices.getRpc(deviceId, id);
    if (row === undefined) throw rpcNotFound();
    return effective(row, new Date().toISOString());
  }

  attach(device: DeviceIdentity, send: RpcSender, options?: AttachOptions): () => void {
    return this.#delivery.attach(device, send, options);
  }

  /** Another process took the answer to `rpcId`: a call waiting here re-reads it. */
  async answeredElsewhere(tenantId: string, deviceId: string, rpcId: string): Promise<void> {
    const waiter = this.#waiters.get(rpcId);
    if (
      waiter === undefined ||
      waiter.context.tenantId !== tenantId ||
      waiter.deviceId !== deviceId
    )
      return;
    const row = await (await this.#locate(waiter.context)).reader.devices.getRpc(deviceId, rpcId);
    if (row !== undefined && !isOpen(row.status)) waiter.resolve(row);
  }

  /**
   * The device answered: the request succeeds with `payload`. Throws PALISADE_RPC_NOT_FOUND
   * when the device has no such request, PALISADE_RPC_NOT_PENDING when it is answered,
   * failed or expired (the first answer stands).
   */
  async respond(device: DeviceIdentity, requestId: string, payload: unknown): Promise<void> {
    if (!isUuid(requestId)) throw rpcNotFound();
    const row = await this.#change(device.context, device.deviceId, requestId, OPEN_STATUSES, {
      status: 'succeeded',
      response: payload ?? null,
    });
    if (row === undefined) {
      const { reader } = await this.#locate(device.context);
      if ((await reader.devices.getRpc(device.deviceId, requestId)) === undefined)
        throw rpcNotFound();
      throw new PalisadeError(
        'PALISADE_RPC_NOT_PENDING',
        'the RPC request is not pending (answered, failed or expired)',
      );
    }
    const waiter = this.#waiters.get(requestId);
    if (waiter !== undefined) waiter.resolve(row);
    else this.#remote?.answered(device.context.tenantId, device.deviceId, requestId);
  }
}

interface Waiter {
  readonly context: TenantContext;
  readonly deviceId: string;
  readonly resolve: (row: RpcRow) => void;
}
