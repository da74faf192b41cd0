import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readablePage } from '../src/records/readable-page.ts';
import type { RecordQuery, RecordRow, TenantReader } from '../src/store/index.ts';

const IDS = Array.from({ length: 20 }, (_, i) => `id${String(i).padStart(2, '0')}`);

/** A reader over IDS that records each listing it answers. */
function reader() {
  const asked: RecordQuery[] = [];
  const listRecords = async (_collection: string, query: RecordQuery): Promise<RecordRow[]> => {
    asked.push(query);
    return IDS.filter(
      (id) => (query.after === undefined || id > query.after) && (query.ids?.includes(id) ?? true),
    )
      .slice(0, query.limit)
      .map((id) => ({ collection: 'c', id, data: {}, version: 1, createdAt: '', updatedAt: '' }));
  };
  return { reader: { listRecords } as unknown as TenantReader, asked };
}

function reads(withheld: readonly string[], candidates?: readonly string[]) {
  return {
    record: (_collection: string, id: string) => !withheld.includes(id),
    candidates: () => candidates,
  };
}

const page = (
  r: TenantReader,
  after: string | undefined,
  limit: number,
  w: ReturnType<typeof reads>,
) =>
  readablePage(r, 'c', { after, limit, filters: [] }, w).then(({ items, more }) => ({
    ids: items.map((row) => row.id),
    more,
  }));

test('nothing withheld: one store query of limit + 1 rows', async () => {
  const { reader: r, asked } = reader();
  assert.deepEqual(await page(r, undefined, 3, reads([])), {
    ids: ['id00', 'id01', 'id02'],
    more: true,
  });
  assert.equal(asked.length, 1);
  assert.equal(asked[0]!.limit, 4);
});

test('withheld records are passed over before the page is cut, asking the store again', async () => {
  const { reader: r, asked } = reader();
  const withheld = ['id01', 'id02', 'id03', 'id04', 'id05'];
  assert.deepEqual(await page(r, undefined, 2, reads(withheld)), {
    ids: ['id00', 'id06'],
    more: true,
  });
  assert.deepEqual(
    asked.map((q) => q.after),
    [undefined, 'id02', 'id05'],
  );
  assert.deepEqual(
    await page(r, 'id17', 2, reads(['id19'])),
    { ids: ['id18'], more: false },
    'a withheld last record ends the walk',
  );
});

test('candidates narrow the store query to their ids', async () => {
  const { reader: r, asked } = reader();
  assert.deepEqual(await page(r, undefined, 1, reads(['id09'], ['id03', 'id09', 'id12'])), {
    ids: ['id03'],
    more: true,
  });
  assert.deepEqual(await page(r, 'id03', 1, reads(['id09'], ['id03', 'id09', 'id12'])), {
    ids: ['id12'],
    more: false,
  });
  assert.ok(asked.every((q) => q.ids !== undefined));
  assert.deepEqual(await page(r, undefined, 5, reads([], [])), { ids: [], more: false });
});
