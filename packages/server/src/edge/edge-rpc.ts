import type { DeviceIdentity, RpcQueue } from '../devices/index.ts';
import { PalisadeError } from '../errors/index.ts';
import type { DeviceRow, TenantReader } from '../store/index.ts';
import type { TenantContext } from '../tenancy/index.ts';
import {
  completeUpdate,
  type EdgeSharedUpdate,
  partialUpdate,
  sharedDigest,
} from './edge-shared-attributes.ts';
import type { EdgeNodeSession } from './node-authentication.ts';

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
  /** Shared attributes of the node's devices, for a node that sent `sharedDigest`. */
  readonly shared?: EdgeSharedUpdate;
}

/** What a node sends: answers, the requests it got from its last poll, and how long to wait. */
export interface ExchangeInput {
  readonly responses: readonly RelayedResponse[];
  readonly received: readonly string[];
  readonly waitMs: number;
  /**
   * The digest of the node's copy of its devices' shared attributes, as the platform last
   * gave it (empty when it holds none); a node that keeps no copy sends none.
   */
  readonly sharedDigest?: string;
}

/** Devices of a node read per page when it polls. */
const DEVICE_PAGE = 1000;

/** A node that polls: its devices attached to the RPC queue, and what waits for its next poll. */
interface NodeLink {
  readonly key: string;
  readonly context: TenantContext;
  readonly attached: Map<string, () => void>;
  readonly mailbox: EdgeRpcRequest[];
  readonly polls: Set<() => void>;
  /** Devices whose shared attributes changed since the node's last poll began. */
  readonly changed: Set<string>;
  /** Whether the node keeps a copy of its devices' shared attributes. */
  shared: boolean;
  idle: NodeJS.Timeout | undefined;
}

/**
 * Platform RPC to devices behind an edge node (devices whose `edgeNodeId` names it). The
 * node calls `exchange` with its credential: it hands over its devices' answers and the ids
 * of the requests its last poll brought, then waits up to `waitMs` for requests. While the
 * node polls, it stands in for each of its devices as an attached sender of the RPC queue:
 * queued requests (kept while the link was down, until their deadline) are handed over when
 * it comes back, new ones at once, through a mailbox its polls drain. A request handed to
 * the mailbox is claimed (sent) by the RPC queue, and delivered once the node confirms it (in
 * its next exchange, or by answering it); unless that comes within `ackWaitMs`, it goes back
 * in the queue and its device is attached again, whose flush hands it out again, so a poll
 * answer lost with a killed node or a cut link loses nothing. A node that stops
 * polling for `ackWaitMs` is detached. The same polls carry its devices' shared attributes
 * (see edge-shared-attributes.ts): a change of one of them ends the poll waiting.
 */
export class EdgeRpcRelay {
  readonly #rpc: RpcQueue;
  readonly #ackWaitMs: number;
  readonly #links = new Map<string, NodeLink>();
  /** Senders waiting for the node to confirm a request. */
  readonly #unconfirmed = new Map<string, Set<(confirmed: boolean) => void>>();

  constructor(rpc: RpcQueue, options: { ackWaitMs: number }) {
    this.#rpc = rpc;
    this.#ackWaitMs = options.ackWaitMs;
  }

  async exchange(
    { context, store, node }: EdgeNodeSession,
    input: ExchangeInput,
    /** Aborted when the node hangs up: the poll ends, so nothing more is handed to it. */
    gone?: AbortSignal,
  ): Promise<Exchange> {
    const linkKey = `${context.tenantId}/${node.id}`;
    const key = (requestId: string) => `${linkKey}/${requestId}`;
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
    const link = this.#links.get(linkKey) ?? this.#newLink(linkKey, context);
    clearTimeout(link.idle);
    link.shared = input.sharedDigest !== undefined;
    const devices = await this.#attach(link, store.reader, node.id, key);
    // The node's copy is not what the platform holds: it gets all of it, without waiting.
    const stale = link.shared && sharedDigest(devices) !== input.sharedDigest;
    if (stale) link.changed.clear();
    const requests = await this.#poll(link, stale ? 0 : input.waitMs, gone);
    if (link.polls.size === 0)
      link.idle = setTimeout(() => this.#drop(linkKey), this.#ackWaitMs).unref();
    const shared = !link.shared
      ? undefined
      : stale
        ? completeUpdate(devices)
        : await this.#changes(link, store.reader, node.id, devices);
    return { results, requests, ...(shared === undefined ? {} : { shared }) };
  }

  /**
   * The devices whose shared attributes changed during the poll, read again, laid over
   * `held`; all of the node's devices when one of them is no longer, or not yet, in `held`.
   */
  async #changes(
    link: NodeLink,
    reader: TenantReader,
    nodeId: string,
    held: readonly DeviceRow[],
  ): Promise<EdgeSharedUpdate | undefined> {
    if (link.changed.size === 0) return undefined;
    const ids = [...link.changed];
    link.changed.clear();
    const known = new Set(held.map((d) => d.id));
    const changed: DeviceRow[] = [];
    for (const id of ids) {
      const row = await reader.devices.getDevice(id);
      if (row?.edgeNodeId !== nodeId || !known.has(id))
        return completeUpdate(await devicesOf(reader, nodeId));
      changed.push(row);
    }
    return partialUpdate(held, changed);
  }

