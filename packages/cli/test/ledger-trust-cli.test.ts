/**
 * Online verification's trust on first use against a server that changes what it shows. A
 * proxy at one URL stands for the server the auditor knows: it answers from platform A, then
 * as a malicious server would, from platform B (another origin, other keys, another tenant)
 * whatever credential the auditor sends, or with B's keys over A's ledger.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseCheckpoint, parseNote } from '@palisade/ledger';
import { loadSettings, type Platform, startPlatform } from '@palisade/server';
import { palisadeFromSource as palisade } from './support/source-process.ts';

const ADMIN = `pa_${'t'.repeat(43)}`;

/** A platform with one tenant that wrote one record, sealed into its platform log. */
interface Audited {
  readonly platform: Platform;
  readonly tenant: string;
  readonly key: string;
}

async function audited(data: string): Promise<Audited> {
  const settings = loadSettings({
    flags: { data, listen: '127.0.0.1:0', adminToken: ADMIN, ledgerSealIntervalMs: '3600000' },
    env: {},
    configFile: null,
  });
  const { default: pino } = await import('pino');
  const platform = await startPlatform(settings, { logger: pino({ level: 'silent' }) });
  const call = async (method: string, path: string, token: string, body?: unknown) => {
    const response = await fetch(`${platform.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return (await response.json()) as { id: string; secret: string };
  };
  const tenant = await call('POST', '/v1/platform/tenants', ADMIN, { slug: 'aud', name: 'Aud' });
  const { secret } = await call('POST', `/v1/platform/tenants/${tenant.id}/api-keys`, ADMIN, {});
  await call('PUT', '/v1/collections/notes', secret, { schema: { type: 'object' } });
  await call('POST', '/v1/collections/notes/records', secret, { n: 1 });
  await platform.sealer.seal();
  return { platform, tenant: tenant.id, key: secret };
}

describe('online verification remembers what the server at a URL showed for a credential', () => {
  const dir = mkdtempSync(join(tmpdir(), 'palisade-ledger-trust-'));
  let a: Audited;
  let b: Audited;
  let proxy: Server;
  let url: string;
  /** Where the proxy takes its answers from: `keys` only for the platform's keys. */
  let answer: { ledger: Audited; keys: Audited };

  before(async () => {
    a = await audited(join(dir, 'a'));
    b = await audited(join(dir, 'b'));
    answer = { ledger: a, keys: a };
    proxy = createServer((request, response) => {
      const path = request.url ?? '/';
      const from = path === '/v1/platform/ledger/keys' ? answer.keys : answer.ledger;
      // The server decides whose ledger it shows, whatever credential it was sent.
      fetch(`${from.platform.url}${path}`, { headers: { authorization: `Bearer ${from.key}` } })
        .then(async (upstream) => {
          response.writeHead(upstream.status, { 'content-type': 'application/json' });
          response.end(Buffer.from(await upstream.arrayBuffer()));
        })
        .catch(() => response.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const address = proxy.address() as { port: number };
    url = `http://127.0.0.1:${address.port}`;
  });

  after(async () => {
    await new Promise((resolve) => proxy.close(resolve));
    await a.platform.close();
    await b.platform.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** `palisade ledger verify` online through the proxy as A's tenant, with its trust in `home`. */
  const verify = (home: string, ...args: string[]) =>
    palisade(['ledger', 'verify', '--url', url, ...args], {
      PALISADE_TOKEN: a.key,
      PALISADE_HOME: join(dir, home),
    });

  it('a server that shows another tenant under another origin and keys is refused, not taken for a first use', async () => {
    answer = { ledger: a, keys: a };
    const first = await verify('home-switch');
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /first use/);
    const store = join(dir, 'home-switch', 'trusted-checkpoints.json');
    const trusted = readFileSync(store, 'utf8');

    answer = { ledger: b, keys: b };
    const switched = await verify('home-switch');
    assert.equal(switched.code, 1, switched.stdout);
    assert.equal(
      switched.stderr.split('; if ')[0],
      `palisade: ledger verification FAILED (LEDGER_TRUST_CHANGED): the server at ${url} now shows this credential the ledger of tenant ${b.tenant}, but showed it tenant ${a.tenant} before`,
    );
    assert.match(switched.stderr, /run again with --accept-change/);
    assert.equal(readFileSync(store, 'utf8'), trusted, 'nothing remembered from a refused run');
  });

  it('--accept-change trusts what the server shows now, and later runs are compared with it', async () => {
    answer = { ledger: b, keys: b };
    const accepted = await verify('home-switch', '--accept-change');
    assert.equal(accepted.code, 0, accepted.stderr);
    assert.match(accepted.stdout, new RegExp(`^ok: tenant ${b.tenant}, .*\\(change accepted`));
    const again = await verify('home-switch');
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /consistent with the \d+ batch(es)? verified before/);
    const offline = await palisade(['ledger', 'verify', 'bundle.json', '--tenant', b.tenant]);
    assert.equal(offline.code, 2, offline.stderr);
    assert.match(offline.stderr, /--tenant is for online verification/);
  });

  it('keys the server publishes that do not verify the remembered checkpoint are refused', async () => {
    answer = { ledger: a, keys: a };
    assert.equal((await verify('home-keys')).code, 0);
    answer = { ledger: a, keys: b };
    const rekeyed = await verify('home-keys');
    assert.equal(rekeyed.code, 1, rekeyed.stdout);
    assert.match(
      rekeyed.stderr,
      new RegExp(
        `^palisade: ledger verification FAILED \\(LEDGER_TRUST_CHANGED\\): the ledger keys the server at ${url} publishes do not verify the platform checkpoint you trusted before \\(`,
      ),
    );
    assert.match(rekeyed.stderr, /--accept-change/);
  });

  it('--tenant names the tenant the auditor expects, from the first use on', async () => {
    answer = { ledger: b, keys: b };
    const wrong = await verify('home-expect', '--tenant', a.tenant);
    assert.equal(wrong.code, 1, wrong.stdout);
    assert.match(
      wrong.stderr,
      new RegExp(
        `\\(LEDGER_TRUST_CHANGED\\): .* the ledger of tenant ${b.tenant}, not of tenant ${a.tenant} as --tenant expects`,
      ),
    );
    answer = { ledger: a, keys: a };
    const right = await verify('home-expect', '--tenant', a.tenant);
    assert.equal(right.code, 0, right.stderr);
  });

  it('the server is known by its URL, however it is written', async () => {
    answer = { ledger: a, keys: a };
    assert.equal((await verify('home-url')).code, 0);
    const env = { PALISADE_TOKEN: a.key, PALISADE_HOME: join(dir, 'home-url') };
    const spelled = `${url.replace('http://', 'HTTP://')}/`;
    const again = await palisade(['ledger', 'verify', '--url', spelled], env);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /consistent with the \d+ batch(es)? verified before/);
  });

  it('a trust file written before is read, and its checkpoint still compared', async () => {
    answer = { ledger: a, keys: a };
    const keys = (await (await fetch(`${a.platform.url}/v1/platform/ledger/keys`)).json()) as {
      origin: string;
      keys: string[];
    };
    const view = (await (
      await fetch(`${a.platform.url}/v1/ledger/checkpoint`, {
        headers: { authorization: `Bearer ${a.key}` },
      })
    ).json()) as { checkpoint: string };
    const { size, root } = parseCheckpoint(parseNote(view.checkpoint).text);
    const home = join(dir, 'home-legacy');
    const store = join(home, 'trusted-checkpoints.json');
    const write = (entryRoot: string) => {
      rmSync(home, { recursive: true, force: true });
      mkdirSync(home);
      const entry = { size, root: entryRoot, keys: keys.keys };
      writeFileSync(store, JSON.stringify({ [`${keys.origin}/tenant/${a.tenant}`]: entry }));
    };
    write(Buffer.from(new Uint8Array(32)).toString('base64'));
    const other = await verify('home-legacy');
    assert.equal(other.code, 1, other.stdout);
    assert.match(
      other.stderr,
      /FAILED \(LEDGER_FORK\): the log at \d+ batches has a different root than when you last verified it/,
    );

    write(Buffer.from(root).toString('base64'));
    const same = await verify('home-legacy');
    assert.equal(same.code, 0, same.stderr);
    assert.match(same.stdout, /consistent with the \d+ batch(es)? verified before/);
    const migrated = JSON.parse(readFileSync(store, 'utf8'));
    assert.equal(migrated.version, 2);
    assert.deepEqual(migrated.firstFormat, {}, 'the entry moved under its server');
    assert.deepEqual(Object.keys(migrated.servers), [url]);
    answer = { ledger: b, keys: b };
    const switched = await verify('home-legacy');
    assert.equal(switched.code, 1, switched.stdout);
    assert.match(switched.stderr, /LEDGER_TRUST_CHANGED/);
  });
});
