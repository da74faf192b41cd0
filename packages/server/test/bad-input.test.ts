import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { ADMIN_TOKEN, PEOPLE_SCHEMA, TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';

interface Case {
  readonly name: string;
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  readonly url: string;
  readonly payload?: string | Buffer;
  readonly headers?: Record<string, string>;
  readonly status: number;
  readonly code: string;
  readonly errors?: { path: string; message: string }[];
  readonly asAdmin?: boolean;
}

interface OpenApiOperation {
  readonly parameters?: readonly { readonly in: string; readonly name: string }[];
  readonly requestBody?: unknown;
}

for (const backend of backendNames()) {
  describe(`bad input on ${backend}: a precise problem, the server stays up, nothing is written`, () => {
    let api: TestApi;
    let key: string;
    let recordId: string;
    const json = { 'content-type': 'application/json' };

    before(async () => {
      api = await TestApi.start(backend, { bodyLimit: '4096' });
      ({ key } = await api.tenant('bad-input'));
      await api.call('PUT', '/v1/collections/people', key, { schema: PEOPLE_SCHEMA });
      recordId = (
        await api.call('POST', '/v1/collections/people/records', key, { name: 'Ada', age: 36 })
      ).body.id;
    });
    after(() => api.close());

    const cases = (): Case[] => [
      {
        name: 'malformed JSON',
        method: 'POST',
        url: '/v1/collections/people/records',
        payload: '{"name": "x",',
        headers: json,
        status: 400,
        code: 'PALISADE_MALFORMED_JSON',
      },
      {
        name: 'empty JSON body',
        method: 'POST',
        url: '/v1/collections/people/records',
        payload: '',
        headers: json,
        status: 400,
        code: 'PALISADE_MALFORMED_JSON',
      },
      {
        name: 'a body that is not UTF-8 (it would be stored with U+FFFD in its place)',
        method: 'POST',
        url: '/v1/collections/people/records',
        payload: Buffer.concat([Buffer.from('{"name":"x'), Buffer.from([0xff]), Buffer.from('"}')]),
        headers: json,
        status: 400,
        code: 'PALISADE_MALFORMED_JSON',
      },
      {
        name: 'prototype poisoning',
        method: 'POST',
        url: '/v1/collections/people/records',
        payload: '{"name":"x","__proto__":{"admin":true}}',
        headers: json,
        status: 400,
        code: 'PALISADE_MALFORMED_JSON',
      },
      {
        name: 'U+0000 in a string (PostgreSQL cannot store it)',
        method: 'POST',
        url: '/v1/collections/people/records',
        payload: '{"name":"x\\u0000y","age":3}',
        headers: json,
        status: 400,
        code: 'PALISADE_INVALID_REQUEST',
        errors: [{ path: '/body/name', message: 'must not contain U+0000' }],
      },
      {
        name: 'a number JSON turns into Infinity (it would be stored as null)',
        method: 'POST',
        url: '/v1/collections/people/records',
        payload: '{"name":"x","tags":[1,-2e308]}',
        headers: json,
        status: 400,
        code: 'PALISADE_INVALID_REQUEST',
        errors: [
          {
            path: '/body/tags/1',
            message:
              'must be a finite number (a number this large is ±Infinity, which JSON keeps as null)',
          },
        ],
      },
      {
        name: 'a lone surrogate escape (not Unicode; the ledger cannot hash it)',
        method: 'POST',
        url: '/v1/collections/people/records',
        payload: '{"name":"x\\ud800"}',
        headers: json,
        status: 400,
        code: 'PALISADE_INVALID_REQUEST',
        errors: [
          {
            path: '/body/name',
            message: 'must be well-formed Unicode (it holds a lone surrogate escape)',
          },
        ],
      },
      {
        name: 'nesting deeper than 32 levels',
        method: 'PUT',
        url: '/v1/collections/deep',
        payload: `{"schema":{"type":"object","default":${'['.repeat(40)}${']'.repeat(40)}}}`,
        headers: json,
        status: 400,
        code: 'PALISADE_INVALID_REQUEST',
        errors: [
          {
            path: `/body/schema/default${'/0'.repeat(30)}`,
            message: 'must not nest deeper than 32 levels',
          },
        ],
      },
      {
        name: 'U+0000 in a filter value',
        method: 'GET',
        url: '/v1/collections/people/records?filter[name]=a%00b',
        status: 400,
        code: 'PALISADE_INVALID_REQUEST',
        errors: [{ path: '/querystring/filter[name]', message: 'must be text without U+0000' }],
      },
      {
        name: 'an integer JSON.parse would round',
        method: 'POST',
        url: '/v1/collections/people/records',
        payload: '{"name":"x","age":12345678901234567891}',
        headers: json,
        status: 400,
        code: 'PALISADE_INVALID_REQUEST',
        errors: [
          {
            path: '/body/age',
            message:
              'must be an integer JSON can carry exactly (up to 2^53): send a larger one as a string',
          },
        ],
      },
      {
        name: 'U+0000 in a key of a merge patch',
        method: 'PATCH',
        url: `/v1/collections/people/records/${recordId}`,
        payload: '{"tags":{"a\\u0000":1}}',
        headers: { 'content-type': 'application/merge-patch+json' },
        status: 400,
        code: 'PALISADE_INVALID_REQUEST',
        errors: [{ path: '/body/tags/a\u0000', message: 'must not contain U+0000' }],
      },
      {
        name: 'U+0000 in a collection schema',
        method: 'PUT',
        url: '/v1/collections/nul',
        payload: '{"schema":{"type":"object","description":["ok","\\u0000"]}}',
        headers: json,
        status: 400,
        code: 'PALISADE_INVALID_REQUEST',
        errors: [{ path: '/body/schema/description/1', message: 'must not contain U+0000' }],
      },
      {
        name: 'wrong content type',
        method: 'POST',
        url: '/v1/collections/people/records',
        payload: 'name=x',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        status: 415,
        code: 'PALISADE_UNSUPPORTED_MEDIA_TYPE',
      },
      {
        name: 'text/plain',
        method: 'POST',
        url: '/v1/collections/people/records',
        payload: '{"name":"x"}',
        headers: { 'content-type': 'text/plain' },
        status: 415,
        code: 'PALISADE_UNSUPPORTED_MEDIA_TYPE',
      },
      {
        name: 'oversize body',
        method: 'POST',
        url: '/v1/collections/people/records',
        payload: JSON.stringify({ name: 'x'.repeat(5000) }),
        headers: json,
        status: 413,
        code: 'PALISADE_PAYLOAD_TOO_LARGE',
      },
      {
        name: 'a JSON array where an object belongs',
        method: 'POST',
        url: '/v1/collections/people/records',
        payload: '[1,2]',
        headers: json,
        status: 400,
        code: 'PALISADE_INVALID_REQUEST',
        errors: [{ path: '/body', message: 'must be object' }],
      },
      {
        name: 'schema violations, each path named',
        method: 'POST',
        url: '/v1/collections/people/records',
        payload: JSON.stringify({ age: -1, active: 'yes', tags: ['ok', 3], extra: 1 }),
        headers: json,
        status: 422,
        code: 'PALISADE_RECORD_INVALID',
        errors: [
          { path: '/name', message: "must have required property 'name'" },
          { path: '/extra', message: 'must NOT have additional properties' },
          { path: '/age', message: 'must be >= 0' },
          { path: '/active', message: 'must be boolean' },
          { path: '/tags/1', message: 'must be string' },
        ],
      },
      {
        name: 'format violation',
        method: 'POST',
        url: '/v1/collections/people/records',
        payload: JSON.stringify({ name: 'x', email: 'not-an-email' }),
        headers: json,
        status: 422,
        code: 'PALISADE_RECORD_INVALID',
        errors: [{ path: '/email', message: 'must match format "email"' }],
      },
      {
        name: 'unknown collection',
        method: 'POST',
        url: '/v1/collections/ghosts/records',
        payload: '{"name":"x"}',
        headers: json,
        status: 404,
        code: 'PALISADE_COLLECTION_NOT_FOUND',
      },
      {
        name: 'unknown collection on read',
        method: 'GET',
        url: `/v1/collections/ghosts/records/${recordId}`,
        status: 404,
        code: 'PALISADE_COLLECTION_NOT_FOUND',
      },
      {
        name: 'bad collection name',
        method: 'PUT',
        url: '/v1/collections/Bad%20Name',
        payload: '{"schema":{"type":"object"}}',
        headers: json,
        status: 400,
        code: 'PALISADE_INVALID_REQUEST',
      },
      {
        name: 'unknown field in a collection definition',
        method: 'PUT',
        url: '/v1/collections/things',
        payload: '{"schema":{"type":"object"},"indexes":[]}',
        headers: json,
        status: 400,
        code: 'PALISADE_INVALID_REQUEST',
        errors: [{ path: '/body/indexes', message: 'is not a known field' }],
      },
      {
        name: 'a gzip body (bodies are read as sent, never decompressed)',
        method: 'POST',
        url: '/v1/collections/people/records',
        payload: gzipSync('{"name":"x"}'),
        headers: { ...json, 'content-encoding': 'gzip' },
        status: 415,
        code: 'PALISADE_UNSUPPORTED_CONTENT_ENCODING',
        errors: [{ path: '/headers/content-encoding', message: 'must be identity or absent' }],
      },
      {
        name: 'a body in a list of content codings',
        method: 'PATCH',
        url: `/v1/collections/people/records/${recordId}`,
        payload: '{"name":"y"}',
        headers: {
          'content-type': 'application/merge-patch+json',
          'content-encoding': 'identity, br',
        },
        status: 415,
        code: 'PALISADE_UNSUPPORTED_CONTENT_ENCODING',
      },
      {
        name: 'a schema that is not an object schema',
        method: 'PUT',
        url: '/v1/collections/things',
        payload: '{"schema":{"type":"array"}}',
        headers: json,
        status: 400,
        code: 'PALISADE_INVALID_SCHEMA',
      },
      {
        name: 'a schema that does not compile',
        method: 'PUT',
        url: '/v1/collections/things',
        payload: '{"schema":{"type":"object","properties":{"a":{"type":"nonsense"}}}}',
        headers: json,
        status: 400,
        code: 'PALISADE_INVALID_SCHEMA',
      },
      {
        name: 'encrypting an undeclared field',
        method: 'PUT',
        url: '/v1/collections/things',
        payload: '{"schema":{"type":"object"},"encrypted":["ssn"]}',
        headers: json,
        status: 400,
        code: 'PALISADE_INVALID_SCHEMA',
      },
      {
        name: 'encrypting an undeclared field named like an Object member',
        method: 'PUT',
        url: '/v1/collections/things',
        payload: '{"schema":{"type":"object"},"encrypted":["toString"]}',
        headers: json,
        status: 400,
        code: 'PALISADE_INVALID_SCHEMA',
        errors: [{ path: '/body/encrypted', message: '"toString" is not in schema.properties' }],
      },
      {
        name: 'bad record id',
        method: 'GET',
        url: '/v1/collections/people/records/not-a-uuid',
        status: 400,
        code: 'PALISADE_INVALID_ID',
      },
      {
        name: 'a path that is not valid percent-encoding',
        method: 'GET',
        url: '/v1/collections/pe%zzople/records',
        status: 400,
        code: 'PALISADE_INVALID_REQUEST',
      },
      {
        name: 'a path segment longer than any id or name',
        method: 'GET',
        url: `/v1/collections/people/records/${'a'.repeat(300)}`,
        status: 400,
        code: 'PALISADE_INVALID_REQUEST',
      },
      {
        name: 'bad tenant id',
        method: 'GET',
        url: '/v1/platform/tenants/42',
        status: 400,
        code: 'PALISADE_INVALID_ID',
        asAdmin: true,
      },
      {
        name: 'bad cursor',
        method: 'GET',
        url: '/v1/collections/people/records?cursor=garbage',
        status: 400,
        code: 'PALISADE_INVALID_CURSOR',
      },
      {
        name: 'limit out of range',
        method: 'GET',
        url: '/v1/collections/people/records?limit=0',
        status: 400,
        code: 'PALISADE_INVALID_REQUEST',
        errors: [{ path: '/querystring/limit', message: 'must be >= 1' }],
      },
      {
        name: 'limit of the wrong type',
        method: 'GET',
        url: '/v1/collections/people/records?limit=ten',
        status: 400,
        code: 'PALISADE_INVALID_REQUEST',
      },
      {
        name: 'unknown query parameter',
        method: 'GET',
        url: '/v1/collections/people/records?sort=name',
        status: 400,
        code: 'PALISADE_INVALID_REQUEST',
      },
      {
        name: 'stale If-Match',
        method: 'PUT',
        url: `/v1/collections/people/records/${recordId}`,
        payload: '{"name":"y"}',
        headers: { ...json, 'if-match': '"99"' },
        status: 412,
        code: 'PALISADE_PRECONDITION_FAILED',
      },
      {
        name: 'weak If-Match never matches',
        method: 'DELETE',
        url: `/v1/collections/people/records/${recordId}`,
        headers: { 'if-match': 'W/"1"' },
        status: 412,
        code: 'PALISADE_PRECONDITION_FAILED',
      },
      {
        name: 'unknown route',
        method: 'GET',
        url: '/v1/nothing-here',
        status: 404,
        code: 'PALISADE_NOT_FOUND',
      },
      {
        name: 'a status the API does not offer',
        method: 'PATCH',
        url: '/v1/platform/tenants/00000000-0000-7000-8000-000000000000',
        payload: '{"status":"deleted"}',
        headers: json,
        status: 400,
        code: 'PALISADE_INVALID_REQUEST',
        asAdmin: true,
        errors: [{ path: '/body/status', message: 'must be equal to one of the allowed values' }],
      },
    ];

    test('each bad request gets its precise problem+json', async () => {
      for (const c of cases()) {
        const response = await api.http.inject({
          method: c.method,
          url: c.url,
          headers: {
            authorization: `Bearer ${c.asAdmin === true ? ADMIN_TOKEN : key}`,
            ...c.headers,
          },
          ...(c.payload === undefined ? {} : { payload: c.payload }),
        });
        assert.equal(response.statusCode, c.status, `${c.name}: ${response.body}`);
        assert.match(
          String(response.headers['content-type']),
          /^application\/problem\+json/,
          c.name,
        );
        assert.equal(response.headers['x-content-type-options'], 'nosniff', c.name);
        const problem = response.json();
        assert.equal(problem.code, c.code, `${c.name}: ${response.body}`);
        assert.equal(problem.type, `urn:palisade:error:${c.code}`);
        assert.equal(problem.status, c.status);
        assert.equal(typeof problem.detail, 'string');
        const byPath = (a: { path: string }, b: { path: string }) => a.path.localeCompare(b.path);
        if (c.errors !== undefined)
          assert.deepEqual([...problem.errors].sort(byPath), [...c.errors].sort(byPath), c.name);
      }
    });

    test('an id in the path that is not a UUID is PALISADE_INVALID_ID on every route', async () => {
      // docs/errors.md promises one code for it: walk every route of the OpenAPI document that
      // takes an id in its path and no body, so a route added with its own answer fails here.
      const openapi = (await api.call('GET', '/v1/openapi.json', undefined)).body;
      const stand: Record<string, string> = { name: 'people', deviceType: 'default' };
      let tried = 0;
      for (const [path, operations] of Object.entries<Record<string, OpenApiOperation>>(
        openapi.paths,
      )) {
        if (!path.startsWith('/v1/')) continue;
        for (const [method, operation] of Object.entries(operations)) {
          const ids = (operation.parameters ?? []).filter(
            (p) => p.in === 'path' && (p.name === 'id' || p.name.endsWith('Id')),
          );
          if (ids.length === 0 || operation.requestBody !== undefined) continue;
          const url = path.replace(/\{(\w+)\}/g, (_, name: string) =>
            ids.some((p) => p.name === name) ? 'not-a-uuid' : (stand[name] ?? name),
          );
          const reply = await api.call(
            method.toUpperCase() as 'GET',
            url,
            path.startsWith('/v1/platform/') ? ADMIN_TOKEN : key,
          );
          assert.equal(reply.body.code, 'PALISADE_INVALID_ID', `${method} ${url}: ${reply.status}`);
          assert.equal(reply.status, 400);
          tried++;
        }
      }
      assert.ok(tried >= 25, `only ${tried} routes with an id were tried`);
    });

    test('an empty JSON body is no body where the route takes none', async () => {
      const id = (await api.call('POST', '/v1/collections/people/records', key, { name: 'Bo' }))
        .body.id;
      // Clients that send Content-Type: application/json on every request, DELETE included.
      const deleted = await api.call(
        'DELETE',
        `/v1/collections/people/records/${id}`,
        key,
        '',
        json,
      );
      assert.equal(deleted.status, 204, JSON.stringify(deleted.body));
      const gone = await api.call('GET', `/v1/collections/people/records/${id}`, key);
      assert.equal(gone.status, 404);
      const empty = await api.call(
        'PUT',
        `/v1/collections/people/records/${recordId}`,
        key,
        '',
        json,
      );
      assert.equal(empty.status, 400);
      assert.equal(empty.body.code, 'PALISADE_MALFORMED_JSON');
      assert.match(empty.body.detail, /empty/);
    });

    test('a body in a content coding is told which coding to use; identity is read', async () => {
      const gzip = await api.call('POST', '/v1/collections/people/records', key, '{}', {
        'content-encoding': 'GZIP',
      });
      assert.equal(gzip.status, 415);
      assert.equal(gzip.headers['accept-encoding'], 'identity');
      const identity = await api.call('GET', '/v1/collections/people/records', key, undefined, {
        'content-encoding': 'gzip',
      });
      assert.equal(identity.status, 200);
      const plain = await api.call('POST', '/v1/collections/people/records', key, '{"name": 1}', {
        'content-encoding': 'identity',
      });
      assert.equal(plain.body.code, 'PALISADE_RECORD_INVALID');
    });

    test('after all of it the server answers and nothing was written', async () => {
      assert.equal((await api.call('GET', '/healthz', undefined)).status, 200);
      const records = await api.call('GET', '/v1/collections/people/records', key);
      assert.deepEqual(
        records.body.items.map((r: { data: unknown }) => r.data),
        [{ name: 'Ada', age: 36 }],
      );
      assert.equal(records.body.items[0].version, 1);
      const collections = await api.call('GET', '/v1/collections', key);
      assert.deepEqual(
        collections.body.items.map((c: { name: string }) => c.name),
        ['people'],
      );
    });
  });
}
