/**
 * A stored record is never larger than a request body may be (`bodyLimit`): repeated merge
 * patches that would grow it past that are refused, so a client can always read it, change it
 * and PUT it back whole.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';

const BODY_LIMIT = 2048;

for (const backend of backendNames()) {
  describe(`record size on ${backend}`, () => {
    let api: TestApi;
    let key: string;

    before(async () => {
      api = await TestApi.start(backend, { bodyLimit: String(BODY_LIMIT) });
      ({ key } = await api.tenant('sizes'));
      await api.call('PUT', '/v1/collections/notes', key, { schema: { type: 'object' } });
    });
    after(() => api.close());

    test('a merge patch that would grow a record past bodyLimit is refused', async () => {
      const created = await api.call('POST', '/v1/collections/notes/records', key, {
        a: 'x'.repeat(1200),
      });
      assert.equal(created.status, 201);
      const url = `/v1/collections/notes/records/${created.body.id}`;
      const grown = await api.call('PATCH', url, key, { b: 'y'.repeat(1200) });
      assert.equal(grown.status, 422, JSON.stringify(grown.body));
      assert.equal(grown.body.code, 'PALISADE_RECORD_TOO_LARGE');
      assert.match(grown.body.detail, /bodyLimit/);

      const read = await api.call('GET', url, key);
      assert.equal(read.body.version, 1, 'nothing was written');
      assert.deepEqual(Object.keys(read.body.data), ['a']);
      // What is stored can always be sent back whole.
      const back = await api.call('PUT', url, key, read.body.data);
      assert.equal(back.status, 200);
      const small = await api.call('PATCH', url, key, { b: 'y' });
      assert.equal(small.status, 200);
    });
  });
}