  /** A device's shared attributes changed (committed): the poll of its node, if any, ends. */
  sharedAttributesChanged(change: { tenantId: string; deviceId: string }): void {
    for (const link of this.#links.values()) {
      if (!link.shared || link.context.tenantId !== change.tenantId) continue;
      if (!link.attached.has(change.deviceId)) continue;
      link.changed.add(change.deviceId);
      for (const wake of link.polls) wake();
    }
  }

  #newLink(linkKey: string, context: TenantContext): NodeLink {
    const link: NodeLink = {
      key: linkKey,
      context,
      attached: new Map(),
      mailbox: [],
      polls: new Set(),
      changed: new Set(),
      shared: false,
      idle: undefined,
    };
    this.#links.set(linkKey, link);
    return link;
  }

  /**
   * Attaches the node's devices not attached yet, and detaches those no longer its own;
   * returns the node's devices.
   */
  async #attach(
    link: NodeLink,
    reader: TenantReader,
    nodeId: string,
    key: (requestId: string) => string,
  ): Promise<DeviceRow[]> {
    const devices = await devicesOf(reader, nodeId);
    const ids = new Set(devices.map((d) => d.id));
    for (const [id, off] of link.attached)
      if (!ids.has(id)) {
        off();
        link.attached.delete(id);
      }
    for (const device of devices)
      if (!link.attached.has(device.id)) this.#attachDevice(link, reader, device, key);
    return devices;
  }

  #attachDevice(
    link: NodeLink,
    reader: TenantReader,
    device: DeviceRow,
    key: (requestId: string) => string,
  ): void {
    const off = this.#rpc.attach(
      identity(link.context, device),
      async (request) => {
        const row = await reader.devices.getRpc(device.id, request.requestId);
        link.mailbox.push({
          requestId: request.requestId,
          deviceId: device.id,
          method: request.body.method,
          params: request.body.params,
          expiresAt: row?.expiresAt ?? new Date().toISOString(),
        });
        for (const wake of link.polls) wake();
        const acknowledged = this.#confirmation(key(request.requestId)).then((confirmed) => {
          // Not confirmed: attach the device again, which hands its queued requests out again
          // once this one is back among them.
          if (!confirmed && link.attached.get(device.id) === off) {
            off();
            link.attached.delete(device.id);
            if (this.#links.get(link.key) === link) this.#attachDevice(link, reader, device, key);
          }
          return confirmed;
        });
        return { acknowledged };
      },
      { redeliverSentAfterMs: this.#ackWaitMs },
    );
    link.attached.set(device.id, off);
  }

  async #poll(link: NodeLink, waitMs: number, gone: AbortSignal | undefined) {
    if (link.mailbox.length === 0 && link.changed.size === 0 && waitMs > 0) {
      let wake: () => void = () => {};
      const woken = new Promise<void>((resolve) => {
        wake = resolve;
      });
      link.polls.add(wake);
      gone?.addEventListener('abort', wake, { once: true });
      const timer = setTimeout(wake, waitMs);
      await woken;
      clearTimeout(timer);
      link.polls.delete(wake);
      gone?.removeEventListener('abort', wake);
    }
    if (gone?.aborted === true) return [];
    const now = new Date().toISOString();
    return link.mailbox.splice(0).filter((r) => r.expiresAt > now);
  }

  /** The node stopped polling: its devices are detached (unconfirmed requests stay queued). */
  #drop(linkKey: string): void {
    const link = this.#links.get(linkKey);
    if (link === undefined || link.polls.size > 0) return;
    this.#links.delete(linkKey);
    for (const off of link.attached.values()) off();
    link.attached.clear();
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

  /** True when the node confirms `key`; false after `ackWaitMs`. */
  #confirmation(key: string): Promise<boolean> {
    return new Promise((resolve) => {
      const waiting = this.#unconfirmed.get(key) ?? new Set();
      this.#unconfirmed.set(key, waiting);
      const settle = (confirmed: boolean) => {
        clearTimeout(timer);
        waiting.delete(settle);
        if (waiting.size === 0 && this.#unconfirmed.get(key) === waiting)
          this.#unconfirmed.delete(key);
        resolve(confirmed);
      };
      const timer = setTimeout(() => settle(false), this.#ackWaitMs).unref();
      waiting.add(settle);
    });
  }

  /** Answers every waiting poll now and detaches every node (at shutdown). */
  close(): void {
    for (const [linkKey, link] of this.#links) {
      for (const wake of link.polls) wake();
      clearTimeout(link.idle);
      link.polls.clear();
      this.#drop(linkKey);
    }
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
