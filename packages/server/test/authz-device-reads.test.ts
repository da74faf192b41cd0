/**
 * A policy that forbids a principal a device holds wherever devices are read many at a time:
 * the device listing leaves that device out, and the tenant-wide telemetry stream does not
 * carry its telemetry, while the devices the principal may read still appear in both. A
 * stream the policies come to forbid as a whole ends.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DeviceStreamReads } from '../src/authz/device-stream-reads.ts';
import { ADMIN_TOKEN, TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';

/** Forbids viewers the devices labelled `locked` (`action` on them); everything else is allowed. */
const forbidLocked = (action: string) => `permit (principal, action, resource);
forbid (principal in Palisade::Role::"viewer", action == Palisade::Action::"${action}", resource)
when { resource has labels && resource.labels.contains("locked") };`;

/** A tenant's live telemetry stream (of one device with `query`), as `key` sees it. */
async function openStream(api: TestApi, key: string, query = '') {
  if (!api.http.server.listening) await api.http.listen({ host: '127.0.0.1', port: 0 });
  const { port } = api.http.server.address() as { port: number };
  const controller = new AbortController();
  const response = await fetch(`http://127.0.0.1:${port}/v1/telemetry/stream${query}`, {
    headers: { authorization: `Bearer ${key}` },
    signal: controller.signal,
  });
  assert.equal(response.status, 200);
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  const until = async (pattern: RegExp) => {
    while (!pattern.test(text)) {
      const chunk = await reader.read();
      if (chunk.done) throw new Error(`the stream ended before ${pattern}: ${text}`);
      text += decoder.decode(chunk.value);
    }
    return text;
  };
  /** Everything the stream showed once it ended (else the test times out). */
  const ended = async () => {
    for (;;) {
      const chunk = await reader.read();
      if (chunk.done) return text;
      text += decoder.decode(chunk.value);
    }
  };
  await until(/connected/);
  return { until, ended, close: () => controller.abort() };
}

