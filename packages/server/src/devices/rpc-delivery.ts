import type { Logger } from 'pino';
import { isUuid } from '../ids/index.ts';
import type { TenantStoreLocator } from '../records/index.ts';
import type { RpcRow } from '../store/index.ts';
import type { TenantContext } from '../tenancy/index.ts';
import type { DeviceIdentity } from './device-contract.ts';
import type { AttachOptions, RpcRemote, RpcSender } from './rpc-contract.ts';
import { effective, type RpcStatusChange } from './rpc-status.ts';

/** Most queued requests sent to a device when it attaches, per round. */
const ATTACH_BATCH = 100;
/** A `sentBefore` no claim is younger than: every open request of the device. */
const EVERY_CLAIM = '9999-12-31T23:59:59.999Z';

/**
 * The delivery side of server-side RPC: the devices attached to this process and the
 * requests on their way to them. A request is claimed (queued → sent) before it is written,
 * delivered once the device acknowledges it, put back in the queue when the write fails or
 * no acknowledgement comes, and a device that attaches gets its queued requests; in
 * scale-out other processes ask this one to deliver to the devices attached here. Delivery
 * is at least once: a device may get a request again whose acknowledgement was lost.
 */
export class RpcDelivery {
  readonly #locate: TenantStoreLocator;
  readonly #change: RpcStatusChange;
  readonly #attached = new Map<string, Attached>();
  /** Deliveries in progress, by tenant and request id; settled when each ends. */
  readonly #sending = new Map<string, Promise<void>>();
  /** The same deliveries by tenant and device: a device's flush waits for them first. */
  readonly #sendingTo = new Map<string, Set<Promise<void>>>();
  /** Each attached sender's next look for claims that outlived their bound, if one is due. */
  readonly #rechecks = new Map<RpcSender, NodeJS.Timeout>();
  readonly #remote: RpcRemote | undefined;
  readonly #logger: Logger | undefined;

  constructor(options: {
    locate: TenantStoreLocator;
    change: RpcStatusChange;
    remote: RpcRemote | undefined;
    logger: Logger | undefined;
  }) {
    this.#locate = options.locate;
    this.#change = options.change;
    this.#remote = options.remote;
    this.#logger = options.logger;
  }

  attach(device: DeviceIdentity, send: RpcSender, options: AttachOptions = {}): () => void {
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
    this.#flushSoon(device, send, options.redeliverSentAfterMs);
    return () => {
      clearTimeout(this.#rechecks.get(send));
      this.#rechecks.delete(send);
      entry.senders.delete(send);
      if (entry.senders.size > 0 || this.#attached.get(key) !== entry) return;
      this.#attached.delete(key);
      entry.unserve?.();
    };
  }

  /** To this process's connections of the device first, then through another process. */
  async deliverAnywhere(context: TenantContext, row: RpcRow): Promise<boolean> {
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

  #flushSoon(device: DeviceIdentity, send: RpcSender, redeliverSentAfterMs?: number): void {
    // Nobody awaits this: a failure (the store unreachable, the tenant gone) must not become an
    // unhandled rejection, which would end the process and every connection with it.
    this.#flush(device, send, redeliverSentAfterMs).catch((error: unknown) =>
      this.#logger?.warn(
        { err: error, deviceId: device.deviceId },
        'rpc: sending queued requests to a device that attached failed; they go at its next attach',
      ),
    );
  }

