import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PEOPLE_SCHEMA, TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';

for (const backend of backendNames()) {
  describe(`collections and records over REST on ${backend}`, () => {
    let api: TestApi;
    let key: string;
    before(async () => {
      api = await TestApi.start(backend);
      ({ key } = await api.tenant('records'));
    });
    after(() => api.close());

    test('defining a collection: 201 first, 200 on redefinition with a new version', async () => {
      const created = await api.call('PUT', '/v1/collections/people', key, {
        schema: PEOPLE_SCHEMA,
        encrypted: ['email'],
      });
      assert.equal(created.status, 201);
      assert.equal(created.body.version, 1);
      assert.deepEqual(created.body.encrypted, ['email']);
      const again = await api.call('PUT', '/v1/collections/people', key, {
        schema: PEOPLE_SCHEMA,
        encrypted: ['email'],
      });
      assert.equal(again.status, 200);
      assert.equal(again.body.version, 2);
      const list = await api.call('GET', '/v1/collections', key);
      assert.deepEqual(
        list.body.items.map((c: { name: string }) => c.name),
        ['people'],
      );
      const one = await api.call('GET', '/v1/collections/people', key);
      assert.equal(one.body.version, 2);
    });

    test('create, read, replace, patch, delete with ETags and If-Match', async () => {
      const created = await api.call('POST', '/v1/collections/people/records', key, {
        name: 'Ada',
        age: 36,
      });
      assert.equal(created.status, 201);
      assert.equal(created.headers.etag, '"1"');
      assert.equal(created.headers.location, `/v1/collections/people/records/${created.body.id}`);
      const id = created.body.id as string;

      const read = await api.call('GET', `/v1/collections/people/records/${id}`, key);
      assert.equal(read.status, 200);
      assert.deepEqual(read.body.data, { name: 'Ada', age: 36 });
      assert.equal(read.headers.etag, '"1"');

      const replaced = await api.call(
        'PUT',
        `/v1/collections/people/records/${id}`,
        key,
        { name: 'Ada Lovelace', age: 36 },
        { 'if-match': '"1"' },
      );
      assert.equal(replaced.status, 200);
      assert.equal(replaced.headers.etag, '"2"');

      const stale = await api.call(
        'PUT',
        `/v1/collections/people/records/${id}`,
        key,
        { name: 'Stale' },
        { 'if-match': '"1"' },
      );
      assert.equal(stale.status, 412);
      assert.equal(stale.body.code, 'PALISADE_PRECONDITION_FAILED');

      const patched = await api.call(
        'PATCH',
        `/v1/collections/people/records/${id}`,
        key,
        JSON.stringify({ age: null, active: true }),
        {
          'content-type': 'application/merge-patch+json',
          'if-match': '"2"',
        },
      );
      assert.equal(patched.status, 200);
      assert.deepEqual(patched.body.data, { name: 'Ada Lovelace', active: true });
      assert.equal(patched.body.version, 3);

      const anyMatch = await api.call(
        'PATCH',
        `/v1/collections/people/records/${id}`,
        key,
        { age: 37 },
        { 'if-match': '*' },
      );
      assert.equal(anyMatch.status, 200);
      assert.equal(anyMatch.body.version, 4);

      const staleDelete = await api.call(
        'DELETE',
        `/v1/collections/people/records/${id}`,
        key,
        undefined,
        { 'if-match': '"3"' },
      );
      assert.equal(staleDelete.status, 412);
      const deleted = await api.call(
        'DELETE',
        `/v1/collections/people/records/${id}`,
        key,
        undefined,
        { 'if-match': '"4"' },
      );
      assert.equal(deleted.status, 204);
      const gone = await api.call('GET', `/v1/collections/people/records/${id}`, key);
      assert.equal(gone.status, 404);
      assert.equal(gone.body.code, 'PALISADE_RECORD_NOT_FOUND');
    });

    test('If-Match takes a list of ETags and compares them strongly (RFC 9110 §13.1.1)', async () => {
      const { id } = (
        await api.call('POST', '/v1/collections/people/records', key, { name: 'Grace' })
      ).body;
      const url = `/v1/collections/people/records/${id}`;
      const put = (ifMatch: string) =>
        api.call('PUT', url, key, { name: 'Grace Hopper' }, { 'if-match': ifMatch });
      const patch = (ifMatch: string) =>
        api.call('PATCH', url, key, { age: 85 }, { 'if-match': ifMatch });

      const weak = await put('W/"1", "01"');
      assert.equal(weak.status, 412);
      assert.equal(weak.body.code, 'PALISADE_PRECONDITION_FAILED');
      assert.equal((await put('"7", "1"')).headers.etag, '"2"');
      assert.equal((await patch('"2", *')).status, 412);
      assert.equal((await patch('"1", W/"2"')).status, 412);
      assert.equal((await patch(' , "9","2" ,')).headers.etag, '"3"');
      const deleted = await api.call('DELETE', url, key, undefined, { 'if-match': '"a,3", "3"' });
      assert.equal(deleted.status, 204);
      for (const ifMatch of ['*', '"3", "4"']) {
        const gone = await api.call('DELETE', url, key, undefined, { 'if-match': ifMatch });
        assert.equal(gone.body.code, 'PALISADE_RECORD_NOT_FOUND');
      }
    });

    test('data reads back exactly as written, by id and in pages', async () => {
      await api.call('PUT', '/v1/collections/free', key, { schema: { type: 'object' } });
      const data = {
        text: 'quote " backslash \\ newline \n tab \t bell \u0007 </script> \u2028',
        unicode: 'Grüße, 你好, 🙂',
        numbers: [0, -1, 1.5, 1e21, 2 ** 53],
        nested: { deep: { list: [true, false, null, { k: 'v' }] }, empty: {} },
      };
      const created = await api.call('POST', '/v1/collections/free/records', key, data);
      assert.equal(created.status, 201);
      const id = created.body.id as string;
      const read = await api.call('GET', `/v1/collections/free/records/${id}`, key);
      assert.equal(read.status, 200);
      assert.match(String(read.headers['content-type']), /^application\/json; charset=utf-8$/);
      assert.equal(read.headers['x-content-type-options'], 'nosniff');
      assert.deepEqual(read.body, {
        id,
        version: 1,
        createdAt: created.body.createdAt,
        updatedAt: created.body.updatedAt,
        data,
      });
      const page = await api.call('GET', '/v1/collections/free/records?limit=10', key);
      assert.deepEqual(page.body, { items: [read.body], nextCursor: null });
    });

    test('U+0000 in a key or a string is refused with its path, on every backend', async () => {
      await api.call('PUT', '/v1/collections/free', key, { schema: { type: 'object' } });
      const before = await api.call('GET', '/v1/collections/free/records?limit=100', key);
      for (const [data, path] of [
        [{ a: { b: ['ok', 'nul \u0000 here'] } }, '/body/a/b/1'],
        [{ 'x/y~\u0000': 1 }, '/body/x~1y~0\u0000'],
      ] as const) {
        const refused = await api.call('POST', '/v1/collections/free/records', key, data);
        assert.equal(refused.status, 400);
        assert.equal(refused.body.code, 'PALISADE_INVALID_REQUEST');
        assert.deepEqual(
          refused.body.errors.map((e: { path: string }) => e.path),
          [path],
        );
      }
      const literal = await api.call('POST', '/v1/collections/free/records', key, {
        text: 'a backslash-u escape written out: \\u0000',
      });
      assert.equal(literal.status, 201);
      const afterwards = await api.call('GET', '/v1/collections/free/records?limit=100', key);
      assert.deepEqual(afterwards.body.items.slice(0, -1), before.body.items);
    });

    test('a patch that breaks the schema is refused and changes nothing', async () => {
      const created = await api.call('POST', '/v1/collections/people/records', key, {
        name: 'Grace',
      });
      const refused = await api.call(
        'PATCH',
        `/v1/collections/people/records/${created.body.id}`,
        key,
        { age: 'old' },
      );
      assert.equal(refused.status, 422);
      assert.deepEqual(refused.body.errors, [{ path: '/age', message: 'must be integer' }]);
      const read = await api.call('GET', `/v1/collections/people/records/${created.body.id}`, key);
      assert.deepEqual(read.body.data, { name: 'Grace' });
      assert.equal(read.body.version, 1);
    });

    test('a schema that does not compile leaves its $id free for every tenant', async () => {
      const other = (await api.tenant('records-other')).key;
      const id = 'https://example.com/shared-id';
      const good = { $id: id, type: 'object', properties: { n: { type: 'integer' } } };
      assert.equal(
        (await api.call('PUT', '/v1/collections/ided', other, { schema: good })).status,
        201,
      );
      const broken = await api.call('PUT', '/v1/collections/ided', key, {
        schema: { $id: id, type: 'object', properties: { n: { type: 'nonsense' } } },
      });
      assert.equal(broken.status, 400);
      assert.equal(broken.body.code, 'PALISADE_INVALID_SCHEMA');
      const fixed = await api.call('PUT', '/v1/collections/ided', key, { schema: good });
      assert.equal(fixed.status, 201, JSON.stringify(fixed.body));
      const record = await api.call('POST', '/v1/collections/ided/records', other, { n: 1 });
      assert.equal(record.status, 201, JSON.stringify(record.body));
    });

    test('listing pages with a stable cursor and filters by typed equality', async () => {
      await api.call('PUT', '/v1/collections/pets', key, {
        schema: {
          type: 'object',
          properties: {
            kind: { type: 'string' },
            legs: { type: 'integer' },
            tame: { type: 'boolean' },
          },
        },
      });
      const ids: string[] = [];
      for (let i = 0; i < 7; i++) {
        const r = await api.call('POST', '/v1/collections/pets/records', key, {
          kind: i % 2 === 0 ? 'cat' : 'bird',
          legs: i % 2 === 0 ? 4 : 2,
          tame: i < 3,
        });
        ids.push(r.body.id);
      }
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const query: string = cursor === null ? '' : `&cursor=${cursor}`;
        const page = await api.call('GET', `/v1/collections/pets/records?limit=3${query}`, key);
        assert.equal(page.status, 200);
        assert.ok(page.body.items.length <= 3);
        seen.push(...page.body.items.map((r: { id: string }) => r.id));
        cursor = page.body.nextCursor;
      } while (cursor !== null);
      assert.deepEqual(seen, ids);

      const cats = await api.call('GET', '/v1/collections/pets/records?filter[kind]=cat', key);
      assert.deepEqual(
        cats.body.items.map((r: { id: string }) => r.id),
        ids.filter((_, i) => i % 2 === 0),
      );
      const twoLegsTame = await api.call(
        'GET',
        '/v1/collections/pets/records?filter[legs]=2&filter[tame]=true',
        key,
      );
      assert.deepEqual(
        twoLegsTame.body.items.map((r: { id: string }) => r.id),
        [ids[1]],
      );
      const badType = await api.call('GET', '/v1/collections/pets/records?filter[legs]=many', key);
      assert.equal(badType.status, 400);
      assert.equal(badType.body.errors[0].path, '/querystring/filter[legs]');
      // Number() reads these as 4; a filter value is a JSON number or it is refused.
      for (const notJson of ['0x4', '0o4', '0b100', ' 4', '4.', '+4', '.4e1'])
        assert.equal(
          (
            await api.call(
              'GET',
              `/v1/collections/pets/records?filter[legs]=${encodeURIComponent(notJson)}`,
              key,
            )
          ).status,
          400,
          notJson,
        );
    });

    test('a listing takes at most 32 filters, on every backend alike', async () => {
      const filters = (n: number) =>
        Array.from({ length: n }, (_, i) => `filter[f${i}]=1`).join('&');
      const made = await api.call('PUT', '/v1/collections/filtered', key, {
        schema: { type: 'object' },
      });
      assert.equal(made.status, 201);
      const most = await api.call('GET', `/v1/collections/filtered/records?${filters(32)}`, key);
      assert.equal(most.status, 200);
      assert.deepEqual(most.body.items, []);
      // A thousand filters once ran past SQLite's expression depth: a 500 there, 200 elsewhere.
      for (const n of [33, 1001]) {
        const over = await api.call('GET', `/v1/collections/filtered/records?${filters(n)}`, key);
        assert.equal(over.status, 400, `${n} filters`);
        assert.equal(over.body.code, 'PALISADE_INVALID_REQUEST');
        assert.match(over.body.detail, /at most 32 filters/);
      }
    });
  });
}

