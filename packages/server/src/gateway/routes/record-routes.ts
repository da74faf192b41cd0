import type { FastifyInstance, FastifyReply } from 'fastify';
import { type Authorizer, restResource } from '../../authz/index.ts';
import { type InputPlacer, placingInputs } from '../../errors/index.ts';
import type { RecordService } from '../../records/index.ts';
import { type RecordRow, storedJson } from '../../store/index.ts';
import { tenantOf, tenantPrincipalOf } from '../auth-hook.ts';
import { precondition, versionEtag } from '../if-match.ts';
import {
  COLLECTION_NAME,
  IF_MATCH_HEADERS,
  NO_BODY,
  pageOf,
  pageQuery,
  RECORD,
  RECORD_DATA,
  UUID,
} from '../schemas.ts';

const TAGS = ['records'];
const JSON_TYPE = 'application/json; charset=utf-8';
const COLLECTION_PARAMS = {
  type: 'object',
  required: ['name'],
  properties: { name: COLLECTION_NAME },
} as const;
const RECORD_PARAMS = {
  type: 'object',
  required: ['name', 'id'],
  properties: { name: COLLECTION_NAME, id: UUID },
} as const;
const FILTER_KEY = /^filter\[([A-Za-z_][A-Za-z0-9_-]{0,63})\]$/;
/** A listing's filter on a field (the one input its service checks), as its query string sent it. */
const FILTER_INPUT: InputPlacer = ({ at }) => `/querystring/filter[${at.slice(1)}]`;

function present(row: RecordRow) {
  return {
    id: row.id,
    version: row.version,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    data: row.data,
  };
}

/**
 * The record's JSON response when its data can go out as the store holds it (see
 * storedJson): no parse of the stored text and no serialization of the parsed object.
 * Ids and timestamps are made by the server (UUIDs, ISO 8601): nothing in them needs escaping
 * beyond what JSON.stringify does.
 */
function storedRecordJson(row: RecordRow): string | undefined {
  const data = storedJson(row);
  if (data === undefined) return undefined;
  return `{"id":${JSON.stringify(row.id)},"version":${row.version},"createdAt":${JSON.stringify(row.createdAt)},"updatedAt":${JSON.stringify(row.updatedAt)},"data":${data}}`;
}

function sendRecord(reply: FastifyReply, row: RecordRow, status = 200): FastifyReply {
  reply.code(status).header('etag', versionEtag(row.version));
  const json = storedRecordJson(row);
  return json === undefined ? reply.send(present(row)) : reply.type(JSON_TYPE).send(json);
}

/** A page of records as JSON, each as the store holds it; undefined unless all can be. */
function storedPageJson(items: readonly RecordRow[], nextCursor: string | null) {
  const json: string[] = [];
  for (const row of items) {
    const item = storedRecordJson(row);
    if (item === undefined) return undefined;
    json.push(item);
  }
  return `{"items":[${json.join(',')}],"nextCursor":${JSON.stringify(nextCursor)}}`;
}