  /**
   * Sends the device's queued requests, a round at a time, until none is left or `send` fails.
   * It starts once the device's deliveries in progress here have ended: one whose connection
   * failed puts its request back in the queue, where this flush must find it (an edge node
   * that did not confirm a request attaches its device again for that). With
   * `redeliverSentAfterMs`, requests sent longer ago and unanswered go out again too: their
   * delivery was never confirmed, and no process is waiting for it any more.
   */
  async #flush(
    device: DeviceIdentity,
    send: RpcSender,
    redeliverSentAfterMs?: number,
  ): Promise<void> {
    const deviceKey = `${device.context.tenantId}/${device.deviceId}`;
    await Promise.all(this.#sendingTo.get(deviceKey) ?? []);
    const reader = (await this.#locate(device.context)).reader;
    for (;;) {
      const now = Date.now();
      const sentBefore =
        redeliverSentAfterMs === undefined
          ? undefined
          : new Date(now - redeliverSentAfterMs).toISOString();
      const pending = await reader.devices.pendingRpcs(
        device.deviceId,
        new Date(now).toISOString(),
        ATTACH_BATCH,
        sentBefore,
      );
      for (const row of pending)
        if (!(await this.#deliver(device.context, row, send, sentBefore))) return;
      if (pending.length < ATTACH_BATCH) break;
    }
    if (redeliverSentAfterMs !== undefined)
      await this.#recheckClaims(device, send, redeliverSentAfterMs);
  }

  /**
   * A claim younger than the bound may be one a process that stopped made (a device
   * reconnects within seconds of a crash): while the sender stays attached, the device's
   * requests are looked at again once the oldest such claim has outlived the bound.
   */
  async #recheckClaims(
    device: DeviceIdentity,
    send: RpcSender,
    redeliverSentAfterMs: number,
  ): Promise<void> {
    const reader = (await this.#locate(device.context)).reader;
    const now = Date.now();
    const open = await reader.devices.pendingRpcs(
      device.deviceId,
      new Date(now).toISOString(),
      ATTACH_BATCH,
      EVERY_CLAIM,
    );
    const claimedAt = open.flatMap((row) =>
      row.status === 'sent' ? [Date.parse(row.updatedAt)] : [],
    );
    const attached = this.#attached.get(`${device.context.tenantId}/${device.deviceId}`);
    if (claimedAt.length === 0 || !attached?.senders.has(send)) return;
    clearTimeout(this.#rechecks.get(send));
    const due = Math.min(...claimedAt) + redeliverSentAfterMs + 1 - now;
    this.#rechecks.set(
      send,
      setTimeout(
        () => {
          this.#rechecks.delete(send);
          this.#flushSoon(device, send, redeliverSentAfterMs);
        },
        Math.max(0, due),
      ).unref(),
    );
  }

  /**
   * Sends the request if it is still queued; false when `send` could not take it. Resolves
   * once the request is written: the next one goes out without waiting for the device to
   * acknowledge this one. One delivery of a request at a time in this process, until its
   * acknowledgement settled: a flush that read it as queued while it was on its way to another
   * connection waits, then finds it sent or delivered (or queued again, if that connection
   * did not take it). Across processes the claim in #write decides.
   */
  async #deliver(
    context: TenantContext,
    row: RpcRow,
    send: RpcSender,
    sentBefore?: string,
  ): Promise<boolean> {
    const key = `${context.tenantId}/${row.id}`;
    for (let busy = this.#sending.get(key); busy !== undefined; busy = this.#sending.get(key))
      await busy;
    const deviceKey = `${context.tenantId}/${row.deviceId}`;
    // A connection that went while this delivery waited its turn takes nothing more.
    if (!this.#attached.get(deviceKey)?.senders.has(send)) return false;
    const written = this.#write(context, row, send, sentBefore);
    const settled = written.then(
      (outcome) => (typeof outcome === 'boolean' ? undefined : this.#settle(context, row, outcome)),
      () => undefined,
    );
    const toDevice = this.#sendingTo.get(deviceKey) ?? new Set();
    this.#sendingTo.set(deviceKey, toDevice.add(settled));
    this.#sending.set(key, settled);
    void settled.then(() => {
      if (this.#sending.get(key) === settled) this.#sending.delete(key);
      toDevice.delete(settled);
      if (toDevice.size === 0 && this.#sendingTo.get(deviceKey) === toDevice)
        this.#sendingTo.delete(deviceKey);
    });
    return (await written) !== false;
  }

  /**
   * Claims the request, then writes it to `send`. The claim (queued → sent, committed before
   * the write) is a conditional update only one process or connection wins, so a device
   * connected to several processes, each asked to deliver it, gets it once. The claim written,
   * or true when the request is not this call's to send; false when the write failed (the
   * claim is put back). With `sentBefore`, a request sent before it is claimed again (its
   * delivery was never confirmed).
   */
  async #write(
    context: TenantContext,
    row: RpcRow,
    send: RpcSender,
    sentBefore?: string,
  ): Promise<Claim | boolean> {
    const from = sentBefore === undefined ? (['queued'] as const) : (['queued', 'sent'] as const);
    const claimed = await this.#change(context, row.deviceId, row.id, from, {
      status: 'sent',
      ...(sentBefore === undefined ? {} : { sentBefore }),
    });
    if (claimed === undefined) return true;
    try {
      const { acknowledged } = await send({
        requestId: row.id,
        body: { method: row.method, params: row.params },
      });
      return { claimed, acknowledged };
    } catch {
      await this.#putBack(context, row, claimed);
      return false;
    }
  }

  /**
   * The device acknowledged the request: it is delivered (sent → delivered), and never sent
   * again, whichever claim the device acknowledged. Or it did not: the claim is put back.
   */
  async #settle(context: TenantContext, row: RpcRow, { claimed, acknowledged }: Claim) {
    try {
      if (await acknowledged)
        await this.#change(context, row.deviceId, row.id, ['sent'], { status: 'delivered' });
      else await this.#putBack(context, row, claimed);
    } catch (error) {
      // Left sent: it goes out again at the device's next attach past the sender's bound.
      this.#logger?.warn(
        { err: error, deviceId: row.deviceId },
        'rpc: recording what became of a request written to a device failed',
      );
    }
  }

  /**
   * Puts a claim that did not reach the device back in the queue (unless it was answered or
   * expired meanwhile); a device that is gone from this process meanwhile may be connected to
   * another by now, whose attach found the request claimed: the others are asked to deliver it.
   */
  async #putBack(context: TenantContext, row: RpcRow, claimed: RpcRow): Promise<void> {
    // Only this claim goes back, named by its own time: not one another process made since,
    // redelivering it, even within the same millisecond (its time is a later one).
    const back = await this.#change(context, row.deviceId, row.id, ['sent'], {
      status: 'queued',
      sentAt: claimed.updatedAt,
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
  }
}

/** A request this process claimed and wrote, waiting for the device to acknowledge it. */
interface Claim {
  readonly claimed: RpcRow;
  readonly acknowledged: Promise<boolean>;
}

interface Attached {
  /** The first connection's identity: its context reads the device's requests. */
  readonly device: DeviceIdentity;
  readonly senders: Set<RpcSender>;
  unserve: (() => void) | undefined;
}
