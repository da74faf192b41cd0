/**
 * A tenant issuer has one current key set, however many API processes start it at once, and
 * a control plane that already holds two (made before that was enforced) keeps the one the
 * issuer signs with.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, type TestContext, test } from 'node:test';
import { LocalKms, MasterKey } from '@palisade/crypto';
import { commitState } from '@palisade/ledger';
import { nodeSha256 } from '@palisade/ledger/node';
import pg from 'pg';
import { GroupCommitter } from '../src/commit/index.ts';
import type { AccessTokenVerifier } from '../src/identity/access-token-verifier.ts';
import { revokeCookieSecrets, rotateCookieSecrets } from '../src/identity/index.ts';
import { IssuerDirectory, type IssuerEntry } from '../src/identity/issuer-directory.ts';
import { IssuerKeys } from '../src/identity/issuer-keys.ts';
import { IssuerUrls } from '../src/identity/issuer-urls.ts';
import { RevocationList } from '../src/identity/revocation-list.ts';
import { TenantAudit } from '../src/identity/tenant-audit.ts';
import { TenantIssuers } from '../src/identity/tenant-issuers.ts';
import { uuid7 } from '../src/ids/index.ts';
import { sealBatch } from '../src/ledger/index.ts';
import type { MaybePromise } from '../src/maybe-promise/index.ts';
import { type ControlPlaneIdentityStore, openStores, type Stores } from '../src/store/index.ts';
import { PG_CONTROL_PLANE_MIGRATIONS } from '../src/store/postgres/control-plane-migrations.ts';
import { migratePostgres } from '../src/store/postgres/postgres-migrate.ts';
import { CONTROL_PLANE_MIGRATIONS } from '../src/store/sqlite/control-plane-migrations.ts';
import { migrateSqlite, openSqlite } from '../src/store/sqlite/sqlite-database.ts';
import type { Tenant } from '../src/tenancy/index.ts';
import {
  type BackendFixture,
  type BackendName,
  backendNames,
  openBackend,
} from './support/backends.ts';

/** The control-plane schema version whose oidc_keys allowed two current key sets. */
const BEFORE_UNIQUE_KEYS = 6;

/** How long a retired cookie secret verifies in these tests. */
const COOKIE_GRACE_MS = 3_600_000;

/** How long a process's issuer cache trusts its key set without reading the store again. */
const RECHECK_MS = 1000;

/** An API process's view of the issuer keys: its own stores, committer and KMS. */
async function issuerProcess(fixture: BackendFixture, master: MasterKey, clock?: () => number) {
  const stores = await openStores(fixture.settings);
  const committer = new GroupCommitter({ maxBatch: 16, maxWaitMs: 0, seal: sealBatch });
  const keys = new IssuerKeys({
    store: stores.controlPlane.identity,
    kms: new LocalKms(master),
    audit: new TenantAudit(stores.shards, committer),
    retiredGraceMs: 60_000,
    cookieGraceMs: COOKIE_GRACE_MS,
    clock,
  });
  return { stores, keys };
}

/** Two API processes on one fresh backend, closed (and the backend removed) after the test. */
async function twoProcesses(backend: BackendName, t: TestContext, clock?: () => number) {
  const fixture = await openBackend(backend);
  const master = MasterKey.generate();
  const a = await issuerProcess(fixture, master, clock);
  const b = await issuerProcess(fixture, master, clock);
  t.after(async () => {
    await a.stores.close();
    await b.stores.close();
    await fixture.cleanup();
  });
  return { a, b };
}

/** A process's cache of tenant issuers, checking the stored keys again after RECHECK_MS. */
function tenantIssuers(
  store: ControlPlaneIdentityStore,
  keys: IssuerKeys,
  clock: () => number,
): TenantIssuers {
  return new TenantIssuers({
    directory: new IssuerDirectory(store, keys, { ttlMs: 60_000, foundMax: 100, missingMax: 100 }),
    keys,
    max: 4,
    recheckMs: RECHECK_MS,
    clock,
    provider: {
      urls: new IssuerUrls(() => 'http://127.0.0.1:1'),
      store,
      revocations: new RevocationList(store, 60_000),
      accounts: { account: async () => undefined },
      // Verifies no token here: building a provider does not use it.
      verifier: {} as AccessTokenVerifier,
      lifetimes: {
        accessTokenSeconds: 60,
        refreshTokenSeconds: 600,
        deviceCodeSeconds: 600,
        sessionSeconds: 3600,
      },
    },
  });
}

