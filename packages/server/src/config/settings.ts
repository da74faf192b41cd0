import { TIMER_MAX_MS } from '../timers/index.ts';

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
  readonly maximum?: number;
  readonly pattern?: string;
  readonly enum?: readonly string[];
}

/** HOST:PORT, the port 0 to 65535 (a larger one would fail only when the listener starts). */
const HOST_PORT =
  '(\\[[0-9a-fA-F:]+\\]|[^:\\s]+):(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4})';

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
    pattern: `^${HOST_PORT}$`,
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
    doc: 'Platform-admin token (32 or more non-space characters, for automation): when set, it replaces the stored one at every start; otherwise one is generated and printed once at the first start.',
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
    maximum: TIMER_MAX_MS,
    doc: 'Longest a write waits for others to join its group commit (0: only those already queued).',
  },
  sqliteMaxOpenTenants: {
    flag: 'sqlite-max-open-tenants',
    env: 'PALISADE_SQLITE_MAX_OPEN_TENANTS',
    type: 'integer',
    minimum: 1,
    doc: 'Bound of the cache of open tenant SQLite files per shard (a file with a write queued stays open past it; an evicted one reopens on its next use).',
  },
  authCacheTtlMs: {
    flag: 'auth-cache-ttl-ms',
    env: 'PALISADE_AUTH_CACHE_TTL_MS',
    type: 'integer',
    minimum: 0,
    doc: 'How long a verified credential is trusted without asking the control plane again.',
  },
  publicUrl: {
    flag: 'public-url',
    env: 'PALISADE_PUBLIC_URL',
    type: 'string',
    pattern: '^https?://[^/?#\\s]+(/[^?#\\s]*[^/?#\\s])?$',
    doc: 'URL clients reach the API at (no trailing slash); tenant issuers are PUBLIC_URL/t/SLUG. Unset: the address the API listens on.',
  },
  oauthAccessTokenTtlSeconds: {
    flag: 'oauth-access-token-ttl-seconds',
    env: 'PALISADE_OAUTH_ACCESS_TOKEN_TTL_SECONDS',
    type: 'integer',
    minimum: 1,
    doc: 'Lifetime of access (and ID) tokens; also how long a revocation or a rotated-out signing key is kept.',
  },
  oauthRefreshTokenTtlSeconds: {
    flag: 'oauth-refresh-token-ttl-seconds',
    env: 'PALISADE_OAUTH_REFRESH_TOKEN_TTL_SECONDS',
    type: 'integer',
    minimum: 60,
    doc: 'Lifetime of a refresh token and of the grant behind it (each refresh rotates the token).',
  },
  oauthDeviceCodeTtlSeconds: {
    flag: 'oauth-device-code-ttl-seconds',
    env: 'PALISADE_OAUTH_DEVICE_CODE_TTL_SECONDS',
    type: 'integer',
    minimum: 60,
    doc: 'How long a device authorization (RFC 8628) waits for the user to enter its code.',
  },
  oauthSessionTtlSeconds: {
    flag: 'oauth-session-ttl-seconds',
    env: 'PALISADE_OAUTH_SESSION_TTL_SECONDS',
    type: 'integer',
    minimum: 60,
    doc: 'How long a user stays signed in to a tenant issuer (its browser session).',
  },
  oauthIssuerCacheMax: {
    flag: 'oauth-issuer-cache-max',
    env: 'PALISADE_OAUTH_ISSUER_CACHE_MAX',
    type: 'integer',
    minimum: 1,
    doc: 'Most tenant issuers held in memory; the least recently used is rebuilt on its next request.',
  },
  pageSizeMax: {
    flag: 'page-size-max',
    env: 'PALISADE_PAGE_SIZE_MAX',
    type: 'integer',
    minimum: 1,
    doc: 'Largest `limit` a listing accepts.',
  },
  customRolesMax: {
    flag: 'custom-roles-max',
    env: 'PALISADE_CUSTOM_ROLES_MAX',
    type: 'integer',
    minimum: 0,
    doc: 'Most custom roles one tenant may define (`GET /v1/roles` lists them all, unpaged).',
  },
  policySetMaxChars: {
    flag: 'policy-set-max-chars',
    env: 'PALISADE_POLICY_SET_MAX_CHARS',
    type: 'integer',
    minimum: 1,
    doc: "Longest Cedar policy set a tenant may store (characters of `PUT /v1/policies`'s text).",
  },
  ledgerKeyFile: {
    flag: 'ledger-key-file',
    env: 'PALISADE_LEDGER_KEY_FILE',
    type: 'string',
    doc: 'File with the platform ledger signing keys (Ed25519 + ML-DSA-44); generated at first start. Default DATA/ledger-signing.json.',
  },
  ledgerOrigin: {
    flag: 'ledger-origin',
    env: 'PALISADE_LEDGER_ORIGIN',
    type: 'string',
    pattern: '^[a-z0-9.-]+(/[A-Za-z0-9._-]+)*$',
    doc: 'Origin line of the platform checkpoint (a schema-less URL); set when the key file is first made.',
  },
  ledgerSealIntervalMs: {
    flag: 'ledger-seal-interval-ms',
    env: 'PALISADE_LEDGER_SEAL_INTERVAL_MS',
    type: 'integer',
    minimum: 10,
    maximum: TIMER_MAX_MS,
    doc: 'How often changed tenant logs are checkpointed into the signed platform log.',
  },
  witnesses: {
    flag: 'witness',
    env: 'PALISADE_WITNESSES',
    type: 'string-list',
    pattern: '^https?://[^=\\s]+=\\S+$',
    doc: 'A witness as URL=VKEY (C2SP tlog-witness); repeat the URL with each of its keys. Comma-separated in the environment.',
  },
  witnessQuorum: {
    flag: 'witness-quorum',
    env: 'PALISADE_WITNESS_QUORUM',
    type: 'integer',
    minimum: 1,
    doc: 'How many witnesses must cosign before a platform checkpoint counts as witnessed.',
  },
  shutdownTimeoutMs: {
    flag: 'shutdown-timeout-ms',
    env: 'PALISADE_SHUTDOWN_TIMEOUT_MS',
    type: 'integer',
    minimum: 0,
    maximum: TIMER_MAX_MS,
    doc: 'How long a graceful shutdown waits for in-flight requests before closing anyway.',
  },
  masterKeyFile: {
    flag: 'master-key-file',
    env: 'PALISADE_MASTER_KEY_FILE',
    type: 'string',
    doc: 'File holding the master key (or, with a passphrase, its scrypt salt); generated with mode 0600 at first start when no key is given. Default DATA/master.key.',
  },
  masterKey: {
    flag: 'master-key',
    env: 'PALISADE_MASTER_KEY',
    type: 'string',
    pattern: '^\\s*([0-9a-fA-F]{64}|[A-Za-z0-9+/_-]{43}=?)\\s*$',
    doc: 'The master key itself (32 bytes as hex or base64); beats the key file.',
  },
  masterPassphrase: {
    flag: 'master-passphrase',
    env: 'PALISADE_MASTER_PASSPHRASE',
    type: 'string',
    pattern: '^.{12,}$',
    doc: 'Derive the master key from this passphrase (scrypt); the key file then holds only its salt.',
  },
  dataKeyCacheMax: {
    flag: 'data-key-cache-max',
    env: 'PALISADE_DATA_KEY_CACHE_MAX',
    type: 'integer',
    minimum: 1,
    doc: 'Most unwrapped data keys held in memory, across tenants (least recently used go first).',
  },
  dataKeyCacheTtlMs: {
    flag: 'data-key-cache-ttl-ms',
    env: 'PALISADE_DATA_KEY_CACHE_TTL_MS',
    type: 'integer',
    minimum: 1,
    doc: 'How long an unwrapped data key stays in memory after it was unwrapped (an idle process destroys it within half that again).',
  },
  reencryptBatchSize: {
    flag: 'reencrypt-batch-size',
    env: 'PALISADE_REENCRYPT_BATCH_SIZE',
    type: 'integer',
    minimum: 1,
    doc: 'Records a re-encryption job moves to the new data key per transaction.',
  },
  tlsCert: {
    flag: 'tls-cert',
    env: 'PALISADE_TLS_CERT',
    type: 'string',
    doc: 'PEM certificate chain file; with tlsKey the API serves HTTPS (hybrid X25519MLKEM768 preferred).',
  },
  tlsKey: {
    flag: 'tls-key',
    env: 'PALISADE_TLS_KEY',
    type: 'string',
    doc: 'PEM private key file of tlsCert.',
  },
  nats: {
    flag: 'nats',
    env: 'PALISADE_NATS',
    type: 'string',
    pattern: '^(nats|tls)://\\S+$',
    doc: 'NATS URL: the bus runs on JetStream there; unset means the in-process bus in DATA/bus.db.',
  },
  busPrefix: {
    flag: 'bus-prefix',
    env: 'PALISADE_BUS_PREFIX',
    type: 'string',
    pattern: '^[a-z][a-z0-9_-]{0,31}$',
    doc: 'First token of every bus subject (`<prefix>.<tenant>.<kind>.<key>`); upper-cased, the JetStream stream name.',
  },
  busAckWaitMs: {
    flag: 'bus-ack-wait-ms',
    env: 'PALISADE_BUS_ACK_WAIT_MS',
    type: 'integer',
    minimum: 1,
    doc: 'How long a delivered bus message may stay unacked before it is redelivered.',
  },
  busMaxDeliver: {
    flag: 'bus-max-deliver',
    env: 'PALISADE_BUS_MAX_DELIVER',
    type: 'integer',
    minimum: 1,
    doc: 'Most deliveries of one bus message to one durable consumer (the first included).',
  },
  busMaxAgeMs: {
    flag: 'bus-max-age-ms',
    env: 'PALISADE_BUS_MAX_AGE_MS',
    type: 'integer',
    minimum: 1000,
    doc: 'How long the bus keeps a message (stream retention).',
  },
  busMaxPayload: {
    flag: 'bus-max-payload',
    env: 'PALISADE_BUS_MAX_PAYLOAD',
    type: 'integer',
    minimum: 1024,
    doc: 'Largest bus message payload, in bytes of JSON.',
  },
  busDuplicateWindowMs: {
    flag: 'bus-duplicate-window-ms',
    env: 'PALISADE_BUS_DUPLICATE_WINDOW_MS',
    type: 'integer',
    minimum: 1000,
    doc: 'NATS: how long JetStream remembers a message id to drop a republished duplicate.',
  },
  busRetryMs: {
    flag: 'bus-retry-ms',
    env: 'PALISADE_BUS_RETRY_MS',
    type: 'integer',
    minimum: 1,
    maximum: TIMER_MAX_MS,
    doc: 'Back-off before a failed publish is retried, and per delivery before a failed handler sees its message again.',
  },
  telemetryMaxPoints: {
    flag: 'telemetry-max-points',
    env: 'PALISADE_TELEMETRY_MAX_POINTS',
    type: 'integer',
    minimum: 1,
    doc: 'Most typed points one telemetry message may carry (more is refused whole).',
  },
  telemetryMaxKeys: {
    flag: 'telemetry-max-keys',
    env: 'PALISADE_TELEMETRY_MAX_KEYS',
    type: 'integer',
    minimum: 1,
    doc: 'Most distinct keys one telemetry or attributes message may carry.',
  },
  telemetryKeyMaxLength: {
    flag: 'telemetry-key-max-length',
    env: 'PALISADE_TELEMETRY_KEY_MAX_LENGTH',
    type: 'integer',
    minimum: 1,
    doc: 'Longest telemetry or attribute key, in characters.',
  },
  telemetryValueMaxBytes: {
    flag: 'telemetry-value-max-bytes',
    env: 'PALISADE_TELEMETRY_VALUE_MAX_BYTES',
    type: 'integer',
    minimum: 16,
    doc: 'Largest string or JSON telemetry value, in bytes of UTF-8 (of its JSON, for JSON values).',
  },
  telemetryMaxPastMs: {
    flag: 'telemetry-max-past-ms',
    env: 'PALISADE_TELEMETRY_MAX_PAST_MS',
    type: 'integer',
    minimum: 0,
    doc: "Oldest accepted point timestamp, as milliseconds before now (never before 1970, whatever the value, nor older than the tenant's plan keeps telemetry).",
  },
  telemetryMaxFutureMs: {
    flag: 'telemetry-max-future-ms',
    env: 'PALISADE_TELEMETRY_MAX_FUTURE_MS',
    type: 'integer',
    minimum: 0,
    // PostgreSQL makes a partition for every month up to it: ten years, as for months ahead.
    maximum: 315_360_000_000,
    doc: 'Furthest accepted point timestamp, as milliseconds after now (clock skew); at most ten years (PostgreSQL makes partitions that far ahead).',
  },
  telemetryRetention: {
    flag: 'telemetry-retention',
    env: 'PALISADE_TELEMETRY_RETENTION',
    type: 'string-list',
    pattern: '^(\\*|[a-z0-9][a-z0-9-]{0,31})=[0-9]{1,6}$',
    doc: 'Telemetry retention per plan as PLAN=DAYS (`*` for any other plan; 365 days when `*` is not named); an older point is refused at ingest. Repeatable; comma-separated in the environment.',
  },
  telemetryRetentionIntervalMs: {
    flag: 'telemetry-retention-interval-ms',
    env: 'PALISADE_TELEMETRY_RETENTION_INTERVAL_MS',
    type: 'integer',
    minimum: 1000,
    maximum: TIMER_MAX_MS,
    doc: 'How often the retention job deletes expired points (and, on PostgreSQL, manages partitions).',
  },
  telemetryRetentionBatchMax: {
    flag: 'telemetry-retention-batch-max',
    env: 'PALISADE_TELEMETRY_RETENTION_BATCH_MAX',
    type: 'integer',
    minimum: 1,
    maximum: 1_000_000,
    doc: "Most expired points the retention job deletes in one of a tenant's transactions (one ledger entry each); it takes as many as the tenant's expired points need.",
  },
  telemetryPartitionMonthsAhead: {
    flag: 'telemetry-partition-months-ahead',
    env: 'PALISADE_TELEMETRY_PARTITION_MONTHS_AHEAD',
    type: 'integer',
    minimum: 1,
    // Each is a partition made at every retention pass that lacks it: ten years is plenty.
    maximum: 120,
    doc: 'PostgreSQL: monthly telemetry partitions created ahead of now; at most 120.',
  },
  rpcTimeoutDefaultMs: {
    flag: 'rpc-timeout-default-ms',
    env: 'PALISADE_RPC_TIMEOUT_DEFAULT_MS',
    type: 'integer',
    minimum: 1,
    doc: 'Expiry of an RPC request that names no `timeoutMs`; at most `rpcTimeoutMaxMs`.',
  },
  rpcTimeoutMaxMs: {
    flag: 'rpc-timeout-max-ms',
    env: 'PALISADE_RPC_TIMEOUT_MAX_MS',
    type: 'integer',
    minimum: 1,
    // Ten years: a request's expiry, now plus this, must stay a date.
    maximum: 315_360_000_000,
    doc: 'Longest `timeoutMs` an RPC request may ask for (a persistent request waits that long for its device); at most ten years.',
  },
  rpcQueueMax: {
    flag: 'rpc-queue-max',
    env: 'PALISADE_RPC_QUEUE_MAX',
    type: 'integer',
    minimum: 1,
    doc: 'Most persistent RPC requests one device may have queued (not yet sent, not expired); one more is refused (PALISADE_RPC_QUEUE_LIMIT) and nothing is stored.',
  },
  edgeEnrollmentTtlMs: {
    flag: 'edge-enrollment-ttl-ms',
    env: 'PALISADE_EDGE_ENROLLMENT_TTL_MS',
    type: 'integer',
    minimum: 1000,
    doc: 'How long a one-time edge enrollment (or rekey) token stays usable.',
  },
  edgeBatchMaxMessages: {
    flag: 'edge-batch-max-messages',
    env: 'PALISADE_EDGE_BATCH_MAX_MESSAGES',
    type: 'integer',
    minimum: 1,
    doc: 'Most messages one signed edge batch may carry (`POST /v1/edge/batches`).',
  },
  edgeAlertWindowMs: {
    flag: 'edge-alert-window-ms',
    env: 'PALISADE_EDGE_ALERT_WINDOW_MS',
    type: 'integer',
    minimum: 1,
    // Ten years: the window's start, now less this, must stay a date.
    maximum: 315_360_000_000,
    doc: "How long an edge node's alert stays open: the same kind raised against the node again within this time of the alert's first occurrence is counted on it, not stored as another alert.",
  },
  edgeRpcWaitMaxMs: {
    flag: 'edge-rpc-wait-max-ms',
    env: 'PALISADE_EDGE_RPC_WAIT_MAX_MS',
    type: 'integer',
    minimum: 0,
    maximum: TIMER_MAX_MS,
    doc: 'Longest an edge node may wait for RPC requests in one `POST /v1/edge/rpc` (long poll).',
  },
  edgeRpcAckWaitMs: {
    flag: 'edge-rpc-ack-wait-ms',
    env: 'PALISADE_EDGE_RPC_ACK_WAIT_MS',
    type: 'integer',
    minimum: 1,
    maximum: TIMER_MAX_MS,
    doc: 'How long a request handed to an edge poll waits for the node to confirm it before it is queued again.',
  },
  userInvitationTtlMs: {
    flag: 'user-invitation-ttl-ms',
    env: 'PALISADE_USER_INVITATION_TTL_MS',
    type: 'integer',
    minimum: 1000,
    doc: 'How long a one-time user invitation link stays usable.',
  },
  signInLockoutThreshold: {
    flag: 'sign-in-lockout-threshold',
    env: 'PALISADE_SIGN_IN_LOCKOUT_THRESHOLD',
    type: 'integer',
    minimum: 1,
    doc: "Consecutive failed sign-ins that lock an email (a user's or not) at a tenant.",
  },
  signInLockoutBaseMs: {
    flag: 'sign-in-lockout-base-ms',
    env: 'PALISADE_SIGN_IN_LOCKOUT_BASE_MS',
    type: 'integer',
    minimum: 1000,
    doc: 'Length of the first sign-in lock; each further failed sign-in doubles it.',
  },
  signInLockoutMaxMs: {
    flag: 'sign-in-lockout-max-ms',
    env: 'PALISADE_SIGN_IN_LOCKOUT_MAX_MS',
    type: 'integer',
    minimum: 1000,
    doc: 'Longest sign-in lock.',
  },
  signInFailureWindowMs: {
    flag: 'sign-in-failure-window-ms',
    env: 'PALISADE_SIGN_IN_FAILURE_WINDOW_MS',
    type: 'integer',
    minimum: 1000,
    doc: 'How long failed sign-ins count toward a lock, from the first of them or the end of the last lock; the next failure after that starts the count again.',
  },
  signInFailureNamesMax: {
    flag: 'sign-in-failure-names-max',
    env: 'PALISADE_SIGN_IN_FAILURE_NAMES_MAX',
    type: 'integer',
    minimum: 1,
    doc: "Most user names, a user's or not, whose failed sign-ins a tenant keeps counting; past it, the name whose run of failures began longest ago is forgotten first (a name in a lock last).",
  },
  telemetryStreamHeartbeatMs: {
    flag: 'telemetry-stream-heartbeat-ms',
    env: 'PALISADE_TELEMETRY_STREAM_HEARTBEAT_MS',
    type: 'integer',
    minimum: 1000,
    maximum: TIMER_MAX_MS,
    doc: 'Interval of SSE comment heartbeats on `GET /v1/telemetry/stream`.',
  },
  mqtt: {
    flag: 'mqtt',
    env: 'PALISADE_MQTT',
    type: 'string',
    pattern: `^(off|${HOST_PORT})$`,
    doc: 'HOST:PORT of the MQTT listener (port 0 picks a free port; `off` disables it, and mqttTls and mqttWs, which run on it, are then refused). If the default address is taken at start and neither is set, the platform runs without MQTT and logs an error; otherwise a taken address fails the start.',
  },
  mqttTls: {
    flag: 'mqtt-tls',
    env: 'PALISADE_MQTT_TLS',
    type: 'string',
    pattern: `^${HOST_PORT}$`,
    doc: 'HOST:PORT of an MQTT-over-TLS listener (usually 8883), with the tlsCert and tlsKey certificate; the hybrid X25519MLKEM768 group is preferred as on HTTPS.',
  },
  mqttWs: {
    flag: 'mqtt-ws',
    env: 'PALISADE_MQTT_WS',
    type: 'string',
    pattern: `^${HOST_PORT}$`,
    doc: 'HOST:PORT of an MQTT-over-WebSocket listener (subprotocol `mqtt`, any path); wss:// with the tlsCert and tlsKey certificate when they are set, preferring X25519MLKEM768 as on HTTPS.',
  },
  deviceCaValidityDays: {
    flag: 'device-ca-validity-days',
    env: 'PALISADE_DEVICE_CA_VALIDITY_DAYS',
    type: 'integer',
    minimum: 1,
    doc: 'Validity of a device CA certificate Palisade generates for a tenant (`POST /v1/device-cas` with `generate`).',
  },
  deviceCertValidityDays: {
    flag: 'device-cert-validity-days',
    env: 'PALISADE_DEVICE_CERT_VALIDITY_DAYS',
    type: 'integer',
    minimum: 1,
    doc: 'Validity of a device certificate issued by a generated CA (`POST /v1/devices/{id}/credentials` with `csr` or `generate`).',
  },
  mqttMaxPacket: {
    flag: 'mqtt-max-packet',
    env: 'PALISADE_MQTT_MAX_PACKET',
    type: 'integer',
    minimum: 1024,
    doc: 'Largest MQTT packet a device may send, in bytes (topic and payload included); a larger one closes the connection.',
  },
  mqttClientInflightMax: {
    flag: 'mqtt-client-inflight-max',
    env: 'PALISADE_MQTT_CLIENT_INFLIGHT_MAX',
    type: 'integer',
    minimum: 1,
    doc: 'MQTT messages of one connection being ingested at once; more wait, and the connection is not read meanwhile.',
  },
  mqttInflightMax: {
    flag: 'mqtt-inflight-max',
    env: 'PALISADE_MQTT_INFLIGHT_MAX',
    type: 'integer',
    minimum: 1,
    doc: 'MQTT messages being ingested at once across all connections; more wait (publishers are slowed, nothing is dropped).',
  },
  mqttConnectTimeoutMs: {
    flag: 'mqtt-connect-timeout-ms',
    env: 'PALISADE_MQTT_CONNECT_TIMEOUT_MS',
    type: 'integer',
    minimum: 1,
    maximum: TIMER_MAX_MS,
    doc: 'How long a new MQTT connection may take to send CONNECT before it is closed.',
  },
  gatewayChildrenMax: {
    flag: 'gateway-children-max',
    env: 'PALISADE_GATEWAY_CHILDREN_MAX',
    type: 'integer',
    minimum: 1,
    doc: 'Most child devices one gateway may have; a gateway message naming one more (`v1/gateway/connect`, `telemetry`, `attributes`), or a device linked to it past it (`gatewayId`), is refused (PALISADE_GATEWAY_CHILDREN_LIMIT) and changes nothing.',
  },
  quotaTenantMessagesPerSecond: {
    flag: 'quota-tenant-messages-per-second',
    env: 'PALISADE_QUOTA_TENANT_MESSAGES_PER_SECOND',
    type: 'string-list',
    pattern: '^(\\*|[a-z0-9][a-z0-9-]{0,31})=[0-9]{1,9}$',
    doc: 'Telemetry messages a tenant may send per second per plan as PLAN=RATE (`*` for any other plan; 0 is unlimited). Comma-separated in the environment.',
  },
  quotaTenantPointsPerSecond: {
    flag: 'quota-tenant-points-per-second',
    env: 'PALISADE_QUOTA_TENANT_POINTS_PER_SECOND',
    type: 'string-list',
    pattern: '^(\\*|[a-z0-9][a-z0-9-]{0,31})=[0-9]{1,9}$',
    doc: 'Telemetry points a tenant may send per second per plan as PLAN=RATE (`*` for any other plan; 0 is unlimited). Comma-separated in the environment.',
  },
  quotaDeviceMessagesPerSecond: {
    flag: 'quota-device-messages-per-second',
    env: 'PALISADE_QUOTA_DEVICE_MESSAGES_PER_SECOND',
    type: 'string-list',
    pattern: '^(\\*|[a-z0-9][a-z0-9-]{0,31})=[0-9]{1,9}$',
    doc: 'Telemetry messages one device may send per second per plan as PLAN=RATE (`*` for any other plan; 0 is unlimited). Comma-separated in the environment.',
  },
  quotaDevicePointsPerSecond: {
    flag: 'quota-device-points-per-second',
    env: 'PALISADE_QUOTA_DEVICE_POINTS_PER_SECOND',
    type: 'string-list',
    pattern: '^(\\*|[a-z0-9][a-z0-9-]{0,31})=[0-9]{1,9}$',
    doc: 'Telemetry points one device may send per second per plan as PLAN=RATE (`*` for any other plan; 0 is unlimited). Comma-separated in the environment.',
  },
  quotaTenantRequestsPerSecond: {
    flag: 'quota-tenant-requests-per-second',
    env: 'PALISADE_QUOTA_TENANT_REQUESTS_PER_SECOND',
    type: 'string-list',
    pattern: '^(\\*|[a-z0-9][a-z0-9-]{0,31})=[0-9]{1,9}$',
    doc: 'API requests a tenant may make per second, all its credentials together, per plan as PLAN=RATE (`*` for any other plan; 0 is unlimited). Comma-separated in the environment.',
  },
  quotaPrincipalRequestsPerSecond: {
    flag: 'quota-principal-requests-per-second',
    env: 'PALISADE_QUOTA_PRINCIPAL_REQUESTS_PER_SECOND',
    type: 'string-list',
    pattern: '^(\\*|[a-z0-9][a-z0-9-]{0,31})=[0-9]{1,9}$',
    doc: 'API requests one credential (API key, client, user) may make per second, per plan as PLAN=RATE (`*` for any other plan; 0 is unlimited). Comma-separated in the environment.',
  },
  quotaDevicesMax: {
    flag: 'quota-devices-max',
    env: 'PALISADE_QUOTA_DEVICES_MAX',
    type: 'string-list',
    pattern: '^(\\*|[a-z0-9][a-z0-9-]{0,31})=[0-9]{1,9}$',
    doc: 'Most devices a tenant may hold per plan as PLAN=N (`*` for any other plan; 0 is unlimited); one more is refused (PALISADE_PLAN_LIMIT_REACHED), however it is created. Comma-separated in the environment.',
  },
  quotaCollectionsMax: {
    flag: 'quota-collections-max',
    env: 'PALISADE_QUOTA_COLLECTIONS_MAX',
    type: 'string-list',
    pattern: '^(\\*|[a-z0-9][a-z0-9-]{0,31})=[0-9]{1,9}$',
    doc: 'Most collections a tenant may hold per plan as PLAN=N (`*` for any other plan; 0 is unlimited); creating one more is refused (PALISADE_PLAN_LIMIT_REACHED), replacing one is not. Comma-separated in the environment.',
  },
  quotaRefusalDelayMs: {
    flag: 'quota-refusal-delay-ms',
    env: 'PALISADE_QUOTA_REFUSAL_DELAY_MS',
    type: 'integer',
    minimum: 0,
    // One timer holds the request for 0.5 to 1.5 times this (jitter).
    maximum: Math.floor(TIMER_MAX_MS / 1.5),
    doc: 'How long an API request over a request rate is held before its 429 is sent (0 answers at once), so a client that ignores Retry-After cannot turn refusals into load.',
  },
  quotaBurstSeconds: {
    flag: 'quota-burst-seconds',
    env: 'PALISADE_QUOTA_BURST_SECONDS',
    type: 'integer',
    minimum: 1,
    doc: 'Token-bucket capacity in seconds of rate: how long a burst at full speed may last after a quiet period.',
  },
  signInAttemptsPerMinute: {
    flag: 'sign-in-attempts-per-minute',
    env: 'PALISADE_SIGN_IN_ATTEMPTS_PER_MINUTE',
    type: 'integer',
    minimum: 0,
    doc: "Submissions of a tenant's sign-in, invitation and device-code forms one client address may make per minute (0 is unlimited); over it, 429 with Retry-After.",
  },
  trustedProxies: {
    flag: 'trusted-proxies',
    env: 'PALISADE_TRUSTED_PROXIES',
    type: 'string-list',
    pattern: '^[0-9A-Fa-f:.]+(/[0-9]{1,3})?$',
    doc: 'Reverse proxies (IP addresses or CIDR ranges) whose X-Forwarded-For names the client address and X-Forwarded-Proto its scheme, for the per-address sign-in limit, the logs and the tenant issuers; none by default. Comma-separated in the environment.',
  },
  quotaMaxBuckets: {
    flag: 'quota-max-buckets',
    env: 'PALISADE_QUOTA_MAX_BUCKETS',
    type: 'integer',
    minimum: 1,
    doc: 'Most per-device, and separately most per-credential, rate-limit buckets held in memory; idle (refilled) ones are dropped first.',
  },
  quotaUsageWindowMs: {
    flag: 'quota-usage-window-ms',
    env: 'PALISADE_QUOTA_USAGE_WINDOW_MS',
    type: 'integer',
    minimum: 1000,
    doc: 'Length of the window whose accepted and refused telemetry `GET /v1/usage` reports.',
  },
  graphqlDepthMax: {
    flag: 'graphql-depth-max',
    env: 'PALISADE_GRAPHQL_DEPTH_MAX',
    type: 'integer',
    minimum: 1,
    doc: 'Deepest field nesting a GraphQL operation may select (introspection fields not counted).',
  },
  graphqlCostMax: {
    flag: 'graphql-cost-max',
    env: 'PALISADE_GRAPHQL_COST_MAX',
    type: 'integer',
    minimum: 1,
    doc: 'Highest cost a GraphQL operation may have: each field that reads or writes and each object it selects counts 1, times the size of the lists around it.',
  },
  graphqlQueryMaxLength: {
    flag: 'graphql-query-max-length',
    env: 'PALISADE_GRAPHQL_QUERY_MAX_LENGTH',
    type: 'integer',
    minimum: 256,
    doc: 'Longest GraphQL query text, in characters.',
  },
  graphqlQueryMaxTokens: {
    flag: 'graphql-query-max-tokens',
    env: 'PALISADE_GRAPHQL_QUERY_MAX_TOKENS',
    type: 'integer',
    minimum: 16,
    doc: 'Most lexical tokens a GraphQL query may have; bounds the memory a parsed query holds in the document cache.',
  },
  graphqlPersistedQueriesMax: {
    flag: 'graphql-persisted-queries-max',
    env: 'PALISADE_GRAPHQL_PERSISTED_QUERIES_MAX',
    type: 'integer',
    minimum: 1,
    doc: 'Most automatic persisted queries remembered in memory, across tenants (least recently used go first).',
  },
  hstsMaxAgeSeconds: {
    flag: 'hsts-max-age-seconds',
    env: 'PALISADE_HSTS_MAX_AGE_SECONDS',
    type: 'integer',
    minimum: 0,
    doc: 'max-age of the Strict-Transport-Security header sent when serving TLS (0 sends none).',
  },
  corsMaxOrigins: {
    flag: 'cors-max-origins',
    env: 'PALISADE_CORS_MAX_ORIGINS',
    type: 'integer',
    minimum: 1,
    doc: 'Most origins one tenant may put on its CORS allow-list.',
  },
  corsMaxAgeSeconds: {
    flag: 'cors-max-age-seconds',
    env: 'PALISADE_CORS_MAX_AGE_SECONDS',
    type: 'integer',
    minimum: 0,
    doc: 'How long a browser may cache a CORS preflight answer (Access-Control-Max-Age).',
  },
  role: {
    flag: 'role',
    env: 'PALISADE_ROLE',
    type: 'string-list',
    enum: ['api', 'ingest', 'worker'],
    doc: 'What this process runs: api (HTTP gateway), ingest (MQTT listeners), worker (sealer, retention, key jobs). A subset needs database, PostgreSQL shards and nats.',
  },
  serviceTokenTtlMs: {
    flag: 'service-token-ttl-ms',
    env: 'PALISADE_SERVICE_TOKEN_TTL_MS',
    type: 'integer',
    minimum: 1000,
    doc: 'Lifetime of the service token signing each internal message between processes (at most 60000).',
  },
  internalRequestTimeoutMs: {
    flag: 'internal-request-timeout-ms',
    env: 'PALISADE_INTERNAL_REQUEST_TIMEOUT_MS',
    type: 'integer',
    minimum: 1,
    maximum: TIMER_MAX_MS,
    doc: 'How long a process waits for another to answer an internal request (RPC delivery, seal now).',
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
  publicUrl: string | undefined;
  oauthAccessTokenTtlSeconds: number;
  oauthRefreshTokenTtlSeconds: number;
  oauthDeviceCodeTtlSeconds: number;
  oauthSessionTtlSeconds: number;
  oauthIssuerCacheMax: number;
  pageSizeMax: number;
  customRolesMax: number;
  policySetMaxChars: number;
  shutdownTimeoutMs: number;
  ledgerKeyFile: string | undefined;
  ledgerOrigin: string | undefined;
  ledgerSealIntervalMs: number;
  witnesses: string[];
  witnessQuorum: number;
  masterKeyFile: string | undefined;
  masterKey: string | undefined;
  masterPassphrase: string | undefined;
  dataKeyCacheMax: number;
  dataKeyCacheTtlMs: number;
  reencryptBatchSize: number;
  tlsCert: string | undefined;
  tlsKey: string | undefined;
  nats: string | undefined;
  busPrefix: string;
  busAckWaitMs: number;
  busMaxDeliver: number;
  busMaxAgeMs: number;
  busMaxPayload: number;
  busDuplicateWindowMs: number;
  busRetryMs: number;
  telemetryMaxPoints: number;
  telemetryMaxKeys: number;
  telemetryKeyMaxLength: number;
  telemetryValueMaxBytes: number;
  telemetryMaxPastMs: number;
  telemetryMaxFutureMs: number;
  telemetryRetention: string[];
  telemetryRetentionIntervalMs: number;
  telemetryRetentionBatchMax: number;
  telemetryPartitionMonthsAhead: number;
  rpcTimeoutDefaultMs: number;
  rpcTimeoutMaxMs: number;
  rpcQueueMax: number;
  edgeEnrollmentTtlMs: number;
  edgeBatchMaxMessages: number;
  edgeAlertWindowMs: number;
  edgeRpcWaitMaxMs: number;
  edgeRpcAckWaitMs: number;
  userInvitationTtlMs: number;
  signInLockoutThreshold: number;
  signInLockoutBaseMs: number;
  signInLockoutMaxMs: number;
  signInFailureWindowMs: number;
  signInFailureNamesMax: number;
  telemetryStreamHeartbeatMs: number;
  mqtt: string;
  mqttTls: string | undefined;
  mqttWs: string | undefined;
  deviceCaValidityDays: number;
  deviceCertValidityDays: number;
  mqttMaxPacket: number;
  mqttClientInflightMax: number;
  mqttInflightMax: number;
  mqttConnectTimeoutMs: number;
  gatewayChildrenMax: number;
  quotaTenantMessagesPerSecond: string[];
  quotaTenantPointsPerSecond: string[];
  quotaDeviceMessagesPerSecond: string[];
  quotaDevicePointsPerSecond: string[];
  quotaTenantRequestsPerSecond: string[];
  quotaPrincipalRequestsPerSecond: string[];
  quotaDevicesMax: string[];
  quotaCollectionsMax: string[];
  quotaRefusalDelayMs: number;
  quotaBurstSeconds: number;
  signInAttemptsPerMinute: number;
  trustedProxies: string[];
  quotaMaxBuckets: number;
  quotaUsageWindowMs: number;
  graphqlDepthMax: number;
  graphqlCostMax: number;
  graphqlQueryMaxLength: number;
  graphqlQueryMaxTokens: number;
  graphqlPersistedQueriesMax: number;
  hstsMaxAgeSeconds: number;
  corsMaxOrigins: number;
  corsMaxAgeSeconds: number;
  role: string[];
  serviceTokenTtlMs: number;
  internalRequestTimeoutMs: number;
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
  publicUrl: undefined,
  oauthAccessTokenTtlSeconds: 600,
  oauthRefreshTokenTtlSeconds: 1_209_600,
  oauthDeviceCodeTtlSeconds: 600,
  oauthSessionTtlSeconds: 86_400,
  oauthIssuerCacheMax: 1000,
  pageSizeMax: 1000,
  customRolesMax: 100,
  policySetMaxChars: 65_536,
  shutdownTimeoutMs: 10_000,
  ledgerKeyFile: undefined,
  ledgerOrigin: undefined,
  ledgerSealIntervalMs: 1000,
  witnesses: [],
  witnessQuorum: 1,
  masterKeyFile: undefined,
  masterKey: undefined,
  masterPassphrase: undefined,
  dataKeyCacheMax: 4096,
  dataKeyCacheTtlMs: 300_000,
  reencryptBatchSize: 200,
  tlsCert: undefined,
  tlsKey: undefined,
  nats: undefined,
  busPrefix: 'palisade',
  busAckWaitMs: 30_000,
  busMaxDeliver: 10,
  busMaxAgeMs: 604_800_000,
  busMaxPayload: 1_048_576,
  busDuplicateWindowMs: 120_000,
  busRetryMs: 1000,
  telemetryMaxPoints: 1000,
  telemetryMaxKeys: 256,
  telemetryKeyMaxLength: 128,
  telemetryValueMaxBytes: 8192,
  telemetryMaxPastMs: 31_536_000_000,
  telemetryMaxFutureMs: 300_000,
  telemetryRetention: ['*=365'],
  telemetryRetentionIntervalMs: 3_600_000,
  telemetryRetentionBatchMax: 10_000,
  telemetryPartitionMonthsAhead: 3,
  rpcTimeoutDefaultMs: 30_000,
  rpcTimeoutMaxMs: 604_800_000,
  rpcQueueMax: 1000,
  edgeEnrollmentTtlMs: 86_400_000,
  edgeBatchMaxMessages: 5000,
  edgeAlertWindowMs: 3_600_000,
  edgeRpcWaitMaxMs: 20_000,
  edgeRpcAckWaitMs: 10_000,
  userInvitationTtlMs: 604_800_000,
  signInLockoutThreshold: 5,
  signInLockoutBaseMs: 60_000,
  signInLockoutMaxMs: 3_600_000,
  signInFailureWindowMs: 86_400_000,
  signInFailureNamesMax: 100_000,
  telemetryStreamHeartbeatMs: 15_000,
  mqtt: '127.0.0.1:1883',
  mqttTls: undefined,
  mqttWs: undefined,
  deviceCaValidityDays: 3650,
  deviceCertValidityDays: 365,
  mqttMaxPacket: 65_536,
  mqttClientInflightMax: 64,
  mqttInflightMax: 10_000,
  mqttConnectTimeoutMs: 30_000,
  gatewayChildrenMax: 10_000,
  quotaTenantMessagesPerSecond: ['*=0'],
  quotaTenantPointsPerSecond: ['*=0'],
  quotaDeviceMessagesPerSecond: ['*=0'],
  quotaDevicePointsPerSecond: ['*=0'],
  quotaTenantRequestsPerSecond: ['*=0'],
  quotaPrincipalRequestsPerSecond: ['*=0'],
  quotaDevicesMax: ['*=0'],
  quotaCollectionsMax: ['*=0'],
  quotaRefusalDelayMs: 1000,
  quotaBurstSeconds: 10,
  signInAttemptsPerMinute: 20,
  trustedProxies: [],
  quotaMaxBuckets: 100_000,
  quotaUsageWindowMs: 60_000,
  graphqlDepthMax: 8,
  graphqlCostMax: 50_000,
  graphqlQueryMaxLength: 16_384,
  graphqlQueryMaxTokens: 2000,
  graphqlPersistedQueriesMax: 1024,
  hstsMaxAgeSeconds: 31_536_000,
  corsMaxOrigins: 20,
  corsMaxAgeSeconds: 600,
  role: ['api', 'ingest', 'worker'],
  serviceTokenTtlMs: 30_000,
  internalRequestTimeoutMs: 5000,
};
