import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  type LedgerBundle,
  type NoteVerifier,
  parseVerifierKey,
  verifyBundle,
} from '@palisade/ledger';
import { nodeHasher, nodeVerifyProvider } from '@palisade/ledger/node';
import { ADMIN_TOKEN, PEOPLE_SCHEMA, TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';

/**
 * The tenant ledger export carries the salt of an entry only when its exporter may read,
 * through the API, the state the entry commits to: a salt lets its holder confirm a guess of
 * a low-entropy state (an RPC's PIN, a user's lock-out count).
 */

for (const backend of backendNames()) {
  describe(`the salts a tenant ledger export carries, on ${backend}`, () => {
    let api: TestApi;
    let tenant: { id: string; key: string };
    let lock: string;
    let lamp: string;
    let trusted: NoteVerifier[];

    async function keyWith(roles: string[]): Promise<string> {
      const issued = await api.call(
        'POST',
        `/v1/platform/tenants/${tenant.id}/api-keys`,
        ADMIN_TOKEN,
        { roles },
      );
      assert.equal(issued.status, 201, JSON.stringify(issued.body));
      return issued.body.secret;
    }

    async function keyHolding(name: string, permissions: string[]): Promise<string> {
      const put = await api.call('PUT', `/v1/roles/${name}`, tenant.key, { permissions });
      assert.ok(put.status < 300, JSON.stringify(put.body));
      return keyWith([name]);
    }

    before(async () => {
      api = await TestApi.start(backend);
      const keys = (await api.call('GET', '/v1/platform/ledger/keys', undefined)).body.keys;
      trusted = keys.map((k: string) => parseVerifierKey(k, nodeVerifyProvider));
      tenant = await api.tenant('salts');
      await api.call('PUT', '/v1/collections/people', tenant.key, { schema: PEOPLE_SCHEMA });
      await api.call('POST', '/v1/collections/people/records', tenant.key, { name: 'Ada' });
      const device = async (name: string, labels: string[]) =>
        (await api.call('POST', '/v1/devices', tenant.key, { name, labels })).body.id as string;
      lock = await device('lock', ['locked']);
      lamp = await device('lamp', []);
      for (const id of [lock, lamp]) {
        const sent = await api.call('POST', `/v1/devices/${id}/rpc`, tenant.key, {
          method: 'code',
          params: { pin: '0451' },
          persistent: true,
        });
        assert.equal(sent.status, 201, JSON.stringify(sent.body));
      }
      const user = await api.call('POST', '/v1/users', tenant.key, {
        email: 'grace@x.org',
        name: 'Grace',
        roles: ['viewer'],
      });
      assert.equal(user.status, 201, JSON.stringify(user.body));
      assert.equal((await api.call('POST', '/v1/provisioning-keys', tenant.key)).status, 201);
    });
    after(() => api.close());

    /** The export `key` gets, verified; and the resources whose entries it opens, by kind. */
    async function exported(key: string) {
      const reply = await api.call('GET', '/v1/ledger/export', key);
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      const bundle = reply.body as LedgerBundle;
      const summary = await verifyBundle(nodeHasher, bundle, trusted);
      const committed = bundle.entries
        .map(({ entry, salt }) => ({ ...JSON.parse(entry), salt }))
        .filter((entry) => entry.commitment !== null);
      const opened = (resource: RegExp) => {
        const salts = committed.filter((e) => resource.test(e.resource)).map((e) => e.salt);
        assert.ok(salts.length > 0, `no entry of ${resource}`);
        if (salts.every((salt) => salt !== null)) return true;
        if (salts.every((salt) => salt === null)) return false;
        return 'some';
      };
      return { bundle, summary, committed, opened };
    }

    const RPC = (device: string) => new RegExp(`^devices/${device}/rpc/`);
    const DEVICE = (device: string) => new RegExp(`^devices/${device}$`);

    test('ledger:export alone opens no entry whose state only another permission shows', async () => {
      const { committed } = await exported(await keyHolding('exporter', ['ledger:export']));
      const open = committed.filter((e) => e.salt !== null).map((e) => e.resource);
      assert.deepEqual(
        open.filter((resource) => resource !== 'oidc/keys'),
        [],
        'only the published key ids, which the JWKS shows anyone, are opened',
      );
    });

    test("the platform admin's export carries no salt, and verifies", async () => {
      const reply = await api.call(
        'GET',
        `/v1/platform/tenants/${tenant.id}/ledger/export`,
        ADMIN_TOKEN,
      );
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      const bundle = reply.body as LedgerBundle;
      assert.ok(bundle.entries.length > 10);
      assert.deepEqual(
        bundle.entries.filter((e) => e.salt !== null),
        [],
        'the platform admin reads no tenant state through the API',
      );
      const summary = await verifyBundle(nodeHasher, bundle, trusted);
      assert.equal(summary.entries, bundle.entries.length);
      assert.equal(summary.records, null);
    });

    test('the verifier checks no salt but those of the records a bundle carries', async () => {
      // So a verifier, however old, says of a bundle without the other salts what it says
      // with them: withholding them changes nothing it checks.
      const { bundle, summary } = await exported(tenant.key);
      const withheld = {
        ...bundle,
        entries: bundle.entries.map(({ entry, salt }) => ({
          entry,
          salt: JSON.parse(entry).resource.includes('/records/') ? salt : null,
        })),
      };
      assert.ok(withheld.entries.filter((e) => e.salt === null).length > 3);
      assert.deepEqual(await verifyBundle(nodeHasher, withheld, trusted), summary);
    });

    test('each permission opens the entries of what it reads, and nothing else', async () => {
      const devices = await exported(
        await keyHolding('device-auditor', ['ledger:export', 'devices:read']),
      );
      assert.equal(devices.opened(DEVICE(lamp)), true);
      assert.equal(devices.opened(RPC(lamp)), false, 'devices:read opened an RPC');
      assert.equal(devices.opened(/^users\//), false);
      const rpcs = await exported(await keyHolding('rpc-auditor', ['ledger:export', 'rpc:read']));
      assert.equal(rpcs.opened(RPC(lamp)), true);
      assert.equal(rpcs.opened(RPC(lock)), true);
      assert.equal(rpcs.opened(DEVICE(lamp)), false);

      const admin = await exported(await keyWith(['admin']));
      for (const open of [
        /^collections\/people$/,
        /^collections\/people\/records\//,
        DEVICE(lock),
        RPC(lock),
        /^users\//,
        /^roles\//,
      ])
        assert.equal(admin.opened(open), true, `${open}`);
      for (const closed of [/^tenant$/, /^api-keys\//, /^provisioning-keys\//])
        assert.equal(admin.opened(closed), false, `${closed}: no tenant route shows it`);
    });

    test("a policy that keeps a device's RPCs from a reader keeps their salts from its export", async () => {
      const admin = await keyWith(['admin']);
      const put = await api.call('PUT', '/v1/policies', tenant.key, {
        policies: `permit (principal, action, resource);
forbid (principal in Palisade::Role::"admin", action == Palisade::Action::"rpc:read", resource)
when { resource has labels && resource.labels.contains("locked") };`,
      });
      assert.equal(put.status, 200, JSON.stringify(put.body));
      const { opened } = await exported(admin);
      assert.equal(opened(RPC(lock)), false, 'the salt of an RPC the admin may not read');
      assert.equal(opened(RPC(lamp)), true);
      assert.equal(opened(DEVICE(lock)), true, 'devices:read is not forbidden');
      await api.call('DELETE', '/v1/policies', tenant.key);
      assert.equal((await exported(admin)).opened(RPC(lock)), true);
    });
  });
}
