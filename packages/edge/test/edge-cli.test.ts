import assert from 'node:assert/strict';
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { readCredentialStatus } from '../src/credentials/index.ts';
import {
  enrollNode,
  PlatformLink,
  runCli,
  startNode,
  tenantWithDevices,
  until,
} from './support/edge-harness.ts';

test('palisade-edge: usage, enroll once (0600, never overwritten), accept, status', async () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'edge-cli-')), 'node');
  const usage = await runCli(['enroll', '--dir', dir]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /^palisade-edge: --token is required; see palisade-edge --help\n$/);
  assert.equal((await runCli(['frobnicate'])).code, 2);
  for (const command of ['enroll', 'start', 'status', 'quarantine', 'accept']) {
    const help = await runCli([command, '--help']);
    assert.equal(help.code, 0, `${command} --help: ${help.stderr}`);
    const lines = help.stdout.split('\n').filter((line) => line.startsWith('  palisade-edge '));
    assert.ok(lines.length > 0, `${command} --help names its usage`);
    for (const line of lines) assert.ok(line.startsWith(`  palisade-edge ${command} `), line);
  }
  assert.doesNotMatch((await runCli(['quarantine', '-h'])).stdout, /exit codes/);
  const missing = await runCli(['status', '--dir', dir]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /run palisade-edge enroll/);
  const unreachable = await runCli([
    'enroll',
    '--url',
    'http://127.0.0.1:1',
    '--token',
    't',
    '--dir',
    dir,
  ]);
  assert.equal(unreachable.code, 3);
  assert.match(unreachable.stderr, /cannot reach the platform.*token was not spent/);

  const link = await PlatformLink.start();
  const { devices, token } = await tenantWithDevices(link, 'cli', 1);
  const bad = await runCli(['enroll', '--url', link.url, '--token', 'nope', '--dir', dir]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /refused the enrollment/);
  const ok = await runCli(['enroll', '--url', link.url, '--token', token, '--dir', dir]);
  assert.equal(ok.code, 0, ok.stderr);
  const file = join(dir, 'node.json');
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const before = readFileSync(file, 'utf8');
  const again = await runCli(['enroll', '--url', link.url, '--token', token, '--dir', dir]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /already holds an enrollment/);
  assert.equal(readFileSync(file, 'utf8'), before);

  const device = devices[0] ?? '';
  const json = JSON.stringify({ ts: 1, values: { n: 1 } });
  const accepted = await runCli(['accept', '--dir', dir, '--device', device, '--json', json]);
  assert.equal(accepted.code, 0, accepted.stderr);
  const full = await runCli([
    ...['accept', '--dir', dir, '--device', device, '--json', json],
    ...['--outbox-max-messages', '1'],
  ]);
  assert.equal(full.code, 1);
  assert.match(full.stderr, /EDGE_OUTBOX_FULL/);
  const status = await runCli(['status', '--dir', dir, '--json']);
  assert.equal(status.code, 0, status.stderr);
  const view = JSON.parse(status.stdout);
  assert.equal(view.backlog, 1);
  assert.equal(view.link, 'unknown');
  assert.equal(view.lastSync, null);
  await link.close();
  rmSync(dir, { recursive: true, force: true });
});

test('in a node directory made beforehand, every file the node writes is its own alone (0600)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'edge-cli-modes-'));
  chmodSync(dir, 0o755);
  const link = await PlatformLink.start();
  t.after(async () => {
    await link.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const { key } = await tenantWithDevices(link, 'modes', 0);
  const node = await enrollNode(link, key, dir);
  const device = await link.call('POST', '/v1/devices', key, {
    name: 'behind',
    edgeNodeId: node.nodeId,
  });
  assert.equal(device.status, 201, JSON.stringify(device.body));
  // A password hash the node keeps in its credential cache.
  const basic = await link.call('POST', `/v1/devices/${device.body.id}/credentials`, key, {
    type: 'mqtt_basic',
    username: 'bee',
    password: 'a long enough secret',
  });
  assert.equal(basic.status, 201, JSON.stringify(basic.body));
  const json = JSON.stringify({ ts: 1, values: { n: 1 } });
  const accepted = await runCli([
    'accept',
    '--dir',
    dir,
    '--device',
    device.body.id,
    '--json',
    json,
  ]);
  assert.equal(accepted.code, 0, accepted.stderr);
  const { edge } = await startNode(dir, ['started']);
  await until(() => existsSync(join(dir, 'rules.json')));
  await until(() => readCredentialStatus(join(dir, 'credentials.db')).devices === 1);
  await edge.stop();
  const files = readdirSync(dir);
  assert.ok(files.includes('credentials.db'), files.join(' '));
  for (const file of files)
    assert.equal(statSync(join(dir, file)).mode & 0o077, 0, `${file} is readable by others`);
});

test('enroll refuses a directory holding the data of an earlier enrollment whose node.json is gone', async (t) => {
  const dir = join(mkdtempSync(join(tmpdir(), 'edge-cli-again-')), 'node');
  const link = await PlatformLink.start();
  t.after(async () => {
    await link.close();
    rmSync(dirname(dir), { recursive: true, force: true });
  });
  const { key, devices, token } = await tenantWithDevices(link, 'again', 1);
  assert.equal(
    (await runCli(['enroll', '--url', link.url, '--token', token, '--dir', dir])).code,
    0,
  );
  const json = JSON.stringify({ ts: 1, values: { n: 1 } });
  const accepted = await runCli(['accept', '--dir', dir, '--device', devices[0]!, '--json', json]);
  assert.equal(accepted.code, 0, accepted.stderr);
  // The operator moves the enrollment away: its outbox, sealed under its key, stays behind.
  renameSync(join(dir, 'node.json'), join(dirname(dir), 'node.json.old'));
  const second = await link.call('POST', '/v1/edge-nodes/enrollment-tokens', key, { name: 'gw2' });
  const args = ['enroll', '--url', link.url, '--token', second.body.token, '--dir', dir];
  const refused = await runCli(args);
  assert.equal(refused.code, 1, refused.stdout);
  assert.match(refused.stderr, /outbox\.db.*earlier enrollment.*new --dir/);
  assert.ok(!existsSync(join(dir, 'node.json')));
  const elsewhere = await runCli([...args.slice(0, -1), join(dirname(dir), 'other')]);
  assert.equal(elsewhere.code, 0, `the token was not spent: ${elsewhere.stderr}`);
});
