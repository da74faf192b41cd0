import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import { backendNames } from './support/backends.ts';
import { Browser, OidcPlatform } from './support/oidc-platform.ts';

const PASSWORD = 'correct horse battery staple';

/** The page's form (the one with hidden fields) as action and fields, as a browser posts it. */
function pageForm(page: string, base: string): { action: string; fields: Record<string, string> } {
  const form = /<form[^>]*action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/.exec(page);
  if (form === null) throw new Error(`no form in ${page}`);
  const fields: Record<string, string> = {};
  for (const [input] of form[2]!.matchAll(/<input[^>]*>/g)) {
    const name = /name="([^"]+)"/.exec(input)?.[1];
    if (name !== undefined) fields[name] = /value="([^"]*)"/.exec(input)?.[1] ?? '';
  }
  return { action: new URL(form[1]!.replaceAll('&amp;', '&'), base).href, fields };
}

for (const backend of backendNames()) {
  describe(`device authorization (RFC 8628) through openid-client on ${backend}`, () => {
    let api: OidcPlatform;
    let acme: { id: string; slug: string; key: string };
    let config: oidc.Configuration;

    before(async () => {
      api = await OidcPlatform.start(backend);
      acme = await api.tenant('acme');
      await api.user(acme.key, 'ada@example.com', ['developer'], PASSWORD);
      config = await api.configuration(
        await api.client(acme.key, { name: 'Thermostat', kind: 'user' }),
      );
    });
    after(() => api.close());

    test('a device without a browser gets a token once its user approves the code elsewhere', async () => {
      const device = await oidc.initiateDeviceAuthorization(config, {
        scope: 'openid offline_access',
      });
      assert.match(device.verification_uri, /\/t\/acme\/device$/);
      const browser = new Browser();
      let step = await browser.follow(device.verification_uri_complete!, 'http://none/');
      for (let pages = 0; pages < 6 && !/Device connected/.test(step.reply.body); pages++) {
        const page = step.reply.body as string;
        const { action, fields } = pageForm(page, step.url);
        const form = page.includes('name="password"')
          ? { step: 'login', email: 'ada@example.com', password: PASSWORD }
          : fields;
        const posted = await browser.request(action, form);
        const location = posted.headers.get('location');
        step =
          location === null
            ? { url: action, reply: posted }
            : await browser.follow(new URL(location, action).href, 'http://none/');
      }
      assert.match(step.reply.body, /Device connected/);
      const tokens = await oidc.pollDeviceAuthorizationGrant(config, { ...device, interval: 0 });
      const reply = await api.call('PUT', '/v1/collections/readings', tokens.access_token, {
        schema: { type: 'object' },
      });
      assert.equal(reply.status, 201, JSON.stringify(reply.body));
      assert.ok(tokens.refresh_token !== undefined);
    });

    test('a wrong user code is refused on the page and the device gets no token', async () => {
      const device = await oidc.initiateDeviceAuthorization(config, { scope: 'openid' });
      const browser = new Browser();
      const entry = await browser.follow(device.verification_uri, 'http://none/');
      const { action, fields } = pageForm(entry.reply.body, entry.url);
      const wrong = await browser.request(action, { ...fields, user_code: 'BCDF-GHJK' });
      assert.match(wrong.body, /unknown or expired/);
      await assert.rejects(
        oidc.pollDeviceAuthorizationGrant(config, { ...device, interval: 0 }, undefined, {
          signal: AbortSignal.timeout(50),
        }),
      );
    });

    test('the code form posted after its session is gone is shown again, and then works', async () => {
      const device = await oidc.initiateDeviceAuthorization(config, { scope: 'openid' });
      const entry = await new Browser().follow(device.verification_uri, 'http://none/');
      const { action, fields } = pageForm(entry.reply.body, entry.url);
      // Another browser, or this one with its cookies cleared or expired.
      const browser = new Browser();
      const again = await browser.request(action, { ...fields, user_code: device.user_code });
      assert.equal(again.status, 400, again.body);
      assert.match(again.body, /<form/);
      const retry = pageForm(again.body, action);
      const confirm = await browser.request(retry.action, {
        ...retry.fields,
        user_code: device.user_code,
      });
      assert.equal(confirm.status, 200, confirm.body);
      assert.match(confirm.body, /Confirm the device/);
    });
  });
}
