import type { AttributeQuery } from '@palisade/device-api';
import type { DeviceIdentity } from '../devices/index.ts';
import type { MaybePromise } from '../maybe-promise/index.ts';

/**
 * What the listener needs beyond the device contract, as narrow interfaces it owns: reading
 * attributes for `v1/devices/me/attributes/request/{id}` and the RPC queue's two ends. The
 * platform adapts the device registry's implementations to these.
 */

/**
 * Whether the tenant lets the device act now over its connection from `address` (the peer),
 * at `at` (epoch ms): the platform's Authorizer, deciding `telemetry:write` on the device
 * itself. Asked for every PUBLISH and SUBSCRIBE the topic allow-list let through.
 */
export interface DeviceActs {
  allows(device: DeviceIdentity, address: string | undefined, at: number): MaybePromise<boolean>;
}

/** Keys a device asks for in an attribute request (ThingsBoard `clientKeys`/`sharedKeys`). */
export type { AttributeQuery };

/** Reads a device's attributes: `{ client?: {…}, shared?: {…} }` as ThingsBoard answers. */
export interface AttributeReader {
  read(device: DeviceIdentity, query: AttributeQuery): Promise<Record<string, unknown>>;
}

/**
 * A server-side RPC request to deliver on `v1/devices/me/rpc/request/{requestId}`, or for a
 * gateway's child on `v1/gateway/rpc`.
 */
export interface OutgoingRpc {
  readonly requestId: string;
  /** The JSON body, ThingsBoard's `{ "method": …, "params": … }`. */
  readonly body: { readonly method: string; readonly params?: unknown };
}

/**
 * Sends one request to a connected device; resolves once written to its socket, with
 * `acknowledged`: true at the device's PUBACK, false when none will come (connection ended,
 * bound passed). Rejects when the request was not written.
 */
export type RpcSender = (request: OutgoingRpc) => Promise<{ acknowledged: Promise<boolean> }>;

/** The RPC queue seen from the listener. */
export interface RpcChannel {
  /**
   * A device subscribed to `v1/devices/me/rpc/request/+` (or a gateway that listens on
   * `v1/gateway/rpc` connected this child): send it its queued requests and each new one
   * until the returned function is called (unsubscribe, child disconnected, or disconnect);
   * with `redeliverSentAfterMs`, also the requests sent that long ago and not acknowledged.
   */
  attach(
    device: DeviceIdentity,
    send: RpcSender,
    options: { redeliverSentAfterMs: number },
  ): () => void;
  /**
   * The device answered request `requestId` with `payload` (parsed JSON). Rejects with
   * PALISADE_RPC_NOT_FOUND when the device has no such request, PALISADE_RPC_NOT_PENDING
   * when it is no longer pending.
   */
  respond(device: DeviceIdentity, requestId: string, payload: unknown): Promise<void>;
}
