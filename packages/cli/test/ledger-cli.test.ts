/**
 * The verifiable ledger end to end: a platform whose checkpoints three witness processes
 * cosign; `palisade ledger export|verify` offline and online; then the platform's history
 * is rewritten, and both the witnesses and the client that remembers its last checkpoint
 * refuse it.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, it } from 'node:test';
import { loadSettings, type Platform, startPlatform } from '@palisade/server';
import { httpCall } from '../../server/test/support/http.ts';
import {
  palisadeFromSource as palisade,
  startWitnessProcess,
  type WitnessProcess,
} from './support/source-process.ts';

const ADMIN = `pa_${'l'.repeat(43)}`;

describe('the ledger with three witnesses, offline and online verification, and a rewritten history', () => {
  const dir = mkdtempSync(join(tmpdir(), 'palisade-ledger-cli-'));
  const data = join(dir, 'data');
  const home = join(dir, 'home');
  const witnesses: WitnessProcess[] = [];
  const witnessSpecs: string[] = [];
  let platform: Platform;
  let tenant: { id: string; key: string };
  let logs = '';

  /** Starts the platform on `listen` (a free port unless given). */
  async function start(listen = '127.0.0.1:0'): Promise<Platform> {
    const settings = loadSettings({
      flags: {
        data,
        listen,
        adminToken: ADMIN,
        ledgerSealIntervalMs: '3600000',
        logLevel: 'info',
        ...(witnessSpecs.length > 0 ? { witnesses: witnessSpecs } : {}),
      },
      env: {},
      configFile: null,
    });
    const { default: pino } = await import('pino');
    const logger = pino(
      { level: 'info' },
      {
        write: (line: string) => {
          logs += line;
        },
      },
    );
    return startPlatform(settings, { logger });
  }

  const call = (method: string, path: string, token: string, body?: unknown) =>
    httpCall(platform.url, method, path, token, body);
  const verify = (...args: string[]) => palisade(['ledger', 'verify', ...args]);

  /** The platform's vkeys and the audited tenant's bundle, fetched by the admin into new files. */
  async function exportAudited(name: string): Promise<{ keys: string; bundle: string }> {
    const env = { PALISADE_URL: platform.url, PALISADE_TOKEN: ADMIN };
    const keys = join(dir, `${name}-keys.txt`);
    const fetched = await palisade(['ledger', 'keys', '--out', keys], env);
    assert.equal(fetched.code, 0, fetched.stderr);
    const bundle = join(dir, `${name}-bundle.json`);
    const exported = await palisade(
      ['ledger', 'export', '--tenant', 'audited', '--out', bundle],
      env,
    );
    assert.equal(exported.code, 0, exported.stderr);
    return { keys, bundle };
  }

  /** A tenant whose owner key (returned) made the collection notes. */
  async function notesTenant(slug: string, name: string): Promise<{ id: string; owner: string }> {
    const created = await call('POST', '/v1/platform/tenants', ADMIN, { slug, name });
    const owner = (
      await call('POST', `/v1/platform/tenants/${created.body.id}/api-keys`, ADMIN, {})
    ).body.secret;
    await call('PUT', '/v1/collections/notes', owner, { schema: { type: 'object' } });
    return { id: created.body.id, owner };
  }

  /** `palisade ledger verify` online as `token`, with a trust store of its own; its stdout. */
  async function verifiedOnline(token: string, homeName: string): Promise<string> {
    const env = {
      PALISADE_URL: platform.url,
      PALISADE_TOKEN: token,
      PALISADE_HOME: join(dir, homeName),
    };
    const verified = await palisade(['ledger', 'verify'], env);
    assert.equal(verified.code, 0, verified.stderr);
    return verified.stdout;
  }

  before(async () => {
    platform = await start();
    const { body: keys } = await call('GET', '/v1/platform/ledger/keys', ADMIN);
    await platform.close();
    for (const name of ['w1', 'w2', 'w3']) {
      const keyFile = join(dir, `${name}.json`);
      const made = await palisade([
        'witness',
        'keygen',
        '--name',
        `witness.test/${name}`,
        '--out',
        keyFile,
      ]);
      assert.equal(made.code, 0, made.stderr);
      const logArgs = (keys.keys as string[]).flatMap((vkey) => [
        '--log',
        `${keys.origin}=${vkey}`,
      ]);
      const w = await startWitnessProcess([
        '--listen',
        '127.0.0.1:0',
        '--key',
        keyFile,
        '--state',
        join(dir, `${name}.db`),
        ...logArgs,
      ]);
      witnesses.push(w);
      for (const vkey of made.stdout.trim().split('\n')) witnessSpecs.push(`${w.url}=${vkey}`);
    }
    platform = await start();
    const created = await call('POST', '/v1/platform/tenants', ADMIN, {
      slug: 'audited',
      name: 'Audited',
    });
    const key = await call('POST', `/v1/platform/tenants/${created.body.id}/api-keys`, ADMIN, {});
    tenant = { id: created.body.id, key: key.body.secret };
    await call('PUT', '/v1/collections/claims', tenant.key, {
      schema: { type: 'object', properties: { amount: { type: 'number' } } },
    });
    for (let i = 0; i < 5; i++)
      await call('POST', '/v1/collections/claims/records', tenant.key, { amount: i * 10 });
    await platform.sealer.seal();
  });

  after(async () => {
    await platform.close();
    for (const w of witnesses) await w.stop('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });

  it('three independent witnesses cosign the platform checkpoint', async () => {
    const { body } = await call('GET', '/v1/ledger/checkpoint', tenant.key);
    assert.equal(body.platform.cosignatures, 3);
    assert.equal(body.platform.witnessed, true);
  });

  it('palisade ledger export and verify work offline, and a changed byte is named', async () => {
    const { keys, bundle } = await exportAudited('offline');
    const verified = await verify(bundle, '--keys', keys);
    assert.equal(verified.code, 0, verified.stderr);
    assert.match(verified.stdout, /^ok: tenant .* records not included/);
    assert.ok(
      !readFileSync(bundle, 'utf8').includes('amount'),
      "the admin's export carries no record data",
    );

    const altered = readFileSync(bundle, 'utf8').replace('record.create', 'record.crEate');
    writeFileSync(bundle, altered);
    const refused = await verify(bundle, '--keys', keys);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /LEDGER_TAMPERED.*batch \d+: entries \d+–\d+ do not hash/);
    const noKeys = await verify(bundle);
    assert.equal(noKeys.code, 2);
  });

  it('verify counts the witnesses whose vkeys --keys holds, and --witness-quorum requires them', async () => {
    const { keys: platformKeys, bundle } = await exportAudited('witnessed');
    const unwitnessed = await verify(bundle, '--keys', platformKeys);
    assert.equal(unwitnessed.code, 0, unwitnessed.stderr);
    assert.match(
      unwitnessed.stdout,
      /no witness vkeys given, so no witness cosignature checked\n$/,
    );

    // Two of the three witnesses are trusted: both keys of w1 and w2.
    const vkeys = witnessSpecs.map((spec) => spec.slice(spec.indexOf('=') + 1));
    const keys = join(dir, 'keys-with-witnesses.txt');
    const platformVkeys = readFileSync(platformKeys, 'utf8');
    writeFileSync(keys, `${platformVkeys}${vkeys.slice(0, 4).join('\n')}\n`);
    const counted = await verify(bundle, '--keys', keys);
    assert.equal(counted.code, 0, counted.stderr);
    assert.match(
      counted.stdout,
      /, cosigned by 2 of 2 trusted witnesses \(witness\.test\/w1, witness\.test\/w2\), none required\n$/,
    );
    const required = await verify(bundle, '--keys', keys, '--witness-quorum', '2');
    assert.equal(required.code, 0, required.stderr);
    assert.match(required.stdout, /, 2 required\n$/);
    const tooMany = await verify(bundle, '--keys', keys, '--witness-quorum', '3');
    assert.equal(tooMany.code, 1, tooMany.stdout);
    assert.match(
      tooMany.stderr,
      /^palisade: ledger verification FAILED \(LEDGER_NOT_WITNESSED\): the platform checkpoint at size \d+ is cosigned by 2 of the 3 witnesses required \(witness\.test\/w1, witness\.test\/w2\); no other witness key is trusted\n$/,
    );
    const none = await verify(bundle, '--keys', platformKeys, '--witness-quorum', '1');
    assert.equal(none.code, 1, none.stdout);
    assert.match(none.stderr, /\(LEDGER_NOT_WITNESSED\): .*; no witness key is trusted\n$/);
    const notCount = await verify(bundle, '--keys', keys, '--witness-quorum', 'two');
    assert.equal(notCount.code, 2, notCount.stderr);
    assert.match(notCount.stderr, /--witness-quorum "two" is not a count of witnesses/);
  });

  it('a keys file that holds no vkeys, or a bad one, is a usage error naming its line', async () => {
    const bundle = join(dir, 'keys-test-bundle.json');
    writeFileSync(bundle, '{}\n');
    const keys = join(dir, 'bad-keys.txt');
    writeFileSync(keys, '# the platform keys\n\nnot-a-vkey\n');
    const bad = await palisade(['ledger', 'verify', bundle, '--keys', keys]);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /^palisade: .*bad-keys\.txt line 3 is not a vkey \(vkey must be/);
    assert.match(bad.stderr, /palisade ledger keys --out /);
    assert.doesNotMatch(bad.stderr, /\n\s+at /);
    writeFileSync(keys, '# nothing yet\n');
    const none = await palisade(['ledger', 'verify', bundle, '--keys', keys]);
    assert.equal(none.code, 2, none.stderr);
    assert.match(none.stderr, /bad-keys\.txt holds no vkeys/);
  });

  it('verify: an unreadable bundle is a usage error saying how to get one, one that is not JSON fails (exit 1)', async () => {
    const env = { PALISADE_URL: platform.url, PALISADE_TOKEN: ADMIN };
    const keys = join(dir, 'keys-for-files.txt');
    assert.equal((await palisade(['ledger', 'keys', '--out', keys], env)).code, 0);
    const missing = join(dir, 'no-such-bundle.json');
    const absent = await palisade(['ledger', 'verify', missing, '--keys', keys]);
    assert.equal(absent.code, 2, absent.stderr);
    assert.equal(
      absent.stderr,
      `palisade: cannot read the bundle ${missing} (ENOENT); export one with: palisade ledger export --tenant ID|SLUG --out ${missing}\n`,
    );
    const noKeys = await palisade(['ledger', 'verify', missing, '--keys', `${keys}.gone`]);
    assert.equal(noKeys.code, 2, noKeys.stderr);
    assert.match(
      noKeys.stderr,
      /^palisade: cannot read the keys file .*\.gone \(ENOENT\); get one with: palisade ledger keys --out /,
    );

    const truncated = join(dir, 'truncated.json');
    writeFileSync(truncated, '{"format": "palisade-ledger-bun');
    const notJson = await palisade(['ledger', 'verify', truncated, '--keys', keys]);
    assert.equal(notJson.code, 1, notJson.stderr);
    assert.match(
      notJson.stderr,
      /^palisade: ledger verification FAILED \(LEDGER_BAD_BUNDLE\): .*truncated\.json is not JSON \(/,
    );
    const shapeless = join(dir, 'shapeless.json');
    writeFileSync(
      shapeless,
      JSON.stringify({
        format: 'palisade-ledger-bundle/v1',
        tenant: tenant.id,
        batches: [],
        entries: [],
        records: null,
      }),
    );
    const notBundle = await palisade(['ledger', 'verify', shapeless, '--keys', keys]);
    assert.equal(notBundle.code, 1, notBundle.stderr);
    assert.equal(
      notBundle.stderr,
      'palisade: ledger verification FAILED (LEDGER_BAD_BUNDLE): storedRoot must be a string\n',
    );
    assert.doesNotMatch(absent.stderr + noKeys.stderr + notJson.stderr, /\n\s+at /);

    const nothing = await palisade(['ledger', 'verify']);
    assert.equal(nothing.code, 2, nothing.stderr);
    assert.match(
      nothing.stderr,
      /^palisade: verify needs a BUNDLE file and --keys FILE, or a tenant's API key/,
    );
    assert.match(nothing.stderr, /verify exits 0 when the ledger verifies, 1 when it does not/);
  });

  it('the summary counts in the singular where there is one', async () => {
    const { owner } = await notesTenant('one', 'One');
    const made = await call('POST', '/v1/collections/notes/records', owner, { n: 1 });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    await platform.sealer.seal();
    const verified = await verifiedOnline(owner, 'home-one');
    assert.match(verified, /, 1 record matches \(first use/);
    assert.doesNotMatch(verified, /\b1 (entries|batches|records)\b/);
  });

  it('verify names the collections whose records the credential may not read', async () => {
    const created = await notesTenant('aud', 'Aud');
    const { owner } = created;
    await call('POST', '/v1/collections/notes/records', owner, { secret: 'Ada' });
    await call('PUT', '/v1/roles/auditor', owner, { permissions: ['ledger:export'] });
    const auditor = await call('POST', `/v1/platform/tenants/${created.id}/api-keys`, ADMIN, {
      roles: ['auditor'],
    });
    assert.equal(auditor.status, 201, JSON.stringify(auditor.body));
    await platform.sealer.seal();
    assert.match(
      await verifiedOnline(auditor.body.secret, 'home-auditor'),
      /, 0 records match \(not checked: the records of notes, which this credential may not read\)/,
    );
  });

  it('verify counts the records a policy keeps from the credential, one by one', async () => {
    const created = await notesTenant('rec', 'Rec');
    const { owner } = created;
    const secret = await call('POST', '/v1/collections/notes/records', owner, { n: 1 });
    await call('POST', '/v1/collections/notes/records', owner, { n: 2 });
    await call('PUT', '/v1/roles/auditor', owner, {
      permissions: ['ledger:export', 'records:read'],
    });
    const policy = await call('PUT', '/v1/policies', owner, {
      policies: `permit (principal, action, resource);
forbid (principal in Palisade::Role::"auditor", action, resource == Palisade::Record::"${secret.body.id}");`,
    });
    assert.equal(policy.status, 200, JSON.stringify(policy.body));
    const auditor = await call('POST', `/v1/platform/tenants/${created.id}/api-keys`, ADMIN, {
      roles: ['auditor'],
    });
    await platform.sealer.seal();
    assert.match(
      await verifiedOnline(auditor.body.secret, 'home-rec'),
      /, 1 record matches \(not checked: 1 record of notes, which this credential may not read\)/,
    );
  });

  it('an --out that cannot be written is named, without a stack trace', async () => {
    const env = { PALISADE_URL: platform.url, PALISADE_TOKEN: ADMIN };
    const out = join(dir, 'no-such-folder', 'file.json');
    for (const args of [
      ['ledger', 'keys', '--out', out],
      ['ledger', 'export', '--tenant', 'audited', '--out', out],
    ]) {
      const failed = await palisade(args, env);
      assert.equal(failed.code, 1, args.join(' '));
      assert.match(
        failed.stderr,
        /^palisade: cannot write .*no-such-folder\/file\.json \(ENOENT\)/m,
      );
      assert.doesNotMatch(failed.stderr, /\n\s+at /);
    }
  });

  it('online verification remembers the checkpoint and accepts a consistent extension', async () => {
    const env = { PALISADE_URL: platform.url, PALISADE_TOKEN: tenant.key, PALISADE_HOME: home };
    const first = await palisade(['ledger', 'verify'], env);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /first use/);
    await call('POST', '/v1/collections/claims/records', tenant.key, { amount: 99 });
    const second = await palisade(['ledger', 'verify'], env);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /consistent with the \d+ batches verified before/);
  });

  it('an unreadable trust store is refused, never taken for a first use', async () => {
    const damaged = join(dir, 'damaged-home');
    mkdirSync(damaged);
    const store = join(damaged, 'trusted-checkpoints.json');
    const text = readFileSync(join(home, 'trusted-checkpoints.json'), 'utf8');
    writeFileSync(store, text.slice(0, text.length / 2));
    const env = { PALISADE_URL: platform.url, PALISADE_TOKEN: tenant.key, PALISADE_HOME: damaged };
    const refused = await palisade(['ledger', 'verify'], env);
    assert.equal(refused.code, 1, refused.stdout);
    assert.match(refused.stderr, /trusted-checkpoints\.json.* unreadable/);
    assert.match(refused.stderr, /restore it from a backup/);
    assert.equal(readFileSync(store, 'utf8'), text.slice(0, text.length / 2), 'left as it was');
  });

  it('a rewritten history is refused by every witness and by the remembering client', async () => {
    const shard = (await platform.stores.controlPlane.getTenant(tenant.id))!.shard;
    // The same server, at the same URL, so the client compares it with what it remembers.
    const listen = new URL(platform.url).host;
    await platform.close();
    // The operator rewrites history: the tenant's ledger and the platform log start over.
    const db = new DatabaseSync(join(data, 'shards', shard, `${tenant.id}.db`));
    for (const { name } of db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'")
      .all() as { name: string }[])
      db.exec(`DROP TRIGGER ${name}`);
    db.exec(
      'DELETE FROM ledger_entries; DELETE FROM ledger_batches; DELETE FROM ledger_nodes; DELETE FROM records',
    );
    db.close();
    for (const suffix of ['', '-wal', '-shm'])
      rmSync(join(data, `platform-log.db${suffix}`), { force: true });
    logs = '';
    platform = await start(listen);
    await call('POST', '/v1/collections/claims/records', tenant.key, { amount: 1_000_000 });
    await platform.sealer.seal();

    const { body } = await call('GET', '/v1/ledger/checkpoint', tenant.key);
    assert.equal(body.platform.cosignatures, 0);
    assert.equal(body.platform.witnessed, false);
    assert.equal(logs.match(/a witness REFUSED the platform checkpoint/g)?.length, 3);

    const env = { PALISADE_URL: platform.url, PALISADE_TOKEN: tenant.key, PALISADE_HOME: home };
    const online = await palisade(['ledger', 'verify'], env);
    assert.equal(online.code, 1);
    assert.match(
      online.stderr,
      /^palisade: ledger verification FAILED \(LEDGER_FORK\): the log shrank from \d+ to \d+ batch(es)?/,
    );
  });
});
