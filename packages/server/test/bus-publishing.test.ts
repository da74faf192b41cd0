import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { BusMessage } from '../src/bus/index.ts';
import { type Platform, startPlatform } from '../src/index.ts';
import { issueTenantContext } from '../src/tenancy/tenant-context.ts';
import { ADMIN_TOKEN, PEOPLE_SCHEMA, TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';
import { busFlags, busNames, deleteNatsStream, until } from './support/buses.ts';

/**
 * What the platform publishes today, on every backend and bus: each committed write as
 * `<prefix>.<tenant>.<kind>.<key>` with id `<tenant>:<ledger seq>`, each sealed checkpoint
 * as a `ledger` event, and after a crash between commit and publish, everything once.
 */

async function writeSome(api: TestApi, slug: string, records: number) {
  const tenant = await api.tenant(slug);
  const put = await api.call('PUT', '/v1/collections/people', tenant.key, {
    schema: PEOPLE_SCHEMA,
  });
  assert.equal(put.status, 201);
  const ids: string[] = [];
  for (let i = 0; i < records; i++) {
    const created = await api.call('POST', '/v1/collections/people/records', tenant.key, {
      name: `P${i}`,
    });
    assert.equal(created.status, 201);
    ids.push(created.body.id);
  }
  return { ...tenant, recordIds: ids };
}

/** Platform-wide consumer that acks everything until `done` says it has seen enough. */
async function consume(
  platform: Platform,
  durable: string,
  enough: (seen: BusMessage[]) => boolean,
) {
  const seen: BusMessage[] = [];
  const { tick, done } = until(() => enough(seen));
  const sub = await platform.bus.platform.subscribe({
    durable,
    handler: async (m) => {
      seen.push(m);
      await m.ack();
      tick();
    },
  });
  await done;
  await sub.stop();
  return seen;
}

const recordCreated = (tenantId: string, recordId: string) => (seen: BusMessage[]) =>
  seen.some((m) => m.tenantId === tenantId && m.kind === 'record' && m.key[1] === recordId);

for (const backend of backendNames()) {
  for (const bus of busNames()) {
    describe(`publishing committed writes: ${backend}, ${bus} bus`, () => {
      test('writes and sealed checkpoints are published with ledger ids, never data', async (t) => {
        const flags = busFlags(bus);
        const api = await TestApi.start(backend, flags);
        t.after(async () => {
          await api.close();
          await deleteNatsStream(flags.busPrefix!);
        });
        const a = await writeSome(api, 'acme', 3);
        const seen = await consume(api.platform, 'writes', recordCreated(a.id, a.recordIds[2]!));
        // The seal interval may publish a checkpoint event in between: only entries carry a seq.
        const mine = seen.filter((m) => m.tenantId === a.id && m.kind !== 'ledger');
        const seqs = mine.map((m) => (m.payload as { seq: number }).seq);
        assert.deepEqual(
          seqs,
          seqs.map((_, i) => i),
          'every entry once, in ledger order',
        );
        assert.deepEqual(
          mine.map((m) => m.id),
          seqs.map((seq) => `${a.id}:${seq}`),
        );
        const kinds = new Set(mine.map((m) => m.kind));
        for (const kind of ['tenant', 'api-key', 'collection', 'record'])
          assert.ok(kinds.has(kind as never), kind);
        const record = mine.find((m) => m.kind === 'record')!;
        assert.equal(record.subject, `${flags.busPrefix}.${a.id}.record.people.${a.recordIds[0]}`);
        assert.equal((record.payload as { action: string }).action, 'record.create');
        assert.ok(
          !JSON.stringify(mine.map((m) => m.payload)).includes('P0'),
          'no record data on the bus',
        );

        await api.platform.sealer.seal(); // or the interval already did
        const checkpoints = await consume(api.platform, 'checkpoints', (s) =>
          s.some((m) => m.kind === 'ledger' && m.tenantId === a.id),
        );
        const checkpoint = checkpoints.find((m) => m.kind === 'ledger')!;
        const { size } = checkpoint.payload as { size: number; checkpoint: string };
        assert.equal(checkpoint.id, `${a.id}:checkpoint:${size}`);
        assert.equal(checkpoint.subject, `${flags.busPrefix}.${a.id}.ledger.checkpoint`);
      });

      test("a tenant's subscription receives only its own tenant's committed events", async (t) => {
        const flags = busFlags(bus);
        const api = await TestApi.start(backend, flags);
        t.after(async () => {
          await api.close();
          await deleteNatsStream(flags.busPrefix!);
        });
        const a = await writeSome(api, 'alpha', 2);
        const b = await writeSome(api, 'beta', 2);
        await writeSome(api, 'gamma', 1);
        const tenant = (await api.platform.stores.controlPlane.getTenant(b.id))!;
        const context = issueTenantContext(tenant, { kind: 'api-key', id: b.keyId });
        const seen: BusMessage[] = [];
        const { tick, done } = until(() => recordCreated(b.id, b.recordIds[1]!)(seen));
        const sub = await api.platform.bus.subscribe(context, {
          durable: 'mine',
          handler: async (m) => {
            seen.push(m);
            await m.ack();
            tick();
          },
        });
        await done;
        await sub.stop();
        assert.ok(seen.length > 0);
        assert.ok(
          seen.every(
            (m) => m.tenantId === b.id && m.subject.startsWith(`${flags.busPrefix}.${b.id}.`),
          ),
        );
        assert.ok(!seen.some((m) => m.id.startsWith(a.id)));
      });

      test('events committed but not published before a crash are published at the next start, once', async (t) => {
        const flags = busFlags(bus);
        const api = await TestApi.start(backend, flags);
        let second: Platform | undefined;
        t.after(async () => {
          await second?.close();
          await api.fixture.cleanup();
          await deleteNatsStream(flags.busPrefix!);
        });
        const a = await writeSome(api, 'crashy', 3);
        await api.platform.close();
        // The relay's cursor is lost (as if the process died before moving it); in process,
        // the stream too (as if it died before the publish).
        const data = api.fixture.settings.data;
        for (const file of ['bus-outbox.db', ...(bus === 'in-process' ? ['bus.db'] : [])]) {
          for (const suffix of ['', '-wal', '-shm'])
            rmSync(join(data, file + suffix), { force: true });
        }
        second = await startPlatform(
          { ...api.fixture.settings, adminToken: ADMIN_TOKEN },
          { listen: false },
        );
        const seen = await consume(second, 'after-crash', recordCreated(a.id, a.recordIds[2]!));
        const ids = seen.filter((m) => m.kind !== 'ledger').map((m) => m.id);
        assert.equal(new Set(ids).size, ids.length, 'each id once');
        const seqs = seen
          .filter((m) => m.tenantId === a.id && m.kind !== 'ledger')
          .map((m) => (m.payload as { seq: number }).seq);
        assert.deepEqual(
          seqs,
          seqs.map((_, i) => i),
        );
      });
    });
  }
}