for (const backend of backendNames()) {
  describe(`device policies over many devices on ${backend}`, () => {
    let api: TestApi;
    let tenant: { id: string; key: string };
    let viewer: string;
    const devices: Record<'open' | 'locked' | 'spare', { id: string; token: string }> = {
      open: { id: '', token: '' },
      locked: { id: '', token: '' },
      spare: { id: '', token: '' },
    };

    before(async () => {
      api = await TestApi.start(backend, { telemetryStreamHeartbeatMs: '1000' });
      tenant = await api.tenant('device-reads');
      const issued = await api.call(
        'POST',
        `/v1/platform/tenants/${tenant.id}/api-keys`,
        ADMIN_TOKEN,
        { roles: ['viewer'] },
      );
      viewer = issued.body.secret;
      for (const name of ['open', 'locked', 'spare'] as const) {
        const made = await api.call('POST', '/v1/devices', tenant.key, {
          name,
          labels: name === 'locked' ? ['locked'] : [],
        });
        assert.equal(made.status, 201, JSON.stringify(made.body));
        devices[name] = { id: made.body.id, token: made.body.credentials.token };
      }
    });
    after(() => api.close());

    const listed = async (key: string, limit = 100) => {
      const ids: string[] = [];
      let cursor: string | null = null;
      do {
        const query: string = cursor === null ? '' : `&cursor=${cursor}`;
        const page = await api.call('GET', `/v1/devices?limit=${limit}${query}`, key);
        assert.equal(page.status, 200, JSON.stringify(page.body));
        if (page.body.nextCursor !== null) assert.equal(page.body.items.length, limit);
        ids.push(...page.body.items.map((device: { id: string }) => device.id));
        cursor = page.body.nextCursor;
      } while (cursor !== null);
      return ids;
    };

    test('the device listing leaves out a device the caller may not read, page by page', async () => {
      const all = [devices.open.id, devices.locked.id, devices.spare.id];
      assert.deepEqual(await listed(viewer), all, 'without policies, every device');
      const put = await api.call('PUT', '/v1/policies', tenant.key, {
        policies: forbidLocked('devices:read'),
      });
      assert.equal(put.status, 200, JSON.stringify(put.body));
      try {
        const one = await api.call('GET', `/v1/devices/${devices.locked.id}`, viewer);
        assert.equal(one.status, 403, 'the device itself is forbidden');
        const allowed = await api.call('GET', `/v1/devices/${devices.open.id}`, viewer);
        assert.equal(allowed.status, 200);
        const readable = [devices.open.id, devices.spare.id];
        assert.deepEqual(await listed(viewer), readable, 'the locked device is left out');
        assert.deepEqual(await listed(viewer, 1), readable, 'and never ends or fills a page');
        assert.deepEqual(await listed(tenant.key), all, 'an owner, not forbidden, lists it');
      } finally {
        await api.call('DELETE', '/v1/policies', tenant.key);
      }
      assert.deepEqual(await listed(viewer), all, 'the policy gone, the device is listed again');
    });

    const send = async (device: 'open' | 'locked', marker: string) => {
      const sent = await api.call('POST', `/api/v1/${devices[device].token}/telemetry`, undefined, {
        [marker]: 1,
      });
      assert.equal(sent.status, 200);
    };

    test('the tenant-wide telemetry stream carries only the devices the caller may read, re-decided when policies change', async () => {
      const put = await api.call('PUT', '/v1/policies', tenant.key, {
        policies: forbidLocked('telemetry:read'),
      });
      assert.equal(put.status, 200, JSON.stringify(put.body));
      const watching = await openStream(api, viewer);
      const owner = await openStream(api, tenant.key);
      try {
        await send('locked', 'secret_one');
        await send('open', 'public_one');
        // Events come in order: once the open device's is there, the locked one's was passed.
        const seen = await watching.until(/public_one/);
        assert.ok(!seen.includes('secret_one') && !seen.includes(devices.locked.id), seen);
        assert.match(await owner.until(/public_one/), /secret_one/, 'the owner sees both');

        await api.call('DELETE', '/v1/policies', tenant.key);
        await send('locked', 'secret_two');
        await send('open', 'public_two');
        assert.match(await watching.until(/public_two/), /secret_two/, 'allowed again at once');

        await api.call('PUT', '/v1/policies', tenant.key, {
          policies: forbidLocked('telemetry:read'),
        });
        await send('locked', 'secret_three');
        await send('open', 'public_three');
        const later = await watching.until(/public_three/);
        assert.ok(!later.includes('secret_three'), 'forbidden again at once');
      } finally {
        watching.close();
        owner.close();
        await api.call('DELETE', '/v1/policies', tenant.key);
      }
    });

    test('a tenant-wide stream that policies come to forbid ends before it shows anything more', async () => {
      const watching = await openStream(api, viewer);
      const owner = await openStream(api, tenant.key);
      // Forbids the stream itself (`*`), not any one device's telemetry.
      const put = await api.call('PUT', '/v1/policies', tenant.key, {
        policies: `permit (principal, action, resource);
forbid (principal in Palisade::Role::"viewer", action == Palisade::Action::"telemetry:read", resource == Palisade::Device::"*");`,
      });
      assert.equal(put.status, 200, JSON.stringify(put.body));
      try {
        const refused = await api.call('GET', '/v1/telemetry/stream', viewer);
        assert.equal(refused.status, 403, 'opened now, the stream is refused');
        await send('open', 'after_forbid');
        assert.ok(!(await watching.ended()).includes('after_forbid'));
        await owner.until(/after_forbid/);
      } finally {
        watching.close();
        owner.close();
        await api.call('DELETE', '/v1/policies', tenant.key);
      }
    });

    test("an idle stream of one device ends at its next heartbeat once policies forbid the device's telemetry", async () => {
      const watching = await openStream(api, viewer, `?deviceId=${devices.locked.id}`);
      const put = await api.call('PUT', '/v1/policies', tenant.key, {
        policies: forbidLocked('telemetry:read'),
      });
      assert.equal(put.status, 200, JSON.stringify(put.body));
      try {
        await watching.ended();
      } finally {
        watching.close();
        await api.call('DELETE', '/v1/policies', tenant.key);
      }
    });

    test('a stream still allowed under new policies goes on', async () => {
      const watching = await openStream(api, viewer);
      const put = await api.call('PUT', '/v1/policies', tenant.key, {
        policies: forbidLocked('telemetry:read'),
      });
      assert.equal(put.status, 200, JSON.stringify(put.body));
      try {
        await watching.until(/heartbeat/);
        await send('open', 'still_open');
        await watching.until(/still_open/);
      } finally {
        watching.close();
        await api.call('DELETE', '/v1/policies', tenant.key);
      }
    });
  });
}

test('a stream decides each device once per policy state, and again under a new one', async () => {
  let state: object | null = {};
  const asked: string[] = [];
  const reads = new DeviceStreamReads(
    () => state,
    async (current, id) => {
      asked.push(`${current === null ? 'none' : 'policies'}:${id}`);
      return id !== 'locked';
    },
    '*',
  );
  assert.equal(await reads.allows('open'), true);
  assert.equal(await reads.allows('locked'), false);
  assert.equal(await reads.allows('open'), true);
  assert.equal(await reads.allows('locked'), false);
  assert.deepEqual(asked, ['policies:open', 'policies:locked'], 'each device decided once');
  state = {};
  assert.equal(await reads.allows('locked'), false);
  assert.deepEqual(asked.at(-1), 'policies:locked', 'decided again under the new state');
  state = null;
  await reads.allows('locked');
  await reads.allows('locked');
  assert.deepEqual(
    asked.slice(3),
    ['none:locked', 'none:locked'],
    'without policies, nothing kept',
  );
});

test('a stream decides itself, on its own resource, once per policy state', async () => {
  let state: object | null = {};
  let allowed = true;
  const asked: string[] = [];
  const reads = new DeviceStreamReads(
    () => state,
    (_current, id) => {
      asked.push(id);
      return allowed;
    },
    '*',
  );
  assert.equal(await reads.allowsStream(), true);
  allowed = false;
  assert.equal(await reads.allowsStream(), true, 'kept under the same policy state');
  state = {};
  assert.equal(await reads.allowsStream(), false, 'decided again under a new one');
  assert.deepEqual(asked, ['*', '*']);
});
