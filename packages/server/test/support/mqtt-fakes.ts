/**
 * Small real implementations of the device contract for testing the MQTT listener alone:
 * an authenticator with fixed credentials and an ingest that writes every accepted message
 * to a SQLite file (synchronously, before its promise resolves) so that "acknowledged" can
 * be checked against "stored".
 */
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import pino from 'pino';
import { Registry } from 'prom-client';
import type {
  ChildMessage,
  DeviceAuthenticator,
  DeviceIdentity,
  IngestResult,
  TelemetryIngest,
} from '../../src/devices/device-contract.ts';
import { fingerprintOf } from '../../src/devices/index.ts';
import { PalisadeError } from '../../src/errors/index.ts';
import {
  type AttributeReader,
  type MqttLimits,
  type MqttListener,
  type MqttWsOptions,
  type OutgoingRpc,
  type RpcChannel,
  type RpcSender,
  startMqttListener,
} from '../../src/mqtt/index.ts';
import type { DeviceRow } from '../../src/store/index.ts';
import type { Tenant } from '../../src/tenancy/index.ts';
import { issueTenantContext } from '../../src/tenancy/tenant-context.ts';

function tenant(id: string): Tenant {
  const now = new Date().toISOString();
  return {
    id,
    slug: id,
    name: id,
    plan: 'test',
    status: 'active',
    shard: 's1',
    createdAt: now,
    updatedAt: now,
  };
}

/** A device identity as the registry would make it. */
export function identity(tenantId: string, deviceId: string, isGateway = false): DeviceIdentity {
  return {
    context: issueTenantContext(tenant(tenantId), { kind: 'device', id: deviceId }),
    deviceId,
    deviceName: deviceId,
    isGateway,
  };
}

/** Fixed access tokens, basic credentials and certificate fingerprints. */
export class FixedAuthenticator implements DeviceAuthenticator {
  readonly tokens = new Map<string, DeviceIdentity>();
  readonly basic = new Map<string, DeviceIdentity>();
  readonly certificates = new Map<string, DeviceIdentity>();
  readonly children: string[] = [];

  async byAccessToken(token: string) {
    return this.tokens.get(token);
  }
  async byMqttCredentials(clientId: string, username: string, password: string) {
    return this.basic.get(`${clientId}\n${username}\n${password}`);
  }
  async byCertificate(der: Uint8Array) {
    return this.certificates.get(fingerprintOf(new X509Certificate(der)));
  }
  async gatewayChild(gateway: DeviceIdentity, childName: string) {
    this.children.push(`${gateway.deviceId}/${childName}`);
    return identity(gateway.context.tenantId, `${gateway.deviceId}.${childName}`);
  }
  /** Made and, as nothing stores it here, counted as a child at once. */
  newGatewayChild(gateway: DeviceIdentity, childName: string) {
    this.children.push(`${gateway.deviceId}/${childName}`);
    const child = identity(gateway.context.tenantId, `${gateway.deviceId}.${childName}`);
    return { identity: child, row: { id: child.deviceId, name: childName } as DeviceRow };
  }
  async existingGatewayChild(gateway: DeviceIdentity, childName: string) {
    return this.findGatewayChild(gateway, childName);
  }
  /** A child this gateway named before (its id `<gateway>.<name>`), never another device. */
  async findGatewayChild(gateway: DeviceIdentity, childName: string) {
    return this.children.includes(`${gateway.deviceId}/${childName}`)
      ? identity(gateway.context.tenantId, `${gateway.deviceId}.${childName}`)
      : undefined;
  }
  current(device: DeviceIdentity) {
    return [
      ...this.tokens.values(),
      ...this.basic.values(),
      ...this.certificates.values(),
    ].includes(device);
  }
}

/** One accepted message as the recording ingest stored it. */
export interface StoredMessage {
  readonly tenant: string;
  readonly device: string;
  readonly kind: 'telemetry' | 'attributes';
  readonly payload: unknown;
}

function checkPayload(payload: unknown): void {
  if (typeof payload !== 'object' || payload === null)
    throw new PalisadeError('PALISADE_INVALID_REQUEST', 'telemetry must be an object or array');
}

/**
 * Stores each message in SQLite (WAL, synchronous=FULL) before resolving. Payloads must be
 * a JSON object or array (otherwise PALISADE_INVALID_REQUEST, nothing written). `hold(device)`
 * parks that device's next ingests until `release(device)`, to observe acknowledgement order.
 */
export class RecordingIngest implements TelemetryIngest {
  readonly #db: DatabaseSync;
  readonly #held = new Map<string, Array<() => void>>();
  /** Called when an ingest starts (before it is stored). */
  onStart: ((device: DeviceIdentity) => void) | undefined;

