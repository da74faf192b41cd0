import type { FastifyInstance } from 'fastify';
import { type Authorizer, restResource } from '../../authz/index.ts';
import type { CredentialVerifier, TenantAdmin } from '../../control/index.ts';
import type { TenantLedger } from '../../ledger/index.ts';
import type { RecordService } from '../../records/index.ts';
import { tenantOf, tenantPrincipalOf } from '../auth-hook.ts';
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
      summary: 'Ledger entries with start <= seq < end',
      tags: TAGS,
      querystring: rangeQuery('start', 'end'),
    },
    handler: (request) => ledger.entries(tenantOf(request), request.query.start, request.query.end),
  });

  app.get<{ Querystring: { start: number; end: number } }>('/v1/ledger/batches', {
    config: { auth: 'ledger:read' },
    schema: {
      summary: 'Tenant-log leaves (batch headers) with start <= batch < end',
      tags: TAGS,
      querystring: rangeQuery('start', 'end'),
    },
    handler: (request) => ledger.batches(tenantOf(request), request.query.start, request.query.end),
  });

  app.get<{ Querystring: { index: number; size: number } }>('/v1/ledger/proof/inclusion', {
    config: { auth: 'ledger:read' },
    schema: {
      summary: 'Inclusion proof of batch `index` in the tenant log of `size` batches',
      tags: TAGS,
      querystring: rangeQuery('index', 'size'),
    },
    handler: (request) =>
      ledger.inclusion(tenantOf(request), request.query.index, request.query.size),
  });

  app.get<{ Querystring: { from: number; to: number } }>('/v1/ledger/proof/consistency', {
    config: { auth: 'ledger:read' },
    schema: {
      summary: 'Consistency proof between two sizes of the tenant log',
      tags: TAGS,
      querystring: rangeQuery('from', 'to'),
    },
    handler: (request) =>
      ledger.consistency(tenantOf(request), request.query.from, request.query.to),
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
    },
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
    },
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
    },
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
    schema: { summary: "The platform ledger's origin and verifier keys (C2SP vkeys)", tags: TAGS },
    handler: async () => ledger.publicKeys(),
  });
}
