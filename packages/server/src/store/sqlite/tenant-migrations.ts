import type { Migration } from './sqlite-database.ts';

/** Schema of one tenant's SQLite file; applied lazily when the file is first opened. */
export const TENANT_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE collections (
        name TEXT PRIMARY KEY,
        schema TEXT NOT NULL,
        encrypted TEXT NOT NULL,
        version INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      ) STRICT;
      CREATE TABLE records (
        collection TEXT NOT NULL REFERENCES collections (name),
        id TEXT NOT NULL,
        data TEXT NOT NULL,
        version INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (collection, id)
      ) STRICT, WITHOUT ROWID;
    `,
  },
];
