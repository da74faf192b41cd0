import type { DeviceIdentity, RpcQueue } from '../devices/index.ts';
import { PalisadeError } from '../errors/index.ts';
import type { DeviceRow, TenantReader } from '../store/index.ts';
import type { TenantContext } from '../tenancy/index.ts';
import type { EdgeService } from './edge-service.ts';

/** A device's answer, relayed by its edge node. */
export interface RelayedResponse {
  readonly requestId: string;
  readonly deviceId: string;
  readonly response: unknown;
}

/** What became of a relayed answer: taken, or why not (answered already, expired, unknown). */
export interface ResponseOutcome {
  readonly requestId: string;
  readonly outcome: 'accepted' | 'not-pending' | 'not-found';
}

/** A request for a device behind the node, with the deadline the node must keep too. */
export interface EdgeRpcRequest {
  readonly requestId: string;
  readonly deviceId: string;
  readonly method: string;
  readonly params: unknown;
  readonly expiresAt: string;
}

export interface Exchange {
  readonly results: readonly ResponseOutcome[];
  readonly requests: readonly EdgeRpcRequest[];
}

/** What a node sends: answers, the requests it got from its last poll, and how long to wait. */
export interface ExchangeInput {
  readonly responses: readonly RelayedResponse[];
  readonly received: readonly string[];
  readonly waitMs: number;
}

/** Devices of a node read per page when it waits for requests. */
const DEVICE_PAGE = 1000;

/**
 * Platform RPC to devices behind an edge node (devices whose `edgeNodeId` names it). The
 * node calls `exchange` with its credential: it hands over its devices' answers and the ids
 * of the requests its last poll brought, then waits up to `waitMs` for requests. While it
 * waits, the node stands in for each of its devices as an attached sender of the RPC queue,
 * so queued requests (kept while the link was down, until their deadline) and new ones are
 * handed to it at once. A request counts as sent only once the node confirms it (in its next
 * exchange, or by answering it) within `ackWaitMs`; otherwise it stays queued for a later
 * poll, so a poll whose answer was lost (node killed, link cut) loses nothing.
 */
export class EdgeRpcRelay {
  readonly #edge: EdgeService;
  readonly #rpc: RpcQueue;
  readonly #ackWaitMs: number;
  readonly #polls = new Set<() => void>();
  /** Senders waiting for the node to confirm a request (one per poll it was handed to). */
  readonly #unconfirmed = new Map<string, Set<(confirmed: boolean) => void>>();

  constructor(edge: EdgeService, rpc: RpcQueue, options: { ackWaitMs: number }) {
    this.#edge = edge;
    this.#rpc = rpc;
    this.#ackWaitMs = options.ackWaitMs;
  }

  async exchange(
    authorization: string | undefined,
    input: ExchangeInput,
    /** Aborted when the node hangs up: the poll ends, so nothing more is handed to it. */
    gone?: AbortSignal,
  ): Promise<Exchange> {
    const { context, store, node } = await this.#edge.authenticate(authorization);
    const key = (requestId: string) => `${context.tenantId}/${node.id}/${requestId}`;
    for (const id of input.received) this.#confirm(key(id));
    const results: ResponseOutcome[] = [];
    for (const r of input.responses) {
      const device = await store.reader.devices.getDevice(r.deviceId);
      this.#confirm(key(r.requestId));
      results.push({
        requestId: r.requestId,
        outcome:
          device?.edgeNodeId === node.id
            ? await this.#respond(identity(context, device), r)
            : 'not-found',
      });
    }
    if (input.waitMs === 0 || gone?.aborted === true) return { results, requests: [] };
    const devices = await devicesOf(store.reader, node.id);
    const requests = await this.#wait(context, store.reader, devices, input.waitMs, key, gone);
    return { results, requests };
  }

  async #respond(device: DeviceIdentity, r: RelayedResponse): Promise<ResponseOutcome['outcome']> {
    try {
      await this.#rpc.respond(device, r.requestId, r.response);
      return 'accepted';
    } catch (error) {
      if (!(error instanceof PalisadeError)) throw error;
      return error.code === 'PALISADE_RPC_NOT_PENDING' ? 'not-pending' : 'not-found';
    }
  }

  #confirm(key: string): void {
    for (const settle of this.#unconfirmed.get(key) ?? []) settle(true);
  }

  /** Resolves when the node confirms `key`; rejects after `ackWaitMs` (the request stays queued). */
  #confirmation(key: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const waiting = this.#unconfirmed.get(key) ?? new Set();
      this.#unconfirmed.set(key, waiting);
      const settle = (confirmed: boolean) => {
        clearTimeout(timer);
        waiting.delete(settle);
        if (waiting.size === 0 && this.#unconfirmed.get(key) === waiting)
          this.#unconfirmed.delete(key);
        if (confirmed) resolve();
        else reject(new Error('the edge node did not confirm the request; it stays queued'));
      };
      const timer = setTimeout(() => settle(false), this.#ackWaitMs).unref();
      waiting.add(settle);
    });
  }

  async #wait(
    context: TenantContext,
    reader: TenantReader,
    devices: readonly DeviceRow[],
    waitMs: number,
    key: (requestId: string) => string,
    gone: AbortSignal | undefined,
  ): Promise<EdgeRpcRequest[]> {
    const requests: EdgeRpcRequest[] = [];
    let open = true;
    let wake: () => void = () => {};
    const woken = new Promise<void>((resolve) => {
      wake = resolve;
    });
    this.#polls.add(wake);
    gone?.addEventListener('abort', wake, { once: true });
    const detach = devices.map((device) =>
      this.#rpc.attach(identity(context, device), async (request) => {
        const row = await reader.devices.getRpc(device.id, request.requestId);
        // Checked after the read, right before the push: a request is never handed to a poll
        // that has already answered (it stays queued for the next one).
        if (!open) throw new Error('this poll has been answered; the next one takes the request');
        requests.push({
          requestId: request.requestId,
          deviceId: device.id,
          method: request.body.method,
          params: request.body.params,
          expiresAt: row?.expiresAt ?? new Date().toISOString(),
        });
        wake();
        await this.#confirmation(key(request.requestId));
      }),
    );
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      woken,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, waitMs);
      }),
    ]);
    open = false;
    clearTimeout(timer);
    this.#polls.delete(wake);
    gone?.removeEventListener('abort', wake);
    for (const off of detach) off();
    return requests;
  }

  /** Answers every waiting poll now (at shutdown), so none holds the server open. */
  close(): void {
    for (const wake of this.#polls) wake();
  }
}

function identity(context: TenantContext, device: DeviceRow): DeviceIdentity {
  return { context, deviceId: device.id, deviceName: device.name, isGateway: device.isGateway };
}

async function devicesOf(reader: TenantReader, nodeId: string): Promise<DeviceRow[]> {
  const devices: DeviceRow[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await reader.devices.listEdgeNodeDevices(nodeId, { after, limit: DEVICE_PAGE });
    devices.push(...page);
    if (page.length < DEVICE_PAGE) return devices;
    after = page.at(-1)?.id;
  }
}
