import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import { backendNames } from './support/backends.ts';
import {
  authorizeInBrowser,
  Browser,
  nextSecond,
  OidcPlatform,
  type TestClient,
} from './support/oidc-platform.ts';

const PASSWORD = 'correct horse battery staple';
const REDIRECT = 'http://127.0.0.1:9/callback';

for (const backend of backendNames()) {
  describe(`authorization code + PKCE through openid-client on ${backend}`, () => {
    let api: OidcPlatform;
    let acme: { id: string; slug: string; key: string };
    let app: TestClient;
    let config: oidc.Configuration;
    let userId: string;

    /** Runs the browser part: sign-in, consent, and the redirect back with the code. */
    function authorize(browser: Browser, verifier: string, password = PASSWORD) {
      return authorizeInBrowser(config, {
        browser,
        redirect: REDIRECT,
        scope: 'openid email offline_access',
        email: 'ada@example.com',
        password,
        verifier,
      });
    }

    /** A whole sign-in with PKCE in `browser`: the browser part, then the code for tokens. */
    async function signIn(browser = new Browser()) {
      const verifier = oidc.randomPKCECodeVerifier();
      const { callback, state } = await authorize(browser, verifier);
      assert.ok(callback !== undefined, 'the browser part ends at the redirect with a code');
      return oidc.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: verifier,
        expectedState: state,
      });
    }

    before(async () => {
      api = await OidcPlatform.start(backend);
      acme = await api.tenant('acme');
      userId = await api.user(acme.key, 'ada@example.com', ['viewer'], PASSWORD);
      app = await api.client(acme.key, {
        name: 'Acme web',
        kind: 'user',
        redirectUris: [REDIRECT],
      });
      assert.equal(app.secret, null, 'a user-facing client is public by default');
      config = await api.configuration(app);
    });
    after(() => api.close());

    test('a user signs in on the server-rendered page, and the token carries the user and roles', async () => {
      const browser = new Browser();
      const verifier = oidc.randomPKCECodeVerifier();
      const { callback, state } = await authorize(browser, verifier);
      assert.ok(callback !== undefined);
      const tokens = await oidc.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: verifier,
        expectedState: state,
      });
      assert.equal(tokens.claims()?.sub, userId);
      assert.ok(tokens.refresh_token !== undefined, 'a refresh token is issued');
      const payload = JSON.parse(
        Buffer.from(tokens.access_token.split('.')[1]!, 'base64url').toString(),
      );
      assert.equal(payload.sub, userId);
      assert.deepEqual(payload.roles, ['viewer']);
      const read = await api.call('GET', '/v1/collections', tokens.access_token);
      assert.equal(read.status, 200, JSON.stringify(read.body));
      const write = await api.call('PUT', '/v1/collections/notes', tokens.access_token, {
        schema: { type: 'object' },
      });
      assert.equal(write.body.code, 'PALISADE_FORBIDDEN');
    });

    test('the sign-in page works without JavaScript under a strict CSP and says when the password is wrong', async () => {
      const browser = new Browser();
      const { callback, page, status } = await authorize(
        browser,
        oidc.randomPKCECodeVerifier(),
        'wrong password',
      );
      assert.equal(callback, undefined);
      assert.equal(status, 401);
      assert.match(page, /email or password is wrong/);
      assert.ok(!/<script|<style|\sstyle=|\son[a-z]+=/i.test(page), 'no script, style or handler');
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: REDIRECT,
        scope: 'openid',
        code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
        code_challenge_method: 'S256',
      });
      const interaction = await new Browser().follow(url.href, REDIRECT);
      const csp = interaction.reply.headers.get('content-security-policy') ?? '';
      assert.match(csp, /default-src 'none'/);
      assert.ok(!csp.includes('unsafe-inline'));
    });

    test("a sign-in begun at one tenant's issuer cannot be continued at another's, even with its cookies", async () => {
      await api.tenant('globex');
      const browser = new Browser();
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: REDIRECT,
        scope: 'openid',
        code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
        code_challenge_method: 'S256',
      });
      const started = await browser.follow(url.href, REDIRECT);
      assert.match(started.url, /\/t\/acme\/interaction\/[\w-]+$/);
      const uid = new URL(started.url).pathname.split('/').at(-1)!;
      const cookie = browser.allCookies();
      const shown = await api.call('GET', `/t/globex/interaction/${uid}`, undefined, undefined, {
        cookie,
      });
      assert.equal(shown.status, 400);
      assert.match(shown.body, /unknown or has expired/);
      const posted = await api.call(
        'POST',
        `/t/globex/interaction/${uid}`,
        undefined,
        new URLSearchParams({
          step: 'login',
          email: 'ada@example.com',
          password: PASSWORD,
        }).toString(),
        { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      );
      assert.equal(posted.status, 400);
      assert.equal((await browser.request(started.url)).status, 200, 'at acme it goes on');
    });

    test("a refresh picks up the user's new roles; a disabled user gets no new token", async () => {
      const first = await signIn();
      const version = (await api.call('GET', `/v1/users/${userId}`, acme.key)).body.version;
      const promoted = await api.call(
        'PATCH',
        `/v1/users/${userId}`,
        acme.key,
        {
          roles: ['developer'],
        },
        { 'if-match': `"${version}"` },
      );
      assert.equal(promoted.status, 200, JSON.stringify(promoted.body));
      const second = await oidc.refreshTokenGrant(config, first.refresh_token!);
      const roles = JSON.parse(
        Buffer.from(second.access_token.split('.')[1]!, 'base64url').toString(),
      ).roles;
      assert.deepEqual(roles, ['developer']);
      await api.call(
        'PATCH',
        `/v1/users/${userId}`,
        acme.key,
        { disabled: true, roles: ['viewer'] },
        {
          'if-match': `"${promoted.body.version}"`,
        },
      );
      await assert.rejects(oidc.refreshTokenGrant(config, second.refresh_token!));
      const enabled = await api.call('GET', `/v1/users/${userId}`, acme.key);
      await api.call(
        'PATCH',
        `/v1/users/${userId}`,
        acme.key,
        { disabled: false },
        {
          'if-match': `"${enabled.body.version}"`,
        },
      );
    });

    test('a password reset, and a disable, end the sign-ins made before: refresh tokens and the browser session', async () => {
      const browser = new Browser();
      const before = await signIn(browser);
      await nextSecond();
      const invitation = await api.call('POST', `/v1/users/${userId}/invitation`, acme.key);
      const reset = await new Browser().request(`${api.url}${invitation.body.link}`, {
        password: PASSWORD,
        confirm: PASSWORD,
      });
      assert.equal(reset.status, 200, reset.body);
      await assert.rejects(
        oidc.refreshTokenGrant(config, before.refresh_token!),
        (error: Error & { error?: string }) => error.error === 'invalid_grant',
        'a refresh token from before the reset',
      );
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: REDIRECT,
        scope: 'openid email offline_access',
        code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
        code_challenge_method: 'S256',
      });
      const again = await browser.follow(url.href, REDIRECT);
      assert.match(again.reply.body, /name="password"/, 'the browser must sign in again');

      const after = await signIn(browser);
      await nextSecond();
      const disable = (disabled: boolean) =>
        api.call('PATCH', `/v1/users/${userId}`, acme.key, { disabled });
      assert.equal((await disable(true)).status, 200);
      assert.equal((await disable(false)).status, 200);
      await assert.rejects(
        oidc.refreshTokenGrant(config, after.refresh_token!),
        'enabling the user again does not bring back what the disable ended',
      );
      await signIn(browser);
    });

    test('an authorization request without S256 PKCE is refused', async () => {
      const url = oidc.buildAuthorizationUrl(config, { redirect_uri: REDIRECT, scope: 'openid' });
      const { url: landed } = await new Browser().follow(url.href, REDIRECT);
      const back = new URL(landed);
      assert.equal(back.searchParams.get('error'), 'invalid_request');
      assert.match(back.searchParams.get('error_description') ?? '', /PKCE/);
    });

    test('refresh tokens rotate; reusing an old one revokes the whole family, access tokens included', async () => {
      const browser = new Browser();
      const first = await signIn(browser);
      const second = await oidc.refreshTokenGrant(config, first.refresh_token!);
      assert.notEqual(second.refresh_token, first.refresh_token, 'the refresh token rotates');
      assert.equal((await api.call('GET', '/v1/collections', second.access_token)).status, 200);
      await assert.rejects(
        oidc.refreshTokenGrant(config, first.refresh_token!),
        (error: Error & { error?: string }) => {
          assert.equal(error.error, 'invalid_grant');
          return true;
        },
      );
      const revoked = await api.call('GET', '/v1/collections', second.access_token);
      assert.equal(revoked.status, 401);
      assert.equal(revoked.body.code, 'PALISADE_TOKEN_REVOKED');
      // The grant stays revoked while the gateway accepts its tokens: to 5 s (the skew) past exp.
      const { exp, gid } = JSON.parse(
        Buffer.from(second.access_token.split('.')[1]!, 'base64url').toString(),
      );
      const revocations = await api.platform.stores.controlPlane.identity.listRevocations(
        acme.id,
        (exp + 4) * 1000,
      );
      assert.ok(revocations.some((revocation) => revocation.value === gid));
      await assert.rejects(oidc.refreshTokenGrant(config, second.refresh_token!));
      const renewed = await signIn(browser);
      const reply = await api.call('GET', '/v1/collections', renewed.access_token);
      assert.equal(reply.status, 200, 'signing in again makes a new grant, not the revoked one');
    });

    test('one refresh token sent twice at once rotates once; the other use is reuse', async () => {
      const first = await signIn();
      const outcomes = await Promise.allSettled(
        [1, 2, 3, 4].map(() => oidc.refreshTokenGrant(config, first.refresh_token!)),
      );
      const rotated = outcomes.filter((o) => o.status === 'fulfilled');
      assert.ok(rotated.length <= 1, `${rotated.length} refreshes succeeded with one token`);
      for (const outcome of outcomes)
        if (outcome.status === 'rejected')
          assert.equal((outcome.reason as { error?: string }).error, 'invalid_grant');
    });

    test('one authorization code redeemed twice at once gives tokens once', async () => {
      const verifier = oidc.randomPKCECodeVerifier();
      const { callback, state } = await authorize(new Browser(), verifier);
      const outcomes = await Promise.allSettled(
        [1, 2, 3, 4].map(() =>
          oidc.authorizationCodeGrant(config, callback!, {
            pkceCodeVerifier: verifier,
            expectedState: state,
          }),
        ),
      );
      const redeemed = outcomes.filter((o) => o.status === 'fulfilled');
      assert.ok(redeemed.length <= 1, `${redeemed.length} token sets for one code`);
    });

    test('one pushed authorization request used twice at once gives one code', async () => {
      const browser = new Browser();
      await authorize(browser, oidc.randomPKCECodeVerifier());
      const url = await oidc.buildAuthorizationUrlWithPAR(config, {
        redirect_uri: REDIRECT,
        scope: 'openid email offline_access',
        code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
        code_challenge_method: 'S256',
      });
      const landed = await Promise.all([1, 2, 3].map(() => browser.follow(url.href, REDIRECT)));
      const codes = landed.filter(({ url }) => new URL(url).searchParams.has('code'));
      assert.equal(codes.length, 1, landed.map(({ url }) => url).join('\n'));
      for (const { url } of landed.filter((l) => !codes.includes(l)))
        assert.equal(new URL(url).searchParams.get('error'), 'invalid_request_uri', url);
    });
  });
}
