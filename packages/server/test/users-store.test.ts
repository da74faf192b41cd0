import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { uuid7 } from '../src/ids/index.ts';
import type { ShardStore, TenantWriteTx, UserRow } from '../src/store/index.ts';
import { openStores, type Stores } from '../src/store/index.ts';
import { type BackendFixture, backendNames, openBackend } from './support/backends.ts';

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
    failedSignIns: 0,
    lockedUntil: null,
    version: 1,
    createdAt: now,
    updatedAt: now,
    sessionsNotBefore: null,
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

    test('a stale version writes nothing; failures count atomically; a TOTP step is taken once', async () => {
      const store = await shard.tenant(uuid7());
      const row = user('a@example.com');
      await store.transaction((tx) => tx.users.insertUser(row));
      assert.deepEqual(await store.reader.users.getUser(row.id), row);
      const ended = new Date().toISOString();
      await store.transaction(async (tx) => {
        const changed = { ...row, name: 'M', version: 2, sessionsNotBefore: ended };
        assert.equal(await tx.users.updateUser(changed, 1), true);
        assert.equal(await tx.users.updateUser({ ...row, name: 'X', version: 2 }, 1), false);
      });
      const changed = (await store.reader.users.getUser(row.id))!;
      assert.deepEqual([changed.name, changed.sessionsNotBefore], ['M', ended]);
      const at = new Date().toISOString();
      const since = new Date(Date.now() - 60_000).toISOString();
      const counts = await store.transaction(async (tx) => [
        await tx.users.addSignInFailure(row.id, at, since),
        await tx.users.addSignInFailure(row.id, at, since),
        await tx.users.addSignInFailure(uuid7(), at, since),
      ]);
      assert.deepEqual(counts, [1, 2, undefined]);
      const steps = await store.transaction(async (tx) => [
        await tx.users.signedIn(row.id, 100),
        await tx.users.signedIn(row.id, 100),
        await tx.users.signedIn(row.id, 99),
        await tx.users.signedIn(row.id, 101),
        await tx.users.signedIn(row.id, null),
      ]);
      assert.deepEqual(steps, [true, false, false, true, true]);
      const after = (await store.reader.users.getUser(row.id))!;
      assert.deepEqual([after.totpLastStep, after.failedSignIns], [101, 0]);
    });

    test('failed sign-ins count within the window from the first of a run or the end of the last lock', async () => {
      const store = await shard.tenant(uuid7());
      const row = user('w@example.com');
      await store.transaction((tx) => tx.users.insertUser(row));
      const t = (minutes: number) =>
        new Date(Date.UTC(2026, 0, 1) + minutes * 60_000).toISOString();
      // A one-hour window: a failure at minute m counts the earlier ones still recent at m - 60.
      const fail = (minutes: number) =>
        store.transaction((tx) => tx.users.addSignInFailure(row.id, t(minutes), t(minutes - 60)));
      assert.deepEqual([await fail(0), await fail(30), await fail(59)], [1, 2, 3]);
      assert.equal(await fail(61), 1, 'the run began over an hour ago: a new count');
      assert.equal(await fail(100), 2, 'the new run began at minute 61');
      await store.transaction((tx) => tx.users.lockUser(row.id, t(150)));
      assert.equal(await fail(200), 3, 'a lock ended within the window: the count goes on');
      assert.equal(await fail(211), 1, 'run and lock over an hour ago');
      await store.transaction((tx) => tx.users.signedIn(row.id, null));
      assert.equal(await fail(212), 1, 'a success ends the run');
    });

    test('a failed sign-in, a lock and a sign-in move the version: a change read before them writes nothing', async () => {
      // Another instance counting a failure (or taking a TOTP step) between this change's read
      // and its write: the write must not put back the count, lock or step it read.
      const store = await shard.tenant(uuid7());
      const row = user('d@example.com');
      await store.transaction((tx) => tx.users.insertUser(row));
      const future = new Date(Date.now() + 60_000).toISOString();
      const writes: Record<string, (tx: TenantWriteTx) => Promise<unknown>> = {
        addSignInFailure: (tx) => tx.users.addSignInFailure(row.id, future, future),
        lockUser: (tx) => tx.users.lockUser(row.id, future),
        signedIn: (tx) => tx.users.signedIn(row.id, 7),
      };
      for (const [name, write] of Object.entries(writes)) {
        const read = (await store.reader.users.getUser(row.id))!;
        await store.transaction(write);
        const stale = { ...read, name: 'Z', version: read.version + 1 };
        const written = await store.transaction((tx) => tx.users.updateUser(stale, read.version));
        assert.equal(written, false, `${name} moved the version`);
      }
      const after = (await store.reader.users.getUser(row.id))!;
      assert.deepEqual(
        [after.name, after.failedSignIns, after.lockedUntil, after.totpLastStep],
        ['N', 0, null, 7],
      );
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
      for (const [i, store] of [gone, kept].entries()) {
        await store.transaction(async (tx) => {
          await tx.users.insertUser(rows[i]!);
          await tx.users.putInvitation(invitation(rows[i]!.id, `t${i}`, future));
        });
      }
      await shard.dropTenant(gone.tenantId);
      const reopened = await shard.tenant(gone.tenantId);
      assert.deepEqual(await reopened.reader.users.listUsers({ after: undefined, limit: 10 }), []);
      assert.equal(await reopened.reader.users.getInvitation('t0'), undefined);
      assert.equal((await kept.reader.users.getUserByEmail('c@example.com'))?.id, rows[1]!.id);
      assert.ok(await kept.reader.users.getInvitation('t1'));
    });
  });
}
