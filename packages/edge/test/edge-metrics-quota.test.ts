/**
 * The node against a real platform with a low telemetry quota: the platform refuses batches
 * with 429 and Retry-After, the sync loop never comes back sooner than it says, everything
 * arrives exactly once, and the node's Prometheus metrics show the refusals, the drain and
 * the backlog.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Platform, startPlatform } from '../../server/src/index.ts';
import { ADMIN_TOKEN } from '../../server/test/support/api.ts';
import { type BackendFixture, openBackend } from '../../server/test/support/backends.ts';
import { DEFAULT_SYNC, Outbox, readNodeFile, SyncLoop } from '../src/index.ts';
import { EdgeMetrics, serveMetrics } from '../src/metrics/index.ts';
import { outboxPath } from '../src/node-file.ts';
import { PlatformRefusedError } from '../src/platform-call.ts';
import { inject, runCli } from './support/edge-harness.ts';

const call = async (...args: Parameters<typeof inject>) => (await inject(...args)).body;

describe('an edge node over its tenant quota', () => {
  let fixture: BackendFixture;
  let platform: Platform;
  let dir: string;
  let key: string;
  let deviceId: string;

  before(async () => {
    // One point per second, one second of burst: each batch is admitted whole and leaves the
    // tenant in debt for as many seconds as it had points, so the next one gets a 429.
    fixture = await openBackend('sqlite', {
      adminToken: ADMIN_TOKEN,
      mqtt: 'off',
      quotaTenantPointsPerSecond: ['*=1'],
      quotaBurstSeconds: '1',
    });
    platform = await startPlatform(fixture.settings);
    const tenant = await call(platform, 'POST', '/v1/platform/tenants', ADMIN_TOKEN, {
      slug: 'busy',
      name: 'busy',
    });
    key = (
      await call(platform, 'POST', `/v1/platform/tenants/${tenant.id}/api-keys`, ADMIN_TOKEN, {
        name: 'k',
      })
    ).secret;
    const token = (
      await call(platform, 'POST', '/v1/edge-nodes/enrollment-tokens', key, { name: 'gw' })
    ).token;
    dir = mkdtempSync(join(tmpdir(), 'edge-quota-'));
    const enrolled = await runCli([
      'enroll',
      '--url',
      platform.url,
      '--token',
      token,
      '--dir',
      dir,
    ]);
    assert.equal(enrolled.code, 0, enrolled.stderr);
    deviceId = (
      await call(platform, 'POST', '/v1/devices', key, {
        name: 'meter',
        edgeNodeId: readNodeFile(dir).nodeId,
      })
    ).id;
  });
  after(async () => {
    await platform.close();
    await fixture.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it("backs off for at least the platform's Retry-After and delivers everything once", async () => {
    const node = readNodeFile(dir);
    const outbox = new Outbox(outboxPath(dir), Buffer.from(node.outboxKey, 'base64'), {
      maxMessages: 100,
    });
    const now = Date.now();
    for (let i = 0; i < 6; i++) outbox.accept(deviceId, { ts: now - 1000 + i, values: { n: i } });
    const metrics = new EdgeMetrics(outbox);
    const server = await serveMetrics(metrics.registry, { host: '127.0.0.1', port: 0 });
    const failures: { error: unknown; retryInMs: number }[] = [];
    // A 10 ms back-off base: without Retry-After the loop would come back at once.
    const loop: SyncLoop = new SyncLoop(
      outbox,
      node,
      { ...DEFAULT_SYNC, batchMaxMessages: 2, backoffBaseMs: 10, idleMs: 10 },
      {
        synced(batch, result) {
          metrics.confirmed(batch.messages.length, result.applied);
          if (outbox.size() === 0) loop.stop();
        },
        failed(error, _failures, retryInMs) {
          metrics.failed();
          failures.push({ error, retryInMs });
        },
      },
    );
    try {
      const before = await (await fetch(server.url)).text();
      assert.match(before, /^palisade_edge_backlog_messages 6$/m);
      await loop.run();
      const refusals = failures.filter(
        (f) => f.error instanceof PlatformRefusedError && f.error.status === 429,
      );
      assert.ok(refusals.length > 0, 'the quota refused at least one batch');
      assert.equal(refusals.length, failures.length, 'every failure was a quota refusal');
      for (const { error, retryInMs } of refusals) {
        const after = (error as PlatformRefusedError).retryAfterMs;
        assert.ok(after !== undefined && after >= 1000, 'the 429 carried Retry-After');
        assert.ok(retryInMs >= after, `waited ${retryInMs} ms, Retry-After said ${after} ms`);
      }
      assert.ok(refusals.length <= 2, `${refusals.length} refusals: the loop came back too early`);
      const stored = await call(
        platform,
        'GET',
        `/v1/devices/${deviceId}/telemetry?keys=n&from=0&to=${now + 60_000}&limit=100`,
        key,
      );
      assert.deepEqual(
        (stored.n as { value: number }[]).map((p) => p.value),
        [0, 1, 2, 3, 4, 5],
      );
      const text = await (await fetch(server.url)).text();
      for (const line of [
        'palisade_edge_backlog_messages 0',
        'palisade_edge_backlog_oldest_age_seconds 0',
        'palisade_edge_synced_messages_total 6',
        'palisade_edge_sync_batches_total{outcome="confirmed"} 3',
        `palisade_edge_sync_batches_total{outcome="failed"} ${failures.length}`,
        'palisade_edge_link_up 1',
      ])
        assert.ok(text.includes(line), `${line} in\n${text}`);
      assert.match(text, /^palisade_edge_drain_rate_messages_per_second 0\.1$/m);
      assert.equal((await fetch(server.url.replace('/metrics', '/other'))).status, 404);
    } finally {
      await server.close();
      outbox.close();
    }
  });
});
