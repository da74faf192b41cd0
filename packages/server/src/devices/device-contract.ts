import type { WriteEvent } from '../commit/index.ts';
import type { MaybePromise } from '../maybe-promise/index.ts';
import type { DeviceRow, TenantWriteTx } from '../store/index.ts';
import type { TenantContext } from '../tenancy/index.ts';

/**
 * The contract between device identity, ingestion and the protocol listeners (HTTP and
 * MQTT). Listeners only ever hold a DeviceIdentity made by a DeviceAuthenticator, so the
 * tenant and the device always come from the verified credential, never from a topic,
 * URL or payload.
 */

/** A verified device: its tenant (as a TenantContext made by authentication) and its id. */
export interface DeviceIdentity {
  readonly context: TenantContext;
  readonly deviceId: string;
  readonly deviceName: string;
  /** A gateway device may publish for the child devices it names (ThingsBoard gateway API). */
  readonly isGateway: boolean;
}

/** Turns device credentials into identities; undefined means "refuse", with no detail. */
export interface DeviceAuthenticator {
  /** ThingsBoard access token (HTTP path segment, or MQTT username with no password). */
  byAccessToken(token: string): Promise<DeviceIdentity | undefined>;
  /** MQTT basic credentials (client id, user name, password). */
  byMqttCredentials(
    clientId: string,
    username: string,
    password: string,
  ): Promise<DeviceIdentity | undefined>;
  /**
   * An X.509 client certificate (DER) whose private key the peer proved in the TLS handshake:
   * registered as a device credential, within its validity, and issued by a CA its tenant
   * trusts now.
   */
  byCertificate(der: Uint8Array): Promise<DeviceIdentity | undefined>;
  /** The child device of a gateway, created on first use (ThingsBoard `v1/gateway/connect`). */
  gatewayChild(gateway: DeviceIdentity, childName: string): Promise<DeviceIdentity>;
  /**
   * The child of a gateway by that name, or undefined when no device has the name. Throws as
   * `gatewayChild` does for a name no child may have, or a device that is not this gateway's
   * child. Creates nothing.
   */
  existingGatewayChild(
    gateway: DeviceIdentity,
    childName: string,
  ): Promise<DeviceIdentity | undefined>;
  /**
   * A new child of a gateway, made but not stored (`ChildStore` stores it); throws as
   * `gatewayChild` does for a name no child may have.
   */
  newGatewayChild(gateway: DeviceIdentity, childName: string): NewChild;
  /**
   * The existing child of a gateway by that name, or undefined when there is none (no such
   * device in the gateway's tenant, or one that is not this gateway's child). Creates nothing.
   */
  findGatewayChild(gateway: DeviceIdentity, childName: string): Promise<DeviceIdentity | undefined>;
  /**
   * Whether the credential an identity of the three methods above was made from still
   * authenticates it (not deleted or replaced; a certificate still within its validity and
   * signed by a CA its tenant trusts; its tenant active), as a connection that outlives its
   * CONNECT asks before each message. Answered from a cache (at once, no promise) for up to
   * the credential cache's TTL, and looked up again after any credential, CA or tenant
   * change in this process.
   */
  current(identity: DeviceIdentity): MaybePromise<boolean>;
}

/** What accepting telemetry produced: the number of typed points made durable and ledgered. */
export interface IngestResult {
  readonly points: number;
}

/** A gateway's child that a message names for the first time: made, not yet stored. */
export interface NewChild {
  readonly identity: DeviceIdentity;
  readonly row: DeviceRow;
}

/**
 * Stores a message's new gateway children in the message's own write, each counted against
 * the plan's devices and the gateway's children as any device creation is.
 */
export interface ChildStore {
  insertChildren(
    tx: TenantWriteTx,
    record: (event: WriteEvent) => void,
    context: TenantContext,
    rows: readonly DeviceRow[],
  ): Promise<void>;
}

/** One child device's part of a gateway message (ThingsBoard `v1/gateway/…`). */
export interface ChildMessage {
  /**
   * The child if it exists, throwing for one the gateway may not have: called for every part
   * once every payload has parsed.
   */
  readonly find: () => Promise<DeviceIdentity | undefined>;
  /** A new child of the part's name, for a name `find` found no device under. */
  readonly prepare: () => NewChild;
  /** Told of the child the message stored, once it is committed. */
  readonly created: (child: DeviceIdentity) => void;
  readonly payload: unknown;
}

/**
 * Durable ingestion. Each promise resolves only when the points are committed in the
 * tenant's store and their batch is a ledger leaf (group commit), so a listener may then
 * acknowledge (HTTP 2xx, MQTT PUBACK). Bad input throws a PalisadeError with a precise code
 * and writes nothing.
 */
export interface TelemetryIngest {
  /** ThingsBoard telemetry: `{"k": v}`, `{"ts": ms, "values": {…}}`, or an array of either. */
  telemetry(device: DeviceIdentity, payload: unknown): Promise<IngestResult>;
  /** ThingsBoard client-side attributes: a flat JSON object. */
  attributes(device: DeviceIdentity, payload: unknown): Promise<IngestResult>;
  /**
   * A gateway's telemetry or attributes for its children (its tenant), committed as one: a
   * refused part refuses the whole message and nothing of it is written.
   */
  children(
    gateway: DeviceIdentity,
    kind: 'telemetry' | 'attributes',
    messages: readonly ChildMessage[],
  ): Promise<IngestResult>;
}