/** `/v1/collections/{name}/records…`: a tenant's records, with ETags and If-Match. */
export function recordRoutes(
  app: FastifyInstance,
  records: RecordService,
  authorizer: Authorizer,
  pageSizeMax: number,
): void {
  type Params = { name: string; id: string };

  app.post<{ Params: { name: string }; Body: Record<string, unknown> }>(
    '/v1/collections/:name/records',
    {
      config: { auth: 'records:write' },
      schema: {
        summary: 'Create a record',
        tags: TAGS,
        params: COLLECTION_PARAMS,
        body: RECORD_DATA,
        response: { 201: RECORD },
      },
      handler: async (request, reply) => {
        const row = await records.create(tenantOf(request), request.params.name, request.body);
        reply.header('location', `/v1/collections/${request.params.name}/records/${row.id}`);
        return sendRecord(reply, row, 201);
      },
    },
  );

  app.get<{ Params: Params }>('/v1/collections/:name/records/:id', {
    config: { auth: 'records:read' },
    schema: {
      summary: 'Read a record',
      tags: TAGS,
      params: RECORD_PARAMS,
      response: { 200: RECORD },
    },
    handler: async (request, reply) =>
      sendRecord(
        reply,
        await records.get(tenantOf(request), request.params.name, request.params.id),
      ),
  });

  // PUT replaces the data, PATCH merges an RFC 7396 patch into it; both honour If-Match. Their
  // answer's createdAt and version, and after PATCH its data, come from the record replaced:
  // both take records:read on it, decided before anything is written.
  for (const [method, summary, change] of [
    ['PUT', 'Replace a record (If-Match optional)', 'replace'],
    ['PATCH', 'Merge-patch a record (RFC 7396; If-Match optional)', 'mergePatch'],
  ] as const) {
    app.route<{ Params: Params; Body: Record<string, unknown> }>({
      method,
      url: '/v1/collections/:name/records/:id',
      config: { auth: 'records:write' },
      schema: {
        summary,
        tags: TAGS,
        params: RECORD_PARAMS,
        headers: IF_MATCH_HEADERS,
        body: RECORD_DATA,
        response: { 200: RECORD },
      },
      handler: async (request, reply) => {
        const { name, id } = request.params;
        const principal = tenantPrincipalOf(request);
        await authorizer.authorize(
          principal,
          'records:read',
          restResource(
            principal.context.tenantId,
            'records:read',
            request.routeOptions.url ?? '',
            request.params,
          ),
        );
        const update =
          change === 'replace' ? { replace: request.body } : { mergePatch: request.body };
        return sendRecord(
          reply,
          await records.update(principal.context, name, id, update, precondition(request)),
        );
      },
    });
  }

  // DELETE answers whether the record was there (404) and, with If-Match, whether its version
  // matched (412): both take records:read on it. A caller without it may delete, unconditionally
  // only, and gets 204 whether or not the record was there; with If-Match it is refused before
  // anything is written, as PUT and PATCH are.
  app.delete<{ Params: Params }>('/v1/collections/:name/records/:id', {
    config: { auth: 'records:write' },
    schema: {
      summary: 'Delete a record (If-Match optional)',
      tags: TAGS,
      params: RECORD_PARAMS,
      headers: IF_MATCH_HEADERS,
      response: { 204: NO_BODY },
    },
    handler: async (request, reply) => {
      const principal = tenantPrincipalOf(request);
      const condition = precondition(request);
      const resource = restResource(
        principal.context.tenantId,
        'records:read',
        request.routeOptions.url ?? '',
        request.params,
      );
      if (condition.kind !== 'none')
        await authorizer.authorize(principal, 'records:read', resource);
      const readable =
        condition.kind !== 'none' || (await authorizer.decide(principal, 'records:read', resource));
      await records.delete(
        principal.context,
        request.params.name,
        request.params.id,
        condition,
        readable,
      );
      return reply.code(204).send();
    },
  });

  app.get<{
    Params: { name: string };
    Querystring: Record<string, string> & { limit: number; cursor?: string };
  }>('/v1/collections/:name/records', {
    config: { auth: 'records:read' },
    schema: {
      summary:
        'List the records the caller may read by id, with a cursor and filter[field]=value equality filters',
      tags: TAGS,
      params: COLLECTION_PARAMS,
      querystring: pageQuery(pageSizeMax, {
        patternProperties: { [FILTER_KEY.source]: { type: 'string', maxLength: 1024 } },
      }),
      response: { 200: pageOf(RECORD) },
    },
    handler: async (request, reply) => {
      const { limit, cursor, ...rest } = request.query;
      const filters = new Map<string, string>();
      for (const [key, value] of Object.entries(rest))
        filters.set(FILTER_KEY.exec(key)![1]!, value);
      // The route decided the collection; a policy that names a record decides that record.
      const principal = tenantPrincipalOf(request);
      const page = await placingInputs(
        records.list(
          principal.context,
          request.params.name,
          { limit, cursor, filters },
          await authorizer.recordReads(principal),
        ),
        FILTER_INPUT,
      );
      const json = storedPageJson(page.items, page.nextCursor);
      if (json !== undefined) return reply.type(JSON_TYPE).send(json);
      return { items: page.items.map(present), nextCursor: page.nextCursor };
    },
  });
}
