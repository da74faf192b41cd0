import type { Migration } from './sqlite-database.ts';

export const CONTROL_PLANE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE platform_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
      CREATE TABLE shards (id TEXT PRIMARY KEY, location TEXT NOT NULL) STRICT;
      CREATE TABLE tenants (
        id TEXT PRIMARY KEY,
        slug TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        plan TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('active', 'suspended', 'deleted')),
        shard TEXT NOT NULL REFERENCES shards (id),
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      ) STRICT;
      CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL REFERENCES tenants (id),
        name TEXT NOT NULL,
        secret_hash TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        revoked_at TEXT
      ) STRICT;
      CREATE INDEX api_keys_by_tenant ON api_keys (tenant_id);
    `,
  },
  {
    version: 2,
    sql: `
      CREATE TABLE tenant_keks (
        tenant_id TEXT NOT NULL REFERENCES tenants (id),
        version INTEGER NOT NULL,
        public_key BLOB NOT NULL,
        sealed_seed BLOB NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (tenant_id, version)
      ) STRICT;
      CREATE TABLE pending_key_jobs (
        tenant_id TEXT NOT NULL REFERENCES tenants (id),
        job_id TEXT NOT NULL,
        PRIMARY KEY (tenant_id, job_id)
      ) STRICT;
    `,
  },
  {
    version: 3,
    sql: `
      CREATE TABLE device_credentials (
        id TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL REFERENCES tenants (id),
        device_id TEXT,
        kind TEXT NOT NULL CHECK (kind IN ('access_token', 'mqtt_basic', 'x509', 'provisioning')),
        lookup TEXT NOT NULL UNIQUE,
        secret_hash TEXT,
        client_id TEXT,
        created_at TEXT NOT NULL
      ) STRICT;
      CREATE INDEX device_credentials_by_device ON device_credentials (tenant_id, device_id);
      CREATE TABLE tenant_cas (
        id TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL REFERENCES tenants (id),
        pem TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (fingerprint)
      ) STRICT;
    `,
  },
  {
    version: 4,
    sql: `
      CREATE TABLE oauth_clients (
        id TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL REFERENCES tenants (id),
        name TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('service', 'user')),
        secret_hash TEXT,
        redirect_uris TEXT NOT NULL,
        roles TEXT NOT NULL,
        token_algorithm TEXT NOT NULL,
        created_at TEXT NOT NULL
      ) STRICT;
      CREATE INDEX oauth_clients_by_tenant ON oauth_clients (tenant_id, id);
      CREATE TABLE oidc_keys (
        tenant_id TEXT NOT NULL REFERENCES tenants (id),
        kid TEXT NOT NULL,
        use TEXT NOT NULL CHECK (use IN ('sig', 'cookie')),
        alg TEXT NOT NULL,
        public_jwk TEXT NOT NULL,
        sealed_private BLOB NOT NULL,
        created_at TEXT NOT NULL,
        retired_at TEXT,
        PRIMARY KEY (tenant_id, kid)
      ) STRICT;
      CREATE TABLE oidc_artifacts (
        tenant_id TEXT NOT NULL REFERENCES tenants (id),
        model TEXT NOT NULL,
        id TEXT NOT NULL,
        payload TEXT NOT NULL,
        grant_id TEXT,
        user_code TEXT,
        uid TEXT,
        client_id TEXT,
        expires_at INTEGER,
        PRIMARY KEY (tenant_id, model, id)
      ) STRICT;
      CREATE INDEX oidc_artifacts_by_grant ON oidc_artifacts (tenant_id, grant_id);
      CREATE INDEX oidc_artifacts_by_client ON oidc_artifacts (tenant_id, client_id);
      CREATE INDEX oidc_artifacts_by_uid ON oidc_artifacts (tenant_id, model, uid);
      CREATE INDEX oidc_artifacts_by_user_code ON oidc_artifacts (tenant_id, model, user_code);
      CREATE TABLE oidc_revocations (
        tenant_id TEXT NOT NULL REFERENCES tenants (id),
        kind TEXT NOT NULL CHECK (kind IN ('jti', 'grant', 'client')),
        value TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, kind, value)
      ) STRICT;
    `,
  },
  {
    version: 5,
    // Keys issued before roles existed could do everything: they keep doing so as owners.
    sql: `ALTER TABLE api_keys ADD COLUMN roles TEXT NOT NULL DEFAULT '["owner"]';`,
  },
  {
    version: 6,
    sql: `
      CREATE TABLE tenant_cors_origins (
        tenant_id TEXT NOT NULL REFERENCES tenants (id),
        origin TEXT NOT NULL,
        PRIMARY KEY (tenant_id, origin)
      ) STRICT;
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
      UPDATE oidc_keys SET retired_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
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
        tenant_id TEXT PRIMARY KEY REFERENCES tenants (id),
        started_at TEXT NOT NULL
      ) STRICT;
    `,
  },
];
