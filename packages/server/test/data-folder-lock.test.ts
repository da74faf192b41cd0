/**
 * One server per data folder: a second platform on the folder of a running one refuses to
 * start, naming the process that has it, on SQLite and on PostgreSQL with the in-process bus
 * (whose files live there too). The folder is free again once the first one stops; a killed
 * server's lock is covered by the CLI's start test. Roles split over PostgreSQL and NATS keep
 * nothing of their own there, and may share one.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, startPlatform } from '../src/index.ts';
import { ADMIN_TOKEN, TestApi } from './support/api.ts';
import { backendNames, scaleOutConfigured } from './support/backends.ts';
import { busFlags, deleteNatsStream } from './support/buses.ts';

for (const backend of backendNames()) {
  describe(`the data folder of a running server (${backend})`, () => {
    test('a second server on it refuses to start, naming the first; it starts once that stops', async (t) => {
      const api = await TestApi.start(backend);
      t.after(() => api.close());
      const settings = api.platform.settings;
      await assert.rejects(
        startPlatform(settings, { listen: false }),
        (error: unknown) =>
          error instanceof ConfigError &&
          error.message.includes(`another Palisade server (pid ${process.pid} on `) &&
          error.message.includes(`is running on the data folder ${settings.data}`) &&
          error.message.includes(`stop it (kill -TERM ${process.pid}), or give this server`),
      );
      // The refused start left the running server whole.
      const made = await api.call('POST', '/v1/platform/tenants', ADMIN_TOKEN, {
        slug: 'still',
        name: 'Still here',
      });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      await api.platform.close();
      const next = await startPlatform(settings, { listen: false });
      await next.close();
    });
  });
}

describe('roles split over PostgreSQL and NATS', { skip: !scaleOutConfigured() }, () => {
  test('share a data folder: nothing of theirs is kept there', async (t) => {
    const flags = busFlags('nats');
    const api = await TestApi.start('postgres', flags);
    t.after(async () => {
      await api.close();
      await deleteNatsStream(flags.busPrefix!);
    });
    const worker = await startPlatform(
      { ...api.fixture.settings, adminToken: ADMIN_TOKEN, role: ['worker'] },
      { listen: false },
    );
    await worker.close();
  });
});
