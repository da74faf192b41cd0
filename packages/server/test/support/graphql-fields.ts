/** The ids an operation addresses: the victim's own in the authorization tests, another tenant's in the isolation tests. */
export interface FieldTarget {
  readonly recordId: string;
  readonly userId: string;
  readonly clientId: string;
}

/** One GraphQL request that selects a field. */
export interface FieldOperation {
  readonly query: string;
  readonly variables?: Record<string, unknown>;
}

const RECORD = 'query($id: ID!) { record(collection: "people", id: $id) ';
const PROOF = 'query($id: ID!) { ledger { recordProof(collection: "people", id: $id) ';
const CHECKPOINT = '{ ledger { checkpoint ';

function record(selection: string) {
  return (t: FieldTarget): FieldOperation => ({
    query: `${RECORD}{ ${selection} } }`,
    variables: { id: t.recordId },
  });
}

function proof(selection: string) {
  return (t: FieldTarget): FieldOperation => ({
    query: `${PROOF}{ ${selection} } } }`,
    variables: { id: t.recordId },
  });
}

function fixed(query: string) {
  return (): FieldOperation => ({ query });
}

function collection(selection: string) {
  return fixed(`{ collection(name: "people") { ${selection} } }`);
}

function written(selection: string) {
  return fixed(
    `mutation { defineCollection(name: "people", schema: {type: "object"}) { ${selection} } }`,
  );
}

function page(selection: string) {
  return fixed(`{ records(collection: "people", limit: 10) { ${selection} } }`);
}

function user(selection: string) {
  return (t: FieldTarget): FieldOperation => ({
    query: `query($id: ID!) { user(id: $id) { ${selection} } }`,
    variables: { id: t.userId },
  });
}

function client(selection: string) {
  return (t: FieldTarget): FieldOperation => ({
    query: `query($id: ID!) { client(id: $id) { ${selection} } }`,
    variables: { id: t.clientId },
  });
}

/** The fields of the GraphQL User type. */
export const USER_FIELDS = [
  'id',
  'email',
  'name',
  'roles',
  'disabled',
  'active',
  'totp',
  'failedSignIns',
  'lockedUntil',
  'version',
  'createdAt',
  'updatedAt',
];
/** The fields of the GraphQL Client type. */
export const CLIENT_FIELDS = [
  'id',
  'name',
  'kind',
  'public',
  'roles',
  'redirectUris',
  'tokenAlgorithm',
  'issuer',
  'createdAt',
];

/**
 * For every field of the GraphQL schema, one request that selects it, addressing `target`'s
 * record where the field takes ids. The GraphQL tests fail when a schema field has no entry
 * here, so a new field cannot go untested for authorization or isolation.
 */
