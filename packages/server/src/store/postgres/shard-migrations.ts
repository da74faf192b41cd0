import { type PgMigration, quoteIdent } from './postgres-migrate.ts';

const TENANT_TABLES = ['collections', 'records'] as const;
const LEDGER_TABLES = ['ledger_entries', 'ledger_batches', 'ledger_nodes'] as const;

function isolate(table: string, role: string, grants: string): string {
  return `
      ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY;
      ALTER TABLE ${table} FORCE ROW LEVEL SECURITY;
      CREATE POLICY tenant_isolation ON ${table}
        USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
        WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
      GRANT ${grants} ON ${table} TO ${role};`;
}

/**
 * Tenant tables of a PostgreSQL shard: tenant_id leads every primary key (so the schema also
 * distributes on Citus), row-level security is FORCEd, and the runtime role may only read and
 * write rows whose tenant_id equals the transaction's `app.tenant_id`. Without it set, the
 * policy compares with NULL: zero rows, and every insert fails its check.
 */
export function shardMigrations(runtimeRole: string): readonly PgMigration[] {
  const role = quoteIdent(runtimeRole);
  const policies = TENANT_TABLES.map((table) =>
    isolate(table, role, 'SELECT, INSERT, UPDATE, DELETE'),
  ).join('\n');
  // The runtime role may only append to the ledger: history cannot be rewritten through it.
  const ledgerPolicies = LEDGER_TABLES.map((table) => isolate(table, role, 'SELECT, INSERT')).join(
    '\n',
  );
  const devicePolicies = ['devices', 'telemetry', 'telemetry_latest', 'rpc_requests']
    .map((table) => isolate(table, role, 'SELECT, INSERT, UPDATE, DELETE'))
    .join('\n');
  const keyPolicies = ['data_keys', 'key_jobs']
    .map((table) => isolate(table, role, 'SELECT, INSERT, UPDATE, DELETE'))
    .join('\n');
  const edgePolicies = ['edge_nodes', 'edge_enrollment_tokens', 'edge_batches', 'edge_alerts']
    .map((table) => isolate(table, role, 'SELECT, INSERT, UPDATE, DELETE'))
    .join('\n');
  const userPolicies = ['users', 'user_invitations']
    .map((table) => isolate(table, role, 'SELECT, INSERT, UPDATE, DELETE'))
    .join('\n');
  const authzPolicies = ['roles', 'policy_sets']
    .map((table) => isolate(table, role, 'SELECT, INSERT, UPDATE, DELETE'))
    .join('\n');
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
    {
      version: 2,
      sql: `
        CREATE TABLE ledger_entries (
          tenant_id uuid NOT NULL,
          seq bigint NOT NULL,
          batch bigint NOT NULL,
          resource text NOT NULL,
          entry text NOT NULL,
          salt bytea,
          PRIMARY KEY (tenant_id, seq)
        );
        CREATE INDEX ledger_entries_by_resource ON ledger_entries (tenant_id, resource, seq);
        CREATE TABLE ledger_batches (
          tenant_id uuid NOT NULL,
          batch bigint NOT NULL,
          leaf text NOT NULL,
          PRIMARY KEY (tenant_id, batch)
        );
        CREATE TABLE ledger_nodes (
          tenant_id uuid NOT NULL,
          level int NOT NULL,
          idx bigint NOT NULL,
          hash bytea NOT NULL,
          PRIMARY KEY (tenant_id, level, idx)
        );
        ${ledgerPolicies}
      `,
    },
    {
      version: 3,
      sql: `
        ALTER TABLE records ADD COLUMN sealed jsonb, ADD COLUMN blind jsonb, ADD COLUMN key_version int;
        CREATE INDEX records_by_key_version ON records (tenant_id, key_version) WHERE key_version IS NOT NULL;
        CREATE TABLE data_keys (
          tenant_id uuid NOT NULL,
          key_id text NOT NULL,
          version int NOT NULL,
          kek_version int NOT NULL,
          wrapped bytea,
          sealed_secret bytea,
          state text NOT NULL CHECK (state IN ('active', 'retired')),
          created_at timestamptz NOT NULL,
          retired_at timestamptz,
          PRIMARY KEY (tenant_id, key_id, version)
        );
        CREATE TABLE key_jobs (
          tenant_id uuid NOT NULL,
          id uuid NOT NULL,
          key_id text NOT NULL,
          target_version int NOT NULL,
          state text NOT NULL CHECK (state IN ('running', 'done', 'superseded', 'failed')),
          processed bigint NOT NULL,
          created_at timestamptz NOT NULL,
          updated_at timestamptz NOT NULL,
          finished_at timestamptz,
          error text,
          PRIMARY KEY (tenant_id, id)
        );
        ${keyPolicies}
      `,
    },
    {
      version: 4,
      sql: `
        CREATE TABLE devices (
          tenant_id uuid NOT NULL,
          id uuid NOT NULL,
          name text NOT NULL,
          type text NOT NULL,
          labels jsonb NOT NULL,
          attributes jsonb NOT NULL,
          client_attributes jsonb NOT NULL,
          telemetry_keys jsonb,
          is_gateway boolean NOT NULL,
          gateway_id uuid,
          version int NOT NULL,
          created_at timestamptz NOT NULL,
          updated_at timestamptz NOT NULL,
          PRIMARY KEY (tenant_id, id),
          UNIQUE (tenant_id, name)
        );
        -- Partitioned by time (Unix ms); the retention job creates monthly partitions ahead
        -- and drops those past every plan's retention. The default partition takes the rest.
        CREATE TABLE telemetry (
          tenant_id uuid NOT NULL,
          device_id uuid NOT NULL,
          key text NOT NULL,
          ts bigint NOT NULL,
          type text NOT NULL CHECK (type IN ('number', 'boolean', 'string', 'json')),
          num float8,
          text text,
          PRIMARY KEY (tenant_id, device_id, key, ts)
        ) PARTITION BY RANGE (ts);
        CREATE TABLE telemetry_default PARTITION OF telemetry DEFAULT;
        CREATE INDEX telemetry_by_ts ON telemetry (tenant_id, ts);
        CREATE TABLE telemetry_latest (
          tenant_id uuid NOT NULL,
          device_id uuid NOT NULL,
          key text NOT NULL,
          ts bigint NOT NULL,
          type text NOT NULL,
          num float8,
          text text,
          PRIMARY KEY (tenant_id, device_id, key)
        );
        CREATE TABLE rpc_requests (
          tenant_id uuid NOT NULL,
          id uuid NOT NULL,
          device_id uuid NOT NULL,
          method text NOT NULL,
          params jsonb NOT NULL,
          persistent boolean NOT NULL,
          status text NOT NULL CHECK (status IN ('queued', 'sent', 'succeeded', 'failed', 'expired')),
          response jsonb,
          error text,
          created_at timestamptz NOT NULL,
          expires_at timestamptz NOT NULL,
          updated_at timestamptz NOT NULL,
          PRIMARY KEY (tenant_id, id)
        );
        CREATE INDEX rpc_requests_by_device ON rpc_requests (tenant_id, device_id, status, id);
        ${devicePolicies}
      `,
    },
    {
      version: 5,
      sql: `
        CREATE TABLE edge_nodes (
          tenant_id uuid NOT NULL,
          id uuid NOT NULL,
          name text NOT NULL,
          status text NOT NULL CHECK (status IN ('pending', 'active', 'disabled')),
          ed25519 text,
          mldsa65 text,
          credential_hash text,
          key_version int NOT NULL,
          created_at timestamptz NOT NULL,
          updated_at timestamptz NOT NULL,
          PRIMARY KEY (tenant_id, id),
          UNIQUE (tenant_id, credential_hash)
        );
        CREATE TABLE edge_enrollment_tokens (
          tenant_id uuid NOT NULL,
          token_hash text NOT NULL,
          name text NOT NULL,
          node_id uuid,
          expires_at timestamptz NOT NULL,
          created_at timestamptz NOT NULL,
          PRIMARY KEY (tenant_id, token_hash)
        );
        CREATE TABLE edge_batches (
          tenant_id uuid NOT NULL,
          node_id uuid NOT NULL,
          batch_id text NOT NULL,
          content_hash text NOT NULL,
          signatures jsonb NOT NULL,
          result jsonb NOT NULL,
          applied_at timestamptz NOT NULL,
          PRIMARY KEY (tenant_id, node_id, batch_id)
        );
        CREATE TABLE edge_alerts (
          tenant_id uuid NOT NULL,
          id uuid NOT NULL,
          node_id uuid NOT NULL,
          kind text NOT NULL,
          batch_id text,
          detail jsonb NOT NULL,
          created_at timestamptz NOT NULL,
          PRIMARY KEY (tenant_id, id)
        );
        CREATE INDEX edge_alerts_by_node ON edge_alerts (tenant_id, node_id, id);
        ${edgePolicies}
      `,
    },
    {
      version: 6,
      sql: `
        CREATE TABLE users (
          tenant_id uuid NOT NULL,
          id uuid NOT NULL,
          email text NOT NULL,
          name text NOT NULL,
          roles jsonb NOT NULL,
          disabled boolean NOT NULL,
          password_hash text,
          totp_key bytea,
          totp_secret bytea,
          totp_last_step bigint,
          failed_sign_ins int NOT NULL,
          locked_until timestamptz,
          version int NOT NULL,
          created_at timestamptz NOT NULL,
          updated_at timestamptz NOT NULL,
          PRIMARY KEY (tenant_id, id),
          UNIQUE (tenant_id, email)
        );
        CREATE TABLE user_invitations (
          tenant_id uuid NOT NULL,
          user_id uuid NOT NULL,
          token_hash text NOT NULL,
          expires_at timestamptz NOT NULL,
          created_at timestamptz NOT NULL,
          PRIMARY KEY (tenant_id, user_id),
          UNIQUE (tenant_id, token_hash),
          FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
        );
        ${userPolicies}
      `,
    },
    {
      version: 7,
      sql: `
        CREATE TABLE roles (
          tenant_id uuid NOT NULL,
          name text NOT NULL,
          description text NOT NULL,
          permissions jsonb NOT NULL,
          version int NOT NULL,
          created_at timestamptz NOT NULL,
          updated_at timestamptz NOT NULL,
          PRIMARY KEY (tenant_id, name)
        );
        CREATE TABLE policy_sets (
          tenant_id uuid PRIMARY KEY,
          text text NOT NULL,
          version int NOT NULL,
          updated_at timestamptz NOT NULL
        );
        ${authzPolicies}
      `,
    },
    {
      version: 8,
      sql: `
        CREATE TABLE device_ca_keys (
          tenant_id uuid NOT NULL,
          ca_id uuid NOT NULL,
          wrapped_key bytea NOT NULL,
          sealed_key bytea NOT NULL,
          created_at timestamptz NOT NULL,
          PRIMARY KEY (tenant_id, ca_id)
        );
        ${isolate('device_ca_keys', role, 'SELECT, INSERT, DELETE')}
      `,
    },
    {
      version: 9,
      sql: `
        ALTER TABLE devices ADD COLUMN edge_node_id uuid;
        CREATE INDEX devices_by_edge_node ON devices (tenant_id, edge_node_id, id)
          WHERE edge_node_id IS NOT NULL;
      `,
    },
    {
      version: 10,
      sql: `
        CREATE TABLE edge_rule_sets (
          tenant_id uuid NOT NULL,
          device_type text NOT NULL,
          rules jsonb NOT NULL,
          created_at timestamptz NOT NULL,
          updated_at timestamptz NOT NULL,
          PRIMARY KEY (tenant_id, device_type)
        );
        ${isolate('edge_rule_sets', role, 'SELECT, INSERT, UPDATE, DELETE')}
      `,
    },
    {
      // As in SQLite: device telemetry (an entry per message) is not indexed by resource.
      version: 11,
      sql: `
        DROP INDEX ledger_entries_by_resource;
        CREATE INDEX ledger_entries_by_resource ON ledger_entries (tenant_id, resource, seq)
          WHERE resource NOT LIKE 'telemetry/%';
      `,
    },
    {
      // As in SQLite: the last time each device left each edge node (see EdgeService).
      version: 12,
      sql: `
        CREATE TABLE device_edge_history (
          tenant_id uuid NOT NULL,
          device_id uuid NOT NULL,
          edge_node_id uuid NOT NULL,
          unassigned_at timestamptz NOT NULL,
          PRIMARY KEY (tenant_id, device_id, edge_node_id)
        );
        ${isolate('device_edge_history', role, 'SELECT, INSERT, UPDATE, DELETE')}
      `,
    },
    {
      version: 13,
      sql: 'ALTER TABLE users ADD COLUMN sessions_not_before timestamptz;',
    },
    {
      // Telemetry keys sort by code point, as on SQLite, whatever the database's default
      // collation: a raw query's limit then cuts the same points on both. In the column, so
      // the primary key still yields that order (ORDER BY key COLLATE "C" would sort instead).
      version: 14,
      sql: `
        ALTER TABLE telemetry ALTER COLUMN key TYPE text COLLATE "C";
        ALTER TABLE telemetry_latest ALTER COLUMN key TYPE text COLLATE "C";
      `,
    },
    {
      // As in SQLite: a gateway's children are counted each time it creates one.
      version: 15,
      sql: `CREATE INDEX devices_by_gateway ON devices (tenant_id, gateway_id)
        WHERE gateway_id IS NOT NULL;`,
    },
    {
      // As in SQLite: when the current run of failed sign-ins began.
      version: 16,
      sql: 'ALTER TABLE users ADD COLUMN sign_in_failures_since timestamptz;',
    },
    {
      // As in SQLite: failed sign-ins and locks per user name, a user's or not.
      version: 17,
      sql: `
        CREATE TABLE sign_in_failures (
          tenant_id uuid NOT NULL,
          name_key text NOT NULL,
          failures int NOT NULL,
          run_from timestamptz NOT NULL,
          locked_until timestamptz,
          PRIMARY KEY (tenant_id, name_key)
        );
        CREATE INDEX sign_in_failures_by_run ON sign_in_failures (tenant_id, run_from);
        ${isolate('sign_in_failures', role, 'SELECT, INSERT, UPDATE, DELETE')}
        ALTER TABLE users DROP COLUMN failed_sign_ins, DROP COLUMN locked_until,
          DROP COLUMN sign_in_failures_since;
      `,
    },
    {
      // No default partition: with one, retention could not detach old months CONCURRENTLY
      // (see telemetry-partition-drop.ts). Its rows move to monthly partitions of their own.
      // FORCEd RLS binds the owner unless it is a superuser, so it is lifted from the old
      // table (to read every tenant's rows) and, within this transaction, from the parent.
      version: 18,
      sql: `
        ALTER TABLE telemetry DETACH PARTITION telemetry_default;
        ALTER TABLE telemetry_default NO FORCE ROW LEVEL SECURITY;
        ALTER TABLE telemetry NO FORCE ROW LEVEL SECURITY;
        DO $$
        DECLARE month timestamp;
        BEGIN
          FOR month IN
            SELECT DISTINCT date_trunc('month', to_timestamp(ts / 1000.0) AT TIME ZONE 'UTC')
            FROM telemetry_default
          LOOP
            EXECUTE format(
              'CREATE TABLE %1$I PARTITION OF telemetry FOR VALUES FROM (%2$s) TO (%3$s);
               ALTER TABLE %1$I ENABLE ROW LEVEL SECURITY; ALTER TABLE %1$I FORCE ROW LEVEL SECURITY',
              'telemetry_p' || to_char(month, 'YYYYMM'),
              (extract(epoch FROM month) * 1000)::bigint,
              (extract(epoch FROM month + interval '1 month') * 1000)::bigint);
          END LOOP;
        END $$;
        INSERT INTO telemetry SELECT * FROM telemetry_default;
        DROP TABLE telemetry_default;
        ALTER TABLE telemetry FORCE ROW LEVEL SECURITY;
      `,
    },
    {
      // An edge alert counts the repeats of its kind against its node within the alert window
      // (edgeAlertWindowMs) instead of one row each; an alert made before stands for one. RLS
      // is lifted for the fill, as in version 18, so that it reaches every tenant's alerts.
      version: 19,
      sql: `
        ALTER TABLE edge_alerts ADD COLUMN count integer NOT NULL DEFAULT 1,
          ADD COLUMN last_seen_at timestamptz;
        ALTER TABLE edge_alerts NO FORCE ROW LEVEL SECURITY;
        UPDATE edge_alerts SET last_seen_at = created_at;
        ALTER TABLE edge_alerts FORCE ROW LEVEL SECURITY;
        ALTER TABLE edge_alerts ALTER COLUMN last_seen_at SET NOT NULL;
      `,
    },
    {
      // As in SQLite: the rows keyed by a plain hash of the name go (TRUNCATE, unlike DELETE,
      // is not bound by the table's row-level security, so it reaches every tenant's rows).
      version: 20,
      sql: 'TRUNCATE sign_in_failures;',
    },
    {
      // As in SQLite: an RPC request the device acknowledged is `delivered`.
      version: 21,
      sql: `
        ALTER TABLE rpc_requests DROP CONSTRAINT rpc_requests_status_check,
          ADD CONSTRAINT rpc_requests_status_check
            CHECK (status IN ('queued', 'sent', 'delivered', 'succeeded', 'failed', 'expired'));
      `,
    },
    {
      // As in SQLite: each data key version counts its encryptions, a field key version's
      // earlier ones bounded by its tenant's record ledger entries. RLS is lifted for the
      // fill, as in version 19, so that it reaches every tenant's rows.
      version: 22,
      sql: `
        ALTER TABLE data_keys ADD COLUMN encryptions bigint NOT NULL DEFAULT 0;
        ALTER TABLE data_keys NO FORCE ROW LEVEL SECURITY;
        ALTER TABLE ledger_entries NO FORCE ROW LEVEL SECURITY;
        UPDATE data_keys d SET encryptions = CASE d.key_id
          WHEN 'fields' THEN (SELECT count(*) FROM ledger_entries e
            WHERE e.tenant_id = d.tenant_id AND e.resource LIKE 'collections/%')
          ELSE 1 END;
        ALTER TABLE ledger_entries FORCE ROW LEVEL SECURITY;
        ALTER TABLE data_keys FORCE ROW LEVEL SECURITY;
      `,
    },
    {
      // As in SQLite: an edge batch keeps the node's sequence number, unique per node and key
      // version.
      version: 23,
      sql: `
        ALTER TABLE edge_batches ADD COLUMN key_version integer, ADD COLUMN seq bigint;
        CREATE UNIQUE INDEX edge_batches_by_seq ON edge_batches (tenant_id, node_id, key_version, seq)
          WHERE seq IS NOT NULL;
      `,
    },
    {
      // The tenants dropped from the shard, which no write transaction may commit for, in any
      // process. Written by the owner as it drops one; the runtime role only looks up its own
      // tenant, through the function every write transaction opens with (see
      // postgres-tenant-store.ts): it binds the transaction to the tenant, holds the tenant's
      // live lock shared (the key as tenant-lock.ts makes it), then answers whether the
      // tenant is still there. Being VOLATILE, its last query takes a snapshot of its own,
      // after the lock: it sees a drop that committed while it waited. PL/pgSQL keeps that
      // query's plan for the session.
      version: 24,
      sql: `
        CREATE TABLE dropped_tenants (
          tenant_id uuid PRIMARY KEY,
          dropped_at timestamptz NOT NULL DEFAULT now()
        );
        ${isolate('dropped_tenants', role, 'SELECT')}
        CREATE FUNCTION palisade_write_tenant(tenant text) RETURNS boolean
          LANGUAGE plpgsql VOLATILE AS $$
          BEGIN
            PERFORM set_config('app.tenant_id', tenant, true);
            PERFORM pg_advisory_xact_lock_shared(
              hashtextextended('palisade.tenant-lock:' || tenant || ':live', 0));
            RETURN NOT EXISTS (SELECT FROM dropped_tenants WHERE tenant_id = tenant::uuid);
          END $$;
      `,
    },
    {
      // As in SQLite: the sign-in a user's own credential change keeps, and a TOTP secret
      // waiting for its confirming code.
      version: 25,
      sql: `
        ALTER TABLE users ADD COLUMN kept_sign_in text, ADD COLUMN totp_pending_key bytea,
          ADD COLUMN totp_pending_secret bytea;
      `,
    },
    {
      // palisade_write_tenant named dropped_tenants unqualified, and a session's temporary
      // tables come first in its search path: a runtime-role session could hide every
      // tombstone behind a temporary table of that name. The table (and the cast's type) are
      // now named with their schemas; functions are looked up in pg_catalog first anyway.
      version: 26,
      sql: `
        DO $migration$ BEGIN EXECUTE format($function$
          CREATE OR REPLACE FUNCTION palisade_write_tenant(tenant text) RETURNS boolean
            LANGUAGE plpgsql VOLATILE AS $body$
            BEGIN
              PERFORM set_config('app.tenant_id', tenant, true);
              PERFORM pg_advisory_xact_lock_shared(
                hashtextextended('palisade.tenant-lock:' || tenant || ':live', 0));
              RETURN NOT EXISTS (
                SELECT FROM %I.dropped_tenants WHERE tenant_id = tenant::pg_catalog.uuid);
            END $body$
        $function$, current_schema()); END $migration$;
      `,
    },
  ];
}
