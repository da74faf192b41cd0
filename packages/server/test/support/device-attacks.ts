import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Reply, TestApi } from './api.ts';
import { opensslVerificationCertificate, registrationCodeOf } from './device-ca-proof.ts';

/** Tenant A's device things that tenant B attacks in the cross-tenant suite. */
export interface DeviceVictim {
  readonly deviceId: string;
  /** A's gateway device, which no device of B may be linked to. */
  readonly gatewayId: string;
  readonly deviceToken: string;
  readonly credentialId: string;
  readonly rpcId: string;
  readonly caId: string;
  readonly caPem: string;
  /** A's proof of possession of its uploaded CA's key, made for A's registration code. */
  readonly caVerification: string;
  readonly registrationCode: string;
  /** A's Palisade-generated CA (its private key sealed in A's store). */
  readonly generatedCaId: string;
  readonly generatedCaPem: string;
}

type DeviceAttack = (api: TestApi, attackerKey: string, victim: DeviceVictim) => Promise<Reply>;

/** A self-signed CA certificate and its verification certificate for `code` (openssl CLI). */
function caCertificate(code: string): { pem: string; verification: string } {
  const dir = mkdtempSync(join(tmpdir(), 'palisade-ca-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        'ca.key',
        '-out',
        'ca.pem',
        '-days',
        '30',
        '-subj',
        '/CN=victim CA',
        '-addext',
        'basicConstraints=critical,CA:TRUE',
      ],
      { cwd: dir, stdio: 'ignore' },
    );
    return {
      pem: readFileSync(join(dir, 'ca.pem'), 'utf8'),
      verification: opensslVerificationCertificate(dir, code),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Gives tenant A a device with a token, an RPC request, an uploaded CA and a generated one. */
export async function deviceVictim(api: TestApi, key: string): Promise<DeviceVictim> {
  const device = await api.call('POST', '/v1/devices', key, { name: 'sensor', labels: ['Ada'] });
  const token: string = device.body.credentials.token;
  const gateway = await api.call('POST', '/v1/devices', key, { name: 'gateway', isGateway: true });
  await api.call('POST', `/api/v1/${token}/telemetry`, undefined, { temperature: 21 });
  const credentials = await api.call('GET', `/v1/devices/${device.body.id}/credentials`, key);
  const rpc = await api.call('POST', `/v1/devices/${device.body.id}/rpc`, key, {
    method: 'reboot',
    persistent: true,
    timeoutMs: 3_600_000,
  });
  const registrationCode = await registrationCodeOf(api, key);
  const { pem: caPem, verification } = caCertificate(registrationCode);
  const ca = await api.call('POST', '/v1/device-cas', key, {
    certificate: caPem,
    verificationCertificate: verification,
  });
  assert.equal(ca.status, 201, JSON.stringify(ca.body));
  const generated = await api.call('POST', '/v1/device-cas', key, { generate: true });
  return {
    deviceId: device.body.id,
    gatewayId: gateway.body.id,
    deviceToken: token,
    credentialId: credentials.body[0].id,
    rpcId: rpc.body.id,
    caId: ca.body.id,
    caPem,
    caVerification: verification,
    registrationCode,
    generatedCaId: generated.body.id,
    generatedCaPem: generated.body.certificate,
  };
}

/** B's live stream while A's device sends: B must see its own probe and nothing of A's. */
async function streamAttack(api: TestApi, key: string, v: DeviceVictim): Promise<Reply> {
  if (!api.http.server.listening) await api.http.listen({ host: '127.0.0.1', port: 0 });
  const { port } = api.http.server.address() as { port: number };
  const probe = await api.call('POST', '/v1/devices', key, { name: 'stream-probe' });
  const controller = new AbortController();
  const response = await fetch(`http://127.0.0.1:${port}/v1/telemetry/stream`, {
    headers: { authorization: `Bearer ${key}` },
    signal: controller.signal,
  });
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  const until = async (pattern: RegExp) => {
    while (!pattern.test(text)) {
      const chunk = await reader.read();
      if (chunk.done) return;
      text += decoder.decode(chunk.value);
    }
  };
  await until(/connected/);
  // A's device sends first; B's probe after it. The stream is ordered, so had A's event been
  // visible to B it would arrive before B's own.
  await api.call('POST', `/api/v1/${v.deviceToken}/telemetry`, undefined, { secret: 1 });
  await api.call('POST', `/api/v1/${probe.body.credentials.token}/telemetry`, undefined, {
    probe: 1,
  });
  await until(/"probe"/);
  controller.abort();
  if (text.includes(v.deviceId) || text.includes('secret'))
    throw new Error("B's stream carried A's telemetry");
  return { status: response.status, headers: {}, body: text };
}

/** What tenant B tries against tenant A's devices, per route (see cross-tenant.test.ts). */
export const DEVICE_ATTACKS: Record<
  string,
  { readonly expect: number; readonly attack: DeviceAttack }
> = {
  'post /v1/devices': {
    expect: 201,
    attack: async (api, key, v) => {
      const child = await api.call('POST', '/v1/devices', key, {
        name: `child-${randomUUID()}`,
        gatewayId: v.gatewayId,
      });
      assert.equal(child.body.code, 'PALISADE_GATEWAY_NOT_FOUND', "A's gateway reads as missing");
      return api.call('POST', '/v1/devices', key, { name: 'sensor' });
    },
  },
  'get /v1/devices': { expect: 200, attack: (api, key) => api.call('GET', '/v1/devices', key) },
  'get /v1/devices/{id}': {
    expect: 404,
    attack: (api, key, v) => api.call('GET', `/v1/devices/${v.deviceId}`, key),
  },
  'patch /v1/devices/{id}': {
    expect: 404,
    attack: async (api, key, v) => {
      const own = await api.call('POST', '/v1/devices', key, { name: `own-${randomUUID()}` });
      assert.equal(own.status, 201, JSON.stringify(own.body));
      const linked = await api.call('PATCH', `/v1/devices/${own.body.id}`, key, {
        gatewayId: v.gatewayId,
      });
      assert.equal(linked.body.code, 'PALISADE_GATEWAY_NOT_FOUND', "A's gateway reads as missing");
      return api.call('PATCH', `/v1/devices/${v.deviceId}`, key, {
        telemetryKeys: ['x'],
        gatewayId: v.gatewayId,
      });
    },
  },
  'delete /v1/devices/{id}': {
    expect: 404,
    attack: (api, key, v) => api.call('DELETE', `/v1/devices/${v.deviceId}`, key),
  },
  'get /v1/devices/{id}/credentials': {
    expect: 404,
    attack: (api, key, v) => api.call('GET', `/v1/devices/${v.deviceId}/credentials`, key),
  },
  'post /v1/devices/{id}/credentials': {
    expect: 404,
    attack: async (api, key, v) => {
      const basic = await api.call('POST', `/v1/devices/${v.deviceId}/credentials`, key, {
        type: 'mqtt_basic',
        username: 'mallory',
        password: 'mallory-password',
      });
      assert.equal(basic.status, 404, JSON.stringify(basic.body));
      // A certificate for A's device from A's generated CA: neither is B's to use.
      return api.call('POST', `/v1/devices/${v.deviceId}/credentials`, key, {
        type: 'x509',
        generate: true,
        caId: v.generatedCaId,
      });
    },
  },
  'delete /v1/devices/{id}/credentials/{credentialId}': {
    expect: 404,
    attack: (api, key, v) =>
      api.call('DELETE', `/v1/devices/${v.deviceId}/credentials/${v.credentialId}`, key),
  },
  'post /v1/device-cas': {
    expect: 400,
    attack: async (api, key, v) => {
      // A's CAs are public, but B holds neither key: bare, or with A's own proof (made for
      // A's registration code), B's upload proves nothing.
      for (const body of [
        { certificate: v.caPem },
        { certificate: v.caPem, verificationCertificate: v.caVerification },
      ]) {
        const uploaded = await api.call('POST', '/v1/device-cas', key, body);
        assert.equal(uploaded.body.code, 'PALISADE_DEVICE_CA_UNVERIFIED', JSON.stringify(body));
      }
      return api.call('POST', '/v1/device-cas', key, { certificate: v.generatedCaPem });
    },
  },
  'get /v1/device-cas/registration-code': {
    expect: 200,
    attack: async (api, key, v) => {
      const own = await api.call('GET', '/v1/device-cas/registration-code', key);
      assert.notEqual(own.body.registrationCode, v.registrationCode, "B gets its own, not A's");
      return own;
    },
  },
  'get /v1/device-cas': {
    expect: 200,
    attack: (api, key) => api.call('GET', '/v1/device-cas', key),
  },
  'delete /v1/device-cas/{id}': {
    expect: 404,
    attack: async (api, key, v) => {
      const uploaded = await api.call('DELETE', `/v1/device-cas/${v.caId}`, key);
      assert.equal(uploaded.status, 404, JSON.stringify(uploaded.body));
      return api.call('DELETE', `/v1/device-cas/${v.generatedCaId}`, key);
    },
  },
  'post /v1/provisioning-keys': {
    expect: 201,
    attack: (api, key) => api.call('POST', '/v1/provisioning-keys', key),
  },
  'post /api/v1/provision': {
    expect: 401,
    attack: (api, key) =>
      api.call('POST', '/api/v1/provision', undefined, {
        deviceName: 'sensor',
        provisionDeviceKey: key,
      }),
  },
  'post /api/v1/{deviceToken}/telemetry': {
    expect: 401,
    attack: (api, key) => api.call('POST', `/api/v1/${key}/telemetry`, key, { temperature: -1 }),
  },
  'post /api/v1/{deviceToken}/attributes': {
    expect: 401,
    attack: (api, key) => api.call('POST', `/api/v1/${key}/attributes`, key, { fw: 'evil' }),
  },
  'post /v1/devices/{id}/telemetry': {
    expect: 404,
    attack: (api, key, v) =>
      api.call('POST', `/v1/devices/${v.deviceId}/telemetry`, key, { temperature: -1 }),
  },
  'get /v1/devices/{id}/telemetry': {
    expect: 404,
    attack: (api, key, v) =>
      api.call('GET', `/v1/devices/${v.deviceId}/telemetry?from=0&to=${Date.now() + 1000}`, key),
  },
  'get /v1/devices/{id}/telemetry/latest': {
    expect: 404,
    attack: (api, key, v) => api.call('GET', `/v1/devices/${v.deviceId}/telemetry/latest`, key),
  },
  'get /v1/telemetry/stream': { expect: 200, attack: streamAttack },
  'post /v1/devices/{id}/rpc': {
    expect: 404,
    attack: (api, key, v) =>
      api.call('POST', `/v1/devices/${v.deviceId}/rpc`, key, {
        method: 'reboot',
        persistent: true,
      }),
  },
  'get /v1/devices/{id}/rpc/{rpcId}': {
    expect: 404,
    attack: (api, key, v) => api.call('GET', `/v1/devices/${v.deviceId}/rpc/${v.rpcId}`, key),
  },
};
