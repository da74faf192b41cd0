/**
 * The closed catalogue of Palisade error codes. Each code has one HTTP status and one
 * problem+json type; docs/errors.md lists the same codes and a test fails when they drift.
 * Retired codes stay here with `retired: true` and are never reused.
 */
export const ERROR_CODES = {
  PALISADE_INVALID_REQUEST: { status: 400, title: 'The request does not match its schema' },
  PALISADE_MALFORMED_JSON: { status: 400, title: 'The request body is not valid JSON' },
  PALISADE_INVALID_ID: { status: 400, title: 'An id in the request is not well-formed' },
  PALISADE_INVALID_CURSOR: { status: 400, title: 'The cursor is not one this server issued' },
  PALISADE_INVALID_SCHEMA: { status: 400, title: 'The collection schema is not usable' },
  PALISADE_UNAUTHENTICATED: { status: 401, title: 'A valid bearer credential is required' },
  PALISADE_FORBIDDEN: { status: 403, title: 'This credential may not do that' },
  PALISADE_TENANT_SUSPENDED: { status: 403, title: 'The tenant is suspended' },
  PALISADE_NOT_FOUND: { status: 404, title: 'No such route' },
  PALISADE_TENANT_NOT_FOUND: { status: 404, title: 'No such tenant' },
  PALISADE_API_KEY_NOT_FOUND: { status: 404, title: 'No such API key' },
  PALISADE_COLLECTION_NOT_FOUND: { status: 404, title: 'No such collection' },
  PALISADE_RECORD_NOT_FOUND: { status: 404, title: 'No such record' },
  PALISADE_KEY_JOB_NOT_FOUND: { status: 404, title: 'No such key job' },
  PALISADE_SLUG_TAKEN: { status: 409, title: 'The tenant slug is taken' },
  PALISADE_TENANT_DELETED: { status: 409, title: 'The tenant is deleted' },
  PALISADE_COLLECTION_NOT_EMPTY: {
    status: 409,
    title: 'The encrypted fields of a collection with records cannot change',
  },
  PALISADE_PRECONDITION_FAILED: {
    status: 412,
    title: 'If-Match does not match the current version',
  },
  PALISADE_PAYLOAD_TOO_LARGE: { status: 413, title: 'The request body exceeds the body limit' },
  PALISADE_UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'The content type is not accepted here' },
  PALISADE_UNSUPPORTED_CONTENT_ENCODING: {
    status: 415,
    title: 'The request body is in a content coding this server does not decode',
  },
  PALISADE_RECORD_INVALID: {
    status: 422,
    title: 'The record does not match its collection schema',
  },
  PALISADE_RECORD_TOO_LARGE: {
    status: 422,
    title: 'The record would be larger than a request body may be',
  },
  PALISADE_DEVICE_NOT_FOUND: {
    status: 404,
    title: 'No such device',
  },
  PALISADE_CREDENTIAL_NOT_FOUND: {
    status: 404,
    title: 'No such device credential or CA',
  },
  PALISADE_RPC_NOT_FOUND: {
    status: 404,
    title: 'No such RPC request',
  },
  PALISADE_DEVICE_NAME_TAKEN: {
    status: 409,
    title: 'Another device of the tenant has that name',
  },
  PALISADE_CREDENTIAL_TAKEN: {
    status: 409,
    title: 'The device credential is already registered',
  },
  PALISADE_GATEWAY_NOT_FOUND: { status: 404, title: 'No such gateway device' },
  PALISADE_GATEWAY_CHILDREN_LIMIT: {
    status: 409,
    title: 'The gateway has as many child devices as allowed',
  },
  PALISADE_RPC_NOT_PENDING: {
    status: 409,
    title: 'The RPC request is no longer pending',
  },
  PALISADE_RPC_QUEUE_LIMIT: {
    status: 409,
    title: 'The device has as many queued RPC requests as allowed',
  },
  PALISADE_DEVICE_UNAUTHENTICATED: {
    status: 401,
    title: 'The device credential is unknown or revoked',
  },
  PALISADE_CERTIFICATE_INVALID: {
    status: 400,
    title: 'The certificate is not usable here',
  },
  PALISADE_DEVICE_CA_NOT_FOUND: {
    status: 409,
    title: 'The tenant has no Palisade-generated device CA to sign with',
  },
  PALISADE_DEVICE_CA_EXPIRED: {
    status: 409,
    title: 'The device CA to sign with is outside its validity',
  },
  PALISADE_DEVICE_CA_UNVERIFIED: {
    status: 400,
    title: "The CA certificate comes without proof that this tenant holds the CA's key",
  },
  PALISADE_TELEMETRY_MALFORMED: {
    status: 400,
    title: 'The payload is not a ThingsBoard telemetry or attributes shape',
  },
  PALISADE_TELEMETRY_INVALID_KEY: {
    status: 400,
    title: 'A telemetry or attribute key is not allowed',
  },
  PALISADE_TELEMETRY_INVALID_VALUE: {
    status: 400,
    title: 'A telemetry or attribute value has an unusable type',
  },
  PALISADE_TELEMETRY_TIMESTAMP_OUT_OF_RANGE: {
    status: 400,
    title: 'A telemetry timestamp is outside the accepted range',
  },
  PALISADE_TELEMETRY_UNKNOWN_KEY: {
    status: 422,
    title: 'The device does not declare that telemetry key',
  },
  PALISADE_TELEMETRY_TOO_LARGE: {
    status: 413,
    title: 'The message has too many points or keys',
  },
  PALISADE_TELEMETRY_AGGREGATE_OVERFLOW: {
    status: 422,
    title: 'An aggregate of the points is beyond the range of a double',
  },
  PALISADE_TELEMETRY_PARTITION_MISSING: {
    status: 503,
    title: 'No PostgreSQL telemetry partition holds the month of a point',
  },
  PALISADE_QUOTA_EXCEEDED: {
    status: 429,
    title: "The message is over a rate of the tenant's plan",
  },
  PALISADE_RATE_LIMITED: {
    status: 429,
    title: "The request is over a request rate of the tenant's plan",
  },
  PALISADE_PLAN_LIMIT_REACHED: {
    status: 403,
    title: 'The tenant holds as many of these as its plan allows',
  },
  PALISADE_TELEMETRY_STREAM_LIMIT: {
    status: 429,
    title: 'The tenant has as many live telemetry streams open as its plan allows',
  },
  PALISADE_ORIGIN_NOT_ALLOWED: {
    status: 403,
    title: "The request's Origin is not on the tenant's CORS allow-list",
  },
  PALISADE_EDGE_UNAUTHENTICATED: {
    status: 401,
    title: 'The edge enrollment token or node credential is not valid',
  },
  PALISADE_EDGE_SIGNATURE_INVALID: {
    status: 403,
    title: "The batch signatures do not verify with the edge node's keys",
  },
  PALISADE_EDGE_NODE_NOT_FOUND: { status: 404, title: 'No such edge node' },
  PALISADE_EDGE_NODE_DISABLED: { status: 403, title: 'The edge node is disabled' },
  PALISADE_EDGE_BATCH_CONFLICT: {
    status: 409,
    title: 'The batch id was already applied with other content',
  },
  PALISADE_EDGE_NODE_CLONED: {
    status: 409,
    title:
      "Another copy of the edge node's directory already sent a batch with this sequence number",
  },
  PALISADE_EDGE_DEVICE_NOT_ASSIGNED: {
    status: 403,
    title: 'The device was never assigned to the edge node that sent its message',
  },
  PALISADE_EDGE_RULES_INVALID: {
    status: 400,
    title: 'The edge rules are well-formed but contradict themselves',
  },
  PALISADE_EDGE_RULE_SET_NOT_FOUND: { status: 404, title: 'No edge rules for this device type' },
  PALISADE_GRAPHQL_INVALID: {
    status: 400,
    title: 'The GraphQL document does not parse or does not validate against the schema',
  },
  PALISADE_GRAPHQL_TOO_DEEP: {
    status: 400,
    title: 'The GraphQL operation nests fields deeper than the depth limit',
  },
  PALISADE_GRAPHQL_TOO_COSTLY: {
    status: 400,
    title: 'The GraphQL operation costs more than the cost limit',
  },
  PALISADE_PERSISTED_QUERY_NOT_FOUND: {
    status: 400,
    title: 'The server does not know a query with that hash',
  },
  PALISADE_USER_NOT_FOUND: { status: 404, title: 'No such user' },
  PALISADE_USER_EMAIL_TAKEN: { status: 409, title: 'Another user of the tenant has that email' },
  PALISADE_PASSWORD_REJECTED: { status: 422, title: 'The password does not meet the policy' },
  PALISADE_INVITATION_INVALID: {
    status: 404,
    title: 'The invitation link is unknown, used or expired',
  },
  PALISADE_SIGN_IN_FAILED: { status: 401, title: 'The email or password is wrong' },
  PALISADE_TOTP_REQUIRED: { status: 401, title: 'The account needs a TOTP code too' },
  PALISADE_ACCOUNT_LOCKED: {
    status: 429,
    title: 'The account is locked after repeated failed sign-ins',
  },
  PALISADE_REAUTHENTICATION_FAILED: {
    status: 403,
    title: "The signed-in user's current password or TOTP code is wrong",
  },
  PALISADE_TOTP_ALREADY_ENROLLED: { status: 409, title: 'The account has TOTP already' },
  PALISADE_TOTP_NOT_ENROLLED: { status: 409, title: 'The account has no TOTP' },
  PALISADE_TOTP_ENROLMENT_NOT_STARTED: {
    status: 409,
    title: 'No TOTP enrolment is waiting for a code',
  },
  PALISADE_ROLE_NOT_FOUND: { status: 404, title: 'No such role' },
  PALISADE_ROLE_BUILT_IN: { status: 409, title: 'Built-in roles cannot change' },
  PALISADE_ROLE_LIMIT: { status: 409, title: 'The tenant has as many custom roles as allowed' },
  PALISADE_UNKNOWN_ROLE: {
    status: 422,
    title: 'A role name is neither built in nor a custom role of the tenant',
  },
  PALISADE_POLICY_INVALID: {
    status: 422,
    title: 'The Cedar policy set does not parse or does not validate against the schema',
  },
  PALISADE_POLICY_SET_NOT_FOUND: { status: 404, title: 'The tenant has no policy set' },
  PALISADE_TOKEN_INVALID: {
    status: 401,
    title: 'The bearer token is not a well-formed access token',
  },
  PALISADE_TOKEN_ALGORITHM_REFUSED: {
    status: 401,
    title: "The token's signing algorithm is not allowed",
  },
  PALISADE_TOKEN_ISSUER_UNKNOWN: {
    status: 401,
    title: "The token's issuer is no tenant of this platform",
  },
  PALISADE_TOKEN_SIGNATURE_INVALID: { status: 401, title: "The token's signature does not verify" },
  PALISADE_TOKEN_EXPIRED: { status: 401, title: 'The token has expired' },
  PALISADE_TOKEN_NOT_YET_VALID: { status: 401, title: 'The token is not valid yet' },
  PALISADE_TOKEN_AUDIENCE_MISMATCH: { status: 401, title: 'The token is not for this API' },
  PALISADE_TOKEN_REVOKED: { status: 401, title: 'The token was revoked' },
  PALISADE_CLIENT_NOT_FOUND: { status: 404, title: 'No such OAuth client' },
  PALISADE_DPOP_PROOF_INVALID: {
    status: 401,
    title: 'The DPoP proof is missing or does not bind the token to this request',
  },
  PALISADE_DPOP_PROOF_MEMORY_FULL: {
    status: 503,
    title: 'The server remembers as many DPoP proofs as it may; send a new proof shortly',
  },
  PALISADE_UNAVAILABLE: { status: 503, title: 'The server is shutting down or not ready' },
  PALISADE_TENANT_NOT_CREATED: {
    status: 503,
    title: 'The tenant could not be set up in its shard; nothing of it was kept',
  },
  PALISADE_INTERNAL: { status: 500, title: 'Internal error' },
  PALISADE_DECRYPTION_FAILED: {
    status: 500,
    title: 'A stored encrypted value does not decrypt in its place',
  },
  PALISADE_KEYS_UNAVAILABLE: {
    status: 500,
    title: "The tenant's encryption keys cannot be opened",
  },
  PALISADE_KEY_ENCRYPTIONS_EXHAUSTED: {
    status: 503,
    title: 'The data key version may make no more encryptions; a new one is starting',
  },
} as const satisfies Record<string, { status: number; title: string }>;

/** Every stable error code a Palisade API can return. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** The problem+json `type` URI of a code. */
export function problemType(code: ErrorCode): string {
  return `urn:palisade:error:${code}`;
}
