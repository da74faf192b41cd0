import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, mock, test } from 'node:test';
import pg from 'pg';
import { GroupCommitter } from '../src/commit/index.ts';
import {
  CredentialRegistry,
  DeviceRegistry,
  DeviceWrites,
  type OutgoingRpc,
} from '../src/devices/index.ts';
import { ObjectCaps, planLimits } from '../src/quotas/index.ts';
import { storeLocator } from '../src/records/index.ts';
import { issueTenantContext } from '../src/tenancy/tenant-context.ts';
import { ADMIN_TOKEN, type Reply, TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';
import { opensslVerificationCertificate, registrationCodeOf } from './support/device-ca-proof.ts';
import { ACKNOWLEDGED, AWAITING_ACK } from './support/rpc-written.ts';

/** The longest delay a Node.js timer keeps. */
const TIMER_MAX_MS = 2 ** 31 - 1;
/** rpcTimeoutMaxMs of the devices suite, and the timeout of its longest RPC. */
const LONG_RPC_TIMEOUT_MS = TIMER_MAX_MS + 1001;

/** Every stored byte of the control plane, to prove secrets are not in it. */
async function controlPlaneDump(api: TestApi): Promise<string> {
  if (api.fixture.name === 'sqlite') {
    const dir = api.platform.settings.data;
    return ['platform.db', 'platform.db-wal']
      .map((f) => {
        try {
          return readFileSync(join(dir, f)).toString('latin1');
        } catch {
          return '';
        }
      })
      .join('');
  }
  const client = new pg.Client({ connectionString: api.platform.settings.database });
  await client.connect();
  try {
    const rows = await client.query('SELECT * FROM device_credentials');
    return JSON.stringify(rows.rows);
  } finally {
    await client.end();
  }
}

function openssl(dir: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
}

/**
 * A CA, its verification certificate for `code` and a device certificate it signed, made with
 * the openssl CLI.
 */
function makeCertificates(code: string): {
  ca: string;
  verification: string;
  device: string;
  stranger: string;
} {
  const dir = mkdtempSync(join(tmpdir(), 'palisade-x509-'));
  try {
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
    openssl(
      dir,
      'req',
      '-x509',
      ...ec,
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-days',
      '30',
      '-subj',
      '/CN=tenant CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
    );
    openssl(dir, 'req', ...ec, '-keyout', 'dev.key', '-out', 'dev.csr', '-subj', '/CN=sensor-x509');
    openssl(
      dir,
      'x509',
      '-req',
      '-in',
      'dev.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'dev.pem',
      '-days',
      '10',
    );
    openssl(
      dir,
      'req',
      '-x509',
      ...ec,
      '-keyout',
      's.key',
      '-out',
      's.pem',
      '-days',
      '10',
      '-subj',
      '/CN=stranger',
    );
    const read = (f: string) => readFileSync(join(dir, f), 'utf8');
    return {
      ca: read('ca.pem'),
      verification: opensslVerificationCertificate(dir, code),
      device: read('dev.pem'),
      stranger: read('s.pem'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const backend of backendNames()) {
  describe(`devices and telemetry on ${backend}`, () => {
    let api: TestApi;
    let t: { id: string; key: string };
    let device: { id: string; token: string };

    const points = async (id: string, query: string): Promise<Reply> =>
      api.call('GET', `/v1/devices/${id}/telemetry?${query}`, t.key);

    before(async () => {
      api = await TestApi.start(backend, {
        telemetryMaxPoints: '50',
        telemetryMaxKeys: '20',
        telemetryStreamHeartbeatMs: '1000',
        rpcTimeoutMaxMs: String(LONG_RPC_TIMEOUT_MS),
      });
      t = await api.tenant('iot');
      const created = await api.call('POST', '/v1/devices', t.key, {
        name: 'sensor-1',
        type: 'thermometer',
        labels: ['lab'],
        attributes: { floor: 2 },
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      device = { id: created.body.id, token: created.body.credentials.token };
    });
    after(() => api.close());

    test('registry: create shows the token once, read/list/patch/delete, names unique', async () => {
      assert.equal(typeof device.token, 'string');
      const read = await api.call('GET', `/v1/devices/${device.id}`, t.key);
      assert.equal(read.status, 200);
      assert.equal(read.body.name, 'sensor-1');
      assert.deepEqual(read.body.labels, ['lab']);
      assert.ok(!JSON.stringify(read.body).includes(device.token), 'the token is shown only once');
      const creds = await api.call('GET', `/v1/devices/${device.id}/credentials`, t.key);
      assert.deepEqual(
        creds.body.map((c: { type: string }) => c.type),
        ['access_token'],
      );
      assert.ok(!JSON.stringify(creds.body).includes(device.token));
      assert.ok(
        !(await controlPlaneDump(api)).includes(device.token),
        'only the token hash is stored',
      );

      const dup = await api.call('POST', '/v1/devices', t.key, { name: 'sensor-1' });
      assert.equal(dup.status, 409);
      assert.equal(dup.body.code, 'PALISADE_DEVICE_NAME_TAKEN');

      const extra = await api.call('POST', '/v1/devices', t.key, { name: 'temporary' });
      const patched = await api.call('PATCH', `/v1/devices/${extra.body.id}`, t.key, {
        labels: ['x'],
        type: 'valve',
      });
      assert.equal(patched.status, 200);
      assert.equal(patched.body.version, 2);
      assert.equal(patched.body.type, 'valve');
      const page1 = await api.call('GET', '/v1/devices?limit=1', t.key);
      assert.equal(page1.body.items.length, 1);
      const page2 = await api.call(
        'GET',
        `/v1/devices?limit=1&cursor=${page1.body.nextCursor}`,
        t.key,
      );
      assert.equal(page2.body.items[0].id, extra.body.id);
      assert.equal((await api.call('DELETE', `/v1/devices/${extra.body.id}`, t.key)).status, 204);
      assert.equal(
        (await api.call('GET', `/v1/devices/${extra.body.id}`, t.key)).body.code,
        'PALISADE_DEVICE_NOT_FOUND',
      );
      const gone = await api.call(
        'POST',
        `/api/v1/${extra.body.credentials.token}/telemetry`,
        undefined,
        { t: 1 },
      );
      assert.equal(gone.status, 401, "a deleted device's token authenticates nobody");
    });

    test('every ThingsBoard payload shape lands as the right typed points', async () => {
      const now = Date.now();
      const ts = now - 60_000;
      const send = (body: unknown) =>
        api.call('POST', `/api/v1/${device.token}/telemetry`, undefined, body);
      assert.equal(
        (await send({ temperature: 21.5, on: true, mode: 'eco', cfg: { a: [1, 2] } })).status,
        200,
      );
      assert.equal((await send({ ts, values: { temperature: 20, on: false } })).status, 200);
      assert.equal(
        (await send([{ ts: ts - 1000, values: { temperature: 19 } }, { humidity: 40 }])).status,
        200,
      );
      assert.equal((await send([{ ts: ts - 2000, values: { mode: 'off' } }])).status, 200);
      const all = await points(device.id, `from=${ts - 5000}&to=${now + 600_000}`);
      assert.equal(all.status, 200);
      assert.deepEqual(
        all.body.temperature.map((p: { value: unknown }) => p.value).slice(0, 2),
        [19, 20],
      );
      assert.equal(all.body.temperature.at(-1).value, 21.5);
      assert.deepEqual(
        all.body.on.map((p: { value: unknown }) => p.value),
        [false, true],
      );
      assert.deepEqual(
        all.body.mode.map((p: { value: unknown }) => p.value),
        ['off', 'eco'],
      );
      assert.deepEqual(all.body.cfg[0].value, { a: [1, 2] });
      assert.equal(all.body.humidity[0].value, 40);
      assert.equal(all.body.temperature[1].ts, ts);
      const latest = await api.call(
        'GET',
        `/v1/devices/${device.id}/telemetry/latest?keys=temperature,mode`,
        t.key,
      );
      assert.deepEqual(Object.keys(latest.body).sort(), ['mode', 'temperature']);
      assert.equal(latest.body.temperature[0].value, 21.5);
      assert.equal(latest.body.mode[0].value, 'eco');
      const tenantSide = await api.call('POST', `/v1/devices/${device.id}/telemetry`, t.key, {
        pressure: 1013,
      });
      assert.deepEqual(tenantSide.body, { points: 1 });
    });

    test('aggregation per interval: avg, min, max, sum, count', async () => {
      const made = await api.call('POST', '/v1/devices', t.key, { name: 'agg' });
      const base = Date.now() - 3_600_000;
      const start = base - (base % 60_000);
      const values = [1, 2, 3, 10, 20];
      const body = values.map((v, i) => ({
        ts: start + (i < 3 ? i * 1000 : 60_000 + i * 1000),
        values: { v },
      }));
      assert.equal(
        (
          await api.call(
            'POST',
            `/api/v1/${made.body.credentials.token}/telemetry`,
            undefined,
            body,
          )
        ).status,
        200,
      );
      const range = `from=${start}&to=${start + 120_000}&interval=60000&keys=v`;
      const expect = { avg: [2, 15], min: [1, 10], max: [3, 20], sum: [6, 30], count: [3, 2] };
      for (const [agg, want] of Object.entries(expect)) {
        const reply = await points(made.body.id, `${range}&agg=${agg}`);
        assert.equal(reply.status, 200, JSON.stringify(reply.body));
        assert.deepEqual(
          reply.body.v.map((p: { value: number }) => p.value),
          want,
          agg,
        );
        assert.deepEqual(
          reply.body.v.map((p: { ts: number }) => p.ts),
          [start, start + 60_000],
        );
      }
    });

    test('aggregates of very large values: answered while finite, else refused as an overflow', async () => {
      const made = await api.call('POST', '/v1/devices', t.key, { name: 'agg-large' });
      const start = Date.now() - 3_600_000;
      const sent = await api.call(
        'POST',
        `/api/v1/${made.body.credentials.token}/telemetry`,
        undefined,
        [
          { ts: start, values: { big: 1e200, huge: 1.7e308 } },
          { ts: start + 1, values: { big: 1e201, huge: 1.7e308 } },
        ],
      );
      assert.equal(sent.status, 200, JSON.stringify(sent.body));
      const range = `from=${start}&to=${start + 2}`;
      const avg = await points(made.body.id, `${range}&agg=avg&keys=big`);
      assert.equal(avg.status, 200, JSON.stringify(avg.body));
      assert.deepEqual(avg.body.big, [{ ts: start, value: 5.5e200 }]);
      const max = await points(made.body.id, `${range}&agg=max&keys=huge`);
      assert.deepEqual(max.body.huge, [{ ts: start, value: 1.7e308 }]);
      for (const agg of ['sum', 'avg']) {
        const reply = await points(made.body.id, `${range}&agg=${agg}&keys=huge`);
        assert.equal(reply.status, 422, `${agg}: ${JSON.stringify(reply.body)}`);
        assert.equal(reply.body.code, 'PALISADE_TELEMETRY_AGGREGATE_OVERFLOW');
        assert.equal(reply.body.errors[0].path, '/querystring/agg');
      }
    });

    test('a query bound beyond 2^53 - 1 is refused naming it, on every backend', async () => {
      const made = await api.call('POST', '/v1/devices', t.key, { name: 'far-query' });
      const huge = '100000000000000000000';
      for (const [query, path] of [
        [`from=0&to=${huge}`, '/querystring/to'],
        [`from=${huge}&to=${huge}1`, '/querystring/from'],
        [`from=0&to=1000&interval=${huge}`, '/querystring/interval'],
      ]) {
        const reply = await points(made.body.id, query!);
        assert.equal(reply.status, 400, `${query}: ${JSON.stringify(reply.body)}`);
        assert.equal(reply.body.code, 'PALISADE_INVALID_REQUEST');
        assert.equal(reply.body.errors[0].path, path);
      }
    });

    test('bad input is refused with a precise problem and writes nothing', async () => {
      const made = await api.call('POST', '/v1/devices', t.key, {
        name: 'strict',
        telemetryKeys: ['t'],
      });
      const token = made.body.credentials.token;
      const head = await api.call('GET', '/v1/ledger/checkpoint', t.key);
      const now = Date.now();
      const cases: [unknown, number, string][] = [
        ['{"t": 1', 400, 'PALISADE_MALFORMED_JSON'],
        [{ t: null }, 400, 'PALISADE_TELEMETRY_INVALID_VALUE'],
        [{ 'bad key!': 1 }, 400, 'PALISADE_TELEMETRY_INVALID_KEY'],
        [{ ts: now, values: { t: 1 }, extra: 1 }, 400, 'PALISADE_TELEMETRY_MALFORMED'],
        [{ ts: now, values: 5 }, 400, 'PALISADE_TELEMETRY_MALFORMED'],
        [[1, 2], 400, 'PALISADE_TELEMETRY_MALFORMED'],
        [{}, 400, 'PALISADE_TELEMETRY_MALFORMED'],
        [
          { ts: now + 86_400_000, values: { t: 1 } },
          400,
          'PALISADE_TELEMETRY_TIMESTAMP_OUT_OF_RANGE',
        ],
        [{ ts: 5, values: { t: 1 } }, 400, 'PALISADE_TELEMETRY_TIMESTAMP_OUT_OF_RANGE'],
        [{ ts: 'yesterday', values: { t: 1 } }, 400, 'PALISADE_TELEMETRY_TIMESTAMP_OUT_OF_RANGE'],
        [{ t: 1, other: 2 }, 422, 'PALISADE_TELEMETRY_UNKNOWN_KEY'],
        [
          Array.from({ length: 60 }, (_, i) => ({ ts: now - i, values: { t: i } })),
          413,
          'PALISADE_TELEMETRY_TOO_LARGE',
        ],
        [{ t: 'x'.repeat(10_000) }, 400, 'PALISADE_TELEMETRY_INVALID_VALUE'],
        [`{"t": "${'y'.repeat(1_100_000)}"}`, 413, 'PALISADE_PAYLOAD_TOO_LARGE'],
      ];
      for (const [body, status, code] of cases) {
        const reply = await api.call('POST', `/api/v1/${token}/telemetry`, undefined, body);
        assert.equal(
          reply.status,
          status,
          `${JSON.stringify(body).slice(0, 80)}: ${JSON.stringify(reply.body)}`,
        );
        assert.equal(reply.body.code, code);
        assert.match(String(reply.headers['content-type']), /application\/problem\+json/);
      }
      const unknownToken = await api.call('POST', '/api/v1/not-a-token/telemetry', undefined, {
        t: 1,
      });
      assert.equal(unknownToken.body.code, 'PALISADE_DEVICE_UNAUTHENTICATED');
      const stored = await points(made.body.id, `from=0&to=${now + 3_600_000}`);
      assert.deepEqual(stored.body, {}, 'nothing was written');
      const after = await api.call('GET', '/v1/ledger/checkpoint', t.key);
      assert.equal(
        after.body.size ?? after.body,
        head.body.size ?? head.body,
        'no ledger entry either',
      );
    });

    test("a device's declared telemetry keys apply from the change on", async () => {
      const made = await api.call('POST', '/v1/devices', t.key, {
        name: 'rekeyed',
        telemetryKeys: ['t'],
      });
      const send = (body: unknown) =>
        api.call('POST', `/api/v1/${made.body.credentials.token}/telemetry`, undefined, body);
      const keys = (telemetryKeys: string[] | null) =>
        api.call('PATCH', `/v1/devices/${made.body.id}`, t.key, { telemetryKeys });
      assert.equal((await send({ t: 1 })).status, 200);
      assert.equal((await send({ t: 1, other: 2 })).status, 422);
      assert.equal((await keys(['t', 'other'])).status, 200);
      assert.equal((await send({ t: 1, other: 2 })).status, 200);
      assert.equal((await keys(['other'])).status, 200);
      assert.equal((await send({ t: 1 })).body.code, 'PALISADE_TELEMETRY_UNKNOWN_KEY');
      assert.equal((await keys(null)).status, 200);
      assert.equal((await send({ anything: 3 })).status, 200);
    });

    test('each accepted message is one ledger entry that commits to its points', async () => {
      const made = await api.call('POST', '/v1/devices', t.key, { name: 'ledgered' });
      const send = (v: number) =>
        api.call('POST', `/api/v1/${made.body.credentials.token}/telemetry`, undefined, {
          v,
          w: v,
        });
      const replies = await Promise.all([1, 2, 3, 4, 5].map(send));
      assert.ok(replies.every((r) => r.status === 200));
      const store = await api.platform.stores.shards
        .get((await api.platform.stores.controlPlane.getTenant(t.id))!.shard)!
        .tenant(t.id);
      const head = await store.reader.ledgerHead();
      const entries = await store.reader.ledgerEntries(0, head.nextSeq);
      const mine = entries.filter((e) => e.resource === `telemetry/${made.body.id}`);
      assert.equal(mine.length, 5, 'one entry per message, not per point');
      for (const entry of mine) {
        const parsed = JSON.parse(entry.entry);
        assert.equal(parsed.action, 'telemetry.ingest');
        assert.equal(parsed.actor, `device:${made.body.id}`);
        assert.equal(typeof parsed.commitment, 'string');
      }
    });

    test('MQTT basic and X.509 credentials authenticate; provisioning keys register one device once', async () => {
      const authority = api.platform.devices.authority;
      const mqtt = await api.call('POST', `/v1/devices/${device.id}/credentials`, t.key, {
        type: 'mqtt_basic',
        username: `user-${backend}`,
        password: 'correct horse battery',
        clientId: 'client-1',
      });
      assert.equal(mqtt.status, 201, JSON.stringify(mqtt.body));
      assert.ok(!(await controlPlaneDump(api)).includes('correct horse battery'));
      assert.equal(
        (await authority.byMqttCredentials('client-1', `user-${backend}`, 'correct horse battery'))
          ?.deviceId,
        device.id,
      );
      assert.equal(
        await authority.byMqttCredentials('client-1', `user-${backend}`, 'wrong password!'),
        undefined,
      );
      assert.equal(
        await authority.byMqttCredentials('client-2', `user-${backend}`, 'correct horse battery'),
        undefined,
      );
      const taken = await api.call('POST', `/v1/devices/${device.id}/credentials`, t.key, {
        type: 'mqtt_basic',
        username: `user-${backend}`,
        password: 'another password',
      });
      assert.equal(taken.body.code, 'PALISADE_CREDENTIAL_TAKEN');

      const certs = makeCertificates(await registrationCodeOf(api, t.key));
      const refused = await api.call('POST', `/v1/devices/${device.id}/credentials`, t.key, {
        type: 'x509',
        certificate: certs.device,
      });
      assert.equal(refused.body.code, 'PALISADE_CERTIFICATE_INVALID', 'no CA trusted yet');
      assert.equal(
        (await api.call('POST', '/v1/device-cas', t.key, { certificate: certs.device })).body.code,
        'PALISADE_CERTIFICATE_INVALID',
      );
      assert.equal(
        (await api.call('POST', '/v1/device-cas', t.key, { certificate: certs.ca })).body.code,
        'PALISADE_DEVICE_CA_UNVERIFIED',
        'a CA needs its proof of possession',
      );
      const trusted = await api.call('POST', '/v1/device-cas', t.key, {
        certificate: certs.ca,
        verificationCertificate: certs.verification,
      });
      assert.equal(trusted.status, 201, JSON.stringify(trusted.body));
      const x509 = await api.call('POST', `/v1/devices/${device.id}/credentials`, t.key, {
        type: 'x509',
        certificate: certs.device,
      });
      assert.equal(x509.status, 201, JSON.stringify(x509.body));
      const der = new X509Certificate(certs.device).raw;
      assert.equal((await authority.byCertificate(der))?.deviceId, device.id);
      const stranger = await api.call('POST', `/v1/devices/${device.id}/credentials`, t.key, {
        type: 'x509',
        certificate: certs.stranger,
      });
      assert.equal(stranger.body.code, 'PALISADE_CERTIFICATE_INVALID');

      const issued = await api.call('POST', '/v1/provisioning-keys', t.key);
      assert.equal(issued.status, 201);
      const first = await api.call('POST', '/api/v1/provision', undefined, {
        deviceName: 'self-made',
        provisionDeviceKey: issued.body.key,
      });
      assert.equal(first.status, 201, JSON.stringify(first.body));
      assert.equal(
        (await authority.byAccessToken(first.body.credentialsValue))?.deviceName,
        'self-made',
      );
      const again = await api.call('POST', '/api/v1/provision', undefined, {
        deviceName: 'second',
        provisionDeviceKey: issued.body.key,
      });
      assert.equal(again.body.code, 'PALISADE_DEVICE_UNAUTHENTICATED');
    });

    test('persistent RPC waits for the device, is delivered on attach, and records the answer', async () => {
      const made = await api.call('POST', '/v1/devices', t.key, { name: 'rpc-target' });
      const queued = await api.call('POST', `/v1/devices/${made.body.id}/rpc`, t.key, {
        method: 'setValve',
        params: { open: true },
        persistent: true,
        timeoutMs: 600_000,
      });
      assert.equal(queued.status, 201, JSON.stringify(queued.body));
      assert.equal(queued.body.status, 'queued');
      const identity = (await api.platform.devices.authority.byAccessToken(
        made.body.credentials.token,
      ))!;
      const received: OutgoingRpc[] = [];
      let got!: () => void;
      const delivered = new Promise<void>((resolve) => {
        got = resolve;
      });
      const detach = api.platform.devices.rpc.attach(identity, async (request) => {
        received.push(request);
        got();
        return ACKNOWLEDGED;
      });
      await delivered;
      assert.deepEqual(received[0], {
        requestId: queued.body.id,
        body: { method: 'setValve', params: { open: true } },
      });
      await api.platform.devices.rpc.respond(identity, queued.body.id, { ok: 1 });
      detach();
      const status = await api.call(
        'GET',
        `/v1/devices/${made.body.id}/rpc/${queued.body.id}`,
        t.key,
      );
      assert.equal(status.body.status, 'succeeded');
      assert.deepEqual(status.body.response, { ok: 1 });
      await assert.rejects(api.platform.devices.rpc.respond(identity, queued.body.id, {}), {
        code: 'PALISADE_RPC_NOT_PENDING',
      });
      const offline = await api.call('POST', `/v1/devices/${made.body.id}/rpc`, t.key, {
        method: 'ping',
      });
      assert.equal(
        offline.body.status,
        'failed',
        'a two-way RPC to an offline device fails at once',
      );
    });

    test('a two-way RPC waits out a timeout longer than a Node.js timer holds', async (tc) => {
      const made = await api.call('POST', '/v1/devices', t.key, { name: 'rpc-long' });
      const identity = (await api.platform.devices.authority.byAccessToken(
        made.body.credentials.token,
      ))!;
      let requestId = '';
      const detach = api.platform.devices.rpc.attach(identity, async (request) => {
        requestId = request.requestId;
        return ACKNOWLEDGED;
      });
      tc.mock.timers.enable({ apis: ['setTimeout'] });
      const timers = tc.mock.method(globalThis, 'setTimeout');
      const longTimers = () =>
        timers.mock.calls.filter((call) => Number(call.arguments[1]) >= 2 ** 30).length;
      /** Sends the RPC; resolves with its pending reply once the call's timer is armed. */
      const send = async () => {
        const before = longTimers();
        const reply = api.call('POST', `/v1/devices/${made.body.id}/rpc`, t.key, {
          method: 'slow',
          timeoutMs: LONG_RPC_TIMEOUT_MS,
        });
        while (longTimers() === before) await new Promise((resolve) => setImmediate(resolve));
        return { reply };
      };

      const answered = await send();
      // Node.js runs a timer longer than 2^31 - 1 ms after 1 ms.
      for (const call of timers.mock.calls) assert.ok(Number(call.arguments[1]) <= TIMER_MAX_MS);
      tc.mock.timers.tick(TIMER_MAX_MS);
      tc.mock.timers.tick(LONG_RPC_TIMEOUT_MS - TIMER_MAX_MS - 1);
      await new Promise((resolve) => setImmediate(resolve));
      await api.platform.devices.rpc.respond(identity, requestId, { ok: 1 });
      assert.equal((await answered.reply).body.status, 'succeeded');

      const unanswered = await send();
      tc.mock.timers.tick(TIMER_MAX_MS);
      tc.mock.timers.tick(LONG_RPC_TIMEOUT_MS - TIMER_MAX_MS);
      assert.equal((await unanswered.reply).body.status, 'expired');
      detach();
    });

    test('device and credential writes retried alone after their batch failed are whole', async () => {
      const { stores } = api.platform;
      const tenant = (await stores.controlPlane.getTenant(t.id))!;
      const context = issueTenantContext(tenant, { kind: 'api-key', id: 'retry-test' });
      const locate = storeLocator(stores.shards);
      const store = await locate(context);
      // A wait long enough for every write below to join one batch, which then fails.
      const committer = new GroupCommitter({
        maxBatch: 16,
        maxWaitMs: 50,
        seal: async () => undefined,
      });
      const caps = new ObjectCaps({ limitsOf: planLimits(api.platform.settings) });
      const writes = new DeviceWrites(locate, committer, stores.controlPlane.devices, () => {});
      const registry = new DeviceRegistry(
        writes,
        stores.controlPlane.devices,
        caps,
        api.platform.settings.gatewayChildrenMax,
      );
      const credentials = new CredentialRegistry(writes, stores.controlPlane.devices);
      // Submitted after the write under test, so that one has run when the batch fails.
      const failingNeighbour = async () => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        await committer.submit(store, async () => {
          throw new Error('an unexpected failure of another write in the batch');
        });
      };

      const created = registry.create(context, { name: 'retried-alone' });
      await assert.rejects(failingNeighbour(), /unexpected failure/);
      const { device: made, token } = await created;
      assert.equal((await api.platform.devices.authority.byAccessToken(token))?.deviceId, made.id);

      const added = credentials.addCredential(context, made.id, {
        type: 'mqtt_basic',
        username: 'retried-user',
        password: 'retried-password',
      });
      await assert.rejects(failingNeighbour(), /unexpected failure/);
      assert.equal((await added).type, 'mqtt_basic');
    });

    test('an answer after its RPC expired is refused, and the request stays expired', async () => {
      const made = await api.call('POST', '/v1/devices', t.key, { name: 'rpc-late' });
      const identity = (await api.platform.devices.authority.byAccessToken(
        made.body.credentials.token,
      ))!;
      const detach = api.platform.devices.rpc.attach(identity, async () => AWAITING_ACK);
      const sent = await api.call('POST', `/v1/devices/${made.body.id}/rpc`, t.key, {
        method: 'slow',
        persistent: true,
        timeoutMs: 60_000,
      });
      assert.equal(sent.body.status, 'sent', JSON.stringify(sent.body));
      // The clock moves past the expiry; the server's timers do not (a slow host would expire
      // a short timeout before the request was even sent).
      mock.timers.enable({ apis: ['Date'], now: Date.now() });
      try {
        mock.timers.tick(61_000);
        const url = `/v1/devices/${made.body.id}/rpc/${sent.body.id}`;
        assert.equal((await api.call('GET', url, t.key)).body.status, 'expired');
        await assert.rejects(api.platform.devices.rpc.respond(identity, sent.body.id, { ok: 1 }), {
          code: 'PALISADE_RPC_NOT_PENDING',
        });
        detach();
        const after = await api.call('GET', url, t.key);
        assert.equal(after.body.status, 'expired');
        assert.equal(after.body.response, null);
      } finally {
        mock.timers.reset();
      }
    });

    test('retention deletes points older than the plan keeps, as a ledger entry', async () => {
      const made = await api.call('POST', '/v1/devices', t.key, { name: 'old' });
      const now = Date.now();
      const old = now - 10 * 86_400_000;
      await api.call('POST', `/api/v1/${made.body.credentials.token}/telemetry`, undefined, [
        { ts: old, values: { v: 1 } },
        { ts: now - 1000, values: { v: 2 } },
      ]);
      // 365 days by default: nothing goes. 400 days later, both go.
      await api.platform.devices.retention.run(now);
      assert.equal((await points(made.body.id, `from=0&to=${now + 1000}`)).body.v.length, 2);
      await api.platform.devices.retention.run(old + 366 * 86_400_000);
      const left = await points(made.body.id, `from=0&to=${now + 1000}`);
      assert.deepEqual(
        left.body.v.map((p: { value: number }) => p.value),
        [2],
      );
      const store = await api.platform.stores.shards
        .get((await api.platform.stores.controlPlane.getTenant(t.id))!.shard)!
        .tenant(t.id);
      const { nextSeq } = await store.reader.ledgerHead();
      const entries = await store.reader.ledgerEntries(0, nextSeq);
      const retention = entries.findLast((e) => e.resource === 'telemetry/_retention');
      assert.equal(JSON.parse(retention!.entry).action, 'telemetry.retention');
      // Telemetry entries are not indexed by resource.
      assert.equal(await store.reader.latestEntry('telemetry/_retention'), undefined);
    });

    if (backend === 'postgres') {
      test('PostgreSQL telemetry is partitioned by month with RLS forced', async () => {
        const client = new pg.Client({ connectionString: api.fixture.shardUrls[0] });
        await client.connect();
        try {
          const parts = await client.query(
            `SELECT c.relname, c.relforcerowsecurity FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'telemetry'`,
          );
          assert.ok(
            parts.rows.some((r) => /^telemetry_p\d{6}$/.test(r.relname)),
            'monthly partitions exist',
          );
          const parent = await client.query(
            "SELECT relkind, relforcerowsecurity FROM pg_class WHERE relname = 'telemetry'",
          );
          assert.deepEqual(parent.rows[0], { relkind: 'p', relforcerowsecurity: true });
        } finally {
          await client.end();
        }
      });
    }

    test('SSE: a tenant receives its own accepted telemetry, another tenant nothing', async () => {
      const other = await api.tenant(`other-${backend}`);
      await api.http.listen({ host: '127.0.0.1', port: 0 });
      const address = api.http.server.address() as { port: number };
      const open = async (key: string) => {
        const controller = new AbortController();
        const response = await fetch(`http://127.0.0.1:${address.port}/v1/telemetry/stream`, {
          headers: { authorization: `Bearer ${key}` },
          signal: controller.signal,
        });
        assert.equal(response.status, 200);
        assert.equal(response.headers.get('content-type'), 'text/event-stream');
        assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
        assert.equal(
          response.headers.get('content-security-policy'),
          "default-src 'none'; frame-ancestors 'none'",
        );
        const reader = response.body!.getReader();
        const decoder = new TextDecoder();
        let text = '';
        const until = async (pattern: RegExp) => {
          while (!pattern.test(text)) {
            const chunk = await reader.read();
            if (chunk.done) break;
            text += decoder.decode(chunk.value);
          }
          return text;
        };
        await until(/connected/);
        return { until, text: () => text, close: () => controller.abort() };
      };
      const mine = await open(t.key);
      const theirs = await open(other.key);
      await api.call('POST', `/api/v1/${device.token}/telemetry`, undefined, { sse: 42 });
      const seen = await mine.until(/"sse"/);
      assert.match(seen, /event: telemetry/);
      assert.match(seen, new RegExp(device.id));
      // B's stream got heartbeats at most; give its consumer the same chance, then look.
      await api.call('POST', `/api/v1/${device.token}/telemetry`, undefined, { sse: 43 });
      await mine.until(/43/);
      assert.ok(!theirs.text().includes('sse') && !theirs.text().includes(device.id));
      mine.close();
      theirs.close();
    });

    test('SSE: a stream ends when its API key is revoked, before it shows anything more', async () => {
      if (!api.http.server.listening) await api.http.listen({ host: '127.0.0.1', port: 0 });
      const address = api.http.server.address() as { port: number };
      const issued = await api.call('POST', `/v1/platform/tenants/${t.id}/api-keys`, ADMIN_TOKEN, {
        name: 'watcher',
      });
      assert.equal(issued.status, 201);
      const response = await fetch(`http://127.0.0.1:${address.port}/v1/telemetry/stream`, {
        headers: { authorization: `Bearer ${issued.body.secret}` },
      });
      assert.equal(response.status, 200);
      const reader = response.body!.getReader();
      const decoder = new TextDecoder();
      let text = '';
      while (!text.includes('connected')) text += decoder.decode((await reader.read()).value);
      const revoked = await api.call(
        'DELETE',
        `/v1/platform/tenants/${t.id}/api-keys/${issued.body.id}`,
        ADMIN_TOKEN,
      );
      assert.equal(revoked.status, 204);
      await api.call('POST', `/api/v1/${device.token}/telemetry`, undefined, { after_revoke: 1 });
      for (;;) {
        const chunk = await reader.read();
        if (chunk.done) break;
        text += decoder.decode(chunk.value);
      }
      assert.ok(!text.includes('after_revoke'), text);
    });

    test('SSE: an idle stream ends at its next heartbeat once its tenant is suspended', async () => {
      if (!api.http.server.listening) await api.http.listen({ host: '127.0.0.1', port: 0 });
      const address = api.http.server.address() as { port: number };
      const other = await api.tenant(`suspended-${backend}`);
      const response = await fetch(`http://127.0.0.1:${address.port}/v1/telemetry/stream`, {
        headers: { authorization: `Bearer ${other.key}` },
      });
      assert.equal(response.status, 200);
      const reader = response.body!.getReader();
      assert.match(new TextDecoder().decode((await reader.read()).value), /connected/);
      const suspended = await api.call('PATCH', `/v1/platform/tenants/${other.id}`, ADMIN_TOKEN, {
        status: 'suspended',
      });
      assert.equal(suspended.status, 200);
      // Ends (else the test times out) at its next heartbeat, without any event.
      while (!(await reader.read()).done);
    });

    test('SSE: a client gone while its subscription was made leaves no subscription behind', async () => {
      const bus = api.platform.devices.bus;
      const subscribe = bus.subscribe.bind(bus);
      let stopped = 0;
      bus.subscribe = async (...args) => {
        await new Promise((resolve) => setTimeout(resolve, 200));
        const subscription = await subscribe(...args);
        const stop = subscription.stop.bind(subscription);
        subscription.stop = () => {
          stopped++;
          return stop();
        };
        return subscription;
      };
      try {
        if (!api.http.server.listening) await api.http.listen({ host: '127.0.0.1', port: 0 });
        const { port } = api.http.server.address() as { port: number };
        const gone = request({
          host: '127.0.0.1',
          port,
          path: '/v1/telemetry/stream',
          headers: { authorization: `Bearer ${t.key}` },
        });
        gone.on('error', () => {});
        gone.end();
        await new Promise((resolve) => setTimeout(resolve, 50));
        gone.destroy();
        await new Promise((resolve) => setTimeout(resolve, 400));
        assert.equal(stopped, 1);
      } finally {
        bus.subscribe = subscribe;
      }
    });
  });

  describe(`telemetry key order on ${backend} with a locale-aware default collation`, () => {
    let api: TestApi;
    before(async () => {
      api = await TestApi.start(backend, {}, { icuLocale: 'en-US' });
    });
    after(() => api.close());

    test('keys come in code-point order, as on SQLite, so a limit cuts the same points', async () => {
      const t = await api.tenant('order');
      const made = await api.call('POST', '/v1/devices', t.key, { name: 'keys' });
      const ts = Date.now() - 60_000;
      const keys = ['a', 'B', 'a-b', 'ab', 'a_b', 'Z', 'a.b', 'a:b'];
      const sent = await api.call(
        'POST',
        `/api/v1/${made.body.credentials.token}/telemetry`,
        undefined,
        { ts, values: Object.fromEntries(keys.map((k, i) => [k, i])) },
      );
      assert.equal(sent.status, 200, JSON.stringify(sent.body));
      const byCodePoint = ['B', 'Z', 'a', 'a-b', 'a.b', 'a:b', 'a_b', 'ab'];
      const url = `/v1/devices/${made.body.id}/telemetry`;
      const range = `from=${ts}&to=${ts + 1}`;
      for (const path of [`${url}?${range}`, `${url}?${range}&agg=count`, `${url}/latest`]) {
        const reply = await api.call('GET', path, t.key);
        assert.deepEqual(Object.keys(reply.body), byCodePoint, path);
      }
      const cut = await api.call('GET', `${url}?${range}&limit=3`, t.key);
      assert.deepEqual(Object.keys(cut.body), byCodePoint.slice(0, 3));
    });
  });

  describe(`telemetry retention by plan on ${backend}`, () => {
    let api: TestApi;
    before(async () => {
      // Only one plan named, no `*`: every other plan keeps the default 365 days.
      api = await TestApi.start(backend, { telemetryRetention: ['brief=7'] });
    });
    after(() => api.close());

    test('a plan not named keeps its points while a named plan expires; PostgreSQL drops only partitions no plan keeps', async () => {
      const DAY = 86_400_000;
      const now = Date.now();
      // Within what both plans keep: a point older than its plan keeps is refused.
      const old = now - 5 * DAY;
      const pointsOf = async (slug: string, plan?: string) => {
        const t = await api.tenant(slug);
        if (plan !== undefined) {
          const patched = await api.call('PATCH', `/v1/platform/tenants/${t.id}`, ADMIN_TOKEN, {
            plan,
          });
          assert.equal(patched.status, 200, JSON.stringify(patched.body));
        }
        const made = await api.call('POST', '/v1/devices', t.key, { name: 'meter' });
        const sent = await api.call(
          'POST',
          `/api/v1/${made.body.credentials.token}/telemetry`,
          undefined,
          { ts: old, values: { v: 1 } },
        );
        assert.equal(sent.status, 200, JSON.stringify(sent.body));
        return async () =>
          (await api.call('GET', `/v1/devices/${made.body.id}/telemetry?from=0&to=${now}`, t.key))
            .body.v ?? [];
      };
      const brief = await pointsOf('brief-plan', 'brief');
      const kept = await pointsOf('default-plan');
      assert.equal((await kept()).length, 1);
      await api.platform.devices.retention.run(now + 3 * DAY);
      assert.deepEqual(await brief(), [], 'the named plan keeps 7 days');
      assert.equal((await kept()).length, 1, 'a plan not named keeps 365 days');
    });
  });
}
