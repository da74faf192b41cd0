import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ADMIN_TOKEN, PEOPLE_SCHEMA, type Reply, TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';

/**
 * Listings honour a Cedar policy that names a record, as GET …/records/{id} does: REST and
 * GraphQL leave the record out as if it did not exist, whatever the page size and filters.
 */

interface Page {
  readonly items: { id: string; data: Record<string, unknown> }[];
  readonly nextCursor: string | null;
}

const WARDS = ['A', 'B', 'A', 'B', 'A', 'B', 'A', 'B', 'A'];

for (const backend of backendNames()) {
  describe(`listings under a policy that names a record, on ${backend}`, () => {
    let api: TestApi;
    let tenant: { id: string; key: string };
    let developer: string;
    /** The records in id order; `hidden` is the one the developer may not read. */
    let ids: string[];
    let hidden: string;

    before(async () => {
      api = await TestApi.start(backend);
      tenant = await api.tenant('listing');
      const issued = await api.call(
        'POST',
        `/v1/platform/tenants/${tenant.id}/api-keys`,
        ADMIN_TOKEN,
        { roles: ['developer'] },
      );
      developer = issued.body.secret;
      await api.call('PUT', '/v1/collections/people', tenant.key, {
        schema: {
          ...PEOPLE_SCHEMA,
          properties: { ...PEOPLE_SCHEMA.properties, ward: { type: 'string' } },
        },
        encrypted: ['email'],
      });
      ids = [];
      for (const [i, ward] of WARDS.entries()) {
        const made = await api.call('POST', '/v1/collections/people/records', tenant.key, {
          name: `p${i}`,
          ward,
          email: `p${i}@x.org`,
        });
        ids.push(made.body.id);
      }
      hidden = ids[4]!;
    });
    after(() => api.close());

    /** Forbids the developer reading `named` records, or with `only`, any record but them. */
    async function forbid(named: string[], only = false): Promise<void> {
      const set = named.map((id) => `Palisade::Record::"${id}"`).join(', ');
      const condition = only
        ? `unless { resource == Palisade::Record::"*" || resource in [${set}] }`
        : `when { resource in [${set}] }`;
      const put = await api.call('PUT', '/v1/policies', tenant.key, {
        policies: `permit (principal, action, resource);
forbid (principal in Palisade::Role::"developer", action == Palisade::Action::"records:read", resource is Palisade::Record)
${condition};`,
      });
      assert.equal(put.status, 200, JSON.stringify(put.body));
    }

    async function rest(key: string, query: string): Promise<Page> {
      const reply = await api.call('GET', `/v1/collections/people/records?${query}`, key);
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      return reply.body;
    }

    async function graphql(key: string, query: string, variables = {}): Promise<Reply> {
      return api.call('POST', '/v1/graphql', key, { query, variables });
    }

    const RECORDS = `query($limit: Int, $after: String, $where: [FieldEquals!]) {
      records(collection: "people", limit: $limit, after: $after, where: $where) { items { id data } nextCursor }
    }`;
    const NESTED = `query($limit: Int, $after: String, $where: [FieldEquals!]) {
      collection(name: "people") { records(limit: $limit, after: $after, where: $where) { items { id data } nextCursor } }
    }`;

    /** The three ways to list: REST, `records` and a collection's `records`, each a page at a time. */
    const listings: Record<
      string,
      (key: string, limit: number, after: string | null, where?: [string, string]) => Promise<Page>
    > = {
      REST: (key, limit, after, where) =>
        rest(
          key,
          [
            `limit=${limit}`,
            ...(after === null ? [] : [`cursor=${after}`]),
            ...(where === undefined ? [] : [`filter[${where[0]}]=${encodeURIComponent(where[1])}`]),
          ].join('&'),
        ),
      'GraphQL records': async (key, limit, after, where) => {
        const reply = await graphql(key, RECORDS, {
          limit,
          after,
          where: where === undefined ? null : [{ field: where[0], value: where[1] }],
        });
        assert.equal(reply.status, 200, JSON.stringify(reply.body));
        assert.equal(reply.body.errors, undefined, JSON.stringify(reply.body));
        return reply.body.data.records;
      },
      'GraphQL collection.records': async (key, limit, after, where) => {
        const reply = await graphql(key, NESTED, {
          limit,
          after,
          where: where === undefined ? null : [{ field: where[0], value: where[1] }],
        });
        assert.equal(reply.status, 200, JSON.stringify(reply.body));
        assert.equal(reply.body.errors, undefined, JSON.stringify(reply.body));
        return reply.body.data.collection.records;
      },
    };

    /** Every page of a cursor walk; each page but the last is full, and no cursor repeats. */
    async function walk(
      list: (typeof listings)[string],
      key: string,
      limit: number,
      where?: [string, string],
    ): Promise<Page[]> {
      const pages: Page[] = [];
      const cursors = new Set<string>();
      let after: string | null = null;
      do {
        const page = await list(key, limit, after, where);
        pages.push(page);
        if (page.nextCursor !== null) {
          assert.equal(page.items.length, limit, 'a page with a next one is full');
          assert.ok(!cursors.has(page.nextCursor), 'the walk loops');
          cursors.add(page.nextCursor);
        }
        after = page.nextCursor;
      } while (after !== null && pages.length <= ids.length + 1);
      assert.equal(after, null, 'the walk ends');
      return pages;
    }

    const idsOf = (pages: readonly Page[]) => pages.flatMap((page) => page.items.map((i) => i.id));
    const cursorIds = (pages: readonly Page[]) =>
      pages.flatMap((page) =>
        page.nextCursor === null ? [] : [Buffer.from(page.nextCursor, 'base64url').toString()],
      );

    for (const [how, list] of Object.entries(listings)) {
      test(`${how}: a cursor walk never shows the record, and every other exactly once`, async () => {
        await forbid([hidden]);
        const readable = ids.filter((id) => id !== hidden);
        for (const limit of [1, 2, 3, 4, 100]) {
          const pages = await walk(list, developer, limit);
          assert.deepEqual(idsOf(pages), readable, `limit ${limit}`);
          assert.ok(!cursorIds(pages).includes(hidden), `limit ${limit}: a cursor names it`);
          assert.ok(!JSON.stringify(pages).includes('p4'), `limit ${limit}: its data is listed`);
        }
        assert.deepEqual(idsOf(await walk(list, tenant.key, 2)), ids, 'the owner sees it');
        await api.call('DELETE', '/v1/policies', tenant.key);
        assert.deepEqual(idsOf(await walk(list, developer, 3)), ids, 'without the policy');
      });

      test(`${how}: a filter the record matches answers as if it did not`, async () => {
        await forbid([hidden]);
        const nobody = await walk(list, developer, 1, ['email', 'nobody@x.org']);
        assert.deepEqual(nobody, [{ items: [], nextCursor: null }]);
        assert.deepEqual(
          await walk(list, developer, 1, ['email', 'p4@x.org']),
          nobody,
          'an equality filter on its encrypted field tells whether it holds the value',
        );
        assert.deepEqual(
          await walk(list, developer, 1, ['name', 'p4']),
          nobody,
          'an equality filter on its plain field tells whether it holds the value',
        );
        // Ward A: p0, p2, p4 (hidden), p6, p8. A page cut just before or after it looks the same.
        const wardA = [ids[0], ids[2], ids[6], ids[8]];
        for (const limit of [1, 2, 3, 4]) {
          const pages = await walk(list, developer, limit, ['ward', 'A']);
          assert.deepEqual(idsOf(pages), wardA, `limit ${limit}`);
          assert.equal(pages.length, Math.ceil(wardA.length / limit), `limit ${limit}`);
        }
        await api.call('DELETE', '/v1/policies', tenant.key);
      });
    }

    test('a policy that lets a principal read named records only lists those, on every door', async () => {
      const allowed = [ids[1]!, ids[7]!];
      await forbid(allowed, true);
      assert.equal(
        (await api.call('GET', `/v1/collections/people/records/${ids[0]}`, developer)).status,
        403,
      );
      for (const [how, list] of Object.entries(listings)) {
        assert.deepEqual(idsOf(await walk(list, developer, 1)), allowed, how);
        assert.deepEqual(idsOf(await walk(list, developer, 1, ['ward', 'B'])), allowed, how);
        assert.deepEqual(idsOf(await walk(list, developer, 5, ['ward', 'A'])), [], how);
      }
      await api.call('DELETE', '/v1/policies', tenant.key);
    });

    test("GraphQL's record and proofs refuse the record as REST does", async () => {
      await forbid([hidden]);
      const refused = (reply: Reply, what: string) => {
        assert.equal(reply.status, 403, `${what}: ${JSON.stringify(reply.body)}`);
        assert.ok(!JSON.stringify(reply.body).includes('p4'), `${what} shows the record`);
      };
      const variables = { id: hidden };
      refused(
        await graphql(
          developer,
          'query($id: ID!) { record(collection: "people", id: $id) { data } }',
          variables,
        ),
        'record',
      );
      refused(
        await graphql(
          developer,
          'query($id: ID!) { ledger { recordProof(collection: "people", id: $id) { state salt } } }',
          variables,
        ),
        'ledger.recordProof',
      );
      refused(
        await api.call('GET', `/v1/collections/people/records/${hidden}/proof`, developer),
        'GET …/proof',
      );
      const proofs = await graphql(
        developer,
        '{ records(collection: "people", limit: 100) { items { id proof { salt state } } } }',
      );
      assert.equal(proofs.status, 200, JSON.stringify(proofs.body));
      assert.equal(proofs.body.data.records.items.length, ids.length - 1);
      assert.ok(!JSON.stringify(proofs.body).includes(hidden), 'a listed proof shows the record');
      await api.call('DELETE', '/v1/policies', tenant.key);
      const read = await graphql(
        developer,
        'query($id: ID!) { record(collection: "people", id: $id) { data } }',
        variables,
      );
      assert.equal(read.body.data.record.data.name, 'p4');
    });
  });
}
