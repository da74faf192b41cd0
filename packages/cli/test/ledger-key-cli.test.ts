/**
 * `palisade keys new-ledger-key` as an operator runs it (the built dist, spawned): a server
 * whose platform log holds checkpoints refuses to start without the key that signed them; the
 * command refuses while a server runs on the data folder or while a key file is there, and
 * otherwise makes a new key, prints its verifier keys and records the change, after which the
 * server starts and serves those keys.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { httpCall } from '../../server/test/support/http.ts';
import { assertBuilt, type CliResult, palisade, startServer } from './support/palisade-process.ts';

const ADMIN = `pa_${'k'.repeat(43)}`;

function expectExit(result: CliResult, code: number): void {
  assert.equal(
    result.code,
    code,
    `exit ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`,
  );
}

before(assertBuilt);

describe('palisade keys new-ledger-key (sqlite)', () => {
  const data = mkdtempSync(join(tmpdir(), 'palisade-ledger-key-cli-'));
  const keyFile = join(data, 'ledger-signing.json');
  const start = () =>
    startServer(['--data', data, '--listen', '127.0.0.1:0', '--admin-token', ADMIN]);
  let firstKeys: string[];

  before(async () => {
    const server = await start();
    try {
      const tenant = await httpCall(server.url, 'POST', '/v1/platform/tenants', ADMIN, {
        slug: 'acme',
        name: 'Acme',
      });
      const key = await httpCall(
        server.url,
        'POST',
        `/v1/platform/tenants/${tenant.body.id}/api-keys`,
        ADMIN,
        { name: 'k' },
      );
      // A checkpoint is sealed on demand: the platform log now holds one, signed.
      const checkpoint = await httpCall(
        server.url,
        'GET',
        '/v1/ledger/checkpoint',
        key.body.secret,
      );
      assert.equal(checkpoint.status, 200, JSON.stringify(checkpoint.body));
      firstKeys = (await httpCall(server.url, 'GET', '/v1/platform/ledger/keys', ADMIN)).body.keys;

      const whileRunning = await palisade(['keys', 'new-ledger-key', '--data', data]);
      expectExit(whileRunning, 2);
      assert.doesNotMatch(whileRunning.stderr, /\n\s+at /, 'no stack trace');
    } finally {
      await server.stop('SIGTERM');
    }
  });
  after(() => rmSync(data, { recursive: true, force: true }));

  it('refuses to replace a key file that is there', async () => {
    const result = await palisade(['keys', 'new-ledger-key', '--data', data]);
    expectExit(result, 2);
    assert.match(result.stderr, /ledger-signing\.json/);
  });

  it('makes a new key for a lost one, recorded in the log, and the server starts with it', async () => {
    rmSync(keyFile);
    await assert.rejects(start(), /exited with 2 before listening[\s\S]*ledger-signing\.json/);

    const made = await palisade(['keys', 'new-ledger-key', '--data', data]);
    expectExit(made, 0);
    const printed = made.stdout.trim().split('\n');
    assert.ok(printed.length > 0 && printed.every((vkey) => !firstKeys.includes(vkey)));
    assert.match(made.stderr, /recorded in the platform log at size \d+/);

    const server = await start();
    try {
      const served = (await httpCall(server.url, 'GET', '/v1/platform/ledger/keys', ADMIN)).body;
      assert.deepEqual(served.keys, printed);
    } finally {
      await server.stop('SIGTERM');
    }
  });
});
