import type { FastifyInstance } from 'fastify';
import { type Authorizer, restResource } from '../../authz/index.ts';
import type { CredentialVerifier, TenantAdmin } from '../../control/index.ts';
import { placingInputs } from '../../errors/index.ts';
import type { TenantLedger } from '../../ledger/index.ts';
import type { RecordService } from '../../records/index.ts';
import { tenantOf, tenantPrincipalOf } from '../auth-hook.ts';
import { QUERY_INPUT } from '../input-places.ts';
import { COLLECTION_NAME, mediaResponse, UUID } from '../schemas.ts';

const TAGS = ['ledger'];
const INDEX = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } as const;
const B64_LIST = { type: 'array', items: { type: 'string' } } as const;
const ANCHOR = {
  type: 'object',
  required: ['index', 'proof', 'checkpoint', 'cosignatures', 'witnessed'],
  properties: {
    index: INDEX,
    proof: B64_LIST,
    checkpoint: { type: 'string' },
    cosignatures: { type: 'integer' },
    witnessed: { type: 'boolean' },
  },
} as const;

const NULLABLE_STRING = { type: ['string', 'null'] } as const;
/** A ledger entry (packages/ledger entry.ts): the core fields and extra strings or numbers. */
const ENTRY = {
  type: 'object',
  required: ['seq', 'time', 'actor', 'action', 'resource', 'commitment'],
  properties: {
    seq: INDEX,
    time: { type: 'string', format: 'date-time' },
    actor: { type: 'string' },
    action: { type: 'string' },
    resource: { type: 'string' },
    commitment: {
      ...NULLABLE_STRING,
      description: 'base64url SHA-256 commitment to the state, or null',
    },
  },
  additionalProperties: { type: ['string', 'number', 'null'] },
} as const;
/** A batch header: the tenant-log leaf, as packages/ledger batch.ts encodes it. */
const BATCH_HEADER = {
  type: 'object',
  required: ['v', 'tenant', 'batch', 'firstSeq', 'count', 'time', 'entriesRoot'],
  additionalProperties: false,
  properties: {
    v: { const: 1 },
    tenant: UUID,
    batch: INDEX,
    firstSeq: INDEX,
    count: { type: 'integer', minimum: 1 },
    time: { type: 'string', format: 'date-time' },
    entriesRoot: { type: 'string', description: 'standard base64 of the entries tree root' },
  },
} as const;
const LEAF = {
  type: 'string',
  description: 'the batch header as its canonical JSON text: the bytes hashed into the log',
} as const;
const SALT = {
  ...NULLABLE_STRING,
  description: "base64url salt that opens the entry's commitment, when the caller may read it",
} as const;

const VKEY = { type: 'string', description: 'a C2SP signed-note verifier key' } as const;
/** A replacement of the platform's lost signing key, as `platform_key_changes` holds it. */
const KEY_CHANGE_PROPERTIES = {
  size: { ...INDEX, description: 'the platform log size when the key changed' },
  previousNote: {
    type: 'string',
    description: 'the last platform checkpoint the old key signed, a signed note',
  },
  vkeys: { type: 'array', items: VKEY, description: 'the new verifier keys' },
  at: { type: 'string', format: 'date-time', description: 'when the change was recorded' },
} as const;
const KEY_CHANGE = {
  type: 'object',
  required: ['size', 'previousNote', 'vkeys', 'at'],
  additionalProperties: false,
  properties: KEY_CHANGE_PROPERTIES,
} as const;
/** `palisade-ledger-bundle/v1`: what `palisade ledger verify` checks offline. */
const BUNDLE = {
  type: 'object',
  required: [
    'format',
    'tenant',
    'keys',
    'keyChanges',
    'storedRoot',
    'checkpoint',
    'platform',
    'batches',
    'entries',
    'recordsAt',
    'records',
    'withheldCollections',
    'withheldRecords',
  ],
  properties: {
    format: { const: 'palisade-ledger-bundle/v1' },
    tenant: UUID,
    keys: { type: 'array', items: VKEY },
    keyChanges: {
      type: 'array',
      description:
        "replacements of the platform's lost signing key up to the platform checkpoint, oldest first, each with the platform-log consistency proof from its size to the next change's (the last: to the platform checkpoint's)",
      items: {
        type: 'object',
        required: ['size', 'previousNote', 'vkeys', 'at', 'proof'],
        additionalProperties: false,
        properties: { ...KEY_CHANGE_PROPERTIES, proof: B64_LIST },
      },
    },
    storedRoot: { type: 'string', description: 'standard base64 of the stored tenant-log root' },
    checkpoint: { type: 'string', description: 'the tenant checkpoint, a signed note' },
    platform: ANCHOR,
    batches: { type: 'array', items: LEAF },
    entries: {
      type: 'array',
      items: {
        type: 'object',
        required: ['entry', 'salt'],
        properties: {
          entry: { type: 'string', description: 'the entry as its canonical JSON text' },
          salt: SALT,
        },
      },
    },
    recordsAt: {
      type: ['integer', 'null'],
      description: 'the ledger size the records reflect; null in the admin export',
    },
    records: {
      type: ['array', 'null'],
      items: {
        type: 'object',
        required: ['resource', 'data'],
        properties: { resource: { type: 'string' }, data: {} },
      },
    },
    withheldCollections: { type: ['array', 'null'], items: { type: 'string' } },
    withheldRecords: { type: ['array', 'null'], items: { type: 'string' } },
  },
} as const;

