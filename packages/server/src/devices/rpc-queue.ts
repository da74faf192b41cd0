import type { Logger } from 'pino';
import type { GroupCommitter } from '../commit/index.ts';
import { PalisadeError } from '../errors/index.ts';
import { isUuid, uuid7 } from '../ids/index.ts';
import type { TenantStoreLocator } from '../records/index.ts';
import type { RpcRow, RpcStatus } from '../store/index.ts';
import type { TenantContext } from '../tenancy/index.ts';
import { setLongTimeout } from '../timers/index.ts';
import type { DeviceIdentity } from './device-contract.ts';
import { checkDeviceId, deviceNotFound } from './device-registry.ts';

/** A request on its way to a device: ThingsBoard's `{ method, params }` under a request id. */
export interface OutgoingRpc {
  readonly requestId: string;
  readonly body: { readonly method: string; readonly params: unknown };
}

/** Writes one request to a connected device; resolves once it is on the wire. */
export type RpcSender = (request: OutgoingRpc) => Promise<void>;

/**
 * The RPC queue as a protocol listener sees it (MQTT: `v1/devices/me/rpc/request/+` and
 * `…/response/{id}`). The request id is the RPC's UUID.
 */
export interface RpcQueue {
  /** The device listens for requests: it gets its queued ones now and new ones as they come. */
  attach(device: DeviceIdentity, send: RpcSender): () => void;
  /** The device answered request `requestId`. */
  respond(device: DeviceIdentity, requestId: string, payload: unknown): Promise<void>;
}

/**
 * RPC across processes (scale-out): the process that stored a request asks the others to
 * deliver it, and the process that took the answer tells the others. Only ids cross; each
 * side reads the request from the tenant's store under its own device's or caller's context.
 */
export interface RpcRemote {
  /** Asks the process holding the device's connection to deliver `rpcId`; true when one did. */
  deliver(tenantId: string, deviceId: string, rpcId: string): Promise<boolean>;
  /** Tells the other processes that `rpcId` of the device was answered. */
  answered(tenantId: string, deviceId: string, rpcId: string): void;
  /** Takes delivery requests for an attached device until the returned function is called. */
  serve(
    tenantId: string,
    deviceId: string,
    deliver: (rpcId: string) => Promise<boolean>,
  ): () => void;
}

export interface RpcInput {
  readonly method: string;
  readonly params?: unknown;
  readonly timeoutMs?: number | undefined;
  readonly persistent?: boolean | undefined;
}

/** Most queued requests sent to a device when it attaches, per round. */
const ATTACH_BATCH = 100;

function rpcNotFound(): PalisadeError {
  return new PalisadeError('PALISADE_RPC_NOT_FOUND', 'no such RPC request');
}

