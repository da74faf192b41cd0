/**
 * Every setting of the server, with its flag, environment variable, type, default and the
 * reason it exists. Flags beat the environment, which beats `palisade.config.json`, which
 * beats the defaults. The README's settings table is checked against this list by a test.
 */
export interface SettingSpec {
  readonly flag: string;
  readonly env: string;
  readonly type: 'string' | 'integer' | 'string-list';
  readonly doc: string;
  readonly minimum?: number;
  readonly pattern?: string;
  readonly enum?: readonly string[];
}

export const SETTINGS = {
  data: {
    flag: 'data',
    env: 'PALISADE_DATA',
    type: 'string',
    doc: 'Folder for SQLite files and the local key file.',
  },
  listen: {
    flag: 'listen',
    env: 'PALISADE_LISTEN',
    type: 'string',
    pattern: '^(\\[[0-9a-fA-F:]+\\]|[^:\\s]+):[0-9]{1,5}$',
    doc: 'HOST:PORT of the HTTP listener (port 0 picks a free port).',
  },
  database: {
    flag: 'database',
    env: 'PALISADE_DATABASE',
    type: 'string',
    pattern: '^postgres(ql)?://',
    doc: 'PostgreSQL URL of the control plane; unset means SQLite at DATA/platform.db.',
  },
  shards: {
    flag: 'shard',
    env: 'PALISADE_SHARDS',
    type: 'string-list',
    pattern: '^([a-z0-9][a-z0-9-]{0,31}|([a-z0-9][a-z0-9-]{0,31}=)?postgres(ql)?://.+)$',
    doc: 'Tenant shards: a SQLite folder name under DATA/shards, or [NAME=]postgres://URL. Repeatable; comma-separated in the environment.',
  },
  postgresRuntimeRole: {
    flag: 'postgres-runtime-role',
    env: 'PALISADE_POSTGRES_RUNTIME_ROLE',
    type: 'string',
    pattern: '^[a-z_][a-z0-9_]{0,62}$',
    doc: 'PostgreSQL role tenant queries run as: owns no table, has no BYPASSRLS.',
  },
  postgresPoolSize: {
    flag: 'postgres-pool-size',
    env: 'PALISADE_POSTGRES_POOL_SIZE',
    type: 'integer',
    minimum: 1,
    doc: 'Connections per PostgreSQL database.',
  },
  bodyLimit: {
    flag: 'body-limit',
    env: 'PALISADE_BODY_LIMIT',
    type: 'integer',
    minimum: 1024,
    doc: 'Largest accepted request body, in bytes.',
  },
  logLevel: {
    flag: 'log-level',
    env: 'PALISADE_LOG_LEVEL',
    type: 'string',
    enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
    doc: 'Lowest level written to the JSON log.',
  },
  adminToken: {
    flag: 'admin-token',
    env: 'PALISADE_ADMIN_TOKEN',
    type: 'string',
    pattern: '^\\S{32,}$',
    doc: 'Platform-admin token to install at first start (for automation); otherwise one is generated and printed once.',
  },
  commitMaxBatch: {
    flag: 'commit-max-batch',
    env: 'PALISADE_COMMIT_MAX_BATCH',
    type: 'integer',
    minimum: 1,
    doc: 'Most writes of one tenant group-committed in one transaction.',
  },
  commitMaxWaitMs: {
    flag: 'commit-max-wait-ms',
    env: 'PALISADE_COMMIT_MAX_WAIT_MS',
    type: 'integer',
    minimum: 0,
    doc: 'Longest a write waits for others to join its group commit (0: only those already queued).',
  },
  sqliteMaxOpenTenants: {
    flag: 'sqlite-max-open-tenants',
    env: 'PALISADE_SQLITE_MAX_OPEN_TENANTS',
    type: 'integer',
    minimum: 1,
    doc: 'Bound of the cache of open tenant SQLite files per shard.',
  },
  authCacheTtlMs: {
    flag: 'auth-cache-ttl-ms',
    env: 'PALISADE_AUTH_CACHE_TTL_MS',
    type: 'integer',
    minimum: 0,
    doc: 'How long a verified credential is trusted without asking the control plane again.',
  },
  pageSizeMax: {
    flag: 'page-size-max',
    env: 'PALISADE_PAGE_SIZE_MAX',
    type: 'integer',
    minimum: 1,
    doc: 'Largest `limit` a listing accepts.',
  },
  shutdownTimeoutMs: {
    flag: 'shutdown-timeout-ms',
    env: 'PALISADE_SHUTDOWN_TIMEOUT_MS',
    type: 'integer',
    minimum: 0,
    doc: 'How long a graceful shutdown waits for in-flight requests before closing anyway.',
  },
} as const satisfies Record<string, SettingSpec>;

export type SettingName = keyof typeof SETTINGS;

/** The resolved settings the platform runs with. */
export interface Settings {
  data: string;
  listen: string;
  database: string | undefined;
  shards: string[];
  postgresRuntimeRole: string;
  postgresPoolSize: number;
  bodyLimit: number;
  logLevel: string;
  adminToken: string | undefined;
  commitMaxBatch: number;
  commitMaxWaitMs: number;
  sqliteMaxOpenTenants: number;
  authCacheTtlMs: number;
  pageSizeMax: number;
  shutdownTimeoutMs: number;
}

export const DEFAULT_SETTINGS: Omit<Settings, 'shards'> & { shards: undefined } = {
  data: './data',
  listen: '127.0.0.1:8080',
  database: undefined,
  shards: undefined,
  postgresRuntimeRole: 'palisade_runtime',
  postgresPoolSize: 10,
  bodyLimit: 1_048_576,
  logLevel: 'info',
  adminToken: undefined,
  commitMaxBatch: 256,
  commitMaxWaitMs: 0,
  sqliteMaxOpenTenants: 256,
  authCacheTtlMs: 1000,
  pageSizeMax: 1000,
  shutdownTimeoutMs: 10_000,
};