/**
 * These answers are proofs and entries a verifier hashes or re-canonicalizes: their schemas
 * document them, and they are written as JSON.stringify writes them, never filtered or
 * reordered by a schema-driven serializer.
 */
const AS_WRITTEN = () => (data: unknown) => JSON.stringify(data);

function rangeQuery(from: string, to: string) {
  return {
    type: 'object',
    required: [from, to],
    additionalProperties: false,
    properties: { [from]: INDEX, [to]: INDEX },
  } as const;
}

export interface LedgerRouteServices {
  readonly ledger: TenantLedger;
  readonly records: RecordService;
  readonly tenants: TenantAdmin;
  readonly verifier: CredentialVerifier;
  readonly authz: { readonly authorizer: Authorizer };
}

/** `/v1/ledger/…` for tenants, the per-record proof, the public keys and the admin export. */
export function ledgerRoutes(app: FastifyInstance, services: LedgerRouteServices): void {
  const { ledger } = services;

  app.get('/v1/ledger/checkpoint', {
    config: { auth: 'ledger:read' },
    schema: {
      summary:
        "The tenant's newest signed checkpoint and the cosigned platform checkpoint that commits it",
      tags: TAGS,
      response: {
        200: {
          type: 'object',
          required: ['size', 'checkpoint', 'platform'],
          properties: { size: INDEX, checkpoint: { type: 'string' }, platform: ANCHOR },
        },
        204: { description: 'the tenant has no ledger entries yet', type: 'null' },
      },
    },
    handler: async (request, reply) => {
      const view = await ledger.checkpoint(tenantOf(request));
      return view === undefined ? reply.code(204).send() : view;
    },
  });

  app.get<{ Querystring: { start: number; end: number } }>('/v1/ledger/entries', {
    config: { auth: 'ledger:read' },
    schema: {
      summary:
        'Ledger entries with start <= seq < end, each with its leaf hash; `entry` is null for an entry of a resource the caller may not read',
      tags: TAGS,
      querystring: rangeQuery('start', 'end'),
      response: {
        200: {
          type: 'object',
          required: ['entries'],
          properties: {
            entries: {
              type: 'array',
              items: {
                type: 'object',
                required: ['seq', 'batch', 'leafHash', 'entry'],
                properties: {
                  seq: INDEX,
                  batch: INDEX,
                  leafHash: {
                    type: 'string',
                    description: "standard base64 of the entry's RFC 9162 leaf hash",
                  },
                  entry: {
                    anyOf: [ENTRY, { type: 'null' }],
                    description: 'null when the caller may not read the resource it names',
                  },
                },
              },
            },
          },
        },
      },
    },
    serializerCompiler: AS_WRITTEN,
    handler: async (request) =>
      placingInputs(
        ledger.entries(
          tenantOf(request),
          request.query.start,
          request.query.end,
          await services.authz.authorizer.exportReads(tenantPrincipalOf(request)),
        ),
        QUERY_INPUT,
      ),
  });

  app.get<{ Querystring: { start: number; end: number } }>('/v1/ledger/batches', {
    config: { auth: 'ledger:read' },
    schema: {
      summary: 'Tenant-log leaves (batch headers) with start <= batch < end',
      tags: TAGS,
      querystring: rangeQuery('start', 'end'),
      response: {
        200: {
          type: 'object',
          required: ['batches'],
          properties: {
            batches: {
              type: 'array',
              items: {
                type: 'object',
                required: ['batch', 'leaf'],
                properties: { batch: INDEX, leaf: LEAF },
              },
            },
          },
        },
      },
    },
    serializerCompiler: AS_WRITTEN,
    handler: (request) =>
      placingInputs(
        ledger.batches(tenantOf(request), request.query.start, request.query.end),
        QUERY_INPUT,
      ),
  });

  app.get<{ Querystring: { index: number; size: number } }>('/v1/ledger/proof/inclusion', {
    config: { auth: 'ledger:read' },
    schema: {
      summary: 'Inclusion proof of batch `index` in the tenant log of `size` batches',
      tags: TAGS,
      querystring: rangeQuery('index', 'size'),
      response: {
        200: {
          type: 'object',
          required: ['index', 'size', 'leaf', 'proof'],
          properties: { index: INDEX, size: INDEX, leaf: LEAF, proof: B64_LIST },
        },
      },
    },
    serializerCompiler: AS_WRITTEN,
    handler: (request) =>
      placingInputs(
        ledger.inclusion(tenantOf(request), request.query.index, request.query.size),
        QUERY_INPUT,
      ),
  });

  app.get<{ Querystring: { from: number; to: number } }>('/v1/ledger/proof/consistency', {
    config: { auth: 'ledger:read' },
    schema: {
      summary: 'Consistency proof between two sizes of the tenant log',
      tags: TAGS,
      querystring: rangeQuery('from', 'to'),
      response: {
        200: {
          type: 'object',
          required: ['from', 'to', 'proof'],
          properties: { from: INDEX, to: INDEX, proof: B64_LIST },
        },
      },
    },
    serializerCompiler: AS_WRITTEN,
    handler: (request) =>
      placingInputs(
        ledger.consistency(tenantOf(request), request.query.from, request.query.to),
        QUERY_INPUT,
      ),
  });

  app.get<{ Params: { '*': string } }>('/v1/ledger/tile/*', {
    config: { auth: 'ledger:read' },
    schema: {
      summary: 'C2SP tlog-tiles tile of the tenant log (hash tiles and entries bundles)',
      tags: TAGS,
      response: {
        200: mediaResponse('application/octet-stream', 'the tile as C2SP tlog-tiles lays it out', {
          type: 'string',
          contentMediaType: 'application/octet-stream',
        }),
      },
    },
    handler: async (request, reply) =>
      reply
        .type('application/octet-stream')
        .header('cache-control', 'private, max-age=31536000, immutable')
        .send(Buffer.from(await ledger.tile(tenantOf(request), `tile/${request.params['*']}`))),
  });

  app.get<{ Params: { name: string; id: string } }>('/v1/collections/:name/records/:id/proof', {
    config: { auth: 'ledger:read' },
    schema: {
      summary:
        "Proof of the record's newest state: entry, batch path, tenant-log path, platform anchoring, the commitment salt and the state (needs records:read on the record too)",
      tags: TAGS,
      params: {
        type: 'object',
        required: ['name', 'id'],
        properties: { name: COLLECTION_NAME, id: UUID },
      },
      response: {
        200: {
          type: 'object',
          required: ['entry', 'batch', 'entryProof', 'logProof', 'checkpoint', 'salt', 'state'],
          properties: {
            entry: ENTRY,
            batch: BATCH_HEADER,
            entryProof: B64_LIST,
            logProof: B64_LIST,
            checkpoint: { type: 'string', description: 'the tenant checkpoint, a signed note' },
            platform: {
              type: 'object',
              required: ['index', 'proof', 'checkpoint'],
              properties: { index: INDEX, proof: B64_LIST, checkpoint: { type: 'string' } },
            },
            salt: SALT,
            state: { description: "the record's committed state, as stored" },
          },
        },
      },
    },
    serializerCompiler: AS_WRITTEN,
    handler: async (request) => {
      const context = tenantOf(request);
      // The proof carries the record's state: it takes what reading the record takes, too.
      await services.authz.authorizer.authorize(
        tenantPrincipalOf(request),
        'records:read',
        restResource(
          context.tenantId,
          'records:read',
          request.routeOptions.url ?? '',
          request.params,
        ),
      );
      await services.records.get(context, request.params.name, request.params.id);
      return ledger.recordProof(context, request.params.name, request.params.id);
    },
  });

  app.get('/v1/ledger/export', {
    config: { auth: 'ledger:export' },
    schema: {
      summary:
        'The whole tenant ledger with anchors, for offline verification, and the current records the caller may read (records:read); the others are named in withheldCollections and withheldRecords',
      tags: TAGS,
      response: { 200: BUNDLE },
    },
    serializerCompiler: AS_WRITTEN,
    handler: async (request) => {
      // A record, or a salt that opens a commitment, goes in only when the caller may read its
      // state through the API, decided as its read route decides it (roles, then Cedar).
      const reads = await services.authz.authorizer.exportReads(tenantPrincipalOf(request));
      return ledger.exportBundle(tenantOf(request), reads);
    },
  });

  app.get<{ Params: { id: string } }>('/v1/platform/tenants/:id/ledger/export', {
    config: { auth: 'admin' },
    schema: {
      summary:
        "A tenant's whole ledger bundle for the platform admin (palisade ledger export): the ledger only, never the tenant's record data nor the salts that open its commitments",
      tags: ['platform'],
      params: {
        type: 'object',
        required: ['id'],
        properties: { id: UUID },
      },
      response: { 200: BUNDLE },
    },
    serializerCompiler: AS_WRITTEN,
    handler: async (request) => {
      const context = services.verifier.actAsAdmin(
        request.principal,
        await services.tenants.get(request.params.id),
      );
      return ledger.exportBundle(context, undefined);
    },
  });

  app.get('/v1/platform/ledger/keys', {
    config: { auth: 'public' },
    schema: {
      summary:
        "The platform ledger's origin and verifier keys (C2SP vkeys), and every replacement of a lost signing key (palisade keys new-ledger-key), oldest first",
      tags: TAGS,
      response: {
        200: {
          type: 'object',
          required: ['origin', 'keys', 'changes'],
          properties: {
            origin: { type: 'string' },
            keys: { type: 'array', items: VKEY },
            changes: { type: 'array', items: KEY_CHANGE },
          },
        },
      },
    },
    serializerCompiler: AS_WRITTEN,
    handler: async () => ledger.publicKeys(),
  });
}