/** As shown: a queued or sent request past its expiry reads as expired before the job marks it. */
function effective(row: RpcRow, now: string): RpcRow {
  const open = row.status === 'queued' || row.status === 'sent';
  return open && row.expiresAt <= now ? { ...row, status: 'expired' } : row;
}

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
  readonly #attached = new Map<string, Attached>();
  readonly #waiters = new Map<string, Waiter>();
  /** Deliveries in progress, by tenant and request id; settled when each ends. */
  readonly #sending = new Map<string, Promise<void>>();
  /** The same deliveries by tenant and device: a device's flush waits for them first. */
  readonly #sendingTo = new Map<string, Set<Promise<void>>>();
  readonly #remote: RpcRemote | undefined;
  readonly #logger: Logger | undefined;

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
    this.#logger = options.logger;
    this.#locate = options.locate;
    this.#committer = options.committer;
    this.#defaultTimeoutMs = options.defaultTimeoutMs;
    this.#maxTimeoutMs = options.maxTimeoutMs;
    this.#queueMax = options.queueMax;
  }

  async #change(
    context: TenantContext,
    deviceId: string,
    id: string,
    from: readonly RpcStatus[],
    change: { status: RpcStatus; response?: unknown; error?: string | null },
  ): Promise<RpcRow | undefined> {
    const store = await this.#locate(context);
    return this.#committer.submit(store, async (tx, record) => {
      const now = new Date().toISOString();
      // Past its expiry a request reads as expired (see effective) until the retention job
      // marks it so; it must not change in the meantime, into succeeded least of all.
      if (change.status !== 'expired') {
        const current = await tx.devices.getRpc(deviceId, id);
        if (current === undefined || !from.includes(effective(current, now).status))
          return undefined;
      }
      const row = await tx.devices.updateRpc(deviceId, id, from, change, now);
      if (row === undefined) return undefined;
      record({
        actor: context.actor.id,
        action: `rpc.${change.status}`,
        resource: `devices/${deviceId}/rpc/${id}`,
        state: { status: row.status, response: row.response ?? null, error: row.error },
      });
      return row;
    });
  }

  /**
   * Sends the request if it is still queued; false when `send` could not take it. One
   * delivery of a request at a time in this process: a flush that read it as queued while it
   * was on its way to another connection waits, then finds it sent (or queued again, if that
   * connection could not take it). Across processes the claim in #sendQueued decides.
   */
  async #deliver(context: TenantContext, row: RpcRow, send: RpcSender): Promise<boolean> {
    const key = `${context.tenantId}/${row.id}`;
    for (let busy = this.#sending.get(key); busy !== undefined; busy = this.#sending.get(key))
      await busy;
    const deviceKey = `${context.tenantId}/${row.deviceId}`;
    // A connection that went while this delivery waited its turn takes nothing more.
    if (!this.#attached.get(deviceKey)?.senders.has(send)) return false;
    const sent = this.#sendQueued(context, row, send);
    const settled = sent.then(
      () => undefined,
      () => undefined,
    );
    const toDevice = this.#sendingTo.get(deviceKey) ?? new Set();
    this.#sendingTo.set(deviceKey, toDevice.add(settled));
    this.#sending.set(key, settled);
    try {
      return await sent;
    } finally {
      if (this.#sending.get(key) === settled) this.#sending.delete(key);
      toDevice.delete(settled);
      if (toDevice.size === 0 && this.#sendingTo.get(deviceKey) === toDevice)
        this.#sendingTo.delete(deviceKey);
    }
  }

  /**
   * Claims the request, then writes it to `send`. The claim (queued → sent, committed before
   * the write) is a conditional update only one process or connection wins, so a device
   * connected to several processes, each asked to deliver it, gets it once; true when the
   * request went out or is not this call's to send. A write that fails puts the request back
   * in the queue (unless it was answered or expired meanwhile) and returns false; a device
   * that is gone from this process meanwhile may be connected to another by now, whose
   * attach found the request claimed: the others are asked to deliver it.
   */
  async #sendQueued(context: TenantContext, row: RpcRow, send: RpcSender): Promise<boolean> {
    const claimed = await this.#change(context, row.deviceId, row.id, ['queued'], {
      status: 'sent',
    });
    if (claimed === undefined) return true;
    try {
      await send({ requestId: row.id, body: { method: row.method, params: row.params } });
      return true;
    } catch {
      const back = await this.#change(context, row.deviceId, row.id, ['sent'], {
        status: 'queued',
      });
      // Never to this process: it serves only devices attached here.
      if (back !== undefined && !this.#attached.has(`${context.tenantId}/${row.deviceId}`))
        this.#remote
          ?.deliver(context.tenantId, row.deviceId, row.id)
          .catch((error: unknown) =>
            this.#logger?.warn(
              { err: error, deviceId: row.deviceId },
              'rpc: offering a request put back to other processes failed; it goes at the next attach',
            ),
          );
      return false;
    }
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
      await this.#deliverAnywhere(context, row);
      return this.#settled(context, row);
    }
    const answered = new Promise<RpcRow>((resolve) =>
      this.#waiters.set(row.id, { context, deviceId, resolve }),
    );
    const delivered = await this.#deliverAnywhere(context, row);
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
      if (now.status !== 'sent') {
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
      (await this.#change(context, deviceId, row.id, ['queued', 'sent'], { status: 'expired' })) ??
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
    const expired = await this.#change(context, row.deviceId, row.id, ['queued', 'sent'], {
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

  /** To this process's connections of the device first, then through another process. */
  async #deliverAnywhere(context: TenantContext, row: RpcRow): Promise<boolean> {
    const attached = this.#attached.get(`${context.tenantId}/${row.deviceId}`);
    for (const send of [...(attached?.senders ?? [])])
      if (await this.#deliver(context, row, send)) return true;
    return (await this.#remote?.deliver(context.tenantId, row.deviceId, row.id)) ?? false;
  }

  /** Another process asked: deliver `rpcId` if it is still queued for this attached device. */
  async #deliverHere(attached: Attached, rpcId: string): Promise<boolean> {
    if (!isUuid(rpcId)) return false;
    const { context, deviceId } = attached.device;
    const row = await (await this.#locate(context)).reader.devices.getRpc(deviceId, rpcId);
    if (row === undefined || effective(row, new Date().toISOString()).status !== 'queued')
      return false;
    for (const send of [...attached.senders])
      if (await this.#deliver(context, row, send)) return true;
    return false;
  }

  attach(device: DeviceIdentity, send: RpcSender): () => void {
    const key = `${device.context.tenantId}/${device.deviceId}`;
    let attached = this.#attached.get(key);
    if (attached === undefined) {
      const entry: Attached = { device, senders: new Set(), unserve: undefined };
      entry.unserve = this.#remote?.serve(device.context.tenantId, device.deviceId, (rpcId) =>
        this.#deliverHere(entry, rpcId),
      );
      attached = entry;
      this.#attached.set(key, attached);
    }
    const entry = attached;
    entry.senders.add(send);
    // Nobody awaits this: a failure (the store unreachable, the tenant gone) must not become an
    // unhandled rejection, which would end the process and every connection with it.
    this.#flush(device, send).catch((error: unknown) =>
      this.#logger?.warn(
        { err: error, deviceId: device.deviceId },
        'rpc: sending queued requests to a device that attached failed; they go at its next attach',
      ),
    );
    return () => {
      entry.senders.delete(send);
      if (entry.senders.size > 0 || this.#attached.get(key) !== entry) return;
      this.#attached.delete(key);
      entry.unserve?.();
    };
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
    if (row !== undefined && row.status !== 'queued' && row.status !== 'sent') waiter.resolve(row);
  }

  /**
   * Sends the device's queued requests, a round at a time, until none is left or `send` fails.
   * It starts once the device's deliveries in progress here have ended: one whose connection
   * failed puts its request back in the queue, where this flush must find it (an edge node
   * that did not confirm a request attaches its device again for that).
   */
  async #flush(device: DeviceIdentity, send: RpcSender): Promise<void> {
    const deviceKey = `${device.context.tenantId}/${device.deviceId}`;
    await Promise.all(this.#sendingTo.get(deviceKey) ?? []);
    const reader = (await this.#locate(device.context)).reader;
    for (;;) {
      const pending = await reader.devices.pendingRpcs(
        device.deviceId,
        new Date().toISOString(),
        ATTACH_BATCH,
      );
      for (const row of pending) if (!(await this.#deliver(device.context, row, send))) return;
      if (pending.length < ATTACH_BATCH) return;
    }
  }

  /**
   * The device answered: the request succeeds with `payload`. Throws PALISADE_RPC_NOT_FOUND
   * when the device has no such request, PALISADE_RPC_NOT_PENDING when it is answered,
   * failed or expired (the first answer stands).
   */
  async respond(device: DeviceIdentity, requestId: string, payload: unknown): Promise<void> {
    if (!isUuid(requestId)) throw rpcNotFound();
    const row = await this.#change(device.context, device.deviceId, requestId, ['queued', 'sent'], {
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

interface Attached {
  /** The first connection's identity: its context reads the device's requests. */
  readonly device: DeviceIdentity;
  readonly senders: Set<RpcSender>;
  unserve: (() => void) | undefined;
}

interface Waiter {
  readonly context: TenantContext;
  readonly deviceId: string;
  readonly resolve: (row: RpcRow) => void;
}
