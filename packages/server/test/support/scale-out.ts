import type { TestContext } from 'node:test';
import { type Platform, startPlatform } from '../../src/index.ts';
import { ADMIN_TOKEN, TestApi } from './api.ts';
import { busFlags, deleteNatsStream } from './buses.ts';

/**
 * Two processes of one platform on PostgreSQL and NATS: an API process (driven through
 * inject) and an ingest process on its stores. Both are closed, and their stream deleted,
 * after the test.
 */
export async function apiAndIngest(t: TestContext): Promise<{ api: TestApi; ingest: Platform }> {
  const flags = busFlags('nats');
  const api = await TestApi.start('postgres', flags);
  t.after(async () => {
    await api.close();
    await deleteNatsStream(flags.busPrefix!);
  });
  const ingest = await startPlatform(
    { ...api.fixture.settings, adminToken: ADMIN_TOKEN, role: ['ingest'] },
    { listen: false },
  );
  t.after(() => ingest.close());
  return { api, ingest };
}
