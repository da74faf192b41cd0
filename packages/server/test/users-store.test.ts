import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { uuid7 } from '../src/ids/index.ts';
import type { ShardStore, UserRow } from '../src/store/index.ts';
import { openStores, type Stores } from '../src/store/index.ts';
import { type BackendFixture, backendNames, openBackend } from './support/backends.ts';
import { tenantLeftovers } from './support/tenant-leftovers.ts';

function user(email: string): UserRow {
  const now = new Date().toISOString();
  return {
    id: uuid7(),
    email,
    name: 'N',
    roles: ['viewer'],
    disabled: false,
    passwordHash: null,
    totp: { wrappedKey: new Uint8Array([1, 2]), sealed: new Uint8Array([3]) },
    totpLastStep: null,
    version: 1,
    createdAt: now,
    updatedAt: now,
    sessionsNotBefore: null,
    keptSignIn: null,
    totpPending: null,
  };
}

const invitation = (userId: string, tokenHash: string, expiresAt: string) => ({
  userId,
  tokenHash,
  expiresAt,
  createdAt: new Date().toISOString(),
});

for (const backend of backendNames()) {
  describe(`users storage on ${backend}`, () => {
    let fixture: BackendFixture;
    let stores: Stores;
    let shard: ShardStore;

    before(async () => {
      fixture = await openBackend(backend);
      stores = await openStores(fixture.settings);
      shard = stores.shards.get('s1')!;
    });
    after(async () => {
      await stores.close();
      await fixture.cleanup();
    });

    test('a stale version writes nothing; a TOTP step is taken once', async () => {
      const store = await shard.tenant(uuid7());
      const row = user('a@example.com');
      await store.transaction((tx) => tx.users.insertUser(row));
      assert.deepEqual(await store.reader.users.getUser(row.id), row);
      const ended = new Date().toISOString();
      const pending = { wrappedKey: new Uint8Array([4, 5]), sealed: new Uint8Array([6]) };
      const written = {
        ...row,
        name: 'M',
        version: 2,
        sessionsNotBefore: ended,
        keptSignIn: 'grant-1',
        totpPending: pending,
      };
      await store.transaction(async (tx) => {
        assert.equal(await tx.users.updateUser(written, 1), true);
        assert.equal(await tx.users.updateUser({ ...row, name: 'X', version: 2 }, 1), false);
      });
      assert.deepEqual(await store.reader.users.getUser(row.id), written);
      const cleared = { ...written, version: 3, keptSignIn: null, totpPending: null };
      await store.transaction((tx) => tx.users.updateUser(cleared, 2));
      assert.deepEqual(await store.reader.users.getUser(row.id), cleared);
      const steps = await store.transaction(async (tx) => [
        await tx.users.signedIn(row.id, 100),
        await tx.users.signedIn(row.id, 100),
        await tx.users.signedIn(row.id, 99),
        await tx.users.signedIn(row.id, 101),
        await tx.users.signedIn(row.id, null),
      ]);
      assert.deepEqual(steps, [true, false, false, true, true]);
      assert.equal((await store.reader.users.getUser(row.id))!.totpLastStep, 101);
    });

    test('a sign-in moves the version: a change read before it writes nothing', async () => {
      // Another instance taking a TOTP step between this change's read and its write: the
      // write must not put back the step it read.
      const store = await shard.tenant(uuid7());
      const row = user('d@example.com');
      await store.transaction((tx) => tx.users.insertUser(row));
      await store.transaction((tx) => tx.users.signedIn(row.id, 7));
      const written = await store.transaction((tx) =>
        tx.users.updateUser({ ...row, name: 'Z', version: 2 }, row.version),
      );
      assert.equal(written, false);
      const after = (await store.reader.users.getUser(row.id))!;
      assert.deepEqual([after.name, after.totpLastStep], ['N', 7]);
    });

    test('failed sign-ins of a name count atomically, within the window from the first of a run or the end of the last lock', async () => {
      const store = await shard.tenant(uuid7());
      const t = (minutes: number) =>
        new Date(Date.UTC(2026, 0, 1) + minutes * 60_000).toISOString();
      // A one-hour window: a failure at minute m counts the earlier ones still recent at m - 60.
      const fail = (minutes: number, name = 'w') =>
        store.transaction((tx) =>
          tx.users.addSignInFailure(name, t(minutes), t(minutes - 60), 100),
        );
      const row = async (name = 'w') => (await store.reader.users.getSignInFailures([name]))[0];
      assert.deepEqual(
        await store.transaction(async (tx) => [
          await tx.users.addSignInFailure('w', t(0), t(-60), 100),
          await tx.users.addSignInFailure('w', t(0), t(-60), 100),
        ]),
        [1, 2],
      );
      assert.deepEqual([await fail(30), await fail(59)], [3, 4]);
      assert.equal(await fail(61), 1, 'the run began over an hour ago: a new count');
      assert.equal(await fail(100), 2, 'the new run began at minute 61');
      await store.transaction((tx) => tx.users.lockSignIns('w', t(150)));
      assert.deepEqual(await row(), {
        nameKey: 'w',
        failures: 2,
        runFrom: t(150),
        lockedUntil: t(150),
      });
      assert.equal(await fail(200), 3, 'a lock ended within the window: the count goes on');
      assert.equal(await fail(211), 1, 'run and lock over an hour ago');
      assert.equal((await row())!.lockedUntil, null, 'a new run carries no old lock');
      await store.transaction((tx) => tx.users.clearSignInFailures('w'));
      assert.equal(await row(), undefined);
      assert.equal(await fail(212), 1, 'a success ends the run');
      assert.equal(await fail(212, 'other'), 1, 'each name counts apart');
      assert.deepEqual(
        (await store.reader.users.getSignInFailures(['w', 'other', 'none']))
          .map((r) => [r.nameKey, r.failures])
          .sort(),
        [
          ['other', 1],
          ['w', 1],
        ],
      );
    });

    test('a name whose run is over is forgotten; past the most names kept, the oldest run goes first and a lock last', async () => {
      const store = await shard.tenant(uuid7());
      const t = (minutes: number) =>
        new Date(Date.UTC(2026, 0, 1) + minutes * 60_000).toISOString();
      const fail = (name: string, minutes: number, keepMax = 3) =>
        store.transaction((tx) =>
          tx.users.addSignInFailure(name, t(minutes), t(minutes - 60), keepMax),
        );
      const names = async () =>
        (await store.reader.users.getSignInFailures(['a', 'b', 'c', 'd', 'e', 'f']))
          .map((row) => row.nameKey)
          .sort();
      await fail('a', 0);
      await fail('b', 10);
      await fail('c', 20);
      await store.transaction((tx) => tx.users.lockSignIns('a', t(30)));
      assert.deepEqual(await names(), ['a', 'b', 'c']);
      await fail('d', 21);
      assert.deepEqual(await names(), ['a', 'c', 'd'], 'b began longest ago; a is locked');
      await fail('c', 22);
      assert.deepEqual(await names(), ['a', 'c', 'd'], 'a name counted again adds none');
      await fail('e', 85, 10);
      assert.deepEqual(await names(), ['a', 'e'], 'c and d began over an hour ago');
      await fail('f', 200, 10);
      assert.deepEqual(await names(), ['f'], "a's lock ended over an hour ago");
    });

    test('an invitation is consumed once, not after its expiry, and goes with its user', async () => {
      const store = await shard.tenant(uuid7());
      const row = user('b@example.com');
      const future = new Date(Date.now() + 60_000).toISOString();
      await store.transaction(async (tx) => {
        await tx.users.insertUser(row);
        await tx.users.putInvitation(invitation(row.id, 'old', future));
        await tx.users.putInvitation(invitation(row.id, 'new', future));
      });
      assert.equal(await store.reader.users.getInvitation('old'), undefined, 'one per user');
      const now = new Date().toISOString();
      const late = new Date(Date.now() + 120_000).toISOString();
      await store.transaction(async (tx) => {
        assert.equal(await tx.users.consumeInvitation('new', late), undefined, 'expired by then');
        assert.equal((await tx.users.consumeInvitation('new', now))?.userId, row.id);
        assert.equal(await tx.users.consumeInvitation('new', now), undefined, 'used');
        await tx.users.putInvitation(invitation(row.id, 'again', future));
        assert.equal(await tx.users.deleteUser(row.id), true);
      });
      assert.equal(await store.reader.users.getInvitation('again'), undefined);
    });

    test('dropping a tenant removes its users and invitations, and only its own', async () => {
      const [gone, kept] = [await shard.tenant(uuid7()), await shard.tenant(uuid7())];
      const future = new Date(Date.now() + 60_000).toISOString();
      const rows = [user('c@example.com'), user('c@example.com')];
      const now = new Date().toISOString();
      for (const [i, store] of [gone, kept].entries()) {
        await store.transaction(async (tx) => {
          await tx.users.insertUser(rows[i]!);
          await tx.users.putInvitation(invitation(rows[i]!.id, `t${i}`, future));
          await tx.users.addSignInFailure('name', now, now, 10);
        });
      }
      await shard.dropTenant(gone.tenantId);
      await assert.rejects(shard.tenant(gone.tenantId), { code: 'PALISADE_TENANT_DELETED' });
      // Nothing of it is left: its users, invitations and sign-in failures went with it.
      assert.deepEqual(await tenantLeftovers(shard.location, gone.tenantId), []);
      assert.equal((await kept.reader.users.getUserByEmail('c@example.com'))?.id, rows[1]!.id);
      assert.ok(await kept.reader.users.getInvitation('t1'));
      assert.equal((await kept.reader.users.getSignInFailures(['name']))[0]?.failures, 1);
    });
  });
}
