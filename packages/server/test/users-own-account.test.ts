import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import { Secret } from 'otpauth';
import { ADMIN_TOKEN } from './support/api.ts';
import { backendNames } from './support/backends.ts';
import { authorizeInBrowser, nextSecond, OidcPlatform } from './support/oidc-platform.ts';
import { steadyTotpStep, totpAt } from './support/users.ts';

const PASSWORD = 'correct horse battery staple';
const NEW_PASSWORD = 'a longer and newer passphrase';
const REDIRECT = 'http://127.0.0.1:9/callback';
const ME = '/v1/users/me';

const invalidGrant = (error: Error & { error?: string }) => error.error === 'invalid_grant';

for (const backend of backendNames()) {
  describe(`a signed-in user's own account on ${backend}`, () => {
    let api: OidcPlatform;
    let acme: { id: string; slug: string; key: string };
    let config: oidc.Configuration;

    /** A whole sign-in in a fresh browser: the tokens, or the page that refused it. */
    async function signIn(email: string, password: string, totp = '', at = config) {
      const verifier = oidc.randomPKCECodeVerifier();
      const scope = 'openid offline_access';
      const signedIn = { redirect: REDIRECT, scope, email, password, verifier };
      const done = await authorizeInBrowser(at, totp === '' ? signedIn : { ...signedIn, totp });
      if (done.callback === undefined) return { status: done.status, page: done.page };
      const tokens = await oidc.authorizationCodeGrant(at, done.callback, {
        pkceCodeVerifier: verifier,
        expectedState: done.state,
      });
      return { status: 200, page: '', tokens };
    }

    /** A user of acme with PASSWORD, and the tokens of one sign-in of theirs. */
    async function member(email: string) {
      const id = await api.user(acme.key, email, ['viewer'], PASSWORD);
      const { tokens } = await signIn(email, PASSWORD);
      assert.ok(tokens !== undefined, 'the user signs in');
      return { id, tokens };
    }

    async function entriesAbout(id: string) {
      const { body } = await api.call('GET', '/v1/ledger/entries?start=0&end=1000', acme.key);
      return body.entries
        .map((e: { entry: { action: string; resource: string } }) => e.entry)
        .filter((e: { resource: string }) => e.resource === `users/${id}`);
    }

    before(async () => {
      api = await OidcPlatform.start(backend, { signInAttemptsPerMinute: '0' });
      acme = await api.tenant('acme');
      const client = await api.client(acme.key, {
        name: 'Acme web',
        kind: 'user',
        redirectUris: [REDIRECT],
      });
      config = await api.configuration(client);
    });
    after(() => api.close());

    test("a password change: the new password signs in, the old does not; the user's other sign-ins end, the caller's stays", async () => {
      const email = 'ada@example.com';
      const { id, tokens: other } = await member(email);
      const { tokens: mine } = await signIn(email, PASSWORD);
      assert.ok(mine !== undefined);
      const me = await api.call('GET', ME, mine.access_token);
      assert.equal(me.status, 200, JSON.stringify(me.body));
      assert.deepEqual([me.body.id, me.body.email], [id, email]);
      assert.equal(me.headers.get('etag'), `"${me.body.version}"`);

      await nextSecond();
      const changed = await api.call('POST', `${ME}/password`, mine.access_token, {
        currentPassword: PASSWORD,
        newPassword: NEW_PASSWORD,
      });
      assert.equal(changed.status, 200, JSON.stringify(changed.body));
      assert.equal(changed.body.id, id);
      assert.equal((await signIn(email, PASSWORD)).status, 401, 'the old password');
      assert.ok((await signIn(email, NEW_PASSWORD)).tokens !== undefined, 'the new password');

      await assert.rejects(
        oidc.refreshTokenGrant(config, other.refresh_token!),
        invalidGrant,
        "another sign-in's refresh token",
      );
      const kept = await oidc.refreshTokenGrant(config, mine.refresh_token!);
      assert.equal((await api.call('GET', ME, kept.access_token)).body.id, id, "the caller's");
      for (const disabled of [true, false])
        await api.call('PATCH', `/v1/users/${id}`, acme.key, { disabled });
      await assert.rejects(
        oidc.refreshTokenGrant(config, kept.refresh_token!),
        invalidGrant,
        'a disable ends the kept sign-in too',
      );

      const entries = await entriesAbout(id);
      assert.ok(entries.some((e: { action: string }) => e.action === 'users.password-change'));
      const text = JSON.stringify(entries);
      assert.ok(!text.includes(PASSWORD) && !text.includes(NEW_PASSWORD), 'no password');
    });

    test('a new password follows the invitation rules and must differ from the current one', async () => {
      const { tokens } = await member('bo@example.com');
      const change = (body: unknown) =>
        api.call('POST', `${ME}/password`, tokens.access_token, body);
      const short = await change({ currentPassword: PASSWORD, newPassword: 'short' });
      assert.equal(short.body.code, 'PALISADE_PASSWORD_REJECTED');
      assert.equal(short.body.errors[0].path, '/body/newPassword');
      const same = await change({ currentPassword: PASSWORD, newPassword: PASSWORD });
      assert.equal(same.body.code, 'PALISADE_PASSWORD_REJECTED');
      const email = await change({ currentPassword: PASSWORD, newPassword: 'bo@example.com' });
      assert.equal(email.body.code, 'PALISADE_PASSWORD_REJECTED');
      const missing = await change({ newPassword: NEW_PASSWORD });
      assert.equal(missing.body.code, 'PALISADE_INVALID_REQUEST');
      assert.equal((await signIn('bo@example.com', PASSWORD)).status, 200, 'still the old one');
    });

    test('a wrong current password counts toward the sign-in lock of the email, and the lock holds here too', async () => {
      const email = 'cy@example.com';
      const { id, tokens } = await member(email);
      const change = (currentPassword: string) =>
        api.call('POST', `${ME}/password`, tokens.access_token, {
          currentPassword,
          newPassword: NEW_PASSWORD,
        });
      // Two failed sign-ins and three wrong current passwords make the five that lock.
      for (const _ of [1, 2]) assert.equal((await signIn(email, 'wrong password')).status, 401);
      for (const _ of [1, 2]) {
        const wrong = await change('wrong password');
        assert.equal(wrong.status, 403);
        assert.equal(wrong.body.code, 'PALISADE_REAUTHENTICATION_FAILED');
        assert.equal(wrong.body.errors[0].path, '/body/currentPassword');
      }
      const locking = await change('wrong password');
      assert.equal(locking.status, 429, JSON.stringify(locking.body));
      assert.equal(locking.body.code, 'PALISADE_ACCOUNT_LOCKED');
      const right = await change(PASSWORD);
      assert.equal(right.body.code, 'PALISADE_ACCOUNT_LOCKED', 'the right password, during a lock');
      assert.equal((await signIn(email, PASSWORD)).status, 429, 'the sign-in page is locked too');
      const me = await api.call('GET', ME, tokens.access_token);
      assert.equal(me.body.failedSignIns, 5);
      assert.notEqual(me.body.lockedUntil, null);
      const actions = (await entriesAbout(id)).map((e: { action: string }) => e.action);
      assert.ok(actions.includes('users.lock'));
      assert.ok(!actions.includes('users.password-change'));
    });

    test('TOTP enrolment takes effect only with a confirming code; removal needs the password and a current code', async () => {
      const email = 'di@example.com';
      const { id, tokens } = await member(email);
      const token = tokens.access_token;
      assert.equal(
        (await api.call('POST', `${ME}/totp/confirm`, token, { code: '123456' })).body.code,
        'PALISADE_TOTP_ENROLMENT_NOT_STARTED',
      );
      assert.equal(
        (
          await api.call('POST', `${ME}/totp/removal`, token, {
            currentPassword: PASSWORD,
            totpCode: '123456',
          })
        ).body.code,
        'PALISADE_TOTP_NOT_ENROLLED',
      );
      const wrongStart = await api.call('POST', `${ME}/totp`, token, { currentPassword: 'wrong' });
      assert.equal(wrongStart.body.code, 'PALISADE_REAUTHENTICATION_FAILED');
      const started = await api.call('POST', `${ME}/totp`, token, { currentPassword: PASSWORD });
      assert.equal(started.status, 201, JSON.stringify(started.body));
      assert.equal(started.headers.get('cache-control'), 'no-store');
      assert.match(started.body.otpauthUri, /^otpauth:\/\/totp\//);
      const secret = Secret.fromBase32(started.body.secret);
      assert.equal((await api.call('GET', ME, token)).body.totp, false, 'not before a code');
      assert.equal((await signIn(email, PASSWORD)).status, 200, 'a typo cannot lock anyone out');

      // Codes of the previous, this and the next step, made at once: the steps they are for
      // stay the same however long what follows takes within the step.
      await steadyTotpStep(20);
      const [earlier, current, later] = [-1, 0, 1].map((offset) => totpAt(secret, offset));
      const typo = await api.call('POST', `${ME}/totp/confirm`, token, {
        code: totpAt(secret, 5),
      });
      assert.equal(typo.body.code, 'PALISADE_INVALID_REQUEST');
      assert.equal(typo.body.errors[0].path, '/body/code');
      const confirmed = await api.call('POST', `${ME}/totp/confirm`, token, {
        code: earlier,
      });
      assert.equal(confirmed.status, 200, JSON.stringify(confirmed.body));
      assert.equal(confirmed.body.totp, true);
      assert.equal(
        (await api.call('POST', `${ME}/totp`, token, { currentPassword: PASSWORD })).body.code,
        'PALISADE_TOTP_ALREADY_ENROLLED',
      );
      const withoutCode = await signIn(email, PASSWORD);
      assert.equal(withoutCode.status, 401);
      assert.match(withoutCode.page, /code/);
      assert.ok((await signIn(email, PASSWORD, current)).tokens !== undefined);

      const remove = (currentPassword: string, totpCode: string) =>
        api.call('POST', `${ME}/totp/removal`, token, { currentPassword, totpCode });
      const wrongPassword = await remove('wrong password', later!);
      assert.equal(wrongPassword.body.errors[0].path, '/body/currentPassword');
      const wrongCode = await remove(PASSWORD, totpAt(secret, 5));
      assert.equal(wrongCode.body.code, 'PALISADE_REAUTHENTICATION_FAILED');
      assert.equal(wrongCode.body.errors[0].path, '/body/totpCode');
      const replayed = await remove(PASSWORD, current!);
      assert.equal(replayed.body.errors?.[0].path, '/body/totpCode', 'a code used to sign in');
      const removed = await remove(PASSWORD, later!);
      assert.equal(removed.status, 200, JSON.stringify(removed.body));
      assert.deepEqual([removed.body.totp, removed.body.failedSignIns], [false, 0]);
      assert.equal((await signIn(email, PASSWORD)).status, 200, 'the password alone again');

      const entries = await entriesAbout(id);
      const actions = entries.map((e: { action: string }) => e.action);
      for (const action of ['users.totp-enrol-start', 'users.totp-enrol', 'users.totp-remove'])
        assert.ok(actions.includes(action), action);
      const text = JSON.stringify(entries);
      assert.ok(!text.includes(started.body.secret) && !text.includes(PASSWORD), 'no secret');
    });

    test('an API key, a service client and the platform admin are no user: each is refused by name', async () => {
      const service = await api.serviceToken(acme.key, ['owner']);
      const calls: [string, string, unknown][] = [
        ['GET', ME, undefined],
        ['POST', `${ME}/password`, { currentPassword: PASSWORD, newPassword: NEW_PASSWORD }],
        ['POST', `${ME}/totp`, { currentPassword: PASSWORD }],
        ['POST', `${ME}/totp/confirm`, { code: '123456' }],
        ['POST', `${ME}/totp/removal`, { currentPassword: PASSWORD, totpCode: '123456' }],
      ];
      for (const [credential, named] of [
        [acme.key, /an API key is no user/],
        [service, /a service client's token is no user/],
        [ADMIN_TOKEN, /the platform-admin token is no user/],
      ] as const) {
        for (const [method, path, body] of calls) {
          const reply = await api.call(method, path, credential, body);
          assert.equal(reply.status, 403, `${method} ${path}`);
          assert.equal(reply.body.code, 'PALISADE_FORBIDDEN');
          assert.match(reply.body.detail, named);
        }
      }
    });

    test("a user of another tenant reaches only their own account, never acme's user of the same email", async () => {
      const email = 'eve@example.com';
      const { id: acmeId } = await member(email);
      const globex = await api.tenant('globex');
      const globexId = await api.user(globex.key, email, ['owner'], PASSWORD);
      const client = await api.client(globex.key, {
        name: 'Globex web',
        kind: 'user',
        redirectUris: [REDIRECT],
      });
      const { tokens } = await signIn(email, PASSWORD, '', await api.configuration(client));
      assert.ok(tokens !== undefined);
      const me = await api.call('GET', ME, tokens.access_token);
      assert.equal(me.body.id, globexId);
      assert.notEqual(me.body.id, acmeId);
      const acmeUser = async () => (await api.call('GET', `/v1/users/${acmeId}`, acme.key)).body;
      const acmeBefore = await acmeUser();
      const changed = await api.call('POST', `${ME}/password`, tokens.access_token, {
        currentPassword: PASSWORD,
        newPassword: NEW_PASSWORD,
      });
      assert.equal(changed.body.id, globexId);
      assert.deepEqual(await acmeUser(), acmeBefore);
      assert.equal((await signIn(email, PASSWORD)).status, 200, "acme's user keeps theirs");
      assert.equal((await api.call('GET', ME, tokens.access_token)).body.id, globexId);
    });
  });
}
