import assert from 'node:assert/strict';
import crypto, { createHash, randomBytes, scryptSync } from 'node:crypto';
import { syncBuiltinESMExports } from 'node:module';
import { after, before, describe, test } from 'node:test';
import { blindIndex } from '@palisade/crypto';
import * as oidc from 'openid-client';
import { Secret, TOTP } from 'otpauth';
import { PermissionSet } from '../src/authz/index.ts';
import { GroupCommitter } from '../src/commit/index.ts';
import type { PalisadeError } from '../src/errors/index.ts';
import { openPlatformKms, TenantSecretSeal } from '../src/keys/index.ts';
import type { TenantStore, TenantWriteTx } from '../src/store/index.ts';
import type { Tenant } from '../src/tenancy/index.ts';
import { issueTenantContext } from '../src/tenancy/tenant-context.ts';
import {
  newTotpSecret,
  passwordHashParams,
  type SignInNames,
  tenantSignInNames,
  UserAuthenticator,
  UserService,
} from '../src/users/index.ts';
import { TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';
import { Browser, formAction, OidcPlatform } from './support/oidc-platform.ts';
import { refusal } from './support/users.ts';

const PASSWORD = 'correct horse battery staple';

/**
 * A user authenticator on one tenant store with a lock after 3 failures within an hour, from
 * one minute up to `maxMs`, on the given clock. No TOTP: its seal is never used.
 */
function lockingAuthenticator(
  store: TenantStore,
  names: SignInNames,
  maxMs: number,
  clock: () => number,
) {
  return new UserAuthenticator({
    locate: async () => store,
    committer: new GroupCommitter({ maxBatch: 1, maxWaitMs: 0, seal: async () => undefined }),
    secrets: {} as TenantSecretSeal,
    names,
    lockout: { threshold: 3, baseMs: 60_000, maxMs, windowMs: 3_600_000, namesMax: 100 },
    clock,
  });
}

for (const backend of backendNames()) {
  describe(`users: sign-in on ${backend}`, () => {
    let api: TestApi;
    let tenant: Tenant;
    let key: string;

    /** A user who accepted an invitation with PASSWORD (and TOTP, when a secret is given). */
    async function member(email: string, totp?: { secret: Uint8Array; code: string }) {
      const context = issueTenantContext(tenant, { kind: 'api-key', id: 'api-key:test' });
      const { user, invitation } = await api.platform.users.service.create(
        context,
        { email, name: 'Ada Lovelace', roles: ['developer'] },
        PermissionSet.ALL,
      );
      const token = invitation.path.split('/').at(-1)!;
      await api.platform.users.authenticator.acceptInvitation(tenant, token, {
        password: PASSWORD,
        totp,
      });
      return { id: user.id, token };
    }

    /** The users' service and authenticator on this tenant's store, reading the time from `clock`. */
    async function clockedUsers(clock: () => number) {
      const store = await api.platform.stores.shards.get(tenant.shard)!.tenant(tenant.id);
      const committer = new GroupCommitter({
        maxBatch: 1,
        maxWaitMs: 0,
        seal: async () => undefined,
      });
      const { settings, stores, keys, authz } = api.platform;
      const kms = await openPlatformKms(settings, undefined, { generateIfMissing: false });
      const names = tenantSignInNames(keys);
      return {
        service: new UserService({
          locate: async () => store,
          committer,
          invitationTtlMs: settings.userInvitationTtlMs,
          roles: authz.roles,
          names,
          clock,
        }),
        auth: new UserAuthenticator({
          locate: async () => store,
          committer,
          secrets: new TenantSecretSeal({ kms, controlPlane: stores.controlPlane, keys }),
          names,
          lockout: { threshold: 100, baseMs: 1000, maxMs: 1000, windowMs: 1000, namesMax: 100 },
          clock,
        }),
      };
    }

    before(async () => {
      // A 5-second first lock: the brute-force test checks that the lock is still in force
      // after the locking attempt's commit returned, which a loaded machine can take a second for.
      api = await TestApi.start(backend, {
        signInLockoutThreshold: '3',
        signInLockoutBaseMs: '5000',
        signInLockoutMaxMs: '60000',
      });
      const created = await api.tenant('acme');
      key = created.key;
      tenant = (await api.platform.stores.controlPlane.getTenant(created.id))!;
    });
    after(() => api.close());

    test('the password is stored as scrypt N=2^17, r=8, p=1 with a 16-byte salt and 32-byte key', async () => {
      const { id } = await member('params@example.com');
      const store = await api.platform.stores.shards.get(tenant.shard)!.tenant(tenant.id);
      const row = (await store.reader.users.getUser(id))!;
      assert.deepEqual(passwordHashParams(row.passwordHash!), { N: 2 ** 17, r: 8, p: 1 });
      const [, , , salt, hash] = row.passwordHash!.split('$');
      assert.equal(Buffer.from(salt!, 'base64').length, 16);
      assert.equal(Buffer.from(hash!, 'base64').length, 32);
      assert.ok(!row.passwordHash!.includes(PASSWORD));
    });

    test('the right password signs in; a wrong one and an unknown email get the same answer', async () => {
      const { id } = await member('ada@example.com');
      const auth = api.platform.users.authenticator;
      const user = await auth.signIn(tenant, ' ADA@example.com ', PASSWORD);
      assert.deepEqual(user, {
        id,
        email: 'ada@example.com',
        name: 'Ada Lovelace',
        roles: ['developer'],
      });
      const wrong = await refusal(auth.signIn(tenant, 'ada@example.com', 'not the password'));
      const unknown = await refusal(auth.signIn(tenant, 'nobody@example.com', PASSWORD));
      assert.equal(wrong.code, 'PALISADE_SIGN_IN_FAILED');
      assert.equal(unknown.code, wrong.code);
      assert.equal(unknown.message, wrong.message);
    });

    test("a failed name is counted under an HMAC with the tenant's blind-index key, not a plain hash a list of addresses could be tested against", async () => {
      const auth = api.platform.users.authenticator;
      await refusal(auth.signIn(tenant, ' Probe@Example.com ', 'a guess'));
      const store = await api.platform.stores.shards.get(tenant.shard)!.tenant(tenant.id);
      const plain = createHash('sha256')
        .update(`palisade/sign-in-name\n${tenant.id}\nprobe@example.com`)
        .digest('base64url');
      assert.deepEqual(await store.reader.users.getSignInFailures([plain]), []);
      const keyed = await api.platform.keys.withKeys(tenant, [], ({ indexKey }) =>
        blindIndex(
          indexKey(),
          { tenantId: tenant.id, collection: 'palisade.users', field: 'sign-in-name' },
          'probe@example.com',
        ),
      );
      const [row] = await store.reader.users.getSignInFailures([keyed]);
      assert.equal(row?.failures, 1, 'keyed by the normalized name');
      assert.deepEqual(
        await tenantSignInNames(api.platform.keys).keysOf(tenant, ['x\ud800']),
        [
          await tenantSignInNames(api.platform.keys)
            .keysOf(tenant, ['x\ufffd'])
            .then(([k]) => k),
        ],
        'a lone surrogate is keyed, not refused',
      );
    });

    test('a hash stored at a lower cost is re-hashed at the current cost on the next sign-in', async () => {
      const { id } = await member('legacy@example.com');
      const store = await api.platform.stores.shards.get(tenant.shard)!.tenant(tenant.id);
      const salt = randomBytes(16);
      const derived = scryptSync(PASSWORD, salt, 32, { N: 2 ** 14, r: 8, p: 1 });
      const b64 = (bytes: Buffer) => bytes.toString('base64').replace(/=+$/, '');
      const legacy = `$scrypt$ln=14,r=8,p=1$${b64(salt)}$${b64(derived)}`;
      await store.transaction(async (tx) => {
        const row = (await tx.users.getUser(id))!;
        assert.ok(
          await tx.users.updateUser(
            { ...row, passwordHash: legacy, version: row.version + 1 },
            row.version,
          ),
        );
      });
      await api.platform.users.authenticator.signIn(tenant, 'legacy@example.com', PASSWORD);
      const row = (await store.reader.users.getUser(id))!;
      assert.deepEqual(passwordHashParams(row.passwordHash!), { N: 2 ** 17, r: 8, p: 1 });
      await api.platform.users.authenticator.signIn(tenant, 'legacy@example.com', PASSWORD);
      const { body } = await api.call('GET', '/v1/ledger/entries?start=0&end=1000', key);
      const rehashes = body.entries.filter(
        (e: { entry: { action: string; resource: string } }) =>
          e.entry.resource === `users/${id}` && e.entry.action === 'users.password-rehash',
      );
      assert.equal(rehashes.length, 1, 're-hashed once, then at the current cost');
    });

    test('a password shorter than 12 characters or equal to the email is refused, and the invitation stays usable', async () => {
      const context = issueTenantContext(tenant, { kind: 'api-key', id: 'api-key:test' });
      const { invitation } = await api.platform.users.service.create(
        context,
        {
          email: 'policy@example.com',
          name: 'P',
          roles: [],
        },
        PermissionSet.ALL,
      );
      const token = invitation.path.split('/').at(-1)!;
      const auth = api.platform.users.authenticator;
      for (const password of ['short pass', 'POLICY@example.com']) {
        const error = await refusal(auth.acceptInvitation(tenant, token, { password }));
        assert.equal(error.code, 'PALISADE_PASSWORD_REJECTED', password);
      }
      await auth.acceptInvitation(tenant, token, { password: PASSWORD });
      const again = await refusal(auth.acceptInvitation(tenant, token, { password: PASSWORD }));
      assert.equal(again.code, 'PALISADE_INVITATION_INVALID', 'an invitation works once');
    });

    test('an acceptance refused because the user changed meanwhile leaves the link usable', async () => {
      const context = issueTenantContext(tenant, { kind: 'api-key', id: 'api-key:test' });
      const { user, invitation } = await api.platform.users.service.create(
        context,
        { email: 'race@example.com', name: 'R', roles: [] },
        PermissionSet.ALL,
      );
      const token = invitation.path.split('/').at(-1)!;
      const real = await api.platform.stores.shards.get(tenant.shard)!.tenant(tenant.id);
      // Another instance changes the user between this acceptance's read of the row and its
      // write, as PostgreSQL's READ COMMITTED lets it: the acceptance reads the row as it was
      // before that commit.
      const stale = (await real.reader.users.getUser(user.id))!;
      const renamed = { ...stale, name: 'Renamed', version: stale.version + 1 };
      await real.transaction((tx) => tx.users.updateUser(renamed, stale.version));
      let interfere = true;
      const bound = (target: object, prop: string | symbol) => {
        const value = Reflect.get(target, prop, target);
        return typeof value === 'function' ? value.bind(target) : value;
      };
      const racingUsers = (users: TenantWriteTx['users']) =>
        new Proxy(users, {
          get: (target, prop) =>
            prop !== 'getUser'
              ? bound(target, prop)
              : async (id: string) => {
                  if (!interfere) return target.getUser(id);
                  interfere = false;
                  return stale;
                },
        });
      const racing: TenantStore = {
        tenantId: real.tenantId,
        reader: real.reader,
        transaction: (work) =>
          real.transaction((tx) =>
            work(
              new Proxy(tx, {
                get: (target, prop) =>
                  prop === 'users' ? racingUsers(target.users) : bound(target, prop),
              }),
            ),
          ),
      };
      const auth = new UserAuthenticator({
        locate: async () => racing,
        committer: new GroupCommitter({ maxBatch: 1, maxWaitMs: 0, seal: async () => undefined }),
        // No TOTP in this test: the seal is never used.
        secrets: {} as TenantSecretSeal,
        names: tenantSignInNames(api.platform.keys),
        lockout: { threshold: 5, baseMs: 60_000, maxMs: 60_000, windowMs: 60_000, namesMax: 100 },
      });
      const refused = await refusal(auth.acceptInvitation(tenant, token, { password: PASSWORD }));
      assert.equal(refused.code, 'PALISADE_PRECONDITION_FAILED');
      const accepted = await auth.acceptInvitation(tenant, token, { password: PASSWORD });
      assert.equal(accepted.id, user.id, 'the link still works');
      await auth.signIn(tenant, 'race@example.com', PASSWORD);
    });

    test('TOTP at the injected time: required, its window steps with the clock, a step accepted once, a replayed, old or wrong code refused', async () => {
      const step = Date.parse('2026-03-01T00:00:00Z');
      let now = step + 10_000;
      const { service, auth } = await clockedUsers(() => now);
      const secret = newTotpSecret();
      const code = (at: number) =>
        new TOTP({ secret: new Secret({ buffer: Uint8Array.from(secret).buffer }) }).generate({
          timestamp: at,
        });
      const { invitation } = await service.create(
        issueTenantContext(tenant, { kind: 'api-key', id: 'api-key:test' }),
        { email: 'totp@example.com', name: 'T', roles: [] },
        PermissionSet.ALL,
      );
      const token = invitation.path.split('/').at(-1)!;
      // Enrolled with the previous step's code: one step of skew either way is accepted.
      await auth.acceptInvitation(tenant, token, {
        password: PASSWORD,
        totp: { secret, code: code(step - 30_000) },
      });
      const attempt = async (totp?: string) => {
        try {
          return (await auth.signIn(tenant, 'totp@example.com', PASSWORD, totp)).email;
        } catch (error) {
          return (error as PalisadeError).code;
        }
      };
      const OK = 'totp@example.com';
      const FAILED = 'PALISADE_SIGN_IN_FAILED';
      assert.equal(await attempt(), 'PALISADE_TOTP_REQUIRED');
      assert.equal(await attempt(code(step - 30_000)), FAILED, 'the step enrolment used');
      assert.equal(await attempt(code(step)), OK);
      assert.equal(await attempt(code(step)), FAILED, 'the same code twice is refused');
      const wrong = String((Number(code(step + 30_000)) + 1) % 1_000_000).padStart(6, '0');
      assert.equal(await attempt(wrong), FAILED);
      now += 30_000;
      assert.equal(await attempt(code(step + 30_000)), OK, 'the next step, at its time');
      now += 90_000;
      assert.equal(await attempt(code(step + 60_000)), FAILED, 'two steps behind the clock');
      assert.equal(await attempt(code(step + 150_000)), OK, 'one step ahead of the clock');
      assert.equal(await attempt(code(step + 120_000)), FAILED, 'older than the last one used');
      const store = await api.platform.stores.shards.get(tenant.shard)!.tenant(tenant.id);
      const row = (await store.reader.users.getUserByEmail('totp@example.com'))!;
      assert.ok(
        !Buffer.from(row.totp!.sealed).includes(Buffer.from(secret)),
        'the secret is sealed at rest',
      );
    });

    test('an invitation expires at the injected time, checked again at acceptance', async () => {
      let now = Date.parse('2026-03-01T00:00:00Z');
      const { service, auth } = await clockedUsers(() => now);
      const ttl = api.platform.settings.userInvitationTtlMs;
      const context = issueTenantContext(tenant, { kind: 'api-key', id: 'api-key:test' });
      const { user, invitation } = await service.create(
        context,
        { email: 'late@example.com', name: 'L', roles: [] },
        PermissionSet.ALL,
      );
      assert.equal(invitation.expiresAt, new Date(now + ttl).toISOString());
      const token = invitation.path.split('/').at(-1)!;
      now += ttl - 1;
      assert.equal((await auth.invitation(tenant, token)).email, 'late@example.com');
      now += 1;
      // Started one at a time: a second promise rejecting while the first is awaited would be
      // an unhandled rejection.
      for (const refused of [
        () => auth.invitation(tenant, token),
        () => auth.acceptInvitation(tenant, token, { password: PASSWORD }),
      ])
        assert.equal((await refusal(refused())).code, 'PALISADE_INVITATION_INVALID');
      // Open when the page was read, expired by the time the password is set: a clock that
      // moves on by the invitation's lifetime each time it is read.
      const renewed = await service.invite(context, user.id, PermissionSet.ALL);
      const again = renewed.path.split('/').at(-1)!;
      const leaping = await clockedUsers(() => {
        const at = now;
        now += ttl;
        return at;
      });
      const late = await refusal(
        leaping.auth.acceptInvitation(tenant, again, { password: PASSWORD }),
      );
      assert.equal(late.code, 'PALISADE_INVITATION_INVALID');
    });

    test('an active, a disabled, an invited and an unknown name get the same answers and the same work, locked or not, whatever the password', async (t) => {
      const context = issueTenantContext(tenant, { kind: 'api-key', id: 'api-key:test' });
      await member('known@example.com');
      const { id: disabled } = await member('disabled@example.com');
      await api.platform.users.service.update(
        context,
        disabled,
        { disabled: true },
        PermissionSet.ALL,
      );
      await api.platform.users.service.create(
        context,
        { email: 'invited@example.com', name: 'I', roles: [] },
        PermissionSet.ALL,
      );
      const store = await api.platform.stores.shards.get(tenant.shard)!.tenant(tenant.id);
      const now = Date.parse('2026-02-01T00:00:00Z');
      const auth = lockingAuthenticator(
        store,
        tenantSignInNames(api.platform.keys),
        600_000,
        () => now,
      );
      const scrypt = t.mock.method(crypto, 'scrypt');
      syncBuiltinESMExports();
      t.after(syncBuiltinESMExports);
      /** The whole refusal (problem+json, lock end, Retry-After) and the scrypt runs it took. */
      const answer = async (email: string, password: string) => {
        const before = scrypt.mock.callCount();
        const error = await refusal(auth.signIn(tenant, email, password));
        return { ...error, problem: error.toProblem(), hashes: scrypt.mock.callCount() - before };
      };
      const names = ['known', 'disabled', 'invited', 'unknown'].map((n) => `${n}@example.com`);
      const codes: string[] = [];
      for (const password of ['guess 1', 'guess 2', 'guess 3', 'guess 4', PASSWORD]) {
        const answers = [];
        for (const name of names) answers.push(await answer(name, password));
        const [known, ...others] = answers;
        for (const [i, other] of others.entries()) assert.deepEqual(other, known, names[i + 1]);
        assert.equal(known!.hashes, 1, 'one password hash checked, whatever is wrong');
        codes.push(known!.code);
      }
      assert.deepEqual(codes, [
        'PALISADE_SIGN_IN_FAILED',
        'PALISADE_SIGN_IN_FAILED',
        'PALISADE_ACCOUNT_LOCKED',
        'PALISADE_ACCOUNT_LOCKED',
        'PALISADE_ACCOUNT_LOCKED',
      ]);
    });

    test('a failed sign-in older than the failure window no longer counts toward a lock', async () => {
      const { id } = await member('slow@example.com');
      const failures = async () =>
        (await api.call('GET', `/v1/users/${id}`, key)).body.failedSignIns;
      const store = await api.platform.stores.shards.get(tenant.shard)!.tenant(tenant.id);
      let now = Date.parse('2026-01-01T00:00:00Z');
      const auth = lockingAuthenticator(
        store,
        tenantSignInNames(api.platform.keys),
        60_000,
        () => now,
      );
      const attempt = async () =>
        (await refusal(auth.signIn(tenant, 'slow@example.com', 'a guess'))).code;
      assert.equal(await attempt(), 'PALISADE_SIGN_IN_FAILED');
      now += 60_000;
      assert.equal(await attempt(), 'PALISADE_SIGN_IN_FAILED');
      // Months later: the two old failures are forgotten, this one starts a new count.
      now += 90 * 86_400_000;
      assert.equal(await attempt(), 'PALISADE_SIGN_IN_FAILED');
      assert.equal(await failures(), 1);
      now += 60_000;
      assert.equal(await attempt(), 'PALISADE_SIGN_IN_FAILED');
      now += 60_000;
      assert.equal(await attempt(), 'PALISADE_ACCOUNT_LOCKED', 'three within the window lock');
      // A lock that ended within the window keeps the count: the next failure locks again.
      now += 120_000;
      assert.equal(await attempt(), 'PALISADE_ACCOUNT_LOCKED');
      // The right password waits for the lock, as ever, and then clears the count.
      now += 120_000;
      await auth.signIn(tenant, 'slow@example.com', PASSWORD);
      assert.equal(await failures(), 0);
    });

    test('brute force: repeated wrong passwords lock out with doubling back-off, each lock in the ledger and no failure that locked nothing', async () => {
      const { id } = await member('brute@example.com');
      const auth = api.platform.users.authenticator;
      const head = async () =>
        (await api.call('GET', '/v1/ledger/entries?start=0&end=1000', key)).body.entries.length;
      const before = await head();
      await refusal(auth.signIn(tenant, 'stranger@example.com', 'guess'));
      await refusal(auth.signIn(tenant, 'stranger@example.com', 'guess'));
      assert.equal(await head(), before, "an unknown name's failures below a lock: no entry");
      const attempt = (password: string) =>
        refusal(auth.signIn(tenant, 'brute@example.com', password));
      assert.equal((await attempt('guess 1')).code, 'PALISADE_SIGN_IN_FAILED');
      assert.equal((await attempt('guess 2')).code, 'PALISADE_SIGN_IN_FAILED');
      const first = (await attempt('guess 3')) as PalisadeError & {
        retryAfterSeconds: number;
        lockedUntil: string;
      };
      assert.equal(first.code, 'PALISADE_ACCOUNT_LOCKED');
      assert.equal(first.retryAfterSeconds, 5);
      const whileLocked = await refusal(auth.signIn(tenant, 'brute@example.com', PASSWORD));
      assert.equal(
        whileLocked.code,
        'PALISADE_ACCOUNT_LOCKED',
        'even the right password waits out the lock',
      );
      await until(first.lockedUntil);
      const second = (await attempt('guess 4')) as PalisadeError & {
        retryAfterSeconds: number;
        lockedUntil: string;
      };
      assert.equal(second.code, 'PALISADE_ACCOUNT_LOCKED');
      assert.equal(second.retryAfterSeconds, 10, 'the next lock is twice as long');
      await until(second.lockedUntil);
      await auth.signIn(tenant, 'brute@example.com', PASSWORD);
      const { body: user } = await api.call('GET', `/v1/users/${id}`, key);
      assert.deepEqual(
        [user.failedSignIns, user.lockedUntil],
        [0, null],
        'a success clears the count',
      );

      const { body } = await api.call('GET', '/v1/ledger/entries?start=0&end=1000', key);
      const about = body.entries
        .map((e: { entry: { action: string; resource: string } }) => e.entry)
        .filter((e: { resource: string }) => e.resource === `users/${id}`);
      const count = (action: string) =>
        about.filter((e: { action: string }) => e.action === action).length;
      assert.equal(count('users.sign-in-failed'), 0, 'a failure that locks nothing is no entry');
      assert.equal(count('users.lock'), 2, 'each lock is');
      assert.equal(count('users.sign-in'), 1);
      assert.ok(!JSON.stringify(body).includes('guess'), 'no attempted password in the ledger');
    });
  });
}

async function until(iso: string): Promise<void> {
  const wait = Date.parse(iso) - Date.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait + 20));
}