export const FIELD_OPERATIONS: Readonly<Record<string, (t: FieldTarget) => FieldOperation>> = {
  'Query.collections': fixed('{ collections { name } }'),
  'Query.collection': collection('name'),
  'Query.record': record('id'),
  'Query.records': page('nextCursor'),
  'Query.ledger': fixed('{ ledger { __typename } }'),
  'Mutation.defineCollection': written('created'),
  'Mutation.createRecord': fixed(
    'mutation { createRecord(collection: "people", data: {name: "Mallory"}) { version } }',
  ),
  'Mutation.replaceRecord': (t) => ({
    query:
      'mutation($id: ID!) { replaceRecord(collection: "people", id: $id, data: {name: "Mallory"}) { version } }',
    variables: { id: t.recordId },
  }),
  'Mutation.patchRecord': (t) => ({
    query:
      'mutation($id: ID!) { patchRecord(collection: "people", id: $id, patch: {name: "Mallory"}, expectedVersion: 1) { version } }',
    variables: { id: t.recordId },
  }),
  'Mutation.deleteRecord': (t) => ({
    query: 'mutation($id: ID!) { deleteRecord(collection: "people", id: $id) }',
    variables: { id: t.recordId },
  }),
  'Collection.name': collection('name'),
  'Collection.schema': collection('schema'),
  'Collection.encrypted': collection('encrypted'),
  'Collection.version': collection('version'),
  'Collection.createdAt': collection('createdAt'),
  'Collection.updatedAt': collection('updatedAt'),
  'Collection.records': collection('records(limit: 10) { nextCursor }'),
  'CollectionDefinition.created': written('created'),
  'CollectionDefinition.collection': written('collection { version }'),
  'Record.collection': record('collection'),
  'Record.id': record('id'),
  'Record.version': record('version'),
  'Record.createdAt': record('createdAt'),
  'Record.updatedAt': record('updatedAt'),
  'Record.data': record('data'),
  'Record.proof': record('proof { salt }'),
  'RecordPage.items': page('items { id data }'),
  'RecordPage.nextCursor': page('nextCursor'),
  'Ledger.checkpoint': fixed(`${CHECKPOINT}{ size } } }`),
  'Ledger.entries': fixed('{ ledger { entries(start: 0, end: 1000) { seq } } }'),
  'Ledger.recordProof': proof('salt'),
  'Checkpoint.size': fixed(`${CHECKPOINT}{ size } } }`),
  'Checkpoint.checkpoint': fixed(`${CHECKPOINT}{ checkpoint } } }`),
  'Checkpoint.platform': fixed(`${CHECKPOINT}{ platform { index } } } }`),
  'PlatformAnchor.index': fixed(`${CHECKPOINT}{ platform { index } } } }`),
  'PlatformAnchor.proof': fixed(`${CHECKPOINT}{ platform { proof } } } }`),
  'PlatformAnchor.checkpoint': fixed(`${CHECKPOINT}{ platform { checkpoint } } } }`),
  'PlatformAnchor.cosignatures': fixed(`${CHECKPOINT}{ platform { cosignatures } } } }`),
  'PlatformAnchor.witnessed': fixed(`${CHECKPOINT}{ platform { witnessed } } } }`),
  'LedgerEntry.seq': fixed('{ ledger { entries(start: 0, end: 1000) { seq } } }'),
  'LedgerEntry.batch': fixed('{ ledger { entries(start: 0, end: 1000) { batch } } }'),
  'LedgerEntry.entry': fixed('{ ledger { entries(start: 0, end: 1000) { entry } } }'),
  'LedgerEntry.leafHash': fixed('{ ledger { entries(start: 0, end: 1000) { leafHash } } }'),
  'RecordProof.entry': proof('entry'),
  'RecordProof.batch': proof('batch'),
  'RecordProof.entryProof': proof('entryProof'),
  'RecordProof.logProof': proof('logProof'),
  'RecordProof.checkpoint': proof('checkpoint'),
  'RecordProof.platform': proof('platform { index }'),
  'RecordProof.salt': proof('salt'),
  'RecordProof.state': proof('state'),
  'ProofAnchor.index': proof('platform { index }'),
  'ProofAnchor.proof': proof('platform { proof }'),
  'ProofAnchor.checkpoint': proof('platform { checkpoint }'),
  'Query.users': fixed('{ users(limit: 10) { nextCursor } }'),
  'Query.user': user('id'),
  ...Object.fromEntries(USER_FIELDS.map((field) => [`User.${field}`, user(field)])),
  'UserPage.items': fixed('{ users(limit: 10) { items { id email } } }'),
  'UserPage.nextCursor': fixed('{ users(limit: 10) { nextCursor } }'),
  'Query.clients': fixed('{ clients(limit: 10) { nextCursor } }'),
  'Query.client': client('id'),
  ...Object.fromEntries(CLIENT_FIELDS.map((field) => [`Client.${field}`, client(field)])),
  'ClientPage.items': fixed('{ clients(limit: 10) { items { id name } } }'),
  'ClientPage.nextCursor': fixed('{ clients(limit: 10) { nextCursor } }'),
};
