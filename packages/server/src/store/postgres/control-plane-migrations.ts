import type { PgMigration } from './postgres-migrate.ts';

export const PG_CONTROL_PLANE_MIGRATIONS: readonly PgMigration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE platform_settings (key text PRIMARY KEY, value text NOT NULL);
      CREATE TABLE shards (id text PRIMARY KEY, location text NOT NULL);
      CREATE TABLE tenants (
        id uuid PRIMARY KEY,
        slug text NOT NULL UNIQUE,
        name text NOT NULL,
        plan text NOT NULL,
        status text NOT NULL CHECK (status IN ('active', 'suspended', 'deleted')),
        shard text NOT NULL REFERENCES shards (id),
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL
      );
      CREATE TABLE api_keys (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL REFERENCES tenants (id),
        name text NOT NULL,
        secret_hash text NOT NULL UNIQUE,
        created_at timestamptz NOT NULL,
        revoked_at timestamptz
      );
      CREATE INDEX api_keys_by_tenant ON api_keys (tenant_id);
    `,
  },
  {
    version: 2,
    sql: `
      CREATE TABLE tenant_keks (
        tenant_id uuid NOT NULL REFERENCES tenants (id),
        version int NOT NULL,
        public_key bytea NOT NULL,
        sealed_seed bytea NOT NULL,
        created_at timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, version)
      );
      CREATE TABLE pending_key_jobs (
        tenant_id uuid NOT NULL REFERENCES tenants (id),
        job_id uuid NOT NULL,
        PRIMARY KEY (tenant_id, job_id)
      );
    `,
  },
  {
    version: 3,
    sql: `
      CREATE TABLE device_credentials (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL REFERENCES tenants (id),
        device_id uuid,
        kind text NOT NULL CHECK (kind IN ('access_token', 'mqtt_basic', 'x509', 'provisioning')),
        lookup text NOT NULL UNIQUE,
        secret_hash text,
        client_id text,
        created_at timestamptz NOT NULL
      );
      CREATE INDEX device_credentials_by_device ON device_credentials (tenant_id, device_id);
      CREATE TABLE tenant_cas (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL REFERENCES tenants (id),
        pem text NOT NULL,
        fingerprint text NOT NULL,
        created_at timestamptz NOT NULL,
        UNIQUE (fingerprint)
      );
    `,
  },
  {
    version: 4,
    sql: `
      CREATE TABLE oauth_clients (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL REFERENCES tenants (id),
        name text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('service', 'user')),
        secret_hash text,
        redirect_uris jsonb NOT NULL,
        roles jsonb NOT NULL,
        token_algorithm text NOT NULL,
        created_at timestamptz NOT NULL
      );
      CREATE INDEX oauth_clients_by_tenant ON oauth_clients (tenant_id, id);
      CREATE TABLE oidc_keys (
        tenant_id uuid NOT NULL REFERENCES tenants (id),
        kid text NOT NULL,
        use text NOT NULL CHECK (use IN ('sig', 'cookie')),
        alg text NOT NULL,
        public_jwk text NOT NULL,
        sealed_private bytea NOT NULL,
        created_at timestamptz NOT NULL,
        retired_at timestamptz,
        PRIMARY KEY (tenant_id, kid)
      );
      CREATE TABLE oidc_artifacts (
        tenant_id uuid NOT NULL REFERENCES tenants (id),
        model text NOT NULL,
        id text NOT NULL,
        payload jsonb NOT NULL,
        grant_id text,
        user_code text,
        uid text,
        client_id text,
        expires_at bigint,
        PRIMARY KEY (tenant_id, model, id)
      );
      CREATE INDEX oidc_artifacts_by_grant ON oidc_artifacts (tenant_id, grant_id);
      CREATE INDEX oidc_artifacts_by_client ON oidc_artifacts (tenant_id, client_id);
      CREATE INDEX oidc_artifacts_by_uid ON oidc_artifacts (tenant_id, model, uid);
      CREATE INDEX oidc_artifacts_by_user_code ON oidc_artifacts (tenant_id, model, user_code);
      CREATE TABLE oidc_revocations (
        tenant_id uuid NOT NULL REFERENCES tenants (id),
        kind text NOT NULL CHECK (kind IN ('jti', 'grant', 'client')),
        value text NOT NULL,
        expires_at bigint NOT NULL,
        PRIMARY KEY (tenant_id, kind, value)
      );
    `,
  },
  {
    version: 5,
    // Keys issued before roles existed could do everything: they keep doing so as owners.
    sql: `ALTER TABLE api_keys ADD COLUMN roles jsonb NOT NULL DEFAULT '["owner"]';`,
  },
  {
    version: 6,
    sql: `
      CREATE TABLE tenant_cors_origins (
        tenant_id uuid NOT NULL REFERENCES tenants (id),
        origin text NOT NULL,
        PRIMARY KEY (tenant_id, origin)
      );
      CREATE INDEX tenant_cors_origins_by_origin ON tenant_cors_origins (origin);
    `,
  },
  {
    version: 7,
    // One current key per tenant, use and algorithm. Processes that started an issuer at once
    // may have made two: the one the issuer signs with stays (an algorithm's first signing
    // key, the newest cookie secret) and the others retire now, so what they signed still
    // verifies until it expires.
    sql: `
      UPDATE oidc_keys SET retired_at = now()
      WHERE retired_at IS NULL AND EXISTS (
        SELECT 1 FROM oidc_keys AS kept
        WHERE kept.tenant_id = oidc_keys.tenant_id AND kept.use = oidc_keys.use
          AND kept.alg = oidc_keys.alg AND kept.retired_at IS NULL
          AND CASE oidc_keys.use
            WHEN 'sig' THEN (kept.created_at, kept.kid) < (oidc_keys.created_at, oidc_keys.kid)
            ELSE (kept.created_at, kept.kid) > (oidc_keys.created_at, oidc_keys.kid)
          END
      );
      CREATE UNIQUE INDEX oidc_keys_current ON oidc_keys (tenant_id, use, alg) WHERE retired_at IS NULL;
    `,
  },
  {
    version: 8,
    // A tenant being created: its row holds its slug, but it is shown nowhere until its
    // creation finishes and this row goes. One left by a process that died mid-creation is
    // taken back by the next start, or by the next creation of its slug.
    sql: `
      CREATE TABLE tenant_creations (
        tenant_id uuid PRIMARY KEY REFERENCES tenants (id),
        started_at timestamptz NOT NULL
      );
    `,
  },
  {
    version: 9,
    // The DPoP proofs every API process accepted, until their windows end (epoch ms). UNLOGGED:
    // a proof lives about a minute, so the table needs no WAL and no flush at commit. No
    // foreign key to tenants: its check on every DPoP request would lock the tenant's row; a
    // tenant's deletion erases its proofs with its issuer.
    sql: `
      CREATE UNLOGGED TABLE dpop_proofs (
        digest bytea PRIMARY KEY,
        tenant_id uuid NOT NULL,
        until bigint NOT NULL
      );
      CREATE INDEX dpop_proofs_by_until ON dpop_proofs (until);
      CREATE INDEX dpop_proofs_by_tenant ON dpop_proofs (tenant_id);
    `,
  },
];
