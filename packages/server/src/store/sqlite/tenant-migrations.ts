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
  {
    version: 2,
    sql: `
      CREATE TABLE ledger_entries (
        seq INTEGER PRIMARY KEY,
        batch INTEGER NOT NULL,
        resource TEXT NOT NULL,
        entry TEXT NOT NULL,
        salt BLOB
      ) STRICT;
      CREATE INDEX ledger_entries_by_resource ON ledger_entries (resource, seq);
      CREATE TABLE ledger_batches (batch INTEGER PRIMARY KEY, leaf TEXT NOT NULL) STRICT;
      CREATE TABLE ledger_nodes (
        level INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        hash BLOB NOT NULL,
        PRIMARY KEY (level, idx)
      ) STRICT, WITHOUT ROWID;
      CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE ON ledger_entries
        BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
      CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries
        BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
      CREATE TRIGGER ledger_batches_append_only BEFORE UPDATE ON ledger_batches
        BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
      CREATE TRIGGER ledger_batches_no_delete BEFORE DELETE ON ledger_batches
        BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
      CREATE TRIGGER ledger_nodes_append_only BEFORE UPDATE ON ledger_nodes
        BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
      CREATE TRIGGER ledger_nodes_no_delete BEFORE DELETE ON ledger_nodes
        BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
    `,
  },
  {
    version: 3,
    sql: `
      ALTER TABLE records ADD COLUMN sealed TEXT;
      ALTER TABLE records ADD COLUMN blind TEXT;
      ALTER TABLE records ADD COLUMN key_version INTEGER;
      CREATE INDEX records_by_key_version ON records (key_version) WHERE key_version IS NOT NULL;
      CREATE TABLE data_keys (
        key_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        kek_version INTEGER NOT NULL,
        wrapped BLOB,
        sealed_secret BLOB,
        state TEXT NOT NULL CHECK (state IN ('active', 'retired')),
        created_at TEXT NOT NULL,
        retired_at TEXT,
        PRIMARY KEY (key_id, version)
      ) STRICT;
      CREATE TABLE key_jobs (
        id TEXT PRIMARY KEY,
        key_id TEXT NOT NULL,
        target_version INTEGER NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('running', 'done', 'superseded', 'failed')),
        processed INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        finished_at TEXT,
        error TEXT
      ) STRICT;
    `,
  },
  {
    version: 4,
    sql: `
      CREATE TABLE devices (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        type TEXT NOT NULL,
        labels TEXT NOT NULL,
        attributes TEXT NOT NULL,
        client_attributes TEXT NOT NULL,
        telemetry_keys TEXT,
        is_gateway INTEGER NOT NULL,
        gateway_id TEXT,
        version INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      ) STRICT;
      CREATE TABLE telemetry (
        device_id TEXT NOT NULL,
        key TEXT NOT NULL,
        ts INTEGER NOT NULL,
        type TEXT NOT NULL CHECK (type IN ('number', 'boolean', 'string', 'json')),
        num REAL,
        text TEXT,
        PRIMARY KEY (device_id, key, ts)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX telemetry_by_ts ON telemetry (ts);
      CREATE TABLE telemetry_latest (
        device_id TEXT NOT NULL,
        key TEXT NOT NULL,
        ts INTEGER NOT NULL,
        type TEXT NOT NULL,
        num REAL,
        text TEXT,
        PRIMARY KEY (device_id, key)
      ) STRICT, WITHOUT ROWID;
      CREATE TABLE rpc_requests (
        id TEXT PRIMARY KEY,
        device_id TEXT NOT NULL,
        method TEXT NOT NULL,
        params TEXT NOT NULL,
        persistent INTEGER NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'succeeded', 'failed', 'expired')),
        response TEXT,
        error TEXT,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      ) STRICT;
      CREATE INDEX rpc_requests_by_device ON rpc_requests (device_id, status, id);
    `,
  },
  {
    version: 5,
    sql: `
      CREATE TABLE edge_nodes (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'active', 'disabled')),
        ed25519 TEXT,
        mldsa65 TEXT,
        credential_hash TEXT UNIQUE,
        key_version INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      ) STRICT;
      CREATE TABLE edge_enrollment_tokens (
        token_hash TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        node_id TEXT,
        expires_at TEXT NOT NULL,
        created_at TEXT NOT NULL
      ) STRICT;
      CREATE TABLE edge_batches (
        node_id TEXT NOT NULL,
        batch_id TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        signatures TEXT NOT NULL,
        result TEXT NOT NULL,
        applied_at TEXT NOT NULL,
        PRIMARY KEY (node_id, batch_id)
      ) STRICT, WITHOUT ROWID;
      CREATE TABLE edge_alerts (
        id TEXT PRIMARY KEY,
        node_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        batch_id TEXT,
        detail TEXT NOT NULL,
        created_at TEXT NOT NULL
      ) STRICT;
      CREATE INDEX edge_alerts_by_node ON edge_alerts (node_id, id);
    `,
  },
  {
    version: 6,
    sql: `
      CREATE TABLE users (
        id TEXT PRIMARY KEY,
        email TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        roles TEXT NOT NULL,
        disabled INTEGER NOT NULL,
        password_hash TEXT,
        totp_key BLOB,
        totp_secret BLOB,
        totp_last_step INTEGER,
        failed_sign_ins INTEGER NOT NULL,
        locked_until TEXT,
        version INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      ) STRICT;
      CREATE TABLE user_invitations (
        user_id TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
        token_hash TEXT NOT NULL UNIQUE,
        expires_at TEXT NOT NULL,
        created_at TEXT NOT NULL
      ) STRICT;
    `,
  },
  {
    version: 7,
    sql: `
      CREATE TABLE roles (
        name TEXT PRIMARY KEY,
        description TEXT NOT NULL,
        permissions TEXT NOT NULL,
        version INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      ) STRICT;
      CREATE TABLE policy_set (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        text TEXT NOT NULL,
        version INTEGER NOT NULL,
        updated_at TEXT NOT NULL
      ) STRICT;
    `,
  },
  {
    version: 8,
    sql: `
      CREATE TABLE device_ca_keys (
        ca_id TEXT PRIMARY KEY,
        wrapped_key BLOB NOT NULL,
        sealed_key BLOB NOT NULL,
        created_at TEXT NOT NULL
      ) STRICT;
    `,
  },
  {
    version: 9,
    sql: `
      ALTER TABLE devices ADD COLUMN edge_node_id TEXT;
      CREATE INDEX devices_by_edge_node ON devices (edge_node_id, id) WHERE edge_node_id IS NOT NULL;
    `,
  },
  {
    version: 10,
    sql: `
      CREATE TABLE edge_rule_sets (
        device_type TEXT PRIMARY KEY,
        rules TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      ) STRICT;
    `,
  },
  {
    // Device telemetry writes an entry per message under telemetry/<device id>: indexing those
    // by resource put a random insert (a page written) into every message's commit.
    version: 11,
    sql: `
      DROP INDEX ledger_entries_by_resource;
      CREATE INDEX ledger_entries_by_resource ON ledger_entries (resource, seq)
        WHERE resource NOT GLOB 'telemetry/*';
    `,
  },
  {
    // Ingest appends points here (rowid order: a commit writes a few pages at the end) and
    // a compaction moves them into the device-ordered telemetry tree in large sorted batches,
    // so many points share each page written there (see SqliteTenantDevices).
    version: 12,
    sql: `
      CREATE TABLE telemetry_staged (
        seq INTEGER PRIMARY KEY,
        device_id TEXT NOT NULL,
        key TEXT NOT NULL,
        ts INTEGER NOT NULL,
        type TEXT NOT NULL CHECK (type IN ('number', 'boolean', 'string', 'json')),
        num REAL,
        text TEXT
      ) STRICT;
    `,
  },
  {
    // Retention deletes series by series through the primary key (see deletePointsBefore).
    version: 13,
    sql: 'DROP INDEX telemetry_by_ts;',
  },
  {
    // The same CHECK without an IN list: SQLite builds an IN list's lookup table afresh on
    // every run of a statement, which made each staged point's one-row INSERT cost about
    // 2.1 µs instead of 0.75. Staged points are few, so the table is copied (seq kept).
    version: 14,
    sql: `
      CREATE TABLE telemetry_staged_next (
        seq INTEGER PRIMARY KEY,
        device_id TEXT NOT NULL,
        key TEXT NOT NULL,
        ts INTEGER NOT NULL,
        type TEXT NOT NULL
          CHECK (type = 'number' OR type = 'boolean' OR type = 'string' OR type = 'json'),
        num REAL,
        text TEXT
      ) STRICT;
      INSERT INTO telemetry_staged_next (seq, device_id, key, ts, type, num, text)
        SELECT seq, device_id, key, ts, type, num, text FROM telemetry_staged;
      DROP TABLE telemetry_staged;
      ALTER TABLE telemetry_staged_next RENAME TO telemetry_staged;
    `,
  },
  {
    // The last time each device left each edge node: a node it left may still send its
    // backlog (see EdgeService).
    version: 15,
    sql: `
      CREATE TABLE device_edge_history (
        device_id TEXT NOT NULL,
        edge_node_id TEXT NOT NULL,
        unassigned_at TEXT NOT NULL,
        PRIMARY KEY (device_id, edge_node_id)
      ) STRICT, WITHOUT ROWID;
    `,
  },
  {
    version: 16,
    sql: 'ALTER TABLE users ADD COLUMN sessions_not_before TEXT;',
  },
  {
    // A gateway's children are counted each time it creates one (gatewayChildrenMax).
    version: 17,
    sql: 'CREATE INDEX devices_by_gateway ON devices (gateway_id) WHERE gateway_id IS NOT NULL;',
  },
  {
    // When the current run of failed sign-ins began: older failures stop counting toward a
    // lock (signInFailureWindowMs). Counts made before it are of unknown age: the next
    // failure starts again.
    version: 18,
    sql: 'ALTER TABLE users ADD COLUMN sign_in_failures_since TEXT;',
  },
  {
    // Failed sign-ins and locks per user name, a user's or not (an unknown name locks as a
    // known one does), keyed by a hash of the name. The users' own counts go: the counts and
    // locks in force when this runs start again from nothing.
    version: 19,
    sql: `
      CREATE TABLE sign_in_failures (
        name_key TEXT PRIMARY KEY,
        failures INTEGER NOT NULL,
        run_from TEXT NOT NULL,
        locked_until TEXT
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX sign_in_failures_by_run ON sign_in_failures (run_from);
      ALTER TABLE users DROP COLUMN failed_sign_ins;
      ALTER TABLE users DROP COLUMN locked_until;
      ALTER TABLE users DROP COLUMN sign_in_failures_since;
    `,
  },
  {
    // An edge alert counts the repeats of its kind against its node within the alert window
    // (edgeAlertWindowMs) instead of one row each; an alert made before stands for one.
    version: 20,
    sql: `
      ALTER TABLE edge_alerts ADD COLUMN count INTEGER NOT NULL DEFAULT 1;
      ALTER TABLE edge_alerts ADD COLUMN last_seen_at TEXT NOT NULL DEFAULT '';
      UPDATE edge_alerts SET last_seen_at = created_at;
    `,
  },
  {
    // Failed sign-ins are keyed by an HMAC of the name under the tenant's blind-index key
    // (users/sign-in-names.ts), no longer by a plain hash that a list of addresses could be
    // tested against. The rows keyed the old way go: their counts and locks start again.
    version: 21,
    sql: 'DELETE FROM sign_in_failures;',
  },
  {
    // An RPC request the device acknowledged is `delivered` (see RpcDelivery). SQLite changes
    // a CHECK only by copying the table; every row of the old one passes the new one.
    version: 22,
    sql: `
      CREATE TABLE rpc_requests_next (
        id TEXT PRIMARY KEY,
        device_id TEXT NOT NULL,
        method TEXT NOT NULL,
        params TEXT NOT NULL,
        persistent INTEGER NOT NULL,
        status TEXT NOT NULL
          CHECK (status IN ('queued', 'sent', 'delivered', 'succeeded', 'failed', 'expired')),
        response TEXT,
        error TEXT,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      ) STRICT;
      INSERT INTO rpc_requests_next (id, device_id, method, params, persistent, status, response,
          error, created_at, expires_at, updated_at)
        SELECT id, device_id, method, params, persistent, status, response, error, created_at,
          expires_at, updated_at FROM rpc_requests;
      DROP TABLE rpc_requests;
      ALTER TABLE rpc_requests_next RENAME TO rpc_requests;
      CREATE INDEX rpc_requests_by_device ON rpc_requests (device_id, status, id);
    `,
  },
  {
    // Each data key version counts the encryptions made under it (keys/encryption-budget.ts).
    // How many a field key version made before is not known; every one sealed a record whose
    // write is a ledger entry under `collections/`, so their number is an upper bound. The
    // blind-index key encrypted its one secret.
    version: 23,
    sql: `
      ALTER TABLE data_keys ADD COLUMN encryptions INTEGER NOT NULL DEFAULT 0;
      UPDATE data_keys SET encryptions = CASE key_id
        WHEN 'fields' THEN (SELECT count(*) FROM ledger_entries WHERE resource LIKE 'collections/%')
        ELSE 1 END;
    `,
  },
  {
    // An edge batch keeps the node's sequence number (with the key version it counts under),
    // unique per node: a second batch with a number already applied comes from a copy of the
    // node's directory (edge/edge-batches.ts). Batches applied before carry none.
    version: 24,
    sql: `
      ALTER TABLE edge_batches ADD COLUMN key_version INTEGER;
      ALTER TABLE edge_batches ADD COLUMN seq INTEGER;
      CREATE UNIQUE INDEX edge_batches_by_seq ON edge_batches (node_id, key_version, seq)
        WHERE seq IS NOT NULL;
    `,
  },
  {
    // A user changes their own password and TOTP (users/own-account.ts): the sign-in they did
    // it from is kept, and a TOTP secret being enrolled waits for its confirming code.
    version: 25,
    sql: `
      ALTER TABLE users ADD COLUMN kept_sign_in TEXT;
      ALTER TABLE users ADD COLUMN totp_pending_key BLOB;
      ALTER TABLE users ADD COLUMN totp_pending_secret BLOB;
    `,
  },
];
