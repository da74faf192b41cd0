/**
 * The GraphQL schema of the tenant API. Every field of every type names its permission in
 * `field-rules.ts`; the schema does not build without one per field.
 */
export const TYPE_DEFS = /* GraphQL */ `
  "Any JSON object: record data, a collection's JSON Schema, a ledger entry."
  scalar JSONObject

  "A collection name: a lower-case letter, then up to 62 of a-z, 0-9, _ and -."
  scalar CollectionName

  type Query {
    "The tenant's collections."
    collections: [Collection!]!
    "One collection."
    collection(name: CollectionName!): Collection
    "One record."
    record(collection: CollectionName!, id: ID!): Record
    "The records the caller may read, by id, a page at a time; \`where\` keeps those whose field equals the value."
    records(
      collection: CollectionName!
      "At most pageSizeMax; without it, 100 or pageSizeMax if less, as REST."
      limit: Int
      after: String
      where: [FieldEquals!]
    ): RecordPage!
    "The tenant's verifiable ledger."
    ledger: Ledger!
  }

  type Mutation {
    "Defines or redefines a collection (like PUT /v1/collections/{name})."
    defineCollection(
      name: CollectionName!
      schema: JSONObject!
      encrypted: [String!]
    ): CollectionDefinition!
    createRecord(collection: CollectionName!, data: JSONObject!): Record!
    "Replaces a record's data; with \`expectedVersion\`, only if it is still that version."
    replaceRecord(
      collection: CollectionName!
      id: ID!
      data: JSONObject!
      expectedVersion: Int
    ): Record!
    "Merges an RFC 7396 patch into a record's data."
    patchRecord(
      collection: CollectionName!
      id: ID!
      patch: JSONObject!
      expectedVersion: Int
    ): Record!
    "Deletes a record and answers its id."
    deleteRecord(collection: CollectionName!, id: ID!, expectedVersion: Int): ID!
  }

  "An equality filter, as REST's filter[field]=value: the value is typed by the collection schema."
  input FieldEquals {
    field: String!
    value: String!
  }

  type Collection {
    name: CollectionName!
    schema: JSONObject!
    encrypted: [String!]!
    version: Int!
    createdAt: String!
    updatedAt: String!
    "Null, with an error, where the tenant's policies refuse this collection's records."
    records(
      "At most pageSizeMax; without it, 100 or pageSizeMax if less, as REST."
      limit: Int
      after: String
      where: [FieldEquals!]
    ): RecordPage
  }

  type CollectionDefinition {
    "False when an existing collection was redefined."
    created: Boolean!
    collection: Collection!
  }

  type Record {
    collection: CollectionName!
    id: ID!
    version: Int!
    createdAt: String!
    updatedAt: String!
    data: JSONObject!
    "Proof that this state is in the ledger, anchored in the platform log."
    proof: RecordProof
  }

  type RecordPage {
    items: [Record!]!
    "Pass as \`after\` for the next page; null on the last one."
    nextCursor: String
  }

  type Ledger {
    "The newest signed checkpoint; null while the tenant has no ledger entries."
    checkpoint: Checkpoint
    "Entries with start <= seq < end."
    entries(start: Int!, end: Int!): [LedgerEntry!]!
    recordProof(collection: CollectionName!, id: ID!): RecordProof
  }

  type Checkpoint {
    size: Int!
    checkpoint: String!
    platform: PlatformAnchor!
  }

  type PlatformAnchor {
    index: Int!
    proof: [String!]!
    checkpoint: String!
    cosignatures: Int!
    witnessed: Boolean!
  }

  type LedgerEntry {
    seq: Int!
    batch: Int!
    "The entry; null when it is of a resource the caller may not read."
    entry: JSONObject
    "Standard base64 of the entry's RFC 9162 leaf hash, shown for every entry."
    leafHash: String!
  }

  type RecordProof {
    entry: JSONObject!
    batch: JSONObject!
    entryProof: [String!]!
    logProof: [String!]!
    checkpoint: String!
    platform: ProofAnchor!
    "The commitment salt (base64url), null for unsalted entries."
    salt: String
    "The committed state: the data, or for encrypted fields their ciphertext."
    state: JSONObject!
  }

  type ProofAnchor {
    index: Int!
    proof: [String!]!
    checkpoint: String!
  }
`;

/** Users (`/v1/users`), served when the gateway has the user service. */
export const USER_TYPE_DEFS = /* GraphQL */ `
  extend type Query {
    "The tenant's users by id, a page at a time."
    users(
      "At most pageSizeMax; without it, 100 or pageSizeMax if less, as REST."
      limit: Int
      after: String
    ): UserPage!
    user(id: ID!): User
  }

  "A user as GET /v1/users/{id} shows it: never a password hash or TOTP secret."
  type User {
    id: ID!
    email: String!
    name: String!
    roles: [String!]!
    disabled: Boolean!
    "False until the user accepted an invitation and set a password."
    active: Boolean!
    totp: Boolean!
    failedSignIns: Int!
    lockedUntil: String
    version: Int!
    createdAt: String!
    updatedAt: String!
  }

  type UserPage {
    items: [User!]!
    nextCursor: String
  }
`;

/** OAuth clients (`/v1/clients`), served when the gateway has the identity service. */
export const CLIENT_TYPE_DEFS = /* GraphQL */ `
  extend type Query {
    "The tenant's OAuth clients by id, a page at a time."
    clients(
      "At most pageSizeMax; without it, 100 or pageSizeMax if less, as REST."
      limit: Int
      after: String
    ): ClientPage!
    client(id: ID!): Client
  }

  "An OAuth client as GET /v1/clients/{id} shows it: never its secret."
  type Client {
    id: ID!
    name: String!
    "service (client credentials) or user (users sign in)"
    kind: String!
    public: Boolean!
    roles: [String!]!
    redirectUris: [String!]!
    tokenAlgorithm: String!
    issuer: String!
    createdAt: String!
  }

  type ClientPage {
    items: [Client!]!
    nextCursor: String
  }
`;