  constructor(file: string) {
    this.#db = new DatabaseSync(file);
    this.#db.exec('PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL');
    this.#db.exec(
      'CREATE TABLE IF NOT EXISTS messages (seq INTEGER PRIMARY KEY, tenant TEXT, device TEXT, kind TEXT, payload TEXT)',
    );
  }

  telemetry(device: DeviceIdentity, payload: unknown): Promise<IngestResult> {
    return this.#store(device, 'telemetry', payload);
  }

  attributes(device: DeviceIdentity, payload: unknown): Promise<IngestResult> {
    return this.#store(device, 'attributes', payload);
  }

  /** Checks every child's payload before storing any, as the real ingest commits them as one. */
  async children(
    _gateway: DeviceIdentity,
    kind: StoredMessage['kind'],
    messages: readonly ChildMessage[],
  ): Promise<IngestResult> {
    for (const { payload } of messages) checkPayload(payload);
    for (const message of messages) {
      let device = await message.find();
      if (device === undefined) {
        device = message.prepare().identity;
        message.created(device);
      }
      await this.#store(device, kind, message.payload);
    }
    return { points: messages.length };
  }

  /** Parks this device's next ingests (before they are stored) until `release`. */
  hold(deviceId: string): void {
    if (!this.#held.has(deviceId)) this.#held.set(deviceId, []);
  }

  release(deviceId: string): void {
    const held = this.#held.get(deviceId) ?? [];
    this.#held.delete(deviceId);
    for (const resume of held) resume();
  }

  async #store(device: DeviceIdentity, kind: StoredMessage['kind'], payload: unknown) {
    this.onStart?.(device);
    checkPayload(payload);
    const held = this.#held.get(device.deviceId);
    if (held !== undefined) await new Promise<void>((resume) => held.push(resume));
    this.#db
      .prepare('INSERT INTO messages (tenant, device, kind, payload) VALUES (?, ?, ?, ?)')
      .run(device.context.tenantId, device.deviceId, kind, JSON.stringify(payload));
    return { points: 1 };
  }

  messages(): StoredMessage[] {
    return this.#db
      .prepare('SELECT tenant, device, kind, payload FROM messages ORDER BY seq')
      .all()
      .map((row) => ({
        tenant: String(row.tenant),
        device: String(row.device),
        kind: row.kind as StoredMessage['kind'],
        payload: JSON.parse(String(row.payload)),
      }));
  }

  close(): void {
    this.#db.close();
  }
}

/** A fake RPC queue: remembers the live sender per device and every response. */
export class FakeRpc implements RpcChannel {
  readonly senders = new Map<string, RpcSender>();
  readonly responses: Array<{ device: string; requestId: string; payload: unknown }> = [];

  attach(device: DeviceIdentity, send: RpcSender): () => void {
    const key = `${device.context.tenantId}/${device.deviceId}`;
    this.senders.set(key, send);
    return () => {
      if (this.senders.get(key) === send) this.senders.delete(key);
    };
  }

  async respond(device: DeviceIdentity, requestId: string, payload: unknown): Promise<void> {
    this.responses.push({ device: device.deviceId, requestId, payload });
  }

  /** Sends a request to a connected, subscribed device; once written, whether it took it. */
  async send(tenantId: string, deviceId: string, requestId: string, body: OutgoingRpc['body']) {
    const sender = this.senders.get(`${tenantId}/${deviceId}`);
    if (sender === undefined) throw new Error(`${deviceId} is not attached`);
    return sender({ requestId, body });
  }
}

/** Attributes every device reports: its own id as `client.id` and a shared `fw`. */
export const fakeAttributes: AttributeReader = {
  async read(device, query) {
    return {
      client: { id: device.deviceId, keys: query.clientKeys ?? [] },
      shared: { fw: '1.0', keys: query.sharedKeys ?? [] },
    };
  },
};

/** A listener on 127.0.0.1:0 with fake dependencies and a temporary SQLite file. */
export interface FakeListener {
  readonly listener: MqttListener;
  readonly url: string;
  readonly auth: FixedAuthenticator;
  readonly ingest: RecordingIngest;
  readonly rpc: FakeRpc;
  readonly registry: Registry;
  close(): Promise<void>;
}

export const TEST_LIMITS: MqttLimits = {
  maxPacket: 65_536,
  clientInflightMax: 16,
  inflightMax: 1000,
  connectTimeoutMs: 30_000,
  rpcAckWaitMs: 30_000,
};

export async function startFakeListener(
  limits: Partial<MqttLimits> = {},
  ws?: MqttWsOptions,
): Promise<FakeListener> {
  const dir = mkdtempSync(join(tmpdir(), 'palisade-mqtt-'));
  const auth = new FixedAuthenticator();
  const ingest = new RecordingIngest(join(dir, 'messages.db'));
  const rpc = new FakeRpc();
  const registry = new Registry();
  const listener = await startMqttListener({
    host: '127.0.0.1',
    port: 0,
    ws,
    authenticator: auth,
    acts: { allows: () => true },
    ingest,
    attributes: fakeAttributes,
    rpc,
    limits: { ...TEST_LIMITS, ...limits },
    metrics: registry,
    logger: pino({ level: 'silent' }),
  });
  return {
    listener,
    url: listener.url,
    auth,
    ingest,
    rpc,
    registry,
    close: async () => {
      await listener.close();
      ingest.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
