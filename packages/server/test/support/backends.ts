import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { loadSettings, type Settings } from '../../src/index.ts';

/** A storage backend under test: settings that point at fresh, private stores, and their removal. */
export interface BackendFixture {
  readonly name: 'sqlite' | 'postgres';
  readonly settings: Settings;
  /** PostgreSQL only: the admin URL of each shard database, for raw inspection. */
  readonly shardUrls: readonly string[];
  readonly runtimeRole: string;
  cleanup(): Promise<void>;
}

export type BackendName = BackendFixture['name'];

/** The backends every conformance suite runs on: SQLite always, PostgreSQL when a server is configured. */
export function backendNames(): BackendName[] {
  return process.env.PALISADE_TEST_POSTGRES_URL === undefined ? ['sqlite'] : ['sqlite', 'postgres'];
}

/** Whether the scale-out suites run: a PostgreSQL and a NATS server are both configured. */
export function scaleOutConfigured(): boolean {
  return backendNames().includes('postgres') && process.env.PALISADE_TEST_NATS_URL !== undefined;
}

function baseSettings(data: string, overrides: Record<string, string | string[]>): Settings {
  return loadSettings({
    flags: { data, listen: '127.0.0.1:0', logLevel: 'silent', ...overrides },
    env: {},
    configFile: null,
  });
}

/** How the PostgreSQL databases are made (SQLite ignores it). */
export interface BackendOptions {
  /** An ICU locale for the databases' default collation (`C.UTF-8` otherwise), as many hosts have. */
  readonly icuLocale?: string;
}

/**
 * Fresh stores for one test: a temporary data folder, and on PostgreSQL a control-plane
 * database plus two shard databases and a runtime role, all under a random prefix and all
 * removed by `cleanup`.
 */
export async function openBackend(
  name: BackendName,
  overrides: Record<string, string | string[]> = {},
  options: BackendOptions = {},
): Promise<BackendFixture> {
  const data = mkdtempSync(join(tmpdir(), 'palisade-test-'));
  if (name === 'sqlite') {
    return {
      name,
      settings: baseSettings(data, { shards: ['s1', 's2'], ...overrides }),
      shardUrls: [],
      runtimeRole: '',
      cleanup: async () => rmSync(data, { recursive: true, force: true }),
    };
  }
  const adminUrl = process.env.PALISADE_TEST_POSTGRES_URL!;
  const prefix = `palisade_t${randomBytes(5).toString('hex')}`;
  const databases = [`${prefix}_cp`, `${prefix}_s1`, `${prefix}_s2`];
  const urlOf = (db: string) => {
    const url = new URL(adminUrl);
    url.pathname = `/${db}`;
    return url.toString();
  };
  const runtimeRole = `${prefix}_rt`;
  const settings = baseSettings(data, {
    database: urlOf(databases[0]!),
    shards: [`s1=${urlOf(databases[1]!)}`, `s2=${urlOf(databases[2]!)}`],
    postgresRuntimeRole: runtimeRole,
    postgresPoolSize: '4',
    ...overrides,
  });
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  const locale =
    options.icuLocale === undefined
      ? ''
      : ` TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE '${options.icuLocale}'`;
  for (const db of databases) await admin.query(`CREATE DATABASE ${db}${locale}`);
  await admin.end();
  return {
    name,
    settings,
    shardUrls: [urlOf(databases[1]!), urlOf(databases[2]!)],
    runtimeRole,
    cleanup: async () => {
      rmSync(data, { recursive: true, force: true });
      // Each DROP DATABASE waits for the server to finish a checkpoint: side by side, on
      // connections of their own, the three share it instead of waiting one after another.
      await Promise.all(
        databases.map((db) => adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`)),
      );
      await adminQuery(adminUrl, `DROP ROLE IF EXISTS ${runtimeRole}`);
    },
  };
}

/** Runs one statement on its own connection to `url`. */
async function adminQuery(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
