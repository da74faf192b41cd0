import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { LocalKms, MasterKey } from '@palisade/crypto';
import { rotatePlatformMasterKey, startPlatform } from '../src/index.ts';
import { TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';

/** A client-credentials token from the tenant issuer, through inject. */
async function token(
  http: TestApi['http'],
  client: { id: string; secret: string },
): Promise<{ status: number; accessToken: string | undefined }> {
  const reply = await http.inject({
    method: 'POST',
    url: '/t/acme/token',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}`,
    },
    payload: 'grant_type=client_credentials',
  });
  return { status: reply.statusCode, accessToken: reply.json().access_token };
}

for (const backend of backendNames()) {
  describe(`issuer keys across a master key rotation on ${backend}`, () => {
    test('the issuer keeps its keys (re-sealed, not replaced); the old master key opens none', async () => {
      const api = await TestApi.start(backend);
      const settings = api.fixture.settings;
      try {
        const tenant = await api.tenant('acme');
        const created = await api.call('POST', '/v1/clients', tenant.key, {
          name: 'svc',
          kind: 'service',
          roles: ['viewer'],
        });
        const client = { id: created.body.id, secret: created.body.secret };
        assert.equal((await token(api.http, client)).status, 200);
        const jwksBefore = (await api.call('GET', '/t/acme/jwks', undefined)).body;
        const oldKms = new LocalKms(
          MasterKey.fromText(readFileSync(join(settings.data, 'master.key'), 'utf8')),
        );
        await api.platform.close();

        await rotatePlatformMasterKey(settings);

        const platform = await startPlatform(settings, { listen: false });
        try {
          const jwks = await platform.http.inject({ method: 'GET', url: '/t/acme/jwks' });
          assert.deepEqual(jwks.json(), jwksBefore, 'the same keys, re-sealed');
          const issued = await token(platform.http, client);
          assert.equal(issued.status, 200);
          const read = await platform.http.inject({
            method: 'GET',
            url: '/v1/collections',
            headers: { authorization: `Bearer ${issued.accessToken}` },
          });
          assert.equal(read.statusCode, 200);
          for (const row of await platform.stores.controlPlane.identity.listAllKeys())
            assert.equal(oldKms.isCurrent(row.sealedPrivate), false);
        } finally {
          await platform.close();
        }
      } finally {
        await api.fixture.cleanup();
      }
    });
  });
}
