/**
 * `palisade keys new-ledger-key` as an operator runs it (the built dist, spawned): a server
 * whose platform log holds checkpoints refuses to start without the key that signed them; the
 * command refuses while a server runs on the data folder or while a key file is there, and
 * otherwise makes a new key, prints its verifier keys and records the change, after which the
 * server starts and serves those keys. An auditor holding only the old key follows the change
 * with --accept-change, online and offline, when the new key's log extends the old one's, and
 * a forged change fails naming why. On SQLite and PostgreSQL.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseNote, signNote } from '@palisade/ledger';
import {
  ed25519Signer,
  generateEd25519Key,
  generateMlDsa44Key,
  mldsa44Signer,
} from '@palisade/ledger/node';
import {
  type BackendFixture,
  backendNames,
  openBackend,
} from '../../server/test/support/backends.ts';
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

/** The storage flags of `fixture`, as an operator passes them to start and to the keys command. */
function storageFlags(fixture: BackendFixture): string[] {
  const { settings } = fixture;
  if (fixture.name === 'sqlite') return ['--data', settings.data];
  return [
    '--data',
    settings.data,
    '--database',
    settings.database!,
    ...settings.shards.flatMap((shard) => ['--shard', shard]),
    '--postgres-runtime-role',
    settings.postgresRuntimeRole,
  ];
}