for (const backend of backendNames()) {
  describe(`users: the sign-in page on ${backend}`, () => {
    const REDIRECT = 'http://127.0.0.1:9/callback';
    let api: OidcPlatform;
    let config: oidc.Configuration;

    before(async () => {
      api = await OidcPlatform.start(backend, {
        signInLockoutThreshold: '2',
        signInAttemptsPerMinute: '0',
      });
      const acme = await api.tenant('acme');
      await api.user(acme.key, 'locked@example.com', ['viewer'], PASSWORD);
      const client = await api.client(acme.key, {
        name: 'Acme web',
        kind: 'user',
        redirectUris: [REDIRECT],
      });
      config = await api.configuration(client);
    });
    after(() => api.close());

    /** What the page answers each password for `email`, less the email, the form's address and the instants. */
    async function pages(email: string, passwords: readonly string[]) {
      const browser = new Browser();
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: REDIRECT,
        scope: 'openid',
        code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
        code_challenge_method: 'S256',
      });
      const start = await browser.follow(url.href, REDIRECT);
      const action = formAction(start.reply.body, start.url);
      const answers = [];
      for (const password of passwords) {
        const reply = await browser.request(action, { step: 'login', email, password });
        answers.push({
          status: reply.status,
          headers: Object.fromEntries(
            [...reply.headers]
              .filter(([name]) => !['date', 'set-cookie'].includes(name))
              // The seconds left of a lock depend on when it began: their presence is compared.
              .map(([name, value]) => [name, name === 'retry-after' ? 'N' : value]),
          ),
          page: (reply.body as string)
            .replaceAll(email, 'EMAIL')
            .replaceAll(new URL(action).pathname, 'ACTION')
            .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g, 'INSTANT')
            .replace(/retry in \d+s/g, 'retry in Ns'),
        });
      }
      return answers;
    }

    test("a locked user's page and an unknown email's are the same, the right password's too", async () => {
      const passwords = ['guess 1', 'guess 2', 'guess 3', PASSWORD];
      const known = await pages('locked@example.com', passwords);
      assert.deepEqual(
        known.map((answer) => answer.status),
        [401, 429, 429, 429],
      );
      assert.match(known[3]!.page, /locked until INSTANT/);
      assert.equal(known[0]!.headers['retry-after'], undefined, 'a failure is no lock');
      for (const locked of known.slice(1)) assert.equal(locked.headers['retry-after'], 'N');
      assert.deepEqual(await pages('nobody@example.com', passwords), known);
    });
  });
}
