import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';

/** A migration slow enough that a second process reads the file's version while it runs. */
const SLOW = `[{"version":1,"sql":"CREATE TABLE t (x); WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 300000) INSERT INTO t SELECT i FROM c"}]`;

function migrateInWorker(file: string): Promise<string> {
  const source = `
    const { workerData, parentPort } = require('node:worker_threads');
    import(workerData.module).then(({ migrateSqlite, openSqlite }) => {
      const db = openSqlite(workerData.file);
      try {
        migrateSqlite(db, JSON.parse(workerData.migrations));
        parentPort.postMessage('ok');
      } catch (error) {
        parentPort.postMessage(String(error.message));
      } finally {
        db.close();
      }
    });`;
  const worker = new Worker(source, {
    eval: true,
    workerData: {
      file,
      migrations: SLOW,
      module: new URL('../src/store/sqlite/sqlite-database.ts', import.meta.url).href,
    },
  });
  return new Promise((resolve, reject) => {
    worker.once('message', (message: string) => resolve(message));
    worker.once('error', reject);
  });
}

test('two processes opening a new SQLite file at once migrate it once, both without error', async (t) => {
  const folder = mkdtempSync(join(tmpdir(), 'palisade-migrate-'));
  t.after(() => rmSync(folder, { recursive: true, force: true }));
  const file = join(folder, 'new.db');
  assert.deepEqual(await Promise.all([migrateInWorker(file), migrateInWorker(file)]), ['ok', 'ok']);
});
