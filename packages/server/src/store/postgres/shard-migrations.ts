import { type PgMigration, quoteIdent } from './postgres-migrate.ts';

const TENANT_TABLES = ['collections', 'records'] as const;

/**
 * Tenant tables of a PostgreSQL shard: tenant_id leads every primary key (so the schema also
 * distributes on Citus), row-level security is FORCEd, and the runtime role may only read and
 * write rows whose tenant_id equals the transaction's `app.tenant_id`. Without it set, the
 * policy compares with NULL: zero rows, and every insert fails its check.
 */
export function shardMigrations(runtimeRole: string): readonly PgMigration[] {
  const role = quoteIdent(runtimeRole);
  const policies = TENANT_TABLES.map(
    (table) => `
      ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY;
      ALTER TABLE ${table} FORCE ROW LEVEL SECURITY;
      CREATE POLICY tenant_isolation ON ${table}
        USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
        WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
      GRANT SELECT, INSERT, UPDATE, DELETE ON ${table} TO ${role};`,
  ).join('\n');
  return [
    {
      version: 1,
      sql: `
        DO $$ BEGIN
          CREATE ROLE ${role} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END $$;
        GRANT USAGE ON SCHEMA public TO ${role};
        CREATE TABLE collections (
          tenant_id uuid NOT NULL,
          name text NOT NULL,
          schema jsonb NOT NULL,
          encrypted jsonb NOT NULL,
          version int NOT NULL,
          created_at timestamptz NOT NULL,
          updated_at timestamptz NOT NULL,
          PRIMARY KEY (tenant_id, name)
        );
        CREATE TABLE records (
          tenant_id uuid NOT NULL,
          collection text NOT NULL,
          id uuid NOT NULL,
          data jsonb NOT NULL,
          version int NOT NULL,
          created_at timestamptz NOT NULL,
          updated_at timestamptz NOT NULL,
          PRIMARY KEY (tenant_id, collection, id),
          FOREIGN KEY (tenant_id, collection) REFERENCES collections (tenant_id, name)
        );
        ${policies}
      `,
    },
  ];
}
