/**
 * Leases on PostgreSQL advisory locks: one holder at a time across connections (processes),
 * handed on by release or by the holder's connection ending.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { PostgresLeases } from '../src/platform/leases.ts';
import { type BackendFixture, openBackend } from './support/backends.ts';

describe('PostgreSQL leases', {
  skip: process.env.PALISADE_TEST_POSTGRES_URL === undefined,
}, () => {
  let fixture: BackendFixture;
  let url: string;

  before(async () => {
    fixture = await openBackend('postgres');
    url = fixture.settings.database!;
  });
  after(() => fixture.cleanup());

  it('grants a name to one process at a time, and again after release', async () => {
    const a = new PostgresLeases(url);
    const b = new PostgresLeases(url);
    try {
      const held = await a.tryAcquire('sealer');
      assert.ok(held);
      assert.equal(await b.tryAcquire('sealer'), undefined);
      const other = await b.tryAcquire('key-job/t1');
      assert.ok(other, 'another name is free');
      await held.release();
      const taken = await b.tryAcquire('sealer');
      assert.ok(taken);
      assert.equal(await a.tryAcquire('sealer'), undefined);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('passes on when the holder’s session ends, and the holder sees it lost', async () => {
    const a = new PostgresLeases(url);
    const b = new PostgresLeases(url);
    try {
      const held = await a.tryAcquire('sealer-2');
      assert.ok(held);
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      // What a crashed or partitioned holder looks like to the database: its session ends.
      // Only this test's database: other suites hold advisory locks on the same server.
      await admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_locks
         WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()
           AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      );
      await admin.end();
      // The backend frees the lock once it has exited, and the holder learns of its closed
      // connection when its event loop gets there: on a loaded machine either can take
      // seconds. The deadline only bounds the wait.
      const deadline = Date.now() + 30_000;
      let taken = await b.tryAcquire('sealer-2');
      while (taken === undefined && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        taken = await b.tryAcquire('sealer-2');
      }
      assert.ok(taken);
      while (!held.lost && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(held.lost, true);
      assert.ok(await a.tryAcquire('other'), 'the next acquire reconnects');
    } finally {
      await a.close();
      await b.close();
    }
  });
});
