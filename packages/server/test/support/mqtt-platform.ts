/**
 * The real platform (startPlatform, listening on free ports, MQTT included) on one backend,
 * with a few HTTP helpers to make tenants and devices and read what MQTT stored.
 */
import { type Platform, startPlatform } from '../../src/index.ts';
import { ADMIN_TOKEN } from './api.ts';
import { type BackendFixture, type BackendName, openBackend } from './backends.ts';

export interface MqttPlatform {
  readonly platform: Platform;
  readonly fixture: BackendFixture;
  /** mqtt://127.0.0.1:PORT */
  readonly url: string;
  call(
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    path: string,
    token?: string,
    body?: unknown,
    // biome-ignore lint/suspicious/noExplicitAny: response JSON is asserted field by field in tests
  ): Promise<{ status: number; body: any }>;
  /** A tenant and its API key. */
  tenant(slug: string): Promise<{ id: string; key: string }>;
  /** A device of the tenant and its access token. */
  device(key: string, name: string, isGateway?: boolean): Promise<{ id: string; token: string }>;
  /** The id of the tenant's device by that name, or undefined when it has none. */
  deviceId(key: string, name: string): Promise<string | undefined>;
  /** How many refusals `/metrics` counts for that reason and code (0 when none yet). */
  refusals(reason: string, code: string): Promise<number>;
  /** Ledger entries of a tenant whose resource is `telemetry/<device>` or `devices/<device>…`. */
  ledgerResources(tenantId: string): Promise<string[]>;
  close(): Promise<void>;
}

export async function startMqttPlatform(
  backend: BackendName,
  overrides: Record<string, string | string[]> = {},
): Promise<MqttPlatform> {
  const fixture = await openBackend(backend, {
    adminToken: ADMIN_TOKEN,
    mqtt: '127.0.0.1:0',
    ...overrides,
  });
  const platform = await startPlatform(fixture.settings);
  if (platform.mqtt === undefined) throw new Error('the MQTT listener did not start');
  const call: MqttPlatform['call'] = async (method, path, token, body) => {
    const response = await platform.http.inject({
      method,
      url: path,
      headers: {
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });
    const type = String(response.headers['content-type'] ?? '');
    return {
      status: response.statusCode,
      body:
        type.includes('json') && response.body !== '' ? JSON.parse(response.body) : response.body,
    };
  };
  const must = <T>(reply: { status: number; body: T }, what: string): T => {
    if (reply.status >= 300)
      throw new Error(`${what}: ${reply.status} ${JSON.stringify(reply.body)}`);
    return reply.body;
  };
  return {
    platform,
    fixture,
    url: platform.mqtt.url,
    call,
    async tenant(slug) {
      const tenant = must(
        await call('POST', '/v1/platform/tenants', ADMIN_TOKEN, { slug, name: slug }),
        'tenant',
      );
      const key = must(
        await call('POST', `/v1/platform/tenants/${tenant.id}/api-keys`, ADMIN_TOKEN, {
          name: 't',
        }),
        'api key',
      );
      return { id: tenant.id, key: key.secret };
    },
    async device(key, name, isGateway = false) {
      const made = must(await call('POST', '/v1/devices', key, { name, isGateway }), 'device');
      return { id: made.id, token: made.credentials.token };
    },
    async deviceId(key, name) {
      const list = must(await call('GET', '/v1/devices?limit=1000', key), 'devices');
      return list.items.find((d: { name: string }) => d.name === name)?.id;
    },
    async refusals(reason, code) {
      const metrics = (await call('GET', '/metrics')).body as string;
      const series = `palisade_mqtt_refusals_total{reason="${reason}",code="${code}"} `;
      const line = metrics.split('\n').find((l) => l.startsWith(series));
      return line === undefined ? 0 : Number(line.slice(series.length));
    },
    async ledgerResources(tenantId) {
      const tenant = await platform.stores.controlPlane.getTenant(tenantId);
      const store = await platform.stores.shards.get(tenant!.shard)!.tenant(tenantId);
      const head = await store.reader.ledgerHead();
      const entries = await store.reader.ledgerEntries(0, head.nextSeq);
      return entries.map((e) => e.resource);
    },
    async close() {
      await platform.close();
      await fixture.cleanup();
    },
  };
}
