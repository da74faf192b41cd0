import type { DeviceIdentity } from '../devices/index.ts';

/**
 * What the listener needs beyond the device contract, as narrow interfaces it owns: reading
 * attributes for `v1/devices/me/attributes/request/{id}` and the RPC queue's two ends. The
 * platform adapts the device registry's implementations to these.
 */

/** Keys a device asks for in an attribute request (ThingsBoard `clientKeys`/`sharedKeys`). */
export interface AttributeQuery {
  readonly clientKeys: readonly string[] | undefined;
  readonly sharedKeys: readonly string[] | undefined;
}

/** Reads a device's attributes: `{ client?: {…}, shared?: {…} }` as ThingsBoard answers. */
export interface AttributeReader {
  read(device: DeviceIdentity, query: AttributeQuery): Promise<Record<string, unknown>>;
}

/** A server-side RPC request to deliver on `v1/devices/me/rpc/request/{requestId}`. */
export interface OutgoingRpc {
  readonly requestId: string;
  /** The JSON body, ThingsBoard's `{ "method": …, "params": … }`. */
  readonly body: unknown;
}

/** Sends one request to a connected device; resolves once written to its socket. */
export type RpcSender = (request: OutgoingRpc) => Promise<void>;

/** The RPC queue seen from the listener. */
export interface RpcChannel {
  /**
   * A device subscribed to `v1/devices/me/rpc/request/+`: send it its queued requests and
   * each new one until the returned function is called (unsubscribe or disconnect).
   */
  attach(device: DeviceIdentity, send: RpcSender): () => void;
  /** The device answered request `requestId` with `payload` (parsed JSON). */
  respond(device: DeviceIdentity, requestId: string, payload: unknown): Promise<void>;
}
