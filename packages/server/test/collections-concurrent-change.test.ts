/**
 * A collection's definition and the writes of its records, from two processes at once on
 * PostgreSQL: a record write holds the definition it read until it commits, so a change of the
 * encrypted fields that would leave its plaintext under a field now marked encrypted waits for
 * it and then finds the record (409), and two changes of one definition take two versions, not
 * the same one twice. (On SQLite one process holds the data folder and each tenant file has one
 * writer, so nothing there runs at once.)
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pg from 'pg';
import type { Platform } from '../src/index.ts';
import type { TenantWriteTx } from '../src/store/index.ts';
import { scaleOutConfigured } from './support/backends.ts';
import { type OidcPlatform, twoApiPlatforms } from './support/oidc-platform.ts';

const SCHEMA = {
  type: 'object',
  required: ['name'],
  properties: { name: { type: 'string' }, ssn: { type: 'string' } },
};

interface Gate {
  /** Resolves once a transaction of `b` read the collection and waits. */
  readonly reached: Promise<void>;
  release(): void;
}

/**
 * Makes the next write transaction of `b` that reads collection `name` (for a record write or
 * a change of it, as `method` says) wait there until released.
 */
function gateIn(b: Platform, method: 'collectionForWrite' | 'collectionForChange'): Gate {
  let reached!: () => void;
  let release!: () => void;
  const reachedPromise = new Promise<void>((resolve) => {
    reached = resolve;
  });
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let armed = true;
  for (const shard of b.stores.shards.values()) {
    const tenant = shard.tenant.bind(shard);
    shard.tenant = async (id) => {
      const store = await tenant(id);
      const transaction = store.transaction.bind(store);
      store.transaction = (work) =>
        transaction((tx: TenantWriteTx) => {
          const read = tx[method].bind(tx);
          tx[method] = async (name: string) => {
            const collection = await read(name);
            if (armed) {
              armed = false;
              reached();
              await released;
            }
            return collection;
          };
          return work(tx);
        });
      return store;
    };
  }
  return { reached: reachedPromise, release };
}

/** Resolves once a statement on one of the platform's shards waits for a lock. */
async function lockWaited(a: OidcPlatform): Promise<void> {
  const names = a.fixture.shardUrls.map((url) => new URL(url).pathname.slice(1));
  const admin = new pg.Client({ connectionString: process.env.PALISADE_TEST_POSTGRES_URL });
  await admin.connect();
  try {
    for (;;) {
      const waiting = await admin.query(
        `SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = ANY($1)`,
        [names],
      );
      if (waiting.rowCount! > 0) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  } finally {
    await admin.end();
  }
}

/** The PUT's answer, or 'waiting' once it waits for a lock the gated transaction holds. */
async function answerOrWait(a: OidcPlatform, put: Promise<{ status: number }>) {
  return Promise.race([put.then(({ status }) => status), lockWaited(a).then(() => 'waiting')]);
}

describe('collection definitions changed while another process writes (PostgreSQL)', {
  skip: !scaleOutConfigured() && 'needs PALISADE_TEST_POSTGRES_URL and PALISADE_TEST_NATS_URL',
}, () => {
  test('a field cannot become encrypted under a record being written in plaintext', async (t) => {
    const { a, b } = await twoApiPlatforms(t);
    const { key } = await a.tenant('acme');
    const put = (encrypted: string[]) =>
      a.call('PUT', '/v1/collections/people', key, { schema: SCHEMA, encrypted });
    assert.equal((await put([])).status, 201);

    const gate = gateIn(b, 'collectionForWrite');
    const created = b.http.inject({
      method: 'POST',
      url: '/v1/collections/people/records',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      payload: JSON.stringify({ name: 'Ada', ssn: '078-05-1120' }),
    });
    await gate.reached;
    const change = put(['ssn']);
    assert.equal(await answerOrWait(a, change), 'waiting', 'the change waits for the write');
    gate.release();
    assert.equal((await created).statusCode, 201);
    const refused = await change;
    assert.equal(refused.status, 409, JSON.stringify(refused.body));
    assert.equal(refused.body.code, 'PALISADE_COLLECTION_NOT_EMPTY');
    const collection = await a.call('GET', '/v1/collections/people', key);
    assert.deepEqual(collection.body.encrypted, []);
  });

  test('two changes of one definition at once take two versions', async (t) => {
    const { a, b } = await twoApiPlatforms(t);
    const { key } = await a.tenant('acme');
    const define = (title: string, via: 'a' | 'b') => {
      const body = { schema: { ...SCHEMA, title }, encrypted: [] };
      if (via === 'a') return a.call('PUT', '/v1/collections/people', key, body);
      return b.http
        .inject({
          method: 'PUT',
          url: '/v1/collections/people',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          payload: JSON.stringify(body),
        })
        .then((reply) => ({ status: reply.statusCode, body: reply.json() }));
    };
    assert.equal((await define('first', 'a')).status, 201);

    const gate = gateIn(b, 'collectionForChange');
    const fromB = define('from b', 'b');
    await gate.reached;
    const fromA = define('from a', 'a');
    assert.equal(await answerOrWait(a, fromA), 'waiting', 'the second change waits');
    gate.release();
    const versions = [(await fromB).body.version, (await fromA).body.version];
    assert.deepEqual(versions, [2, 3]);
    const now = await a.call('GET', '/v1/collections/people', key);
    assert.equal(now.body.version, 3);
    assert.equal(now.body.schema.title, 'from a');
  });
});
