import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PalisadeError } from '../src/errors/index.ts';
import { SchemaRegistry } from '../src/records/schema-registry.ts';
import { TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';

/** Nested quantifiers: a backtracking engine takes about 2^n steps to refuse n letters and a '!'. */
const CATASTROPHIC = '^(a+)+$';
/** Minutes with backtracking: each of the two requests below took about 2.5 on the project machine. */
const HOSTILE = `${'a'.repeat(34)}!`;

for (const backend of backendNames()) {
  describe(`collection schema patterns on ${backend}`, () => {
    let api: TestApi;
    let attacker: string;
    let bystander: string;

    before(async () => {
      api = await TestApi.start(backend);
      ({ key: attacker } = await api.tenant('patterns-a'));
      ({ key: bystander } = await api.tenant('patterns-b'));
      const schema = {
        type: 'object',
        properties: { code: { type: 'string', pattern: CATASTROPHIC } },
        patternProperties: { [CATASTROPHIC]: { type: 'string' } },
        additionalProperties: false,
      };
      assert.equal(
        (await api.call('PUT', '/v1/collections/codes', attacker, { schema })).status,
        201,
      );
      await api.call('PUT', '/v1/collections/notes', bystander, { schema: { type: 'object' } });
    });
    after(() => api.close());

    test('a catastrophic pattern and input do not hold the event loop for other tenants', async () => {
      const started = performance.now();
      const [byPattern, byPropertyName, other] = await Promise.all([
        api.call('POST', '/v1/collections/codes/records', attacker, { code: HOSTILE }),
        api.call('POST', '/v1/collections/codes/records', attacker, { [HOSTILE]: 'x' }),
        api.call('GET', '/v1/collections/notes/records', bystander),
      ]);
      const elapsed = performance.now() - started;
      assert.equal(byPattern.body.code, 'PALISADE_RECORD_INVALID');
      assert.equal(byPropertyName.body.code, 'PALISADE_RECORD_INVALID');
      assert.equal(other.status, 200);
      assert.ok(elapsed < 10_000, `took ${elapsed} ms`);
    });

    test('patterns still validate', async () => {
      const ok = await api.call('POST', '/v1/collections/codes/records', attacker, {
        code: 'aaa',
        aa: 'x',
      });
      assert.equal(ok.status, 201);
    });

    test('a pattern RE2 cannot run is refused with its path', async () => {
      const reply = await api.call('PUT', '/v1/collections/refused', attacker, {
        schema: {
          type: 'object',
          properties: {
            list: { type: 'array', prefixItems: [{ type: 'string', pattern: '^(?!admin)' }] },
          },
          patternProperties: { '^(a)\\1$': { type: 'string' }, '^b/c$': {} },
          $defs: { ok: { type: 'string', pattern: '^[a-z]+$' } },
        },
      });
      assert.equal(reply.status, 400);
      assert.equal(reply.body.code, 'PALISADE_INVALID_SCHEMA');
      assert.deepEqual(
        reply.body.errors.map((e: { path: string }) => e.path),
        [
          '/body/schema/patternProperties/^(a)\\1$',
          '/body/schema/properties/list/prefixItems/0/pattern',
        ],
      );
      const missing = await api.call('GET', '/v1/collections/refused', attacker);
      assert.equal(missing.body.code, 'PALISADE_COLLECTION_NOT_FOUND');
    });
  });
}

test('a stored schema whose pattern RE2 refuses fails its writes with the pattern named', () => {
  const schema = { type: 'object', properties: { a: { type: 'string', pattern: '(?=a)' } } };
  assert.throws(
    () => new SchemaRegistry().validate({ tenantId: 't', collection: 'c', version: 1 }, schema, {}),
    (error: unknown) =>
      error instanceof PalisadeError &&
      error.code === 'PALISADE_INVALID_SCHEMA' &&
      error.errors?.[0]?.path === '/schema/properties/a/pattern',
  );
});
