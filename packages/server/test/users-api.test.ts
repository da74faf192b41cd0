import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Secret } from 'otpauth';
import { uuid7 } from '../src/ids/index.ts';
import type { Tenant } from '../src/tenancy/index.ts';
import { ADMIN_TOKEN, type Reply, TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';
import { refusal, steadyTotpStep, totpAt } from './support/users.ts';

const PASSWORD = 'a long enough passphrase';
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

function form(fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString();
}

/** The hidden TOTP key the invitation page offers. */
function offeredSecret(html: string): string {
  const match = /name="totpSecret" value="([A-Z2-7]+)"/.exec(html);
  assert.ok(match, 'the page offers a TOTP key');
  return match[1]!;
}

function codeOf(base32: string, offset = 0): string {
  return totpAt(Secret.fromBase32(base32), offset);
}

for (const backend of backendNames()) {
  describe(`users API on ${backend}`, () => {
    let api: TestApi;
    let key: string;
    let tenant: Tenant;

    const create = (email: string, roles = ['viewer']) =>
      api.call('POST', '/v1/users', key, { email, name: 'Grace Hopper', roles });

    before(async () => {
      api = await TestApi.start(backend);
      const created = await api.tenant('acme');
      key = created.key;
      tenant = (await api.platform.stores.controlPlane.getTenant(created.id))!;
    });
    after(() => api.close());

    test('create, list with a cursor, read, change and delete users; every change in the ledger', async () => {
      const first = await create('Grace@Example.com', ['developer', 'viewer']);
      assert.equal(first.status, 201, JSON.stringify(first.body));
      assert.equal(first.body.user.email, 'grace@example.com');
      assert.deepEqual(first.body.user.roles, ['developer', 'viewer']);
      assert.equal(first.body.user.active, false);
      assert.match(first.body.invitation.link, /^\/t\/acme\/invite\/[A-Za-z0-9_-]{43}$/);
      const taken = await create('grace@example.COM');
      assert.equal(taken.body.code, 'PALISADE_USER_EMAIL_TAKEN');
      assert.equal((await create('not an email')).body.code, 'PALISADE_INVALID_REQUEST');
      assert.equal((await create('x@example.com', ['emperor'])).body.code, 'PALISADE_UNKNOWN_ROLE');
      const second = await create('alan@example.com');
      const page1 = await api.call('GET', '/v1/users?limit=1', key);
      assert.equal(page1.body.items.length, 1);
      const page2 = await api.call('GET', `/v1/users?limit=1&cursor=${page1.body.nextCursor}`, key);
      assert.deepEqual(
        [page1.body.items[0].id, page2.body.items[0].id].sort(),
        [first.body.user.id, second.body.user.id].sort(),
      );
      const id = first.body.user.id;
      const changed = await api.call('PATCH', `/v1/users/${id}`, key, {
        name: 'Rear Admiral Hopper',
        roles: ['admin'],
        disabled: true,
      });
      assert.equal(changed.status, 200, JSON.stringify(changed.body));
      assert.deepEqual(
        [changed.body.name, changed.body.roles, changed.body.disabled, changed.body.version],
        ['Rear Admiral Hopper', ['admin'], true, 2],
      );
      assert.deepEqual((await api.call('GET', `/v1/users/${id}`, key)).body, changed.body);
      assert.equal((await api.call('PATCH', `/v1/users/${id}`, key, {})).status, 400);
      assert.equal((await api.call('DELETE', `/v1/users/${id}`, key)).status, 204);
      const link = await api.call('GET', first.body.invitation.link, undefined);
      assert.equal(link.status, 404, "a deleted user's invitation goes with them");
      const gone = await api.call('GET', `/v1/users/${id}`, key);
      assert.equal(gone.body.code, 'PALISADE_USER_NOT_FOUND');
      const { body } = await api.call('GET', '/v1/ledger/entries?start=0&end=1000', key);
      const actions = body.entries
        .map((e: { entry: { action: string; resource: string } }) => e.entry)
        .filter((e: { resource: string }) => e.resource === `users/${id}`)
        .map((e: { action: string }) => e.action);
      assert.deepEqual(actions, ['users.create', 'users.invite', 'users.update', 'users.delete']);
    });

    test("a user's ETag is its version; If-Match on PATCH, DELETE and DELETE …/totp gives 412 when stale", async () => {
      const id = (await create('etag@example.com')).body.user.id;
      const read = await api.call('GET', `/v1/users/${id}`, key);
      assert.equal(read.headers.etag, '"1"');
      const ifMatch = (etag: string) => ({ 'if-match': etag });
      const renamed = await api.call(
        'PATCH',
        `/v1/users/${id}`,
        key,
        { name: 'First' },
        ifMatch('"1"'),
      );
      assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
      assert.equal(renamed.headers.etag, '"2"');
      for (const [method, path, body] of [
        ['PATCH', `/v1/users/${id}`, { name: 'Lost update' }],
        ['DELETE', `/v1/users/${id}/totp`, undefined],
        ['DELETE', `/v1/users/${id}`, undefined],
      ] as const) {
        for (const stale of ['"1"', 'W/"2"', '"2x"']) {
          const refused = await api.call(method, path, key, body, ifMatch(stale));
          assert.equal(refused.status, 412, `${method} ${path} ${stale}`);
          assert.equal(refused.body.code, 'PALISADE_PRECONDITION_FAILED');
        }
      }
      const unchanged = await api.call('GET', `/v1/users/${id}`, key);
      assert.deepEqual([unchanged.body.name, unchanged.body.version], ['First', 2]);
      const reset = await api.call('DELETE', `/v1/users/${id}/totp`, key, undefined, {
        'if-match': '"1", "2"',
      });
      assert.equal(reset.status, 200, JSON.stringify(reset.body));
      assert.equal(reset.headers.etag, '"3"');
      const missing = await api.call(
        'PATCH',
        `/v1/users/${uuid7()}`,
        key,
        { name: 'N' },
        ifMatch('*'),
      );
      assert.equal(missing.body.code, 'PALISADE_USER_NOT_FOUND');
      assert.equal(
        (await api.call('DELETE', `/v1/users/${id}`, key, undefined, ifMatch('*'))).status,
        204,
      );
    });

    test('a caller gives only roles within its own permissions: an admin cannot make an owner', async () => {
      const issued = await api.call(
        'POST',
        `/v1/platform/tenants/${tenant.id}/api-keys`,
        ADMIN_TOKEN,
        {
          name: 'admins',
          roles: ['admin'],
        },
      );
      assert.equal(issued.status, 201, JSON.stringify(issued.body));
      const admin: string = issued.body.secret;
      const owner = await api.call('POST', '/v1/users', admin, {
        email: 'boss@example.com',
        name: 'B',
        roles: ['owner'],
      });
      assert.equal(owner.status, 403);
      assert.match(owner.body.detail, /giving the role owner needs/);
      const dev = await api.call('POST', '/v1/users', admin, {
        email: 'dev@example.com',
        name: 'D',
        roles: ['developer'],
      });
      assert.equal(dev.status, 201);
      const raise = await api.call('PATCH', `/v1/users/${dev.body.user.id}`, admin, {
        roles: ['owner'],
      });
      assert.equal(raise.status, 403);
      const view = await api.call('GET', `/v1/users/${dev.body.user.id}`, key);
      assert.deepEqual(view.body.roles, ['developer']);
    });

    test('a caller acts only on users within its own permissions: an admin cannot take over an owner', async () => {
      const issued = await api.call(
        'POST',
        `/v1/platform/tenants/${tenant.id}/api-keys`,
        ADMIN_TOKEN,
        { name: 'admins-2', roles: ['admin'] },
      );
      const admin: string = issued.body.secret;
      const owner = (await create('owner@example.com', ['owner'])).body.user.id;
      const dev = (await create('developer@example.com', ['developer'])).body.user.id;
      // In this order: the last one deletes the user.
      const attempts = (id: string) => ({
        reinvite: () => api.call('POST', `/v1/users/${id}/invitation`, admin),
        resetTotp: () => api.call('DELETE', `/v1/users/${id}/totp`, admin),
        disable: () => api.call('PATCH', `/v1/users/${id}`, admin, { disabled: true }),
        rename: () => api.call('PATCH', `/v1/users/${id}`, admin, { name: 'Mallory' }),
        remove: () => api.call('DELETE', `/v1/users/${id}`, admin),
      });
      for (const [what, attempt] of Object.entries(attempts(owner))) {
        const refused = await attempt();
        assert.equal(refused.status, 403, what);
        assert.equal(refused.body.code, 'PALISADE_FORBIDDEN', what);
        assert.match(refused.body.detail, /^acting on the user .* needs /, what);
      }
      const kept = await api.call('GET', `/v1/users/${owner}`, key);
      assert.equal(kept.body.name, 'Grace Hopper');
      assert.equal(kept.body.disabled, false);
      const statuses = [];
      for (const attempt of Object.values(attempts(dev))) statuses.push((await attempt()).status);
      assert.deepEqual(statuses, [201, 200, 200, 200, 204]);
      const byOwner = await api.call('POST', `/v1/users/${owner}/invitation`, key);
      assert.equal(byOwner.status, 201);
    });

    test('the invitation page works without JavaScript under a strict CSP, and its link works once', async () => {
      const created = await create('ada@example.com');
      const link: string = created.body.invitation.link;
      const page = await api.call('GET', link, undefined);
      assert.equal(page.status, 200);
      assert.match(String(page.headers['content-type']), /^text\/html/);
      const csp = String(page.headers['content-security-policy']);
      assert.match(csp, /default-src 'none'/);
      assert.doesNotMatch(csp, /unsafe-inline|script-src/);
      assert.equal(page.headers['referrer-policy'], 'no-referrer');
      assert.match(page.body, /<form method="post" action="\/t\/acme\/invite\//);
      assert.doesNotMatch(page.body, /<script|style=|\son[a-z]+=/i);
      assert.match(page.body, /ada@example\.com/);
      const post = (fields: Record<string, string>) =>
        api.call('POST', link, undefined, form(fields), FORM);
      const differ = await post({ password: PASSWORD, confirm: `${PASSWORD}!` });
      assert.equal(differ.status, 422);
      assert.match(differ.body, /the two passwords differ/);
      const short = await post({ password: 'too short', confirm: 'too short' });
      assert.equal(short.status, 422);
      assert.match(short.body, /fewer than 12 characters/);
      const done = await post({ password: PASSWORD, confirm: PASSWORD });
      assert.equal(done.status, 200, done.body);
      assert.match(done.body, /Your password is set/);
      const user = await api.platform.users.authenticator.signIn(
        tenant,
        'ada@example.com',
        PASSWORD,
      );
      assert.equal(user.email, 'ada@example.com');
      for (const again of [
        await api.call('GET', link, undefined),
        await post({ password: PASSWORD, confirm: PASSWORD }),
      ]) {
        assert.equal(again.status, 404);
        assert.match(again.body, /unknown, used or expired/);
      }
      const view = await api.call('GET', `/v1/users/${user.id}`, key);
      assert.equal(view.body.active, true);
      const malformed = await api.call('GET', '/t/acme/invite/not-a-token', undefined);
      assert.equal(malformed.status, 404, 'a malformed token is just an unknown link');
      assert.match(malformed.body, /unknown, used or expired/);
    });

    test('TOTP enrolled on the invitation page is then required; an admin reset removes it', async () => {
      await steadyTotpStep();
      const created = await create('totp@example.com');
      const link: string = created.body.invitation.link;
      const secret = offeredSecret((await api.call('GET', link, undefined)).body);
      const wrong = await api.call(
        'POST',
        link,
        undefined,
        form({
          password: PASSWORD,
          confirm: PASSWORD,
          totpSecret: secret,
          totpCode: String((Number(codeOf(secret)) + 500_000) % 1_000_000).padStart(6, '0'),
        }),
        FORM,
      );
      assert.equal(wrong.status, 400);
      assert.equal(
        offeredSecret(wrong.body),
        secret,
        'the page keeps the key the user already added',
      );
      const enrolled = await api.call(
        'POST',
        link,
        undefined,
        form({
          password: PASSWORD,
          confirm: PASSWORD,
          totpSecret: secret,
          totpCode: codeOf(secret, -1),
        }),
        FORM,
      );
      assert.equal(enrolled.status, 200, enrolled.body);
      assert.match(enrolled.body, /authenticator app is enrolled/);
      const auth = api.platform.users.authenticator;
      const required = await refusal(auth.signIn(tenant, 'totp@example.com', PASSWORD));
      assert.equal(required.code, 'PALISADE_TOTP_REQUIRED');
      await auth.signIn(tenant, 'totp@example.com', PASSWORD, codeOf(secret));
      const id = created.body.user.id;
      const reset = await api.call('DELETE', `/v1/users/${id}/totp`, key);
      assert.equal(reset.status, 200);
      assert.equal(reset.body.totp, false);
      await auth.signIn(tenant, 'totp@example.com', PASSWORD);
    });

    test('a new invitation replaces the old link; a disabled user cannot sign in', async () => {
      const created = await create('turing@example.com');
      const id = created.body.user.id;
      const renewed = await api.call('POST', `/v1/users/${id}/invitation`, key);
      assert.equal(renewed.status, 201);
      assert.notEqual(renewed.body.link, created.body.invitation.link);
      assert.equal((await api.call('GET', created.body.invitation.link, undefined)).status, 404);
      const accepted = await api.call(
        'POST',
        renewed.body.link,
        undefined,
        form({ password: PASSWORD, confirm: PASSWORD }),
        FORM,
      );
      assert.equal(accepted.status, 200);
      await api.call('PATCH', `/v1/users/${id}`, key, { disabled: true });
      const refused = await refusal(
        api.platform.users.authenticator.signIn(tenant, 'turing@example.com', PASSWORD),
      );
      assert.equal(refused.code, 'PALISADE_SIGN_IN_FAILED');
      const missing = await api.call(
        'POST',
        `/v1/users/${'0'.repeat(8)}-0000-7000-8000-000000000000/invitation`,
        key,
      );
      assert.equal(missing.body.code, 'PALISADE_USER_NOT_FOUND');
    });
  });

  describe(`users API on ${backend}: invitation expiry`, () => {
    let api: TestApi;
    let key: string;
    before(async () => {
      api = await TestApi.start(backend, { userInvitationTtlMs: '1000' });
      key = (await api.tenant('acme')).key;
    });
    after(() => api.close());

    test('an invitation past its expiry is refused', async () => {
      const created: Reply = await api.call('POST', '/v1/users', key, {
        email: 'late@example.com',
        name: 'Late',
      });
      const link: string = created.body.invitation.link;
      const wait = Date.parse(created.body.invitation.expiresAt) - Date.now();
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, wait) + 50));
      const page = await api.call('GET', link, undefined);
      assert.equal(page.status, 404);
      const post = await api.call(
        'POST',
        link,
        undefined,
        form({ password: PASSWORD, confirm: PASSWORD }),
        FORM,
      );
      assert.equal(post.status, 404);
    });
  });
}