/** Holds each store's first listing of keys until every store has made one: both see none. */
function meetAfterFirstListing(stores: readonly ControlPlaneIdentityStore[]): void {
  let waiting = stores.length;
  let met!: () => void;
  const meeting = new Promise<void>((resolve) => {
    met = resolve;
  });
  for (const store of stores) {
    const listKeys = store.listKeys.bind(store);
    let first = true;
    store.listKeys = async (tenantId) => {
      const rows = await listKeys(tenantId);
      if (!first) return rows;
      first = false;
      if (--waiting === 0) met();
      await meeting;
      return rows;
    };
  }
}

async function newTenant(stores: Stores, slug = 'acme'): Promise<Tenant> {
  const now = new Date().toISOString();
  const tenant: Tenant = {
    id: uuid7(),
    slug,
    name: 'Acme',
    plan: 'free',
    status: 'active',
    shard: 's1',
    createdAt: now,
    updatedAt: now,
  };
  await stores.controlPlane.insertTenant(tenant);
  return tenant;
}

/** Raw SQL on the control plane, migrated up to a version, with `?` placeholders on both. */
interface RawControlPlane {
  migrate(upTo: number): Promise<void>;
  run(sql: string, params: readonly unknown[]): Promise<void>;
  all(sql: string): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

async function rawControlPlane(fixture: BackendFixture): Promise<RawControlPlane> {
  if (fixture.settings.database === undefined) {
    const db = openSqlite(join(fixture.settings.data, 'platform.db'));
    return {
      migrate: async (upTo) =>
        migrateSqlite(
          db,
          CONTROL_PLANE_MIGRATIONS.filter((m) => m.version <= upTo),
        ),
      run: async (sql, params) => {
        db.prepare(sql).run(...(params as (string | null | Uint8Array)[]));
      },
      all: async (sql) => db.prepare(sql).all() as Record<string, unknown>[],
      close: async () => db.close(),
    };
  }
  const client = new pg.Client({ connectionString: fixture.settings.database });
  await client.connect();
  const numbered = (sql: string) => {
    let n = 0;
    return sql.replace(/\?/g, () => `$${++n}`);
  };
  return {
    migrate: (upTo) =>
      migratePostgres(
        client,
        'control-plane',
        PG_CONTROL_PLANE_MIGRATIONS.filter((m) => m.version <= upTo),
      ),
    run: async (sql, params) => {
      await client.query(numbered(sql), [...params]);
    },
    all: async (sql) => (await client.query(sql)).rows,
    close: () => client.end(),
  };
}

for (const backend of backendNames()) {
  describe(`tenant issuer keys on ${backend}`, () => {
    test('two processes starting an issuer at once make one key set and both use it', async (t) => {
      const { a, b } = await twoProcesses(backend, t);
      const tenant = await newTenant(a.stores);
      meetAfterFirstListing([a.stores.controlPlane.identity, b.stores.controlPlane.identity]);

      const [fromA, fromB] = await Promise.all([a.keys.load(tenant), b.keys.load(tenant)]);

      assert.deepEqual(fromA, fromB, 'both processes sign with the same keys');
      const rows = await a.stores.controlPlane.identity.listKeys(tenant.id);
      assert.deepEqual(
        rows.map((row) => `${row.use}/${row.alg}/${row.retiredAt}`).sort(),
        [
          'cookie/HS256/null',
          'sig/ES256/null',
          'sig/EdDSA/null',
          'sig/ML-DSA-44/null',
          'sig/ML-DSA-65/null',
        ],
        'one current key per algorithm and one cookie secret',
      );
      assert.deepEqual(
        fromA.signing.map((jwk) => jwk.kid).sort(),
        rows
          .filter((row) => row.use === 'sig')
          .map((row) => row.kid)
          .sort(),
      );
      const ledger = (await a.stores.shards.get('s1')!.tenant(tenant.id)).reader;
      const entries = (await ledger.ledgerEntries(0, (await ledger.ledgerHead()).nextSeq)).filter(
        (row) => row.resource === 'oidc/keys',
      );
      assert.equal(entries.length, 1, 'the ledger records one creation');
      const published = fromA.signing.map((jwk) => jwk.kid);
      assert.equal(
        commitState(nodeSha256, entries[0]!.salt!, { published }),
        JSON.parse(entries[0]!.entry).commitment,
        'the recorded creation is of the keys kept',
      );
    });

    test('a retired cookie secret verifies only within its grace, and a new one signs', async (t) => {
      const fixture = await openBackend(backend);
      const { stores, keys } = await issuerProcess(fixture, MasterKey.generate());
      t.after(async () => {
        await stores.close();
        await fixture.cleanup();
      });
      const store = stores.controlPlane.identity;
      const tenant = await newTenant(stores);
      const cookieRows = async () =>
        (await store.listKeys(tenant.id)).filter((row) => row.use === 'cookie');
      const retire = async (msAgo: number) => {
        const current = (await cookieRows()).filter((row) => row.retiredAt === null);
        const at = new Date(Date.now() - msAgo).toISOString();
        await store.insertKeys(tenant.id, [], { kids: current.map((row) => row.kid), at });
      };
      const [first] = (await keys.load(tenant)).cookieKeys;
      // Retired now: cookies it signed still verify (the new secret signs, listed first).
      await retire(0);
      const fresh = (await keys.load(tenant)).cookieKeys;
      assert.equal(fresh.length, 2);
      assert.notEqual(fresh[0], first, 'a new current secret signs');
      assert.equal(fresh[1], first, 'the one retired within its grace still verifies');
      // Retired longer ago than the grace (the longest a cookie lives): it verifies nothing.
      await retire(COOKIE_GRACE_MS + 60_000);
      const later = (await keys.load(tenant)).cookieKeys;
      assert.equal((await cookieRows()).length, 3);
      assert.ok(!later.includes(fresh[0]!), 'the secret retired past its grace is gone');
      assert.equal(later[1], first, 'the other retired secret is still within its grace');
      assert.equal(later.length, 2);
    });

    test('a rotated signing key verifies the tokens it signed until their clock skew ends too', async (t) => {
      const fixture = await openBackend(backend);
      let now = Date.now();
      const { stores, keys } = await issuerProcess(fixture, MasterKey.generate(), () => now);
      t.after(async () => {
        await stores.close();
        await fixture.cleanup();
      });
      const store = stores.controlPlane.identity;
      const tenant = await newTenant(stores);
      const { signing } = await keys.load(tenant);
      const old = signing.map((jwk) => jwk.kid);
      // A token signed just before the rotation expires a lifetime (60 s here) after it, and is
      // accepted 5 s longer (acceptedUntil).
      const retiredAt = now;
      await store.insertKeys(tenant.id, [], { kids: old, at: new Date(retiredAt).toISOString() });
      const verifying = async () => {
        const published = (await keys.published(tenant.id)).map((jwk) => jwk.kid);
        const signed = (await keys.load(tenant)).signing.map((jwk) => jwk.kid);
        return old.filter((kid) => published.includes(kid) && signed.includes(kid));
      };
      now = retiredAt + 60_000 + 4_999;
      assert.deepEqual(await verifying(), old, 'within the skew past the last exp');
      now = retiredAt + 60_000 + 5_000;
      assert.deepEqual(await verifying(), [], 'then gone');
    });

    test('a cached issuer is built again once a retired cookie secret of it ends its grace', async (t) => {
      const fixture = await openBackend(backend);
      let now = Date.now();
      const clock = () => now;
      const { stores, keys } = await issuerProcess(fixture, MasterKey.generate(), clock);
      t.after(async () => {
        await stores.close();
        await fixture.cleanup();
      });
      const store = stores.controlPlane.identity;
      const tenant = await newTenant(stores);
      const issuers = tenantIssuers(store, keys, clock);
      const cookieSecrets = async () =>
        ((await issuers.get(tenant.slug)).provider as unknown as { keys: string[] }).keys;
      const [first] = await cookieSecrets();
      const current = (await store.listKeys(tenant.id)).filter((row) => row.use === 'cookie');
      await store.insertKeys(tenant.id, [], {
        kids: current.map((row) => row.kid),
        at: new Date(now).toISOString(),
      });
      issuers.invalidate();
      const during = await cookieSecrets();
      assert.deepEqual([during.length, during[1]], [2, first], 'within its grace it verifies');
      now += COOKIE_GRACE_MS - 1;
      assert.equal(await cookieSecrets(), during, 'the same issuer, until the grace ends');
      now += 1;
      assert.deepEqual(await cookieSecrets(), [during[0]], 'then built again without it');
    });

    test("a key rotation in one process reaches the other processes' issuers", async (t) => {
      let now = Date.now();
      const clock = () => now;
      const { a, b } = await twoProcesses(backend, t, clock);
      const tenant = await newTenant(a.stores);
      const issuersOfB = tenantIssuers(b.stores.controlPlane.identity, b.keys, clock);
      const before = (await issuersOfB.get(tenant.slug)).provider;
      await a.keys.rotate(tenant, 'test');
      now += RECHECK_MS - 1;
      assert.equal((await issuersOfB.get(tenant.slug)).provider, before, 'trusted a while');
      now += 1;
      const after = (await issuersOfB.get(tenant.slug)).provider;
      assert.notEqual(after, before, 'built again with the keys process A made');
      now += RECHECK_MS;
      assert.equal((await issuersOfB.get(tenant.slug)).provider, after, 'and kept while they hold');
    });

    test("a token's unknown key id has the issuer's keys read again, at most once a second per tenant", async (t) => {
      let now = Date.now();
      const clock = () => now;
      const { a, b } = await twoProcesses(backend, t, clock);
      const tenant = await newTenant(a.stores);
      await a.keys.load(tenant);
      const store = b.stores.controlPlane.identity;
      const directory = new IssuerDirectory(store, b.keys, {
        ttlMs: 3_600_000,
        foundMax: 100,
        missingMax: 100,
        clock,
      });
      const kids = async (entry: MaybePromise<IssuerEntry | undefined>) =>
        [...(await entry)!.keys.keys()].sort();
      const before = await kids(directory.get(tenant.slug));
      await a.keys.rotate(tenant, 'test');
      const made = (await a.stores.controlPlane.identity.listKeys(tenant.id))
        .filter((row) => row.use === 'sig' && row.retiredAt === null)
        .map((row) => row.kid);
      assert.deepEqual(await kids(directory.get(tenant.slug)), before, 'cached for its TTL');
      let reads = 0;
      const listKeys = store.listKeys.bind(store);
      store.listKeys = (tenantId) => {
        reads++;
        return listKeys(tenantId);
      };
      const reloaded = await kids(directory.reload(tenant.slug));
      assert.ok(
        made.every((kid) => reloaded.includes(kid)),
        'the keys the other process made are found at the first unknown kid',
      );
      assert.equal(reads, 1);
      assert.deepEqual(await kids(directory.get(tenant.slug)), reloaded, 'and cached');
      await Promise.all([directory.reload(tenant.slug), directory.reload(tenant.slug)]);
      now += 999;
      await directory.reload(tenant.slug);
      assert.equal(reads, 1, 'made-up key ids read the store no more often');
      now += 1;
      await directory.reload(tenant.slug);
      assert.equal(reads, 2, 'a second later, again');
    });

    test("an operator's cookie secret rotation reaches every process: one makes the new secret, all sign with it, the old one verifies within its grace", async (t) => {
      let now = Date.now();
      const clock = () => now;
      const { a, b } = await twoProcesses(backend, t, clock);
      const tenant = await newTenant(a.stores);
      await newTenant(a.stores, 'other');
      const processes = [a, b].map((p) =>
        tenantIssuers(p.stores.controlPlane.identity, p.keys, clock),
      );
      const secrets = async (issuers: TenantIssuers, slug = 'acme') =>
        ((await issuers.get(slug)).provider as unknown as { keys: string[] }).keys;
      const [old] = await secrets(processes[0]!);
      assert.deepEqual(await secrets(processes[1]!), [old]);
      const others = await secrets(processes[0]!, 'other');

      const store = a.stores.controlPlane.identity;
      assert.equal(await rotateCookieSecrets(store, tenant.id), 1);
      now += RECHECK_MS - 1;
      assert.deepEqual(await secrets(processes[1]!), [old], 'trusted until the next check');
      now += 1;
      const rotated = await secrets(processes[1]!);
      assert.equal(rotated.length, 2);
      assert.notEqual(rotated[0], old, 'a new secret signs');
      assert.equal(rotated[1], old, 'the retired one verifies the cookies it signed');
      assert.deepEqual(
        await secrets(processes[0]!),
        rotated,
        'the other process signs with it too',
      );
      assert.deepEqual(await secrets(processes[0]!, 'other'), others, 'only that tenant rotated');
      const ledger = (await a.stores.shards.get('s1')!.tenant(tenant.id)).reader;
      const actions = (await ledger.ledgerEntries(0, (await ledger.ledgerHead()).nextSeq))
        .filter((row) => row.resource === 'oidc/keys')
        .map((row) => JSON.parse(row.entry).action);
      assert.deepEqual(actions, ['oidc-keys.create', 'oidc-keys.cookie-secret-rotate']);

      now += COOKIE_GRACE_MS + 60_000;
      assert.deepEqual(await secrets(processes[1]!), [rotated[0]], 'past its grace it is gone');
      assert.equal(await rotateCookieSecrets(store), 2, "every tenant's, without a tenant");
    });

    test("a cookie secret rotation reaches another process's next request that uses cookies, not waiting for its recheck", async (t) => {
      const now = Date.now();
      const clock = () => now;
      const { a, b } = await twoProcesses(backend, t, clock);
      const tenant = await newTenant(a.stores);
      const [ofA, ofB] = [a, b].map((p) =>
        tenantIssuers(p.stores.controlPlane.identity, p.keys, clock),
      );
      const secrets = async (issuers: TenantIssuers, cookies: boolean) =>
        ((await issuers.get(tenant.slug, { cookies })).provider as unknown as { keys: string[] })
          .keys;
      const [old] = await secrets(ofB!, true);
      assert.deepEqual(await secrets(ofA!, true), [old]);

      assert.equal(await rotateCookieSecrets(a.stores.controlPlane.identity, tenant.id), 1);
      assert.deepEqual(await secrets(ofB!, false), [old], 'a request without cookies: trusted');
      const rotated = await secrets(ofB!, true);
      assert.equal(rotated.length, 2, 'the clock has not moved: no recheck is due');
      assert.notEqual(rotated[0], old, 'B signs with a new secret at once');
      assert.deepEqual(await secrets(ofA!, true), rotated, 'and A with the one B made');
      assert.equal(await secrets(ofB!, true), await secrets(ofB!, true), 'then kept');
    });

    test('a revocation of the cookie secrets leaves no process one of them, within its grace or not, and is in the ledger', async (t) => {
      const now = Date.now();
      const clock = () => now;
      const { a, b } = await twoProcesses(backend, t, clock);
      const tenant = await newTenant(a.stores);
      await newTenant(a.stores, 'other');
      const [ofA, ofB] = [a, b].map((p) =>
        tenantIssuers(p.stores.controlPlane.identity, p.keys, clock),
      );
      const secrets = async (issuers: TenantIssuers, slug = 'acme') =>
        ((await issuers.get(slug, { cookies: true })).provider as unknown as { keys: string[] })
          .keys;
      const [old] = await secrets(ofA!);
      const others = await secrets(ofA!, 'other');
      const store = a.stores.controlPlane.identity;
      await rotateCookieSecrets(store, tenant.id);
      const rotated = await secrets(ofB!);
      assert.deepEqual([rotated.length, rotated[1]], [2, old], 'the retired one within its grace');
      assert.deepEqual(await secrets(ofA!), rotated);

      assert.equal(await revokeCookieSecrets(store, tenant.id), 2, 'the current and the retired');
      const revoked = await secrets(ofA!);
      assert.equal(revoked.length, 1, 'a new secret, and no other');
      assert.ok(!rotated.includes(revoked[0]!), 'neither revoked one verifies');
      assert.deepEqual(await secrets(ofB!), revoked, 'in the other process too, at once');
      assert.deepEqual(await secrets(ofB!, 'other'), others, "another tenant's are untouched");
      const ledger = (await a.stores.shards.get('s1')!.tenant(tenant.id)).reader;
      const actions = (await ledger.ledgerEntries(0, (await ledger.ledgerHead()).nextSeq))
        .filter((row) => row.resource === 'oidc/keys')
        .map((row) => JSON.parse(row.entry).action);
      assert.deepEqual(actions, [
        'oidc-keys.create',
        'oidc-keys.cookie-secret-rotate',
        'oidc-keys.cookie-secret-revoke',
      ]);
      assert.equal(await revokeCookieSecrets(store), 2, "every tenant's, without a tenant");
    });

    test('a control plane holding two current key sets keeps the one the issuer signs with', async (t) => {
      const fixture = await openBackend(backend);
      const raw = await rawControlPlane(fixture);
      t.after(async () => {
        await raw.close();
        await fixture.cleanup();
      });
      await raw.migrate(BEFORE_UNIQUE_KEYS);
      const tenantId = uuid7();
      const other = uuid7();
      const at = (second: number) => `2026-01-01T00:00:0${second}.000Z`;
      await raw.run('INSERT INTO shards (id, location) VALUES (?, ?)', ['s1', 'here']);
      for (const [id, slug] of [
        [tenantId, 'acme'],
        [other, 'other'],
      ])
        await raw.run(
          `INSERT INTO tenants (id, slug, name, plan, status, shard, created_at, updated_at)
           VALUES (?, ?, ?, 'free', 'active', 's1', ?, ?)`,
          [id, slug, slug, at(0), at(0)],
        );
      const key = (tenant: string, kid: string, use: string, alg: string, created: number) =>
        raw.run(
          `INSERT INTO oidc_keys (tenant_id, kid, use, alg, public_jwk, sealed_private, created_at, retired_at)
           VALUES (?, ?, ?, ?, '{}', ?, ?, ?)`,
          [tenant, kid, use, alg, Buffer.from(kid), at(created), kid === 'old' ? at(1) : null],
        );
      await key(tenantId, 'old', 'sig', 'EdDSA', 0);
      await key(tenantId, 'ed-second', 'sig', 'EdDSA', 3);
      await key(tenantId, 'ed-first', 'sig', 'EdDSA', 2);
      await key(tenantId, 'es-b', 'sig', 'ES256', 2);
      await key(tenantId, 'es-a', 'sig', 'ES256', 2);
      await key(tenantId, 'cookie-first', 'cookie', 'HS256', 2);
      await key(tenantId, 'cookie-second', 'cookie', 'HS256', 3);
      await key(other, 'other-ed', 'sig', 'EdDSA', 2);

      await raw.migrate(Number.POSITIVE_INFINITY);

      const rows = await raw.all('SELECT kid, retired_at FROM oidc_keys');
      assert.deepEqual(
        rows.map((row) => `${row.kid}:${row.retired_at === null ? 'current' : 'retired'}`).sort(),
        [
          'cookie-first:retired',
          'cookie-second:current',
          'ed-first:current',
          'ed-second:retired',
          'es-a:current',
          'es-b:retired',
          'old:retired',
          'other-ed:current',
        ],
        'the first signing key of an algorithm and the newest cookie secret stay, as the issuer used them',
      );
      await assert.rejects(key(tenantId, 'ed-third', 'sig', 'EdDSA', 4), /unique/i);
    });
  });
}
