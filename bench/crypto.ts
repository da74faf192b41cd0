/**
 * `npm run bench -- crypto [--quick]`: what encrypted fields cost.
 *
 * - records/s created and read by id end to end, as in the records benchmark (a
 *   `palisade start` process on SQLite, autocannon in another process, over HTTP), for a
 *   collection with two encrypted fields vs the same records in an unencrypted collection of
 *   the same server; phases alternate (plain, sealed, sealed, plain) so drift in the machine's
 *   load falls on both sides;
 * - raw AES-256-GCM MB/s from node:crypto on 64 KiB messages (the limit);
 * - X-Wing data key wrap/unwrap per second.
 */
import { createCipheriv, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataKey, unwrapDataKey, wrapDataKey, XWingSecretKey } from '@palisade/crypto';
import { call, load, type Options, startPalisade } from './_processes.ts';
import type { LoadFigures } from './_records-load.ts';

const ADMIN_TOKEN = `pa_bench_${randomBytes(24).toString('base64url')}`;
/** Concurrent connections of the load generator, as in the records benchmark. */
const CONNECTIONS = 64;
/** Records created per collection before the read phases; reads cycle through them. */
const READ_SET = 500;
const SCHEMA = {
  type: 'object',
  required: ['name', 'ssn'],
  properties: {
    name: { type: 'string' },
    ward: { type: 'string' },
    ssn: { type: 'string' },
    notes: { type: 'string' },
  },
};
const BODY = JSON.stringify({
  name: 'patient',
  ward: 'B',
  ssn: '123-45-6789',
  notes: 'allergic to penicillin; follow-up in two weeks',
});
const COLLECTIONS = ['plain', 'sealed'] as const;
type Collection = (typeof COLLECTIONS)[number];

function perSecond(fn: () => void, ms: number): number {
  for (let i = 0; i < 20; i++) fn();
  let ops = 0;
  const start = performance.now();
  while (performance.now() - start < ms) {
    for (let i = 0; i < 10; i++) fn();
    ops += 10;
  }
  return (ops * 1000) / (performance.now() - start);
}

async function recordRates(
  options: Options,
): Promise<Record<Collection, { create: number; read: number }>> {
  const data = mkdtempSync(join(tmpdir(), 'palisade-bench-crypto-'));
  const server = await startPalisade(ADMIN_TOKEN, ['--data', data, '--mqtt', 'off']);
  try {
    const { url } = server;
    const tenant = await call<{ id: string }>(url, 'POST', '/v1/platform/tenants', ADMIN_TOKEN, {
      slug: 'bench',
      name: 'Bench',
    });
    const { secret: key } = await call<{ secret: string }>(
      url,
      'POST',
      `/v1/platform/tenants/${tenant.id}/api-keys`,
      ADMIN_TOKEN,
      {},
    );
    await call(url, 'PUT', '/v1/collections/plain', key, { schema: SCHEMA });
    await call(url, 'PUT', '/v1/collections/sealed', key, {
      schema: SCHEMA,
      encrypted: ['ssn', 'notes'],
    });
    const ids: Record<Collection, string[]> = { plain: [], sealed: [] };
    for (const name of COLLECTIONS) {
      const worker = async () => {
        while (ids[name].length < READ_SET) {
          const path = `/v1/collections/${name}/records`;
          ids[name].push((await call<{ id: string }>(url, 'POST', path, key, JSON.parse(BODY))).id);
        }
      };
      await Promise.all(Array.from({ length: 16 }, worker));
    }
    const headers = { authorization: `Bearer ${key}` };
    const sums: Record<Collection, { create: number; read: number }> = {
      plain: { create: 0, read: 0 },
      sealed: { create: 0, read: 0 },
    };
    const add = (name: Collection, kind: 'create' | 'read', figures: LoadFigures) => {
      sums[name][kind] += figures.requestsPerSecond / 2;
    };
    for (const name of ['plain', 'sealed', 'sealed', 'plain'] as const) {
      const paths = ids[name].map((id) => `/v1/collections/${name}/records/${id}`);
      add(name, 'read', await load(options, { url, method: 'GET', paths, headers }));
    }
    for (const name of ['plain', 'sealed', 'sealed', 'plain'] as const) {
      add(
        name,
        'create',
        await load(options, {
          url,
          method: 'POST',
          paths: [`/v1/collections/${name}/records`],
          headers: { ...headers, 'content-type': 'application/json' },
          body: BODY,
        }),
      );
    }
    return sums;
  } finally {
    await server.stop();
    rmSync(data, { recursive: true, force: true });
  }
}

export async function run(args: string[]): Promise<void> {
  const quick = args.includes('--quick');
  const options: Options = { connections: CONNECTIONS, durationSeconds: quick ? 2 : 8 };
  const ms = quick ? 200 : 800;
  const { plain, sealed } = await recordRates(options);
  const slower = (a: number, b: number) => {
    const percent = ((a - b) / a) * 100;
    return `${percent.toFixed(1)}% slower, ${percent <= 15 ? 'meets' : 'MISSES'} goal ≤ 15%`;
  };
  console.log(
    `records end to end over HTTP (palisade start on SQLite, autocannon in its own process, ${CONNECTIONS} connections, 2 × ${options.durationSeconds} s per figure)`,
  );
  console.log(
    `  create: unencrypted ${plain.create.toFixed(0)}/s, 2 encrypted fields ${sealed.create.toFixed(0)}/s (${slower(plain.create, sealed.create)})`,
  );
  console.log(
    `  read:   unencrypted ${plain.read.toFixed(0)}/s, 2 encrypted fields ${sealed.read.toFixed(0)}/s (${slower(plain.read, sealed.read)})`,
  );
  const key = randomBytes(32);
  const message = randomBytes(64 * 1024);
  const gcm = perSecond(() => {
    const cipher = createCipheriv('aes-256-gcm', key, randomBytes(12));
    cipher.update(message);
    cipher.final();
    cipher.getAuthTag();
  }, ms);
  console.log(
    `raw AES-256-GCM (node:crypto, 64 KiB messages): ${((gcm * message.length) / 1e6).toFixed(0)} MB/s`,
  );
  const kek = XWingSecretKey.generate();
  const dataKey = DataKey.generate('fields', 1);
  const context = { tenantId: 'bench', kekVersion: 1 };
  const wrapped = wrapDataKey(kek.publicKey, dataKey, context);
  const wrap = perSecond(() => void wrapDataKey(kek.publicKey, dataKey, context), ms);
  const unwrap = perSecond(() => unwrapDataKey(kek, context, wrapped).destroy(), ms);
  console.log(`X-Wing data key wrap: ${wrap.toFixed(0)}/s, unwrap: ${unwrap.toFixed(0)}/s`);
}