describe('SQLite: more tenants at work than open files allowed', () => {
  let api: TestApi;
  before(async () => {
    api = await TestApi.start('sqlite', { sqliteMaxOpenTenants: '1' });
  });
  after(() => api.close());

  test('concurrent writes and reads of four tenants through a one-file cache all succeed', async () => {
    const tenants = await Promise.all(
      ['lru-a', 'lru-b', 'lru-c', 'lru-d'].map((s) => api.tenant(s)),
    );
    for (const t of tenants)
      assert.equal(
        (await api.call('PUT', '/v1/collections/people', t.key, { schema: PEOPLE_SCHEMA })).status,
        201,
      );
    // Each request's store is evicted by the others' between its lookup and its write.
    const created = await Promise.all(
      Array.from({ length: 200 }, (_, i) => {
        const t = tenants[i % tenants.length]!;
        return api.call('POST', '/v1/collections/people/records', t.key, { name: `p${i}` });
      }),
    );
    assert.deepEqual(
      created.filter((r) => r.status !== 201).map((r) => r.body),
      [],
    );
    const read = await Promise.all(
      created.map((r, i) =>
        api.call('GET', `/v1/collections/people/records/${r.body.id}`, tenants[i % 4]!.key),
      ),
    );
    assert.deepEqual(
      read.map((r) => r.body.data?.name),
      created.map((_, i) => `p${i}`),
    );
    for (const t of tenants) {
      const page = await api.call('GET', '/v1/collections/people/records?limit=100', t.key);
      assert.equal(page.body.items.length, 50, 'each tenant has its own 50, no more');
    }
  });
});
