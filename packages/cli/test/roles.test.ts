/**
 * Scale-out as operators run it: one `api`, one `ingest` (its own MQTT port) and two
 * `worker` processes of one platform on PostgreSQL and NATS. Telemetry a device sends to the
 * ingest process is served by the api process; an RPC posted to the api process reaches the
 * device on the ingest process and its answer completes the call; exactly one worker seals
 * the platform log, and when it dies the other takes over without forking it; and internal
 * messages injected on NATS without a valid service token are refused and do nothing.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { jetstream } from '@nats-io/jetstream';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { LocalKms, MasterKey } from '@palisade/crypto';
import { ServiceTokens } from '../../server/src/internal/index.ts';
import { type BackendFixture, openBackend } from '../../server/test/support/backends.ts';
import { deleteNatsStream } from '../../server/test/support/buses.ts';
import { httpCall } from '../../server/test/support/http.ts';
import { mqttClient } from '../../server/test/support/mqtt-peers.ts';
import { logLines } from './support/palisade-process.ts';
import { palisadeFromSource, type SourceProcess, startRole } from './support/source-process.ts';

const POSTGRES = process.env.PALISADE_TEST_POSTGRES_URL;
const NATS = process.env.PALISADE_TEST_NATS_URL;
const ADMIN = `pa_${randomBytes(24).toString('base64url')}`;
const MASTER = randomBytes(32).toString('hex');
/** How long an injected message gets to (wrongly) draw an answer. */
const REFUSED_WAIT_MS = 1000;
/** How long a message that is answered may take, on a loaded machine; only bounds waiting. */
const ANSWER_WAIT_MS = 30_000;

/** Polls `probe` until it returns a value (the guard bounds a hung job; not a timing assertion). */
async function waitFor<T>(probe: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 600; i++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('gave up waiting');
}

