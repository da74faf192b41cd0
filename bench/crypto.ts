/**
 * `npm run bench -- crypto [--quick]`: what encrypted fields cost.
 *
 * - records/s created and read through the platform (Fastify `inject`: routing, auth, schema
 *   validation, group commit to SQLite with fsync, ledger; no sockets, whose noise would hide
 *   the difference) for a collection with two encrypted fields vs the same records unencrypted;
 * - raw AES-256-GCM MB/s from node:crypto on 64 KiB messages (the limit);
 * - X-Wing data key wrap/unwrap per second.
 */
import { createCipheriv, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataKey, unwrapDataKey, wrapDataKey, XWingSecretKey } from '@palisade/crypto';
import { loadSettings, startPlatform } from '@palisade/server';

const ADMIN = `pa_bench_${'b'.repeat(40)}`;
/** Requests in flight at once. */
const CONCURRENCY = 64;

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
  records: number,
): Promise<Record<string, { create: number; read: number }>> {
  const data = mkdtempSync(join(tmpdir(), 'palisade-bench-crypto-'));
  const settings = loadSettings({
    flags: { data, logLevel: 'silent', adminToken: ADMIN },
    env: {},
    configFile: null,
  });
  const platform = await startPlatform(settings, { listen: false });
  const call = async (
    method: 'GET' | 'POST' | 'PUT',
    url: string,
    token: string,
    body?: unknown,
  ) => {
    const response = await platform.http.inject({
      method,
      url,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });
    return response.json();
  };
  try {
    const tenant = await call('POST', '/v1/platform/tenants', ADMIN, {
      slug: 'bench',
      name: 'Bench',
    });
    const key = (await call('POST', `/v1/platform/tenants/${tenant.id}/api-keys`, ADMIN, {}))
      .secret as string;
    const schema = {
      type: 'object',
      required: ['name', 'ssn'],
      properties: {
        name: { type: 'string' },
        ward: { type: 'string' },
        ssn: { type: 'string' },
        notes: { type: 'string' },
      },
    };
    await call('PUT', '/v1/collections/plain', key, { schema });
    await call('PUT', '/v1/collections/sealed', key, { schema, encrypted: ['ssn', 'notes'] });
    const out: Record<string, { create: number; read: number }> = {};
    // Alternate the two collections in rounds so warm-up and disk state favour neither.
    const ids: Record<string, string[]> = { plain: [], sealed: [] };
    const createMs: Record<string, number> = { plain: 0, sealed: 0 };
    const readMs: Record<string, number> = { plain: 0, sealed: 0 };
    const round = records / 4;
    for (let r = 0; r < 4; r++) {
      for (const name of r % 2 === 0 ? ['plain', 'sealed'] : ['sealed', 'plain']) {
        const start = performance.now();
        for (let i = 0; i < round; i += CONCURRENCY) {
          const batch = await Promise.all(
            Array.from({ length: Math.min(CONCURRENCY, round - i) }, (_, j) =>
              call('POST', `/v1/collections/${name}/records`, key, {
                name: `patient ${r}-${i + j}`,
                ward: 'B',
                ssn: `${100 + j}-45-${1000 + i}`,
                notes: 'allergic to penicillin; follow-up in two weeks',
              }),
            ),
          );
          ids[name]!.push(...batch.map((b) => b.id as string));
        }
        createMs[name]! += performance.now() - start;
      }
    }
    for (const name of ['plain', 'sealed', 'plain', 'sealed']) {
      const list = ids[name]!;
      const start = performance.now();
      for (let i = 0; i < list.length; i += CONCURRENCY)
        await Promise.all(
          list
            .slice(i, i + CONCURRENCY)
            .map((id) => call('GET', `/v1/collections/${name}/records/${id}`, key)),
        );
      readMs[name]! += performance.now() - start;
    }
    for (const name of ['plain', 'sealed'])
      out[name] = {
        create: (records * 1000) / createMs[name]!,
        read: (2 * records * 1000) / readMs[name]!,
      };
    return out;
  } finally {
    await platform.close();
    rmSync(data, { recursive: true, force: true });
  }
}

export async function run(args: string[]): Promise<void> {
  const quick = args.includes('--quick');
  const records = quick ? 800 : 8000;
  const ms = quick ? 200 : 800;
  const rates = await recordRates(records);
  const plain = rates.plain!;
  const sealed = rates.sealed!;
  const slower = (a: number, b: number) => `${(((a - b) / a) * 100).toFixed(1)}% slower`;
  console.log(
    `records through the platform (inject, SQLite, ${records} per collection, ${CONCURRENCY} in flight)`,
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
