import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { PlatformLink, runCli, tenantWithDevices } from './support/edge-harness.ts';

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
