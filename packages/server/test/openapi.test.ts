import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { validate } from '@readme/openapi-parser';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { ADMIN_TOKEN, PEOPLE_SCHEMA, type Reply, TestApi } from './support/api.ts';

interface Operation {
  parameters: { name: string; in: string }[];
  requestBody?: { content: Record<string, unknown> };
  responses: Record<string, { content?: Record<string, { schema?: object }> }>;
}
type Document = { paths: Record<string, Record<string, Operation>> };

/** The media type of a reply without its parameters, or undefined when it has no body. */
function mediaOf(reply: Reply): string | undefined {
  const type = reply.headers['content-type'];
  return type === undefined ? undefined : String(type).split(';')[0]?.trim();
}

/** Checks answers against the document's schemas, whose keywords are not all Ajv's own. */
const ajv = new Ajv2020({ strict: false, allErrors: true });
(addFormats as unknown as (instance: Ajv2020) => void)(ajv);

describe('the OpenAPI document', () => {
  let api: TestApi;
  let key: string;
  let tenantId: string;
  let doc: Document;

  before(async () => {
    // The document is built from the routes alone: one backend is enough.
    api = await TestApi.start('sqlite');
    ({ key, id: tenantId } = await api.tenant('openapi'));
    await api.call('PUT', '/v1/collections/people', key, { schema: PEOPLE_SCHEMA });
    doc = (await api.call('GET', '/v1/openapi.json', undefined)).body;
  });
  after(() => api.close());

  function operation(method: string, path: string): Operation {
    const found = doc.paths[path]?.[method];
    assert.ok(found, `${method} ${path} is not documented`);
    return found;
  }

  /**
   * The reply's status and media type are what the document says this operation answers, and
   * a JSON body is valid against the schema documented for it.
   */
  function assertDocumented(method: string, path: string, reply: Reply): void {
    const documented = operation(method, path).responses[String(reply.status)];
    assert.ok(documented, `${method} ${path}: ${reply.status} is not documented`);
    const media = mediaOf(reply);
    const listed = Object.keys(documented.content ?? {}).map((type) => type.split(';')[0]);
    if (media === undefined) assert.deepEqual(listed, [], `${method} ${path}: no body documented`);
    else assert.ok(listed.includes(media), `${method} ${path}: ${media} not in ${listed}`);
    const schema = documented.content?.['application/json']?.schema;
    if (media !== 'application/json' || schema === undefined) return;
    const check = ajv.compile(schema);
    assert.ok(check(reply.body), `${method} ${path}: ${JSON.stringify(check.errors)}`);
  }

  test('is valid OpenAPI 3.1, schema and semantics (path parameters, references)', async () => {
    const result = await validate(
      structuredClone(doc) as unknown as Parameters<typeof validate>[0],
    );
    if (!result.valid) assert.fail(JSON.stringify(result.errors, null, 2));
  });

  test('names a wildcard route’s rest of the path as the parameter `path`', () => {
    const tile = operation('get', '/v1/ledger/tile/{path}');
    assert.deepEqual(
      tile.parameters.filter((p) => p.in === 'path').map((p) => p.name),
      ['path'],
    );
  });

  test('lists the media types each body route parses, as the server accepts them', async () => {
    const create = operation('post', '/v1/collections/{name}/records');
    assert.deepEqual(Object.keys(create.requestBody?.content ?? {}), [
      'application/json',
      'application/merge-patch+json',
    ]);
    // The sign-in form reads only what a browser's form posts.
    assert.deepEqual(
      Object.keys(operation('post', '/t/{slug}/interaction/{uid}').requestBody?.content ?? {}),
      ['application/x-www-form-urlencoded'],
    );
    const created = await api.call('POST', '/v1/collections/people/records', key, {
      name: 'Ada',
    });
    const patched = await api.call(
      'PATCH',
      `/v1/collections/people/records/${created.body.id}`,
      key,
      { age: 36 },
      { 'content-type': 'application/merge-patch+json' },
    );
    assert.equal(patched.status, 200);
    assert.equal(patched.body.data.age, 36);
    const unlisted = await api.call('POST', '/v1/collections/people/records', key, 'name=Ada', {
      'content-type': 'application/x-www-form-urlencoded',
    });
    assert.equal(unlisted.status, 415);
  });

  test("names the signed-in user's own routes as taking a user's access token", () => {
    for (const [method, path] of [
      ['get', '/v1/users/me'],
      ['post', '/v1/users/me/password'],
      ['post', '/v1/users/me/totp'],
      ['post', '/v1/users/me/totp/confirm'],
      ['post', '/v1/users/me/totp/removal'],
    ] as const) {
      const documented = operation(method, path) as unknown as Record<string, unknown>;
      assert.equal(documented['x-palisade-auth'], 'user', `${method} ${path}`);
      assert.deepEqual(documented.security, [{ bearer: [] }], `${method} ${path}`);
    }
    const removal = operation('post', '/v1/users/me/totp/removal').requestBody?.content ?? {};
    assert.ok('application/json' in removal, 'removing TOTP takes the password and code as JSON');
  });

  test('names If-Match on the writes that honour it', async () => {
    for (const [method, path] of [
      ['put', '/v1/collections/{name}/records/{id}'],
      ['patch', '/v1/collections/{name}/records/{id}'],
      ['delete', '/v1/collections/{name}/records/{id}'],
      ['patch', '/v1/users/{id}'],
      ['delete', '/v1/users/{id}'],
      ['delete', '/v1/users/{id}/totp'],
    ] as const) {
      assert.ok(
        operation(method, path).parameters.some((p) => p.in === 'header' && p.name === 'if-match'),
        `${method} ${path}`,
      );
    }
    const created = await api.call('POST', '/v1/collections/people/records', key, { name: 'B' });
    const stale = await api.call(
      'DELETE',
      `/v1/collections/people/records/${created.body.id}`,
      key,
      undefined,
      { 'if-match': '"7"' },
    );
    assert.equal(stale.status, 412);
  });

  test('documents the status and media type of what the routes answer', async () => {
    const created = await api.call('POST', '/v1/collections/people/records', key, { name: 'C' });
    assertDocumented('post', '/v1/collections/{name}/records', created);
    const path = `/v1/collections/people/records/${created.body.id}`;
    assertDocumented(
      'get',
      '/v1/collections/{name}/records/{id}',
      await api.call('GET', path, key),
    );
    assertDocumented(
      'delete',
      '/v1/collections/{name}/records/{id}',
      await api.call('DELETE', path, key),
    );
    assertDocumented('get', '/metrics', await api.call('GET', '/metrics', ADMIN_TOKEN));
    const checkpoint = await api.call('GET', '/v1/ledger/checkpoint', key);
    assertDocumented('get', '/v1/ledger/checkpoint', checkpoint);
    const tile = await api.call('GET', `/v1/ledger/tile/0/000.p/${checkpoint.body.size}`, key);
    assert.equal(tile.status, 200);
    assertDocumented('get', '/v1/ledger/tile/{path}', tile);
    const other = await api.tenant('openapi-empty');
    assertDocumented(
      'get',
      '/v1/ledger/checkpoint',
      await api.call('GET', '/v1/ledger/checkpoint', other.key),
    );
    assertDocumented(
      'delete',
      '/v1/platform/tenants/{id}',
      await api.call('DELETE', `/v1/platform/tenants/${other.id}`, ADMIN_TOKEN),
    );
  });

  test('documents every route’s success answer; the ledger’s and probes’ bodies match', async () => {
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const [method, documented] of Object.entries(operations)) {
        // The tenant issuer's own endpoints answer as the OAuth/OIDC provider does.
        if (path === '/t/{slug}/{path}') continue;
        assert.ok(
          Object.keys(documented.responses).some((status) => /^[23]/.test(status)),
          `${method} ${path} documents no success answer`,
        );
      }
    }
    const { body: head } = await api.call('GET', '/v1/ledger/checkpoint', key);
    const size = head.size as number;
    const created = await api.call('POST', '/v1/collections/people/records', key, { name: 'D' });
    const answers: [string, string, Reply][] = [
      ['get', '/healthz', await api.call('GET', '/healthz', undefined)],
      ['get', '/readyz', await api.call('GET', '/readyz', undefined)],
      ['get', '/v1/openapi.json', await api.call('GET', '/v1/openapi.json', undefined)],
      ['get', '/v1/ledger/entries', await api.call('GET', '/v1/ledger/entries?start=0&end=5', key)],
      [
        'get',
        '/v1/ledger/batches',
        await api.call('GET', `/v1/ledger/batches?start=0&end=${size}`, key),
      ],
      [
        'get',
        '/v1/ledger/proof/inclusion',
        await api.call('GET', `/v1/ledger/proof/inclusion?index=0&size=${size}`, key),
      ],
      [
        'get',
        '/v1/ledger/proof/consistency',
        await api.call('GET', `/v1/ledger/proof/consistency?from=1&to=${size}`, key),
      ],
      [
        'get',
        '/v1/collections/{name}/records/{id}/proof',
        await api.call('GET', `/v1/collections/people/records/${created.body.id}/proof`, key),
      ],
      ['get', '/v1/ledger/export', await api.call('GET', '/v1/ledger/export', key)],
      [
        'get',
        '/v1/platform/tenants/{id}/ledger/export',
        await api.call('GET', `/v1/platform/tenants/${tenantId}/ledger/export`, ADMIN_TOKEN),
      ],
      ['get', '/v1/platform/ledger/keys', await api.call('GET', '/v1/platform/ledger/keys', key)],
    ];
    for (const [method, path, reply] of answers) {
      assert.equal(reply.status, 200, `${method} ${path}: ${JSON.stringify(reply.body)}`);
      assertDocumented(method, path, reply);
    }
  });
});