for (const backend of backendNames())
  describe(`palisade keys new-ledger-key (${backend})`, () => {
    let fixture: BackendFixture;
    let data: string;
    let keyFile: string;
    let storage: string[];
    const start = () =>
      startServer([...storage, '--listen', '127.0.0.1:0', '--admin-token', ADMIN]);
    let firstKeys: string[];
    let tenantKey: string;

    before(async () => {
      fixture = await openBackend(backend);
      data = fixture.settings.data;
      keyFile = join(data, 'ledger-signing.json');
      storage = storageFlags(fixture);
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
        tenantKey = key.body.secret;
        // A checkpoint is sealed on demand: the platform log now holds one, signed.
        const checkpoint = await httpCall(server.url, 'GET', '/v1/ledger/checkpoint', tenantKey);
        assert.equal(checkpoint.status, 200, JSON.stringify(checkpoint.body));
        firstKeys = (await httpCall(server.url, 'GET', '/v1/platform/ledger/keys', ADMIN)).body
          .keys;
        writeFileSync(join(data, 'old-keys.txt'), `${firstKeys.join('\n')}\n`);

        const whileRunning = await palisade(['keys', 'new-ledger-key', ...storage]);
        expectExit(whileRunning, 2);
        assert.doesNotMatch(whileRunning.stderr, /\n\s+at /, 'no stack trace');
      } finally {
        await server.stop('SIGTERM');
      }
    });
    after(() => fixture.cleanup());

    it('refuses to replace a key file that is there', async () => {
      const result = await palisade(['keys', 'new-ledger-key', ...storage]);
      expectExit(result, 2);
      assert.match(result.stderr, /ledger-signing\.json/);
    });

    it('makes a new key for a lost one, recorded in the log, and the server starts with it', async () => {
      rmSync(keyFile);
      await assert.rejects(start(), /exited with 2 before listening[\s\S]*ledger-signing\.json/);

      const made = await palisade(['keys', 'new-ledger-key', ...storage]);
      expectExit(made, 0);
      const printed = made.stdout.trim().split('\n');
      assert.ok(printed.length > 0 && printed.every((vkey) => !firstKeys.includes(vkey)));
      assert.match(made.stderr, /recorded in the platform log at size \d+/);

      const server = await start();
      try {
        const served = (await httpCall(server.url, 'GET', '/v1/platform/ledger/keys', ADMIN)).body;
        assert.deepEqual(served.keys, printed);
        assert.equal(served.changes.length, 1);
        assert.deepEqual(served.changes[0].vkeys, printed);
      } finally {
        await server.stop('SIGTERM');
      }
    });

    it('an auditor holding only the old key follows the change with --accept-change', async () => {
      const oldKeys = join(data, 'old-keys.txt');
      const home = { PALISADE_HOME: join(data, 'home') };
      const server = await start();
      try {
        // The tenant writes after the change: the platform log grows under the new key.
        await httpCall(server.url, 'PUT', '/v1/collections/notes', tenantKey, {
          schema: { type: 'object' },
        });
        assert.equal(
          (await httpCall(server.url, 'GET', '/v1/ledger/checkpoint', tenantKey)).status,
          200,
        );
        const online = ['ledger', 'verify', '--url', server.url, '--token', tenantKey];

        const refused = await palisade([...online, '--keys', oldKeys], home);
        expectExit(refused, 1);
        assert.match(
          refused.stderr,
          /LEDGER_TRUST_CHANGED\): the platform's signing key was replaced: key change of /,
        );
        assert.match(refused.stderr, /run again with --accept-change/);

        const followed = await palisade([...online, '--keys', oldKeys, '--accept-change'], home);
        expectExit(followed, 0);
        const [line, ok] = followed.stdout.trim().split('\n');
        assert.match(
          line!,
          /^key change of \S+: \S+, \S+ → \S+, \S+ at platform log size \d+ \(recorded \S+\), extended by the new key's log to size \d+$/,
        );
        assert.match(ok!, /^ok: tenant .*change accepted/);
        // Remembered under the new key: the next run needs no flag.
        expectExit(await palisade(online, home), 0);

        const bundle = join(data, 'acme-ledger.json');
        expectExit(
          await palisade([
            'ledger',
            'export',
            '--url',
            server.url,
            '--token',
            ADMIN,
            '--tenant',
            'acme',
            '--out',
            bundle,
          ]),
          0,
        );
        const offline = ['ledger', 'verify', bundle, '--keys', oldKeys];
        const notFollowed = await palisade(offline);
        expectExit(notFollowed, 1);
        assert.match(notFollowed.stderr, /LEDGER_TRUST_CHANGED.*--accept-change/s);
        const offlineFollowed = await palisade([...offline, '--accept-change']);
        expectExit(offlineFollowed, 0);
        assert.match(offlineFollowed.stdout, /^key change of .*\nok: tenant /);

        // Forged: the change's previous checkpoint signed by a key of the same name, not the old one.
        const exported = JSON.parse(readFileSync(bundle, 'utf8'));
        const change = exported.keyChanges[0];
        const origin = parseNote(change.previousNote).text.split('\n')[0]!;
        const forger = [
          ed25519Signer(origin, generateEd25519Key(origin).privateKey),
          mldsa44Signer(origin, generateMlDsa44Key(origin).privateKey),
        ];
        const forged = join(data, 'forged.json');
        const withChange = (patch: object) =>
          writeFileSync(
            forged,
            JSON.stringify({ ...exported, keyChanges: [{ ...change, ...patch }] }),
          );
        withChange({ previousNote: await signNote(parseNote(change.previousNote).text, forger) });
        const unsigned = await palisade([
          'ledger',
          'verify',
          forged,
          '--keys',
          oldKeys,
          '--accept-change',
        ]);
        expectExit(unsigned, 1);
        assert.match(unsigned.stderr, /LEDGER_KEY_CHANGE_UNSIGNED/);
        // A history the new key's log does not extend: the proof leads elsewhere.
        withChange({ proof: change.proof.map(() => Buffer.alloc(32, 7).toString('base64')) });
        const fork = await palisade([
          'ledger',
          'verify',
          forged,
          '--keys',
          oldKeys,
          '--accept-change',
        ]);
        expectExit(fork, 1);
        assert.match(fork.stderr, /LEDGER_KEY_CHANGE_FORK/);
      } finally {
        await server.stop('SIGTERM');
      }
    });
  });
