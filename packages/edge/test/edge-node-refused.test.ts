/**
 * A real platform refusing the node itself (its tenant suspended, the node disabled, its
 * credential revoked by a rekey): the running agent keeps every message, logs what the
 * operator must do for that cause, and once the operator did it, sends everything exactly
 * once; a re-keyed node takes its new credential in place, keeping its outbox.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ADMIN_TOKEN } from '../../server/test/support/api.ts';
import { Outbox, readNodeFile, readOutboxStatus } from '../src/index.ts';
import { outboxPath } from '../src/node-file.ts';
import {
  drained,
  EdgeProcess,
  enrollNode,
  PlatformLink,
  runCli,
  until,
} from './support/edge-harness.ts';

test('a refused node keeps everything, says what to do, and sends it all once allowed again', async () => {
  const link = await PlatformLink.start();
  const dir = mkdtempSync(join(tmpdir(), 'edge-refused-'));
  const agents: EdgeProcess[] = [];
  try {
    const { id: tenantId, key } = await link.api.tenant('refused');
    const node = await enrollNode(link, key, dir);
    const device = (
      await link.call('POST', '/v1/devices', key, { name: 'meter', edgeNodeId: node.nodeId })
    ).body.id as string;
    const base = Date.now() - 60_000;
    const accept = (n: number) =>
      runCli([
        ...['accept', '--dir', dir, '--device', device],
        ...['--json', JSON.stringify({ ts: base + n, values: { n } })],
      ]);
    const outbox = new Outbox(outboxPath(dir), Buffer.from(node.outboxKey, 'base64'), {
      maxMessages: 100,
    });
    for (let n = 0; n < 5; n++) outbox.accept(device, { ts: base + n, values: { n } });
    outbox.close();
    const tenantStatus = (status: string) =>
      link.call('PATCH', `/v1/platform/tenants/${tenantId}`, ADMIN_TOKEN, { status });
    await link.call('PATCH', `/v1/edge-nodes/${node.nodeId}`, key, { disabled: true });
    await tenantStatus('suspended');

    const edge = new EdgeProcess(['--dir', dir]);
    agents.push(edge);
    const refusal = async (code: string) => {
      await until(() => edge.logs.some((l) => l.event === 'node-refused' && l.code === code));
      return edge.logs.find((l) => l.event === 'node-refused' && l.code === code) ?? {};
    };
    const suspended = await refusal('PALISADE_TENANT_SUSPENDED');
    assert.match(String(suspended.action), /ask the platform admin to resume it/);
    assert.equal(suspended.backlog, 5);
    await tenantStatus('active');
    const disabled = await refusal('PALISADE_EDGE_NODE_DISABLED');
    assert.ok(
      String(disabled.action).includes(`PATCH /v1/edge-nodes/${node.nodeId} {"disabled": false}`),
      String(disabled.action),
    );
    assert.match(String(disabled.action), /the outbox keeps every message/);
    assert.equal(readOutboxStatus(outboxPath(dir)).backlog, 5);
    assert.deepEqual(await link.values(key, device), []);
    await link.call('PATCH', `/v1/edge-nodes/${node.nodeId}`, key, { disabled: false });
    await until(drained(dir));
    assert.deepEqual(await link.values(key, device), [0, 1, 2, 3, 4]);

    const rekey = await link.call('POST', `/v1/edge-nodes/${node.nodeId}/rekey`, key);
    for (let n = 5; n < 8; n++) assert.equal((await accept(n)).code, 0);
    const revoked = await refusal('PALISADE_EDGE_UNAUTHENTICATED');
    assert.match(String(revoked.action), /palisade-edge enroll --rekey --token TOKEN/);
    const rekeyArgs = ['enroll', '--rekey', '--token', rekey.body.token, '--dir', dir];
    const busy = await runCli(rekeyArgs);
    assert.equal(busy.code, 1, 'refused while the agent runs on the directory');
    assert.match(busy.stderr, /is running on/);
    const [code] = await edge.stop();
    assert.equal(code, 0);
    assert.equal(edge.logs.at(-1)?.backlog, 3);

    const rekeyed = await runCli(rekeyArgs);
    assert.equal(rekeyed.code, 0, rekeyed.stderr);
    const after = readNodeFile(dir);
    assert.equal(after.nodeId, node.nodeId);
    assert.equal(after.keyVersion, 2);
    assert.equal(after.outboxKey, node.outboxKey);
    assert.notEqual(after.credential, node.credential);
    const again = new EdgeProcess(['--dir', dir]);
    agents.push(again);
    await until(drained(dir));
    assert.equal((await again.stop())[0], 0);
    assert.deepEqual(await link.values(key, device), [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.ok(!again.logs.some((l) => l.event === 'node-refused'));
  } finally {
    for (const agent of agents) agent.child.kill('SIGKILL');
    await link.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
