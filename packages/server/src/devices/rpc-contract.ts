import type { DeviceIdentity } from './device-contract.ts';

/** A request on its way to a device: ThingsBoard's `{ method, params }` under a request id. */
export interface OutgoingRpc {
  readonly requestId: string;
  readonly body: { readonly method: string; readonly params: unknown };
}

/** A request written to a device's connection. */
export interface RpcWritten {
  /**
   * True once the device acknowledged the request (its MQTT PUBACK, an edge node's
   * confirmation); false when it will not: the connection ended first, or no acknowledgement
   * came in the sender's time. Never rejects.
   */
  readonly acknowledged: Promise<boolean>;
}

/**
 * Writes one request to a connected device; resolves once it is on its way, rejects when it
 * could not be written. The request stays `sent` until `acknowledged` tells.
 */
export type RpcSender = (request: OutgoingRpc) => Promise<RpcWritten>;

/** How a sender takes requests. */
export interface AttachOptions {
  /**
   * The sender acknowledges what it takes within this long (its bound on `acknowledged`): a
   * request sent (claimed) longer ago and neither acknowledged nor answered is one whose
   * delivery ended unconfirmed, its process gone with it, and is sent to this sender again.
   * Without it, a sent request stays sent until its process tells.
   */
  readonly redeliverSentAfterMs?: number;
}

/**
 * The RPC queue as a protocol listener sees it (MQTT: `v1/devices/me/rpc/request/+` and
 * `…/response/{id}`). The request id is the RPC's UUID.
 */
export interface RpcQueue {
  /** The device listens for requests: it gets its queued ones now and new ones as they come. */
  attach(device: DeviceIdentity, send: RpcSender, options?: AttachOptions): () => void;
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