describe('roles in separate processes on PostgreSQL and NATS', { skip: !POSTGRES || !NATS }, () => {
  let fixture: BackendFixture;
  let dir: string;
  let prefix: string;
  let api: SourceProcess;
  let ingest: SourceProcess;
  let workers: SourceProcess[];
  let nc: NatsConnection;
  let apiUrl: string;
  let tenant: { id: string; key: string };
  let device: { id: string; token: string };
  /** Records the key-job test made through the api process. */
  const recordIds: string[] = [];

  const call = (method: string, path: string, token: string, body?: unknown) =>
    httpCall(apiUrl, method, path, token, body);
  const leaders = () =>
    workers.filter((w) =>
      logLines(w.stdout()).some((l) => String(l.msg).startsWith('worker: leading')),
    );

  before(async () => {
    prefix = `palisadet${randomBytes(5).toString('hex')}`;
    fixture = await openBackend('postgres');
    dir = mkdtempSync(join(tmpdir(), 'palisade-roles-'));
    const { settings } = fixture;
    const common = (name: string) => [
      '--data',
      join(dir, name),
      '--database',
      settings.database!,
      ...settings.shards.flatMap((shard) => ['--shard', shard]),
      '--postgres-runtime-role',
      settings.postgresRuntimeRole,
      '--postgres-pool-size',
      '2',
      '--nats',
      NATS!,
      '--bus-prefix',
      prefix,
      '--admin-token',
      ADMIN,
      '--master-key',
      MASTER,
      '--ledger-key-file',
      join(dir, 'ledger-signing.json'),
      '--ledger-seal-interval-ms',
      '100',
      // A key job of many small batches, so two workers running it would overlap.
      '--reencrypt-batch-size',
      '1',
      '--log-level',
      'info',
    ];
    // The api process migrates the databases and makes the ledger keys the others share.
    api = await startRole([...common('api'), '--role', 'api', '--listen', '127.0.0.1:0']);
    apiUrl = String(api.started.url);
    [ingest, ...workers] = await Promise.all([
      startRole([...common('ingest'), '--role', 'ingest', '--mqtt', '127.0.0.1:0']),
      startRole([...common('worker1'), '--role', 'worker']),
      startRole([...common('worker2'), '--role', 'worker']),
    ]);
    nc = await connect({ servers: NATS! });
    const made = await call('POST', '/v1/platform/tenants', ADMIN, { slug: 'roles', name: 'R' });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const key = await call('POST', `/v1/platform/tenants/${made.body.id}/api-keys`, ADMIN, {
      name: 'k',
    });
    tenant = { id: made.body.id, key: key.body.secret };
    const dev = await call('POST', '/v1/devices', tenant.key, { name: 'pump' });
    assert.equal(dev.status, 201, JSON.stringify(dev.body));
    device = { id: dev.body.id, token: dev.body.credentials.token };
  });

  after(async () => {
    await nc?.close();
    await Promise.all([api, ingest, ...(workers ?? [])].map((p) => p?.stop('SIGTERM')));
    await fixture?.cleanup();
    await deleteNatsStream(prefix);
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs each role only where asked: one worker leads, the api serves no MQTT', () => {
    assert.equal(api.started.roles, 'api');
    assert.equal(api.started.mqtt, undefined);
    assert.equal(ingest.started.url, undefined);
    assert.match(String(ingest.started.mqtt), /^mqtt:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(leaders().length, 1);
  });

  it('serves from the api process the telemetry a device sent to the ingest process', async () => {
    const client = await mqttClient(String(ingest.started.mqtt), { username: device.token });
    await client.publishAsync('v1/devices/me/telemetry', JSON.stringify({ rpm: 1200 }), { qos: 1 });
    await client.endAsync();
    const latest = await call(
      'GET',
      `/v1/devices/${device.id}/telemetry/latest?keys=rpm`,
      tenant.key,
    );
    assert.equal(latest.status, 200, JSON.stringify(latest.body));
    assert.equal(latest.body.rpm[0].value, 1200);
  });

  it('delivers an RPC posted to the api process to the device on the ingest process', async () => {
    const client = await mqttClient(String(ingest.started.mqtt), { username: device.token });
    await client.subscribeAsync('v1/devices/me/rpc/request/+', { qos: 1 });
    client.on('message', (topic) => {
      const id = topic.split('/').at(-1)!;
      void client.publishAsync(`v1/devices/me/rpc/response/${id}`, '{"ok":true}', { qos: 1 });
    });
    const rpc = await call('POST', `/v1/devices/${device.id}/rpc`, tenant.key, {
      method: 'reboot',
      timeoutMs: 30_000,
    });
    assert.equal(rpc.status, 200, JSON.stringify(rpc.body));
    assert.equal(rpc.body.status, 'succeeded', JSON.stringify(rpc.body));
    assert.deepEqual(rpc.body.response, { ok: true });
    await client.endAsync();
  });

  it('refuses injected internal messages that are unsigned, forged, expired or altered', async () => {
    const client = await mqttClient(String(ingest.started.mqtt), { username: device.token });
    await client.subscribeAsync('v1/devices/me/rpc/request/+', { qos: 1 });
    const received: string[] = [];
    client.on('message', (topic) => received.push(topic));
    const queued = await call('POST', `/v1/devices/${device.id}/rpc`, tenant.key, {
      method: 'answered-already',
      persistent: true,
    });
    // Sent to the connected device; its PUBACK may already have made it delivered.
    assert.ok(['sent', 'delivered'].includes(queued.body.status), JSON.stringify(queued.body));
    const subject = `_palisade_internal.${prefix}.rpc.deliver.${tenant.id}.${device.id}`;
    const payload = Buffer.from(JSON.stringify({ rpcId: queued.body.id }));
    const right = new ServiceTokens(
      new LocalKms(MasterKey.fromText(MASTER)),
      {
        role: 'api',
        pid: 'test',
      },
      30_000,
    );
    const wrong = new ServiceTokens(
      new LocalKms(MasterKey.generate()),
      {
        role: 'api',
        pid: 'test',
      },
      30_000,
    );
    const send = async (
      token: string | undefined,
      data: Uint8Array = payload,
      timeout = REFUSED_WAIT_MS,
    ) => {
      const h = headers();
      if (token !== undefined) h.set('Palisade-Service', token);
      try {
        const reply = await nc.request(subject, data, { timeout, headers: h });
        return reply.json<unknown>();
      } catch {
        return 'no reply';
      }
    };
    const forgedKid = (await wrong.sign(subject, payload)).replace(
      /^v1\.([^.]+)/,
      (_, body: string) => {
        const claims = JSON.parse(Buffer.from(body, 'base64url').toString());
        return `v1.${Buffer.from(JSON.stringify({ ...claims, kid: new LocalKms(MasterKey.fromText(MASTER)).keyId })).toString('base64url')}`;
      },
    );
    const variants: Array<[string, string | undefined, Uint8Array?]> = [
      ['missing', undefined],
      ['key', await wrong.sign(subject, payload)],
      ['signature', forgedKid],
      ['expired', await right.sign(subject, payload, Date.now() - 31_000)],
      ['payload', await right.sign(subject, payload), Buffer.from('{"rpcId":"other"}')],
      [
        'role',
        await new ServiceTokens(
          new LocalKms(MasterKey.fromText(MASTER)),
          { role: 'worker', pid: 'test' },
          30_000,
        ).sign(subject, payload),
      ],
    ];
    for (const [reason, token, data] of variants) {
      assert.equal(await send(token, data), 'no reply', reason);
      await ingest.waitForLog(
        (l) => l.msg === 'internal: refused a message' && l.reason === reason,
      );
    }
    // The same request, properly signed, is answered: the RPC is no longer queued.
    assert.deepEqual(await send(await right.sign(subject, payload), payload, ANSWER_WAIT_MS), {
      delivered: false,
    });
    // Signed, but naming another tenant's queued RPC on this device's subject: the ingest
    // process reads it under this device's tenant, finds nothing and sends nothing.
    const other = await call('POST', '/v1/platform/tenants', ADMIN, { slug: 'other', name: 'O' });
    const otherKey = await call('POST', `/v1/platform/tenants/${other.body.id}/api-keys`, ADMIN, {
      name: 'k',
    });
    const offline = await call('POST', '/v1/devices', otherKey.body.secret, { name: 'off' });
    const theirs = await call('POST', `/v1/devices/${offline.body.id}/rpc`, otherKey.body.secret, {
      method: 'not-yours',
      persistent: true,
    });
    assert.equal(theirs.body.status, 'queued', JSON.stringify(theirs.body));
    const crossPayload = Buffer.from(JSON.stringify({ rpcId: theirs.body.id }));
    assert.deepEqual(
      await send(await right.sign(subject, crossPayload), crossPayload, ANSWER_WAIT_MS),
      { delivered: false },
    );
    assert.deepEqual(received, [`v1/devices/me/rpc/request/${queued.body.id}`]);
    await client.endAsync();
  });

  it('runs a key job in exactly one of the two workers', async () => {
    const records = 30;
    const schema = {
      type: 'object',
      properties: { n: { type: 'integer' }, ssn: { type: 'string' } },
    };
    const made = await call('PUT', '/v1/collections/people', tenant.key, {
      schema,
      encrypted: ['ssn'],
    });
    assert.ok(made.status < 300, JSON.stringify(made.body));
    for (let n = 0; n < records; n++) {
      const created = await call('POST', '/v1/collections/people/records', tenant.key, {
        n,
        ssn: `ssn-${n}`,
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      recordIds.push(created.body.id);
    }
    const rotated = await call('POST', '/v1/keys/rotate', tenant.key);
    assert.equal(rotated.status, 202, JSON.stringify(rotated.body));
    const job = await waitFor(async () => {
      const seen = await call('GET', `/v1/keys/jobs/${rotated.body.id}`, tenant.key);
      return seen.body.state === 'done' ? seen.body : undefined;
    });
    assert.equal(job.processed, records, JSON.stringify(job));
    const entries = (await call('GET', '/v1/ledger/entries?start=0&end=1000', tenant.key)).body
      .entries as { entry: { action: string } }[];
    const count = (action: string) => entries.filter((e) => e.entry.action === action).length;
    assert.equal(count('record.reencrypt'), records);
    assert.equal(count('keys.job.done'), 1);
    const ran = workers.filter((w) =>
      logLines(w.stdout()).some(
        (l) => l.msg === 're-encryption job running here' && l.job === rotated.body.id,
      ),
    );
    assert.equal(ran.length, 1);
  });

  it('publishes the commits of the api process to the bus from the leading worker', async () => {
    const consumer = await jetstream(nc).consumers.get(prefix.toUpperCase(), {
      filter_subjects: `${prefix}.${tenant.id}.record.people.>`,
    });
    const seen = new Set<string>();
    await waitFor(async () => {
      const batch = await consumer.fetch({ max_messages: 1000, expires: 1000 });
      for await (const m of batch) seen.add(m.subject.split('.').at(-1)!);
      return recordIds.every((id) => seen.has(id)) ? true : undefined;
    });
    const warned = [api, ingest, ...workers].filter((p) =>
      logLines(p.stdout()).some((l) => String(l.msg).startsWith('bus:')),
    );
    assert.equal(warned.length, 0, 'a process warned about the bus');
  });

  it('seals with one worker; when it dies the other takes over and the log stays consistent', async () => {
    const home = join(dir, 'home');
    const keys = join(dir, 'vkeys');
    const env = { PALISADE_URL: apiUrl, PALISADE_TOKEN: ADMIN, PALISADE_HOME: home };
    const exported = await palisadeFromSource(['ledger', 'keys', '--out', keys], env);
    assert.equal(exported.code, 0, exported.stderr);
    const verify = () =>
      palisadeFromSource(
        ['ledger', 'verify', '--url', apiUrl, '--token', tenant.key, '--keys', keys],
        env,
      );
    const first = await verify();
    assert.equal(first.code, 0, first.stdout + first.stderr);
    const [leader] = leaders();
    const standby = workers.find((w) => w !== leader)!;
    await leader!.stop('SIGKILL');
    await standby.waitForLog((l) => String(l.msg).startsWith('worker: leading'));
    const more = await call('POST', `/v1/devices/${device.id}/telemetry`, tenant.key, { rpm: 900 });
    assert.ok(more.status < 300, JSON.stringify(more.body));
    const second = await verify();
    assert.equal(second.code, 0, second.stdout + second.stderr);
  });
});

describe('a role subset refuses to start on single-process stores', () => {
  const cases: Array<[string, string[], RegExp[], RegExp[]]> = [
    [
      'SQLite and the in-process bus',
      ['--role', 'api'],
      [/--database postgres:\/\//, /--shard \[NAME=\]postgres:\/\//, /--nats nats:\/\//],
      [],
    ],
    [
      'PostgreSQL without NATS',
      [
        '--role',
        'worker,ingest',
        '--database',
        'postgres://127.0.0.1:1/none',
        '--shard',
        's1=postgres://127.0.0.1:1/none',
      ],
      [/^palisade: --role ingest,worker /, /--nats nats:\/\//],
      [/--database /, /--shard /],
    ],
  ];
  for (const [what, args, named, unnamed] of cases) {
    it(`${what}: exit 2 naming exactly the settings to add, nothing opened`, async () => {
      const data = mkdtempSync(join(tmpdir(), 'palisade-roles-'));
      try {
        const result = await palisadeFromSource(['start', '--data', data, ...args]);
        assert.equal(result.code, 2, result.stderr);
        for (const pattern of named) assert.match(result.stderr, pattern);
        for (const pattern of unnamed) assert.doesNotMatch(result.stderr, pattern);
        assert.deepEqual(readdirSync(data), []);
      } finally {
        rmSync(data, { recursive: true, force: true });
      }
    });
  }
});
