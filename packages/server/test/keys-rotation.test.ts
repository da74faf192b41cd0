/**
 * Rotation survives a crash: a real server process (`palisade start`) takes concurrent writes
 * while `palisade keys rotate` starts a re-encryption job; the server is SIGKILLed mid-job and
 * restarted on the same stores. The job resumes and finishes, every acknowledged record reads
 * back, and the old key version is retired only when no record uses it. The whole log output
 * of both runs is then searched for key material and plaintext: none may appear.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { openTenantKek } from '@palisade/crypto';
import { openPlatformKms } from '../src/keys/index.ts';
import { openStores } from '../src/store/index.ts';
import { type BackendFixture, backendNames, openBackend } from './support/backends.ts';
import { httpCall } from './support/http.ts';
import { type PlatformProcess, startPlatformProcess } from './support/platform-process.ts';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const ADMIN_TOKEN = `pa_rotation_${'r'.repeat(40)}`;
/** Records written before the rotation starts. */
const RECORDS = 1200;
/** Concurrent writer loops during the rotation. */
const WRITERS = 6;
/** Servers still running, killed when a test fails half-way. */
const live = new Set<ChildProcess>();

const SCHEMA = {
  type: 'object',
  required: ['n', 'ssn'],
  additionalProperties: false,
  properties: { n: { type: 'integer' }, ssn: { type: 'string' } },
};

function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PALISADE_ADMIN_TOKEN: ADMIN_TOKEN };
  for (const key of Object.keys(env))
    if (key.startsWith('NODE_TEST') || (key.startsWith('PALISADE_') && !key.endsWith('_TOKEN')))
      delete env[key];
  return env;
}

/** `palisade start` on the fixture's stores, its whole log (both streams) added to `log`. */
async function start(fixture: BackendFixture, log: { text: string }): Promise<PlatformProcess> {
  const server = await startPlatformProcess(fixture, {
    adminToken: ADMIN_TOKEN,
    flags: ['--reencrypt-batch-size', '5'],
    log,
  });
  live.add(server.child);
  server.child.once('exit', () => live.delete(server.child));
  return server;
}

const ssnOf = (n: number, salt: string) => `${salt}-${String(n).padStart(6, '0')}`;

for (const backend of backendNames()) {
  describe(`key rotation across a crash on ${backend}`, () => {
    it('resumes the job after SIGKILL, reads every record back, retires the old version, logs no secrets', async () => {
      const fixture = await openBackend(backend);
      const log = { text: '' };
      const salt = randomBytes(6).toString('hex');
      const acknowledged = new Map<string, string>();
      try {
        let server = await start(fixture, log);
        const tenant = await httpCall(server.url, 'POST', '/v1/platform/tenants', ADMIN_TOKEN, {
          slug: 'rotor',
          name: 'Rotor',
        });
        const key = (
          await httpCall(
            server.url,
            'POST',
            `/v1/platform/tenants/${tenant.body.id}/api-keys`,
            ADMIN_TOKEN,
            {},
          )
        ).body.secret as string;
        await httpCall(server.url, 'PUT', '/v1/collections/people', key, {
          schema: SCHEMA,
          encrypted: ['ssn'],
        });
        let next = 0;
        const write = async (url: string) => {
          const n = next++;
          const created = await httpCall(url, 'POST', '/v1/collections/people/records', key, {
            n,
            ssn: ssnOf(n, salt),
          });
          if (created.status === 201) acknowledged.set(created.body.id, ssnOf(n, salt));
        };
        await Promise.all(
          Array.from({ length: 24 }, async () => {
            while (next < RECORDS) await write(server.url);
          }),
        );
        // Rotate through the CLI while writers keep writing; kill once the job is under way.
        let writing = true;
        const writers = Array.from({ length: WRITERS }, async () => {
          while (writing) await write(server.url).catch(() => undefined);
        });
        const cli = await promisify(execFile)(
          process.execPath,
          [
            '--conditions=@palisade/source',
            'packages/cli/src/main.ts',
            'keys',
            'rotate',
            '--tenant',
            'rotor',
            '--json',
          ],
          {
            cwd: REPO,
            env: { ...cleanEnv(), PALISADE_URL: server.url, PALISADE_TOKEN: ADMIN_TOKEN },
          },
        );
        const jobId = JSON.parse(cli.stdout).id as string;
        for (let i = 0; i < 2000; i++) {
          const job = await httpCall(server.url, 'GET', `/v1/keys/jobs/${jobId}`, key);
          if (job.body.processed > 0) {
            assert.equal(job.body.state, 'running', 'the job must still be running when killed');
            break;
          }
        }
        server.child.kill('SIGKILL');
        await server.exited;
        writing = false;
        await Promise.all(writers);

        server = await start(fixture, log);
        let job = await httpCall(server.url, 'GET', `/v1/keys/jobs/${jobId}`, key);
        for (let i = 0; i < 600 && job.body.state === 'running'; i++) {
          await new Promise((resolve) => setTimeout(resolve, 50));
          job = await httpCall(server.url, 'GET', `/v1/keys/jobs/${jobId}`, key);
        }
        assert.equal(job.body.state, 'done', JSON.stringify(job.body));
        assert.equal(job.body.remaining, 0);
        for (const [id, ssn] of acknowledged) {
          const record = await httpCall(
            server.url,
            'GET',
            `/v1/collections/people/records/${id}`,
            key,
          );
          assert.equal(record.body.data.ssn, ssn);
        }
        const [firstId, firstSsn] = [...acknowledged][0]!;
        const found = await httpCall(
          server.url,
          'GET',
          `/v1/collections/people/records?filter%5Bssn%5D=${firstSsn}`,
          key,
        );
        assert.deepEqual(
          found.body.items.map((r: { id: string }) => r.id),
          [firstId],
        );
        const status = (await httpCall(server.url, 'GET', '/v1/keys', key)).body;
        const fields = status.dataKeys.filter((k: { keyId: string }) => k.keyId === 'fields');
        assert.deepEqual(
          fields.map((k: { version: number; state: string; records: number }) => [
            k.version,
            k.state,
            k.records,
          ]),
          [
            [1, 'retired', 0],
            [2, 'active', fields[1].records],
          ],
        );
        assert.ok(fields[1].records >= acknowledged.size);
        server.child.kill('SIGTERM');
        await server.exited;

        // The logs: a warning about the generated master key, and no secret of any kind.
        assert.match(log.text, /generated a new master key/);
        const masterText = readFileSync(join(fixture.settings.data, 'master.key'), 'utf8').trim();
        const secrets = [
          masterText,
          Buffer.from(masterText, 'base64').toString('hex'),
          key,
          ADMIN_TOKEN,
        ];
        const stores = await openStores(fixture.settings);
        try {
          const kms = await openPlatformKms(fixture.settings, undefined, {
            generateIfMissing: false,
          });
          for (const kek of await stores.controlPlane.keys.listAllKeks()) {
            const seed = (await openTenantKek(kms, kek)).exportSeed();
            secrets.push(seed.toString('hex'), seed.toString('base64'));
          }
        } finally {
          await stores.close();
        }
        for (const secret of secrets)
          assert.ok(!log.text.includes(secret), 'key material in the log');
        assert.ok(!log.text.includes(salt), 'plaintext of an encrypted field in the log');
      } catch (error) {
        throw new Error(
          `${(error as Error).message}\n--- server log (tail) ---\n${log.text.slice(-3000)}`,
        );
      } finally {
        for (const child of live) child.kill('SIGKILL');
        await fixture.cleanup();
      }
    });
  });
}
